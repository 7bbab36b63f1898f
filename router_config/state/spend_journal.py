"""The spend journal: every settled cost, on local disk, before it goes anywhere else.

One SQLite file (WAL mode) per gateway process in the state directory, locked
with ``flock`` while the process lives. Each entry gets a sequence number that
is never reused (``AUTOINCREMENT``); Redis remembers, per journal, the highest
number it has applied, so replaying is idempotent: after an outage, after a
crash, or twice at once. A file whose process died is adopted by the next
process that starts in the same directory, and its entries are replayed too.

Entries are small: a cost in nano-USD (integers add up exactly) and a label
(periods and ledger fields) stored once and referenced by id.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS entries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts REAL NOT NULL,
  nano INTEGER NOT NULL,
  label INTEGER NOT NULL
);
"""
PRUNE_BATCH = 2_000  # rows per DELETE: a few ms on the event loop at a time
LABEL_CACHE = 10_000  # labels kept in memory (end users make many): the table has the rest


@dataclass(frozen=True)
class Label:
    """What a cost is counted under: its day and month, the ledger fields credited with it
    (``provider:openai``, ``team:search``, ``user:u-1``...), the attempts field, and the
    budget leases it consumed (scopes such as ``provider:openai``)."""

    day: str
    month: str
    fields: tuple[str, ...]
    attempts: str = ""
    leases: tuple[str, ...] = ()

    def dumps(self) -> str:
        return json.dumps([self.day, self.month, self.fields, self.attempts, self.leases])

    @classmethod
    def loads(cls, body: str) -> Label:
        day, month, fields, attempts, leases = json.loads(body)
        return cls(day, month, tuple(fields), attempts, tuple(leases))


@dataclass(frozen=True)
class Entry:
    seq: int
    ts: float
    nano: int
    label: Label


class SpendJournal:
    """One journal file, owned (locked) by this process."""

    def __init__(self, path: Path, lock: IO[bytes], *, sync: str = "normal") -> None:
        self.path = path
        self._lock = lock
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
        self._db.executescript(_SCHEMA)
        self.id = self._meta("id") or self._set_meta("id", uuid.uuid4().hex[:16])
        self.remote_hw = int(self._meta("remote_hw") or 0)
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name='entries'").fetchone()
        self.last_seq = int(row[0]) if row else 0
        self._labels: dict[Label, int] = {}
        self._bodies: dict[int, Label] = {}

    @property
    def pending(self) -> int:
        """Entries Redis has not confirmed yet."""
        return max(0, self.last_seq - self.remote_hw)

    def append(self, ts: float, nano: int, label: Label) -> int:
        """Write one settled cost (durable when this returns); its sequence number."""
        label_id = self._label_id(label)
        cursor = self._db.execute(
            "INSERT INTO entries (ts, nano, label) VALUES (?, ?, ?)", (ts, nano, label_id)
        )
        self.last_seq = int(cursor.lastrowid or 0)
        return self.last_seq

    def after(self, seq: int, limit: int) -> list[Entry]:
        """Up to ``limit`` entries with a sequence number above ``seq``, in order."""
        rows = self._db.execute(
            "SELECT seq, ts, nano, label FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [Entry(s, ts, nano, self._label(label)) for s, ts, nano, label in rows]

    def confirmed(self, hw: int) -> None:
        """Redis has applied every entry up to ``hw``."""
        if hw != self.remote_hw:
            self.remote_hw = hw
            self._set_meta("remote_hw", str(hw))

    def totals(self) -> dict[tuple[str, str], int]:
        """Sum per (period, field) of every entry kept: local spend after a restart."""
        out: dict[tuple[str, str], int] = {}
        rows = self._db.execute(
            "SELECT label, SUM(nano), COUNT(*) FROM entries GROUP BY label"
        ).fetchall()
        for label_id, nano, count in rows:
            _accumulate(out, self._label(label_id), int(nano), int(count))
        return out

    def prune(self, before_ts: float) -> int:
        """Forget entries Redis has confirmed that are older than ``before_ts``."""
        cursor = self._db.execute(
            "DELETE FROM entries WHERE seq IN (SELECT seq FROM entries WHERE seq <= ? AND ts < ? "
            "LIMIT ?)",
            (self.remote_hw, before_ts, PRUNE_BATCH),
        )
        return cursor.rowcount

    def meta(self, key: str) -> str | None:
        return self._meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._set_meta(key, value)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._lock.close()  # releases the flock: another process may adopt the file

    def _label_id(self, label: Label) -> int:
        found = self._labels.get(label)
        if found is None:
            if len(self._labels) >= LABEL_CACHE:
                self._labels.clear()
                self._bodies.clear()
            body = label.dumps()
            self._db.execute("INSERT OR IGNORE INTO labels (body) VALUES (?)", (body,))
            row = self._db.execute("SELECT id FROM labels WHERE body = ?", (body,)).fetchone()
            found = self._labels[label] = int(row[0])
            self._bodies[found] = label
        return found

    def _label(self, label_id: int) -> Label:
        found = self._bodies.get(label_id)
        if found is None:
            row = self._db.execute("SELECT body FROM labels WHERE id = ?", (label_id,)).fetchone()
            found = self._bodies[label_id] = Label.loads(row[0])
            self._labels[found] = label_id
        return found

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT v FROM meta WHERE k = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> str:
        self._db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", (key, value))
        return value


def open_journals(
    directory: str | Path, *, sync: str = "normal", create: bool = True
) -> list[SpendJournal]:
    """This process's journal first, then every orphan in ``directory`` (a journal whose
    process died: its lock is free). The first orphan becomes ours, so restarts reuse
    their files; a fresh file is made when there is none (unless ``create`` is False)."""
    folder = Path(directory).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    taken: list[SpendJournal] = []
    for path in sorted(folder.glob("spend-*.sqlite")):
        lock = _try_lock(path)
        if lock is not None:
            taken.append(SpendJournal(path, lock, sync=sync))
    if not taken and create:
        path = folder / f"spend-{uuid.uuid4().hex[:12]}.sqlite"
        lock = _try_lock(path)
        assert lock is not None  # a name nobody else has
        taken.append(SpendJournal(path, lock, sync=sync))
    return taken


def _try_lock(path: Path) -> IO[bytes] | None:
    """An exclusive ``flock`` on ``<path>.lock``, held while the file stays open."""
    handle = open(f"{path}.lock", "ab")  # noqa: SIM115  (kept open: it is the lock)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    os.utime(handle.fileno())
    return handle


def journal_totals(directory: str | Path) -> dict[tuple[str, str], int]:
    """Sum per (period, field) over every journal in ``directory``, live or not, read-only:
    what this machine's gateways spent, for ``llm-router spend`` without Redis."""
    out: dict[tuple[str, str], int] = {}
    for path in sorted(Path(directory).expanduser().glob("spend-*.sqlite")):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            labels = dict(db.execute("SELECT id, body FROM labels").fetchall())
            rows = db.execute("SELECT label, SUM(nano), COUNT(*) FROM entries GROUP BY label")
            for label_id, nano, count in rows.fetchall():
                _accumulate(out, Label.loads(labels[label_id]), int(nano), int(count))
        finally:
            db.close()
    return out


def _accumulate(out: dict[tuple[str, str], int], label: Label, nano: int, count: int) -> None:
    """Add ``count`` entries worth ``nano`` under ``label`` to per-(period, field) totals."""
    for period in (label.day, label.month):
        for field in label.fields:
            out[(period, field)] = out.get((period, field), 0) + nano
        if label.attempts:
            out[(period, label.attempts)] = out.get((period, label.attempts), 0) + count
