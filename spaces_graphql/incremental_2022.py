"""The 2022 incremental format (``Accept: multipart/mixed;deferSpec=20220824``).

Apollo Client 3 (and Apollo Client 4's ``Defer20220824Handler``) read payloads of
graphql-js 17.0.0-alpha.2: each ``incremental`` entry carries the ``path`` (and
``label``) it patches, with no ``pending``/``completed`` bookkeeping; a streamed
entry's ``path`` ends with the index of its first item. graphql-core 3.3 writes the
current format, in which an entry names a ``pending`` id announced earlier
(``spaces_graphql/incremental.py``). :class:`Defer2022` rewrites each payload of one
answer, in order, from the one to the other:

- ``pending`` entries are remembered (id -> path, label) and dropped;
- ``{"id", "data", "subPath"}`` becomes ``{"data", "path": path + subPath, "label"}``;
- ``{"id", "items"}`` becomes ``{"items", "path": path + [index of its first item]}``,
  the index counting the list's items delivered so far (initial ones included);
- a ``completed`` entry with ``errors`` (the fragment or stream failed as a whole)
  becomes ``{"data": null}`` (or ``{"items": null}``) at its path with those errors.

To count a streamed list's initial items it keeps the answer merged so far, as a
client does; that is the same size as the answer itself.
"""

from __future__ import annotations

import copy
from typing import Any

Path = list[str | int]


class Defer2022:
    """Rewrites one answer's payloads, first to last, into the 2022 format."""

    def __init__(self) -> None:
        self._first = True
        #: The answer merged so far: a copy, so that nothing sent (or still graphql-core's)
        #: is changed by the merging.
        self._data: Any = None
        #: id -> (path, label) of what is pending.
        self._pending: dict[str, tuple[Path, str | None]] = {}
        #: id -> index of the next streamed item (counted at its first items: the list's
        #: initial items may come in the same payload that announces the stream).
        self._next_item: dict[str, int] = {}

    def convert(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` (current format) as the 2022 format has it."""
        out = {k: v for k, v in payload.items() if k not in ("pending", "incremental", "completed")}
        if self._first:
            self._first = False
            self._data = copy.deepcopy(payload.get("data"))
        # Announced first: an entry may fill what its own payload announces.
        for pending in payload.get("pending") or ():
            self._pending[pending["id"]] = (list(pending["path"]), pending.get("label"))
        entries = [self._entry(entry) for entry in payload.get("incremental") or ()]
        for done in payload.get("completed") or ():
            known = self._pending.pop(done["id"], None)
            self._next_item.pop(done["id"], None)
            if known is not None and done.get("errors"):
                path, label = known
                streamed = isinstance(_at(self._data, path), list)
                failed: dict[str, Any] = {"items" if streamed else "data": None, "path": path}
                if label is not None:
                    failed["label"] = label
                failed["errors"] = done["errors"]
                entries.append(failed)
        if entries:
            out["incremental"] = entries
        return out

    def _entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        path, label = self._pending[entry["id"]]
        if "items" in entry:
            items = entry["items"]
            target = _at(self._data, path)
            first = self._next_item.get(entry["id"])
            if first is None:
                first = len(target) if isinstance(target, list) else 0
            self._next_item[entry["id"]] = first + len(items)
            if isinstance(target, list):
                target.extend(copy.deepcopy(items))
            converted: dict[str, Any] = {"items": items, "path": [*path, first]}
        else:
            full = [*path, *entry.get("subPath", ())]
            _merge(self._data, full, copy.deepcopy(entry["data"]))
            converted = {"data": entry["data"], "path": full}
        if label is not None:
            converted["label"] = label
        if entry.get("errors"):
            converted["errors"] = entry["errors"]
        if "extensions" in entry:
            converted["extensions"] = entry["extensions"]
        return converted


def _at(data: Any, path: Path) -> Any:
    """What ``data`` holds at ``path`` (None where it holds nothing)."""
    for key in path:
        if isinstance(key, int) and isinstance(data, list) and 0 <= key < len(data):
            data = data[key]
        elif isinstance(key, str) and isinstance(data, dict):
            data = data.get(key)
        else:
            return None
    return data


def _merge(data: Any, path: Path, patch: Any) -> None:
    """Merge ``patch`` (an object) into what ``data`` holds at ``path``, deeply."""
    target = _at(data, path)
    if isinstance(target, dict) and isinstance(patch, dict):
        _deep(target, patch)


def _deep(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _deep(current, value)
        else:
            target[key] = value
