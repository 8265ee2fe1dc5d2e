"""Opening a seeded database: a cached template per seed, copied for each app.

Seeding takes a few hundred milliseconds; tests create many apps, so the first one
writes a template file into the temp dir and every later app copies it (SQLite's
backup API) into its own private in-memory database.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from sandbox import seed
from sandbox.store import SCHEMA_VERSION, Store, create_schema

# The template's name changes whenever the generator or schema changes, so a stale
# cache from an older checkout is never reused.
_SOURCE_HASH = hashlib.sha256(
    Path(seed.__file__).read_bytes() + Path(__file__).with_name("data.py").read_bytes()
).hexdigest()[:12]


def template_path(seed_value: int) -> Path:
    name = f"spaces-sandbox-seed{seed_value}-v{SCHEMA_VERSION}-{_SOURCE_HASH}.sqlite3"
    return Path(tempfile.gettempdir()) / name


def seed_into(conn: sqlite3.Connection, seed_value: int) -> float:
    """Create the schema and seed it in one transaction; returns the seconds it took."""
    started = time.perf_counter()
    create_schema(conn)
    rows = seed.build_rows(seed_value)
    with conn:
        conn.executemany(
            "INSERT INTO objects (account, kind, id, created, space, customer, ref, type, num, body)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", str(SCHEMA_VERSION)), ("seed", str(seed_value))],
        )
    return time.perf_counter() - started


def ensure_template(seed_value: int) -> Path:
    """The cached template for ``seed_value``, written atomically when missing."""
    path = template_path(seed_value)
    if path.exists():
        return path
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            seed_into(conn, seed_value)
        finally:
            conn.close()
        os.replace(tmp, path)  # concurrent writers produce identical files; last one wins
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _is_empty(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='objects'"
    ).fetchone()
    return row is None or conn.execute("SELECT 1 FROM objects LIMIT 1").fetchone() is None


def open_store(seed_value: int, db_path: str | None) -> Store:
    """A store seeded with ``seed_value``: private in memory, or the file at ``db_path``.

    A file that already holds data is reused as is (its own seed and history).
    """
    if db_path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    else:
        conn = sqlite3.connect(db_path, check_same_thread=False)
        if not _is_empty(conn):
            version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if version is None or version[0] != str(SCHEMA_VERSION):
                conn.close()
                raise RuntimeError(f"{db_path}: not a sandbox database of schema {SCHEMA_VERSION}")
            return Store(conn)
    template = sqlite3.connect(ensure_template(seed_value))
    try:
        template.backup(conn)
    finally:
        template.close()
    return Store(conn)
