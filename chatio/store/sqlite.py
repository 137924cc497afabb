"""History in an embedded SQLite file: the single-node default.

One connection lives on one dedicated thread, so every statement is
serialised. Appends are group-committed: those waiting when the writer wakes
go into one transaction and one fsync (WAL, ``synchronous=FULL``), and each
is acknowledged only after that commit.
"""
from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..constants import IDEMPOTENCY_WINDOW_SECONDS
from ..errors import Unavailable
from .base import Appended, Draft, Page

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    room TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sends (
    room TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (room, user_id, client_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sends_by_age ON sends (created);
"""

SWEEP_EVERY_SECONDS = 60.0
MAX_BATCH = 256

Pending = tuple[Draft, "asyncio.Future[Appended]"]


class SqliteHistoryStore:
    """Implements ``HistoryStore`` on one SQLite database file."""

    def __init__(self, path: Path, retention: int,
                 idempotency_window: float = IDEMPOTENCY_WINDOW_SECONDS) -> None:
        self._path = path
        self._retention = retention
        self._window = idempotency_window
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="chatio-sqlite")
        self._pending: list[Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self._last_sweep = 0.0

    async def open(self) -> None:
        await self._run(self._connect)

    async def close(self) -> None:
        """Commit what is queued, then close the file."""
        if self._writer is not None:
            await self._writer
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._thread.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda: self._db().execute("SELECT 1").fetchone())

    async def append(self, draft: Draft) -> Appended:
        future: asyncio.Future[Appended] = (
            asyncio.get_running_loop().create_future())
        self._pending.append((draft, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_pending())
        return await future

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        rows = await self._query(
            "SELECT body FROM sends WHERE room = ? AND user_id = ?"
            " AND client_id = ? AND created >= ?",
            (room, user_id, client_id, time.time() - self._window))
        return json.loads(rows[0][0]) if rows else None

    async def latest(self, room: str, limit: int) -> Page:
        rows = await self._query(
            "SELECT body FROM messages WHERE room = ? ORDER BY seq DESC LIMIT ?",
            (room, limit + 1))
        return Page(_bodies(reversed(rows[:limit])), more=len(rows) > limit)

    async def after(self, room: str, seq: int, limit: int) -> Page:
        def read() -> Page:
            db = self._db()
            rows = db.execute(
                "SELECT body FROM messages WHERE room = ? AND seq > ?"
                " ORDER BY seq LIMIT ?", (room, seq, limit + 1)).fetchall()
            oldest = db.execute("SELECT MIN(seq) FROM messages WHERE room = ?",
                                (room,)).fetchone()[0]
            gap = oldest is not None and oldest > seq + 1
            return Page(_bodies(rows[:limit]), more=len(rows) > limit, gap=gap)
        return await self._run(read)

    async def before(self, room: str, seq: int, limit: int) -> Page:
        rows = await self._query(
            "SELECT body FROM messages WHERE room = ? AND seq < ?"
            " ORDER BY seq DESC LIMIT ?", (room, seq, limit + 1))
        return Page(_bodies(reversed(rows[:limit])), more=len(rows) > limit)

    async def last_seq(self, room: str) -> int:
        rows = await self._query("SELECT last_seq FROM rooms WHERE room = ?",
                                 (room,))
        return rows[0][0] if rows else 0

    # -- writer -------------------------------------------------------------

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    results = await self._run(
                        self._append_batch, [draft for draft, _ in batch])
                except Unavailable as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._writer = None

    def _append_batch(self, drafts: list[Draft]) -> list[Appended]:
        db = self._db()
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            results = [self._append_one(db, draft, now) for draft in drafts]
            if now - self._last_sweep > SWEEP_EVERY_SECONDS:
                db.execute("DELETE FROM sends WHERE created < ?",
                           (now - self._window,))
                self._last_sweep = now
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return results

    def _append_one(self, db: sqlite3.Connection, draft: Draft,
                    now: float) -> Appended:
        if draft.client_id is not None:
            row = db.execute(
                "SELECT body FROM sends WHERE room = ? AND user_id = ?"
                " AND client_id = ? AND created >= ?",
                (draft.room, draft.user_id, draft.client_id,
                 now - self._window)).fetchone()
            if row is not None:
                return Appended(json.loads(row[0]), duplicate=True)
        seq = db.execute(
            "INSERT INTO rooms (room, last_seq) VALUES (?, 1)"
            " ON CONFLICT (room) DO UPDATE SET last_seq = last_seq + 1"
            " RETURNING last_seq", (draft.room,)).fetchone()[0]
        message = draft.stored_as(seq)
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        db.execute("INSERT INTO messages (room, seq, body) VALUES (?, ?, ?)",
                   (draft.room, seq, body))
        if seq > self._retention:
            db.execute("DELETE FROM messages WHERE room = ? AND seq <= ?",
                       (draft.room, seq - self._retention))
        if draft.client_id is not None:
            db.execute(
                "INSERT OR REPLACE INTO sends"
                " (room, user_id, client_id, created, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (draft.room, draft.user_id, draft.client_id, now, body))
        return Appended(message, duplicate=False)

    # -- plumbing -----------------------------------------------------------

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.executescript(SCHEMA)
        self._conn = conn

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise Unavailable("the history store is closed")
        return self._conn

    async def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return await self._run(lambda: self._db().execute(sql, params).fetchall())

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._thread, fn, *args)
        except sqlite3.Error as exc:
            raise Unavailable(f"history store error: {exc}") from exc
        except RuntimeError as exc:  # the thread pool was shut down
            raise Unavailable("the history store is closed") from exc


def _bodies(rows: Any) -> list[dict[str, Any]]:
    return [json.loads(row[0]) for row in rows]
