"""What the chaos run checks at the end, as pure functions over plain data.

Inputs are what the run observed:

- ``history``: room -> the stored entries, oldest first, each a mapping with
  ``seq``, ``id``, ``client_id`` (or None), ``user`` id and ``text``.
- ``sends``: every send a user made: ``room``, ``user``, ``text`` (unique per
  send), ``status`` (``acked``, ``failed`` or ``pending``) and, once acked,
  the ack's ``id``, ``seq`` and ``client_id``.
- ``views``: user -> room -> ``[seq, id]`` pairs, in the order the client
  delivered them.

Every problem becomes one :class:`Finding` that says exactly what is wrong.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Entry = Mapping[str, Any]
#: The author of the end markers the run publishes itself.
MARKER_USER = "chaos-check"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One loss, duplicate, gap or mismatch: its kind and what it concerns."""

    kind: str
    room: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:<18} {self.room}: {self.detail}"


def check_history(history: Mapping[str, Sequence[Entry]]) -> list[Finding]:
    """Within a room, seqs run 1, 2, 3... and no id or (user, client_id)
    is stored twice."""
    findings: list[Finding] = []
    for room, entries in sorted(history.items()):
        expected = 1
        for entry in entries:
            if entry["seq"] != expected:
                findings.append(Finding(
                    "history-seq", room,
                    f"seq {entry['seq']} where {expected} was expected"))
            expected = entry["seq"] + 1
        ids = Counter(entry["id"] for entry in entries)
        for message_id, count in sorted(ids.items()):
            if count > 1:
                findings.append(Finding("duplicate-id", room,
                                        f"id {message_id} stored {count} times"))
        keys = Counter((entry["user"], entry["client_id"]) for entry in entries
                       if entry.get("client_id") is not None)
        for (user, client_id), count in sorted(keys.items()):
            if count > 1:
                seqs = [e["seq"] for e in entries
                        if e["user"] == user and e.get("client_id") == client_id]
                findings.append(Finding(
                    "duplicate-client", room,
                    f"client_id {client_id} of {user} stored {count} times "
                    f"(seqs {seqs})"))
    return findings


def check_sends(history: Mapping[str, Sequence[Entry]],
                sends: Iterable[Entry]) -> list[Finding]:
    """Every acked send is in history exactly once, by client_id and by id,
    at the seq its ack gave; no send failed or stayed unacked; history holds
    nothing that was not sent (but the run's end markers)."""
    findings: list[Finding] = []
    by_client: dict[tuple[str, str, str], list[Entry]] = {}
    by_id: dict[tuple[str, str], list[Entry]] = {}
    by_text: dict[tuple[str, str], list[Entry]] = {}
    for room, entries in history.items():
        for entry in entries:
            if entry.get("client_id") is not None:
                by_client.setdefault(
                    (room, entry["user"], entry["client_id"]), []).append(entry)
            by_id.setdefault((room, entry["id"]), []).append(entry)
            by_text.setdefault((room, entry["text"]), []).append(entry)
    sends = list(sends)
    sent = {(send["room"], send["text"]) for send in sends}
    for room, entries in sorted(history.items()):
        for entry in entries:
            if entry["user"] != MARKER_USER and (room, entry["text"]) not in sent:
                findings.append(Finding(
                    "unexpected", room,
                    f"seq {entry['seq']} {entry['text']!r} of {entry['user']} "
                    f"was never sent"))
    for send in sends:
        room, text = send["room"], send["text"]
        if send["status"] != "acked":
            stored = by_text.get((room, text), [])
            where = (f"stored at seq {[e['seq'] for e in stored]}" if stored
                     else "not stored")
            findings.append(Finding(
                f"send-{send['status']}", room,
                f"{send['user']} {text!r} ({where})"
                + (f": {send['error']}" if send.get("error") else "")))
            continue
        label = f"{send['user']} {text!r} acked as seq {send['seq']} id {send['id']}"
        stored_by_client = by_client.get((room, send["user"], send["client_id"]), [])
        stored_by_id = by_id.get((room, send["id"]), [])
        stored_by_text = by_text.get((room, text), [])
        if not stored_by_client and not stored_by_id:
            findings.append(Finding("lost", room, f"{label}: not in history"))
            continue
        if len(stored_by_client) > 1 or len(stored_by_id) > 1 or len(stored_by_text) > 1:
            seqs = sorted({e["seq"] for e in [*stored_by_client, *stored_by_id,
                                                *stored_by_text]})
            findings.append(Finding("duplicated", room,
                                    f"{label}: stored at seqs {seqs}"))
            continue
        if len(stored_by_client) != 1 or len(stored_by_id) != 1:
            findings.append(Finding(
                "mismatch", room,
                f"{label}: by client_id {[e['seq'] for e in stored_by_client]}, "
                f"by id {[e['seq'] for e in stored_by_id]}"))
            continue
        entry = stored_by_id[0]
        if (entry["seq"] != send["seq"] or entry["text"] != text
                or stored_by_client[0] is not entry):
            findings.append(Finding(
                "mismatch", room,
                f"{label}: history has seq {entry['seq']} id {entry['id']} "
                f"text {entry['text']!r}"))
    return findings


def check_views(history: Mapping[str, Sequence[Entry]],
                views: Mapping[str, Mapping[str, Sequence[Sequence[Any]]]]
                ) -> list[Finding]:
    """Every client saw each of its rooms exactly as history holds it: every
    entry once, in seq order, nothing missing, nothing foreign."""
    findings: list[Finding] = []
    for user, rooms in sorted(views.items()):
        for room, seen in sorted(rooms.items()):
            stored = {entry["seq"]: entry["id"] for entry in history.get(room, [])}
            counts = Counter(seq for seq, _ in seen)
            duplicates = sorted(seq for seq, count in counts.items() if count > 1)
            if duplicates:
                findings.append(Finding(
                    "view-duplicate", room,
                    f"{user} got seqs {_ranges(duplicates)} more than once"))
            foreign = sorted(seq for seq, message_id in seen
                             if stored.get(seq) != message_id)
            if foreign:
                findings.append(Finding(
                    "view-foreign", room,
                    f"{user} got seqs {_ranges(foreign)} with ids history "
                    f"does not hold there"))
            missing = sorted(set(stored) - set(counts))
            if missing:
                findings.append(Finding(
                    "view-gap", room, f"{user} never got seqs {_ranges(missing)}"))
            order = [seq for seq, _ in seen]
            if order != sorted(order):
                findings.append(Finding(
                    "view-order", room, f"{user} got seqs out of order"))
    return findings


def check_presence(expected: Mapping[str, Iterable[str]],
                   actual: Mapping[str, Mapping[str, int]]) -> list[Finding]:
    """Each room's members are exactly the users with a connected client in
    it, each with one device (one ``ChatClient`` per user)."""
    findings: list[Finding] = []
    for room in sorted(set(expected) | set(actual)):
        want = set(expected.get(room, ()))
        have = dict(actual.get(room, {}))
        absent = sorted(want - set(have))
        stale = sorted(set(have) - want)
        devices = sorted(f"{user}={count}" for user, count in have.items()
                         if user in want and count != 1)
        if absent:
            findings.append(Finding("presence-absent", room,
                                    f"connected but not present: {absent}"))
        if stale:
            findings.append(Finding("presence-stale", room,
                                    f"present but not connected: {stale}"))
        if devices:
            findings.append(Finding("presence-devices", room,
                                    f"device counts other than 1: {devices}"))
    return findings


def _ranges(seqs: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` as ``1-3,7``."""
    parts: list[str] = []
    start = previous = None
    for seq in seqs:
        if start is None:
            start = previous = seq
        elif seq == previous + 1:
            previous = seq
        else:
            parts.append(f"{start}" if start == previous else f"{start}-{previous}")
            start = previous = seq
    if start is not None:
        parts.append(f"{start}" if start == previous else f"{start}-{previous}")
    return ",".join(parts)
