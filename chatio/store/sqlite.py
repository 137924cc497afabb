"""History in an embedded SQLite file: the single-node default.

One connection lives on one dedicated thread, so every statement is
serialised. Appends are group-committed: those waiting when the writer wakes
go into one transaction and one fsync (WAL, ``synchronous=FULL``), and each
is acknowledged only after that commit.

Each room's row in ``rooms`` holds its ``last_seq`` and its epoch, so a
replaced database file starts every room in a new epoch. A database from
before epochs gains the column when opened; each of its rooms gets an epoch
the next time it is read or written.

A delete overwrites freed content (``secure_delete``) and checkpoints the
write-ahead log into the file, truncating it, so the text is gone from disk
and not only from query results.
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

from ..constants import IDEMPOTENCY_WINDOW_SECONDS, UNREAD_COUNT_LIMIT
from ..errors import ChatioError, Unavailable
from .base import (Appended, Change, Draft, Page, Reacted, Reader, ReadState,
                   new_epoch)
from .entries import (applied, check_change, check_reaction, decorated,
                      scrubbed)

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    room TEXT PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    epoch TEXT
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
CREATE TABLE IF NOT EXISTS edits (
    room TEXT NOT NULL,
    target INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (room, target, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reactions (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (room, seq, emoji, user_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reads (
    room TEXT NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (room, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reads_by_seq ON reads (room, seq);
"""

SWEEP_EVERY_SECONDS = 60.0
MAX_BATCH = 256

# A write: run on the writer thread inside the batch's transaction.
Write = Callable[[sqlite3.Connection, float], Any]
# A room's epoch and last seq.
Position = tuple[str, int]
# Rows of a page oldest first, whether more lie beyond them, and a gap.
Rows = tuple[list[Any], bool, bool]
Pending = tuple[Write, "asyncio.Future[Any]"]


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
        self._scrub = False  # a write of this batch deleted text

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
        return await self._write(
            lambda db, now: self._append_one(db, draft, now))

    async def amend(self, change: Change) -> Appended:
        return await self._write(
            lambda db, now: self._append_one(db, change, now))

    async def react(self, room: str, seq: int, user_id: str, emoji: str,
                    on: bool) -> Reacted:
        return await self._write(
            lambda db, now: self._react(db, room, seq, user_id, emoji, on))

    async def mark_read(self, room: str, user_id: str, user_name: str,
                        seq: int) -> tuple[int, bool]:
        def write(db: sqlite3.Connection, now: float) -> tuple[int, bool]:
            row = db.execute("SELECT last_seq FROM rooms WHERE room = ?",
                             (room,)).fetchone()
            position = min(seq, row[0] if row else 0)
            row = db.execute("SELECT seq FROM reads WHERE room = ? AND"
                             " user_id = ?", (room, user_id)).fetchone()
            current = row[0] if row else 0
            if row is not None and position <= current:
                return current, False
            db.execute(
                "INSERT INTO reads (room, user_id, user_name, seq)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (room, user_id) DO UPDATE"
                " SET seq = excluded.seq, user_name = excluded.user_name"
                " WHERE excluded.seq > reads.seq",
                (room, user_id, user_name, position))
            return max(position, current), position > current
        return await self._write(write)

    async def read_state(self, room: str, user_id: str) -> ReadState:
        def read() -> ReadState:
            db = self._db()
            row = db.execute("SELECT seq FROM reads WHERE room = ? AND"
                             " user_id = ?", (room, user_id)).fetchone()
            position = row[0] if row else 0
            unread = db.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE room = ?"
                " AND seq > ? AND json_extract(body, '$.kind') IS NULL"
                " AND json_extract(body, '$.deleted') IS NULL"
                " AND json_extract(body, '$.user.id') <> ? LIMIT ?)",
                (room, position, user_id, UNREAD_COUNT_LIMIT)).fetchone()[0]
            return ReadState(position, unread)
        return await self._run(read)

    async def readers(self, room: str, seq: int, limit: int) -> list[Reader]:
        rows = await self._query(
            "SELECT user_id, user_name, seq FROM reads WHERE room = ?"
            " AND seq >= ? ORDER BY seq DESC, user_id LIMIT ?",
            (room, seq, limit))
        return [Reader(*row) for row in rows]

    async def _write(self, write: Write) -> Any:
        future: asyncio.Future[Any] = (
            asyncio.get_running_loop().create_future())
        self._pending.append((write, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_pending())
        return await future

    async def find_sent(self, room: str, user_id: str,
                        client_id: str) -> dict[str, Any] | None:
        rows = await self._query(
            "SELECT sends.body, rooms.epoch FROM sends LEFT JOIN rooms"
            " ON rooms.room = sends.room WHERE sends.room = ?"
            " AND user_id = ? AND client_id = ? AND created >= ?",
            (room, user_id, client_id, time.time() - self._window))
        if not rows:
            return None
        body = json.loads(rows[0][0])
        if "epoch" not in body:  # stored before rooms had epochs
            body["epoch"] = rows[0][1] or await self.epoch(room)
        return body

    async def latest(self, room: str, limit: int,
                     viewer: str | None = None) -> Page:
        def fetch(db: sqlite3.Connection) -> Rows:
            rows = db.execute(
                "SELECT body FROM messages WHERE room = ?"
                " ORDER BY seq DESC LIMIT ?", (room, limit + 1)).fetchall()
            return list(reversed(rows[:limit])), len(rows) > limit, False
        return await self._paged(room, viewer, fetch)

    async def after(self, room: str, seq: int, limit: int,
                    viewer: str | None = None) -> Page:
        def fetch(db: sqlite3.Connection) -> Rows:
            rows = db.execute(
                "SELECT body FROM messages WHERE room = ? AND seq > ?"
                " ORDER BY seq LIMIT ?", (room, seq, limit + 1)).fetchall()
            oldest = db.execute("SELECT MIN(seq) FROM messages WHERE room = ?",
                                (room,)).fetchone()[0]
            gap = oldest is not None and oldest > seq + 1
            return rows[:limit], len(rows) > limit, gap
        return await self._paged(room, viewer, fetch)

    async def before(self, room: str, seq: int, limit: int,
                     viewer: str | None = None) -> Page:
        def fetch(db: sqlite3.Connection) -> Rows:
            rows = db.execute(
                "SELECT body FROM messages WHERE room = ? AND seq < ?"
                " ORDER BY seq DESC LIMIT ?", (room, seq, limit + 1)).fetchall()
            return list(reversed(rows[:limit])), len(rows) > limit, False
        return await self._paged(room, viewer, fetch)

    async def _paged(self, room: str, viewer: str | None,
                     fetch: Callable[[sqlite3.Connection], Rows]) -> Page:
        return await self._at_position(
            room, lambda db, position: self._page(room, *fetch(db), viewer,
                                                  position))

    async def _at_position(
            self, room: str,
            read: Callable[[sqlite3.Connection, Position], T]) -> T:
        """``read`` with the room's position. A room without an epoch gets
        one first, in a committed write, so it never hands out an epoch it
        might not keep."""
        def existing() -> tuple[bool, T | None]:
            db = self._db()
            position = _position(db, room)
            if position is None:
                return False, None
            return True, read(db, position)
        found, result = await self._run(existing)
        if found:
            return result  # type: ignore[return-value]
        return await self._write(lambda db, now: read(db, _started(db, room)))

    def _page(self, room: str, rows: list[Any], more: bool, gap: bool,
              viewer: str | None, position: Position) -> Page:
        bodies = _bodies(rows)
        epoch, last_seq = position
        for body in bodies:
            body["epoch"] = epoch
        reactions: dict[int, dict[str, set[str]]] = {}
        if bodies:
            for seq, emoji, user_id in self._db().execute(
                    "SELECT seq, emoji, user_id FROM reactions WHERE room = ?"
                    " AND seq BETWEEN ? AND ?",
                    (room, bodies[0]["seq"], bodies[-1]["seq"])):
                reactions.setdefault(seq, {}).setdefault(
                    emoji, set()).add(user_id)
        return Page([decorated(b, reactions.get(b["seq"]), viewer)
                     for b in bodies], more=more, gap=gap, epoch=epoch,
                    last_seq=last_seq)

    async def last_seq(self, room: str) -> int:
        rows = await self._query("SELECT last_seq FROM rooms WHERE room = ?",
                                 (room,))
        return rows[0][0] if rows else 0

    async def epoch(self, room: str) -> str:
        return await self._at_position(room, lambda db, position: position[0])

    # -- writer -------------------------------------------------------------

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    results = await self._run(
                        self._write_batch, [write for write, _ in batch])
                except Unavailable as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results):
                    if future.done():
                        continue
                    if isinstance(result, ChatioError):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._writer = None

    def _write_batch(self, writes: list[Write]) -> list[Any]:
        """Run ``writes`` in one transaction; a write refused with a
        ``ChatioError`` (before it changed anything) has it as its result."""
        db = self._db()
        now = time.time()
        self._scrub = False
        db.execute("BEGIN IMMEDIATE")
        try:
            results = []
            for write in writes:
                try:
                    results.append(write(db, now))
                except ChatioError as exc:
                    results.append(exc)
            if now - self._last_sweep > SWEEP_EVERY_SECONDS:
                db.execute("DELETE FROM sends WHERE created < ?",
                           (now - self._window,))
                self._last_sweep = now
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if self._scrub:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return results

    def _append_one(self, db: sqlite3.Connection, draft: Draft | Change,
                    now: float) -> Appended:
        if draft.client_id is not None:
            row = db.execute(
                "SELECT body FROM sends WHERE room = ? AND user_id = ?"
                " AND client_id = ? AND created >= ?",
                (draft.room, draft.user_id, draft.client_id,
                 now - self._window)).fetchone()
            if row is not None:
                body = json.loads(row[0])
                if "epoch" not in body:  # stored before rooms had epochs
                    body["epoch"] = _started(db, draft.room)[0]
                return Appended(body, duplicate=True)
        if isinstance(draft, Change):
            check_change(self._entry(db, draft.room, draft.target), draft)
        seq, epoch = db.execute(
            "INSERT INTO rooms (room, last_seq, epoch) VALUES (?, 1, ?)"
            " ON CONFLICT (room) DO UPDATE SET last_seq = last_seq + 1,"
            " epoch = coalesce(epoch, excluded.epoch)"
            " RETURNING last_seq, epoch", (draft.room, new_epoch())).fetchone()
        message = draft.stored_as(seq, epoch)
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        db.execute("INSERT INTO messages (room, seq, body) VALUES (?, ?, ?)",
                   (draft.room, seq, body))
        if draft.client_id is not None:
            db.execute(
                "INSERT OR REPLACE INTO sends"
                " (room, user_id, client_id, created, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (draft.room, draft.user_id, draft.client_id, now, body))
        # Applied before trimming: a delete scrubs its target even when the
        # delete itself pushes the target out of retention.
        if isinstance(draft, Change):
            self._apply(db, draft, seq)
        if seq > self._retention:
            floor = seq - self._retention
            for table, column in (("messages", "seq"), ("edits", "target"),
                                  ("reactions", "seq")):
                db.execute(f"DELETE FROM {table} WHERE room = ?"
                           f" AND {column} <= ?", (draft.room, floor))
        return Appended(message, duplicate=False)

    def _apply(self, db: sqlite3.Connection, change: Change,
               seq: int) -> None:
        target = self._entry(db, change.room, change.target)
        assert target is not None
        self._replace(db, change.room, applied(target, change))
        if change.text is not None:
            db.execute("INSERT INTO edits (room, target, seq)"
                       " VALUES (?, ?, ?)", (change.room, change.target, seq))
            return
        self._scrub = True
        db.execute("DELETE FROM reactions WHERE room = ? AND seq = ?",
                   (change.room, change.target))
        edits = db.execute("SELECT seq FROM edits WHERE room = ?"
                           " AND target = ?",
                           (change.room, change.target)).fetchall()
        for (edit_seq,) in edits:
            edit = self._entry(db, change.room, edit_seq)
            if edit is not None:
                self._replace(db, change.room, scrubbed(edit))
        db.execute("DELETE FROM edits WHERE room = ? AND target = ?",
                   (change.room, change.target))

    def _replace(self, db: sqlite3.Connection, room: str,
                 entry: dict[str, Any]) -> None:
        """Store ``entry`` over the one with its seq, and over its
        idempotency record."""
        body = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        db.execute("UPDATE messages SET body = ? WHERE room = ? AND seq = ?",
                   (body, room, entry["seq"]))
        if entry.get("client_id") is not None:
            db.execute("UPDATE sends SET body = ? WHERE room = ?"
                       " AND user_id = ? AND client_id = ?",
                       (body, room, entry["user"]["id"], entry["client_id"]))

    def _entry(self, db: sqlite3.Connection, room: str,
               seq: int) -> dict[str, Any] | None:
        row = db.execute("SELECT body FROM messages WHERE room = ?"
                         " AND seq = ?", (room, seq)).fetchone()
        return None if row is None else json.loads(row[0])

    def _react(self, db: sqlite3.Connection, room: str, seq: int,
               user_id: str, emoji: str, on: bool) -> Reacted:
        emojis = {row[0] for row in db.execute(
            "SELECT DISTINCT emoji FROM reactions WHERE room = ? AND seq = ?",
            (room, seq))}
        check_reaction(self._entry(db, room, seq), emojis, emoji, on)
        if on:
            changed = db.execute(
                "INSERT OR IGNORE INTO reactions (room, seq, emoji, user_id)"
                " VALUES (?, ?, ?, ?)", (room, seq, emoji, user_id)).rowcount
        else:
            changed = db.execute(
                "DELETE FROM reactions WHERE room = ? AND seq = ?"
                " AND emoji = ? AND user_id = ?",
                (room, seq, emoji, user_id)).rowcount
        count = db.execute("SELECT COUNT(*) FROM reactions WHERE room = ?"
                           " AND seq = ? AND emoji = ?",
                           (room, seq, emoji)).fetchone()[0]
        return Reacted(count, changed > 0)

    # -- plumbing -----------------------------------------------------------

    def _connect(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA secure_delete = ON")
        conn.executescript(SCHEMA)
        _migrate(conn)
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


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database written by an earlier node up to ``SCHEMA``."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(rooms)")}
    if "epoch" not in columns:
        conn.execute("ALTER TABLE rooms ADD COLUMN epoch TEXT")


def _position(db: sqlite3.Connection, room: str) -> Position | None:
    """The room's epoch and last seq; None while it has no epoch."""
    row = db.execute("SELECT epoch, last_seq FROM rooms WHERE room = ?",
                     (room,)).fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


def _started(db: sqlite3.Connection, room: str) -> Position:
    """The room's position, after giving it an epoch if it had none."""
    row = db.execute(
        "INSERT INTO rooms (room, last_seq, epoch) VALUES (?, 0, ?)"
        " ON CONFLICT (room) DO UPDATE SET epoch = coalesce(epoch, excluded.epoch)"
        " RETURNING epoch, last_seq", (room, new_epoch())).fetchone()
    return row[0], row[1]
