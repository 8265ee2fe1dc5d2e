"""How the served process logs: one JSON object per line on stderr (or plain text for humans).

:func:`log_config` is a :func:`logging.config.dictConfig` dict handed to ``uvicorn.run``
(``log_config=``). Uvicorn applies it in its own process and, with ``--workers N``, again in
every spawned worker, so every process writes the same format. It covers uvicorn's error
log, the facade's own loggers and the access log (``spaces_graphql.access``, one line per
operation, written by :func:`spaces_graphql.observability.log_operation`); uvicorn's own
per-request access log is switched off, since ours replaces it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

#: Level names accepted by ``log_level`` (uvicorn's, including its ``trace``).
LEVELS: Mapping[str, int] = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}
FORMATS = ("json", "text")

# Keys that could carry a credential or a caller's data. Matched anywhere in the name, so
# ``access_token``, ``Authorization`` and ``variables`` are all dropped.
_SENSITIVE = re.compile(r"token|authori[sz]ation|variables|password|secret|cookie|api_?key", re.I)
# uvicorn adds an ANSI-coloured copy of each message as an extra attribute.
_SKIP = (*RESERVED_ATTRS, "color_message", "taskName")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def is_sensitive(key: object) -> bool:
    """True for a field name that must never reach a log line (token, authorization, variables)."""
    return isinstance(key, str) and _SENSITIVE.search(key) is not None


def redact(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` without sensitive keys, at any depth of nested mappings."""
    return {
        k: redact(v) if isinstance(v, Mapping) else v
        for k, v in fields.items()
        if not is_sensitive(k)
    }


class JsonFormatter(_JsonFormatter):
    """``{"ts", "level", "logger", "pid", "message", ...fields}``, one object per line.

    A record whose message is a dict (the access log's) has those keys at the top level and
    no ``message``; other records' extra attributes become keys too. Sensitive keys are
    dropped here as well, whoever logged them.
    """

    def __init__(self) -> None:
        super().__init__(
            # pid: with --workers N, which process wrote the line.
            "%(asctime)s %(levelname)s %(name)s %(process)s %(message)s",
            rename_fields={
                "asctime": "ts",
                "levelname": "level",
                "name": "logger",
                "process": "pid",
            },
            reserved_attrs=_SKIP,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """ISO 8601 in UTC with milliseconds, whatever the host's time zone."""
        stamp = datetime.fromtimestamp(record.created, UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """Drop the empty ``message`` of dict records and any sensitive key."""
        if log_data.get("message") == "":
            del log_data["message"]
        return redact(log_data)


def stderr_handler() -> logging.Handler:
    """The one handler (``dictConfig`` factory): stderr, with Python warnings routed to it.

    It runs in every process that applies the config, workers included, which is why the
    warnings hook lives here: a ``warnings.warn`` would otherwise print a non-JSON line.
    """
    import sys

    logging.captureWarnings(True)
    return logging.StreamHandler(sys.stderr)  # dictConfig sets the formatter


def log_config(log_level: str = "info", log_format: str = "json") -> dict[str, Any]:
    """The ``dictConfig`` dict for ``uvicorn.run(log_config=...)`` (plain data: picklable)."""
    level = LEVELS[log_level.lower()]
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        # Loggers made at import time (before uvicorn applies this) must keep working.
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"()": f"{__name__}.stderr_handler", "formatter": "default"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # Everything propagates to the root's one handler; nothing logs twice.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            # Our access log replaces uvicorn's per-request lines.
            "uvicorn.access": {"handlers": [], "level": logging.CRITICAL + 1, "propagate": False},
            "spaces_graphql": {"handlers": [], "level": level, "propagate": True},
            # One INFO line per upstream request would drown the access log.
            "httpx": {"handlers": [], "level": max(level, logging.WARNING), "propagate": True},
            "httpcore": {"handlers": [], "level": max(level, logging.WARNING), "propagate": True},
        },
    }
