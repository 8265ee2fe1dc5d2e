"""The log format's pieces: the JSON formatter, redaction, the dictConfig, the settings."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from spaces_graphql.logs import JsonFormatter, log_config, redact
from spaces_graphql.observability import log_operation
from spaces_graphql.settings import Settings, SettingsError


def record(msg: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("spaces_graphql.access", logging.INFO, __file__, 1, msg, None, None)
    rec.__dict__.update(extra)
    return rec


def test_a_dict_message_becomes_top_level_keys() -> None:
    line = json.loads(JsonFormatter().format(record({"request_id": "r1", "cost": 3})))
    assert list(line)[:4] == ["ts", "level", "logger", "pid"]
    assert line["ts"].endswith("Z") and line["level"] == "INFO"
    assert line["logger"] == "spaces_graphql.access"
    assert (line["request_id"], line["cost"]) == ("r1", 3)
    assert "message" not in line


def test_text_messages_and_extras_and_exceptions() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = record("hello %s", color_message="\x1b[1mhello\x1b[0m", route="/x")
        rec.args = ("world",)
        rec.exc_info = sys.exc_info()
    text = JsonFormatter().format(rec)
    assert "\n" not in text  # one line, whatever the traceback
    line = json.loads(text)
    assert line["message"] == "hello world" and line["route"] == "/x"
    assert "color_message" not in line and "ValueError: boom" in line["exc_info"]


def test_sensitive_keys_are_dropped_at_any_depth() -> None:
    fields = {
        "request_id": "r",
        "token": "t",
        "access_token": "t",
        "Authorization": "Bearer t",
        "variables": {"id": "v"},
        "nested": {"api_key": "k", "ok": 1},
    }
    assert redact(fields) == {"request_id": "r", "nested": {"ok": 1}}
    text = JsonFormatter().format(record({"a": 1}, password="p", secret_thing="s"))
    assert json.loads(text)["a"] == 1 and "p" not in json.loads(text).values()
    assert "secret_thing" not in text


def test_log_operation_is_a_structured_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="spaces_graphql.access")
    log_operation(
        request_id="r9",
        transport="http",
        operation="Who",
        type="query",
        status=200,
        outcome="ok",
        duration_ms=1.5,
        cost=1,
        upstream_requests=1,
        cache_hits=0,
        caller="abc",
        token="demo-alice",
        authorization="Bearer demo-alice",
        variables={"id": "cus_1"},
    )
    (rec,) = caplog.records
    assert isinstance(rec.msg, dict) and rec.msg["request_id"] == "r9"
    # As text it is the same fields in JSON (captures, the text format).
    assert json.loads(rec.getMessage()) == rec.msg
    line = json.loads(JsonFormatter().format(rec))
    assert line["transport"] == "http" and line["upstream_requests"] == 1
    assert not {"token", "authorization", "variables"} & set(line)
    assert "demo-alice" not in caplog.text and "cus_1" not in caplog.text


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_config_in_a_fresh_process(fmt: str) -> None:
    """Applied as uvicorn applies it: our lines on stderr, uvicorn's access log silent."""
    script = f"""
import logging, logging.config, warnings
from spaces_graphql.logs import log_config
from spaces_graphql.observability import log_operation
logging.config.dictConfig(log_config("info", {fmt!r}))
log_operation(request_id="r1", cost=2)
logging.getLogger("uvicorn.access").info("GET / 200")
logging.getLogger("uvicorn.error").info("Started server process [%d]", 7)
logging.getLogger("httpx").info("HTTP Request: GET /")
logging.getLogger("spaces_graphql").debug("not at info")
warnings.warn("careful")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 3, done.stderr
    assert "GET / 200" not in done.stderr and "HTTP Request" not in done.stderr
    if fmt == "json":
        access, started, warned = (json.loads(line) for line in lines)
        assert (access["request_id"], access["cost"]) == ("r1", 2)
        assert started["message"] == "Started server process [7]"
        assert warned["logger"] == "py.warnings" and "careful" in warned["message"]
    else:
        assert " INFO spaces_graphql.access: " in lines[0]
        assert json.loads(lines[0].split(": ", 1)[1]) == {"request_id": "r1", "cost": 2}
        assert lines[1].endswith("uvicorn.error: Started server process [7]")


def test_log_settings() -> None:
    loaded = Settings.load(
        environ={"SPACES_GRAPHQL_LOG_FORMAT": "text", "SPACES_GRAPHQL_LOG_LEVEL": "WARNING"}
    )
    assert (loaded.log_format, loaded.log_level) == ("text", "WARNING")
    assert log_config(loaded.log_level, loaded.log_format)["root"]["level"] == logging.WARNING
    assert Settings().log_format == "json"
    with pytest.raises(SettingsError, match="log_format"):
        Settings(log_format="xml")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="log_level"):
        Settings(log_level="loud")
