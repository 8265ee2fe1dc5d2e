"""SQLite access: one generic ``objects`` table, embedded objects assembled at read time.

Every object is one row (account, kind, id, created, seq, a few filter columns and a JSON
body). Bodies never hold embedded objects; a customer's Space, an invoice's customer
and a webhook's event are joined in when read, so later changes show everywhere.

All access goes through one connection under a lock: handlers call it synchronously,
which keeps each write (and its event) atomic with respect to concurrent requests.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sandbox.errors import ApiError
from sandbox.model import Json

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    space INTEGER,
    customer TEXT,
    ref TEXT,
    type TEXT,
    num INTEGER,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS objects_order ON objects (account, kind, created, seq);
CREATE INDEX IF NOT EXISTS objects_id ON objects (account, kind, id);
CREATE INDEX IF NOT EXISTS objects_customer ON objects (account, kind, customer, created, seq);
"""

COLUMNS = ("account", "kind", "id", "created", "space", "customer", "ref", "type", "num", "body")

#: What reads fetch for ``_assemble``: only the columns it uses (every fetched value
#: is a Python object made per row, a good part of a list's cost).
READ = "space, customer, ref, body"

# A row as inserted: values for COLUMNS, in that order.
RowValues = tuple[
    str, str, str, int, int | None, str | None, str | None, str | None, int | None, str
]


def row(
    account: str,
    kind: str,
    id: str,
    created: int,
    body: Json,
    *,
    space: int | None = None,
    customer: str | None = None,
    ref: str | None = None,
    type: str | None = None,
    num: int | None = None,
) -> RowValues:
    """The stored form of one object: ``body`` must not hold embedded objects."""
    return (account, kind, id, created, space, customer, ref, type, num, dumps(body))


def dump_bytes(obj: Any) -> bytes:
    """Compact JSON, the form stored and served (orjson: the same bytes as the standard
    library's compact form for these payloads, at a fraction of the CPU)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def dumps(obj: Any) -> str:
    """:func:`dump_bytes` as text (the stored column)."""
    return dump_bytes(obj).decode()


@dataclass(frozen=True)
class Window:
    """A stretch of a list: up to ``limit`` objects travelling from ``start``.

    Travel is newest first unless ``ascending``; ``start`` (an object id, None: the
    list's end where travel begins) is excluded unless ``inclusive``; ``reverse``
    answers the stretch in the opposite order (spaces' ``starting_before`` travels
    towards newer objects but answers newest first).
    """

    limit: int = 20
    start: str | None = None
    ascending: bool = False
    reverse: bool = False
    inclusive: bool = False


@dataclass(frozen=True)
class Filter:
    """``column IN values`` on one of the filter columns (space, customer, ref, type)."""

    column: str
    values: tuple[str | int, ...]

    def sql(self) -> tuple[str, list[str | int]]:
        assert self.column in {"space", "customer", "ref", "type", "id"}
        marks = ",".join("?" * len(self.values))
        return f"{self.column} IN ({marks})", list(self.values)


class Store:
    """The sandbox database, shared by all requests of one app."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self._spaces: dict[int, Json] = {}
        # Access tokens known to be accounts' (see is_account).
        self._tokens: set[str] = set()

    @property
    def lock(self) -> threading.RLock:
        """Held by callers that compose several store calls into one atomic write."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- reads ---------------------------------------------------------------------------

    def account(self, token: str) -> Json | None:
        """The account whose access token is ``token``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM objects WHERE account=? AND kind='account' AND id=?",
                (token, token),
            ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    def is_account(self, token: str) -> bool:
        """Whether ``token`` is an account's access token.

        Accounts are only ever seeded, never created or deleted at run time (by this
        process or another over the same file), so a token once found stays valid:
        remembering it spares every authenticated request a query. Unknown tokens are
        asked again each time.
        """
        if token in self._tokens:
            return True
        if self.account(token) is None:
            return False
        self._tokens.add(token)
        return True

    def account_by_email(self, email: str) -> tuple[str, Json] | None:
        """The access token and account whose e-mail is ``email`` (case-insensitive)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body FROM objects WHERE kind='account' ORDER BY seq"
            ).fetchall()
        for token, body in rows:
            account = dict(orjson.loads(body))
            if str(account.get("email", "")).lower() == email.lower():
                return str(token), account
        return None

    def raw(self, account: str, kind: str, id: str, customer: str | None = None) -> Json | None:
        """The stored body (without embedded objects) of one object, or None."""
        sql = "SELECT body FROM objects WHERE account=? AND kind=? AND id=?"
        args: list[Any] = [account, kind, id]
        if customer is not None:
            sql += " AND customer=?"
            args.append(customer)
        with self._lock:
            row = self._conn.execute(sql, args).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    def get(self, account: str, kind: str, id: str, customer: str | None = None) -> Json | None:
        """One object with its embedded objects, or None when the account has no such one."""
        sql = f"SELECT {READ} FROM objects WHERE account=? AND kind=? AND id=?"
        args: list[Any] = [account, kind, id]
        if customer is not None:
            sql += " AND customer=?"
            args.append(customer)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
            return self._assemble(account, kind, rows[:1])[0] if rows else None

    def ids(self, account: str, kind: str, where: str = "1", args: Sequence[Any] = ()) -> list[str]:
        """Object ids of ``kind`` matching a raw SQL condition, oldest first."""
        sql = f"SELECT id FROM objects WHERE account=? AND kind=? AND ({where}) ORDER BY seq"
        with self._lock:
            return [r[0] for r in self._conn.execute(sql, [account, kind, *args])]

    def page(
        self, account: str, kind: str, filters: Sequence[Filter], window: Window
    ) -> tuple[list[Json], bool]:
        """The objects of ``window`` (a stretch of a newest-first list), and whether more
        exist in its direction of travel."""
        where, args = self._where(account, kind, filters)
        with self._lock:
            if window.start is not None:
                found = self._conn.execute(
                    f"SELECT created, seq FROM objects WHERE {where} AND id=?",
                    [*args, window.start],
                ).fetchone()
                if found is None:
                    raise ApiError(
                        400, f"No such object in this list: {window.start!r}", code="unknown_cursor"
                    )
                op = ">" if window.ascending else "<"
                where += f" AND (created, seq) {op}{'=' if window.inclusive else ''} (?, ?)"
                args += [found[0], found[1]]
            order = "ASC" if window.ascending else "DESC"
            rows = self._conn.execute(
                f"SELECT {READ} FROM objects WHERE {where} "
                f"ORDER BY created {order}, seq {order} LIMIT ?",
                [*args, window.limit + 1],
            ).fetchall()
            has_more = len(rows) > window.limit
            rows = rows[: window.limit]
            if window.reverse:
                rows.reverse()
            return self._assemble(account, kind, rows), has_more

    def batch(
        self, account: str, kind: str, ids: Sequence[str], filters: Sequence[Filter]
    ) -> list[Json]:
        """The objects among ``ids`` that exist (and match ``filters``), newest first."""
        where, args = self._where(account, kind, [*filters, Filter("id", tuple(ids))])
        with self._lock:
            # Without statistics the planner walks objects_order (every object of the
            # kind, to skip a sort); looking the few ids up and sorting them is ~50x
            # cheaper on large kinds. (created, seq) is a total order: same answer.
            rows = self._conn.execute(
                f"SELECT {READ} FROM objects INDEXED BY objects_id WHERE {where} "
                "ORDER BY created DESC, seq DESC",
                args,
            ).fetchall()
            return self._assemble(account, kind, rows)

    def count(self, account: str, kind: str) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM objects WHERE account=? AND kind=?", (account, kind)
            ).fetchone()
        return int(row[0])

    def next_num(self, account: str, kind: str, space: int) -> int:
        """The next serial/order number within a Space."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COALESCE(MAX(num), 0) FROM objects WHERE account=? AND kind=? AND space=?",
                (account, kind, space),
            ).fetchone()
        return int(row[0]) + 1

    # -- writes --------------------------------------------------------------------------

    def insert(self, rows: Iterable[RowValues]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                f"INSERT INTO objects ({', '.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})",
                rows,
            )

    def update_body(
        self, account: str, kind: str, id: str, body: Json, customer: str | None = None
    ) -> None:
        sql = "UPDATE objects SET body=? WHERE account=? AND kind=? AND id=?"
        args: list[Any] = [dumps(body), account, kind, id]
        if customer is not None:
            sql += " AND customer=?"
            args.append(customer)
        with self._lock, self._conn:
            self._conn.execute(sql, args)

    def delete(self, account: str, kind: str, id: str) -> bool:
        with self._lock, self._conn:
            cur = self._conn.execute(
                "DELETE FROM objects WHERE account=? AND kind=? AND id=?", (account, kind, id)
            )
        return cur.rowcount > 0

    # -- assembly ------------------------------------------------------------------------

    def _where(self, account: str, kind: str, filters: Sequence[Filter]) -> tuple[str, list[Any]]:
        clauses = ["account=?", "kind=?"]
        args: list[Any] = [account, kind]
        for f in filters:
            clause, values = f.sql()
            clauses.append(clause)
            args += values
        return " AND ".join(clauses), args

    def _space(self, space_id: int) -> Json:
        if not self._spaces:
            for sid, body in self._conn.execute("SELECT num, body FROM objects WHERE kind='space'"):
                self._spaces[int(sid)] = orjson.loads(body)
        return self._spaces[space_id]

    def _assemble(self, account: str, kind: str, rows: Sequence[Sequence[Any]]) -> list[Json]:
        """Bodies of ``rows`` (READ order) with their embedded objects joined in."""
        bodies: list[Json] = [orjson.loads(r[3]) for r in rows]
        if kind in ("customer", "captured_email"):
            for row, body in zip(rows, bodies, strict=True):
                body["space"] = self._space(row[0])
        elif kind in ("subscription", "invoice"):
            wanted = tuple({str(r[1]) for r in rows})
            customers = (
                {c["id"]: c for c in self.batch(account, "customer", wanted, [])} if wanted else {}
            )
            for row, body in zip(rows, bodies, strict=True):
                body["customer"] = customers[row[1]]
        elif kind == "webhook":
            wanted = tuple({str(r[2]) for r in rows})
            events = (
                {e["id"]: e for e in self.batch(account, "event", wanted, [])} if wanted else {}
            )
            for row, body in zip(rows, bodies, strict=True):
                body["event"] = events[row[2]]
        return bodies


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
