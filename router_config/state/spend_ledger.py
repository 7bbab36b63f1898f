"""Spend counters per period: the local journal first, then Redis hashes shared by replicas.

One hash per UTC period (``day:2026-11-25``, ``month:2026-11``); fields such as
``provider:openai``, ``group:chat``, ``team:search``, ``deployment:x``, ``key:alias``
and ``user:u-1`` hold nano-USD spent (integers: sums are exact), and
``attempts:provider:openai`` counts attempts.

``record`` writes a settled cost to the journal (``spend_journal``) and to this
process's counters, and wakes the flusher; the flusher applies journal entries
to Redis in batches with one Lua script that also records the journal's
high-water mark, so an entry is counted once however often it is replayed.
While Redis is down entries wait in the journal; when it returns they are
replayed, and if Redis came back empty, everything the journal still keeps is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from router_config.config.shared_state_settings import SharedStateSettings
from router_config.flow.hooks import Clock
from router_config.logs import emit
from router_config.state.periods import period_bounds, periods
from router_config.state.shared_redis import SharedRedis
from router_config.state.spend_journal import PRUNE_BATCH, Entry, Label, SpendJournal

NANO = 1_000_000_000
KEEP_S = 40 * 24 * 3600  # a month and then some, so last month can still be reported
BATCH = 500  # entries per Lua call
HEARTBEAT_S = 2.0
REPLICA_TTL_MS = 15_000
TAG = "ledger"  # one Redis Cluster slot for every ledger key a script touches

# KEYS[1] journals' high-water marks; KEYS[2..] period hashes and lease hashes (by index).
# ARGV: journal id, base (the mark the caller believes Redis has), ttl, label count, then
# per label: n period-key indexes, n fields, attempts field, n lease-key indexes; then
# per entry: seq, nano, label number. Returns {new mark, mark found} or {-1, mark found}
# when Redis has less than the caller believed (it lost data): the caller replays from there.
_APPLY = """
local jid = ARGV[1]
local stored = tonumber(redis.call('HGET', KEYS[1], jid) or '0')
if stored < tonumber(ARGV[2]) then return {-1, stored} end
local i = 5
local labels = {}
for l = 1, tonumber(ARGV[4]) do
  local lab = {p = {}, f = {}, l = {}}
  for k = 1, tonumber(ARGV[i]) do lab.p[k] = KEYS[tonumber(ARGV[i + k])] end
  i = i + tonumber(ARGV[i]) + 1
  for k = 1, tonumber(ARGV[i]) do lab.f[k] = ARGV[i + k] end
  i = i + tonumber(ARGV[i]) + 1
  lab.a = ARGV[i]
  i = i + 1
  for k = 1, tonumber(ARGV[i]) do lab.l[k] = KEYS[tonumber(ARGV[i + k])] end
  i = i + tonumber(ARGV[i]) + 1
  labels[l] = lab
end
local hw = stored
while i <= #ARGV do
  local seq, nano, lab = tonumber(ARGV[i]), ARGV[i + 1], labels[tonumber(ARGV[i + 2])]
  i = i + 3
  if seq > stored then
    for _, key in ipairs(lab.p) do
      if nano ~= '0' then
        for _, f in ipairs(lab.f) do redis.call('HINCRBY', key, f, nano) end
      end
      if lab.a ~= '' then redis.call('HINCRBY', key, lab.a, 1) end
    end
    if nano ~= '0' then
      for _, key in ipairs(lab.l) do
        if redis.call('HEXISTS', key, jid) == 1 then
          local left = redis.call('HINCRBY', key, jid, '-' .. nano)
          if left < 0 then redis.call('HSET', key, jid, 0) end
        end
      end
    end
    hw = seq
  end
end
redis.call('HSET', KEYS[1], jid, hw)
for k = 1, #KEYS do redis.call('EXPIRE', KEYS[k], ARGV[3]) end
return {hw, stored}
"""

# KEYS[1] live replicas (sorted set, score = expiry in ms of Redis time). ARGV: id, ttl ms.
_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
"""


def to_nano(usd: float) -> int:
    """USD to integer nano-USD, the ledger's unit (the cost header has nine decimals)."""
    return round(usd * NANO)


class SpendLedger:
    """Records settled costs durably and reports spend per period."""

    def __init__(
        self,
        redis: SharedRedis | None,
        journals: Sequence[SpendJournal],
        settings: SharedStateSettings,
        now: Clock,
    ) -> None:
        self._redis = redis
        self._journals = list(journals)
        self.journal = self._journals[0]
        self._settings = settings
        self._now = now
        self._local: dict[str, dict[str, int]] = {}
        for journal in self._journals:
            for (period, field), value in journal.totals().items():
                self._add_local(period, field, value)
        self.replicas = max(1, int(self.journal.meta("replicas") or 1))
        self._apply: Any = redis.client.register_script(_APPLY) if redis else None
        self._beat: Any = redis.client.register_script(_HEARTBEAT) if redis else None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._next_beat = 0.0
        self._next_prune = 0.0

    @property
    def pending(self) -> int:
        """Settled costs not yet confirmed by Redis (0 without Redis: nothing to send)."""
        if self._redis is None:
            return 0
        return sum(j.pending for j in self._journals)

    def record(self, ts: float, usd: float, label: Label) -> int:
        """Write one settled cost to the journal (durable when this returns), count it
        locally, and have it sent to Redis with the next batch. Its nano-USD."""
        nano = to_nano(usd)
        self.journal.append(ts, nano, label)
        for period in (label.day, label.month):
            for field in label.fields:
                self._add_local(period, field, nano)
            if label.attempts:
                self._add_local(period, label.attempts, 1)
        self._wake.set()
        return nano

    def local(self, period: str, field: str) -> int:
        """What this process alone has recorded (nano-USD or a count)."""
        return self._local.get(period, {}).get(field, 0)

    async def read(self, period: str) -> tuple[Mapping[str, int], str]:
        """Every field of ``period`` and where it came from: ``redis`` (all replicas, after
        sending this one's pending entries) or ``local`` (this process; Redis is down)."""
        if self._redis is not None and self._redis.available:
            await self.flush()
            key = self._redis.key("spend", period, tag=TAG)
            raw = await self._redis.run(lambda c: c.hgetall(key), None)  # type: ignore[arg-type,return-value]
            if raw is not None:
                return {k: int(v) for k, v in raw.items()}, "redis"
        return dict(self._local.get(period, {})), "local"

    async def flush(self) -> bool:
        """Send every pending entry to Redis now; True when none is left."""
        if self._redis is None:
            return True
        async with self._lock:
            done = True
            for journal in self._journals:
                done = await self._flush(journal) and done
            return done

    async def start(self) -> None:
        if self._redis is not None and self._task is None:
            self._redis.probed_in_background = True  # the heartbeat finds Redis back
            self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        """Stop the flusher after a last flush (bounded), and release the journal files."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), 2.0)
        self.close_journals()

    def close_journals(self) -> None:
        """Release the journal files (another process may adopt them)."""
        for journal in self._journals:
            journal.close()

    async def _loop(self) -> None:
        interval = self._settings.flush_interval_s
        while True:
            try:
                if not await self.flush():
                    await asyncio.sleep(max(interval, 0.2))  # Redis is down: try again soon
                await self._housekeeping()
            except Exception as exc:  # the flusher must outlive any one bad batch
                emit("spend_flush_failed", logging.ERROR, error_class=type(exc).__name__)
                await asyncio.sleep(1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), HEARTBEAT_S)
            self._wake.clear()
            await asyncio.sleep(interval)  # gather a batch

    async def _flush(self, journal: SpendJournal) -> bool:
        """Send ``journal``'s entries up to its last one now (not those arriving meanwhile)."""
        assert self._redis is not None
        target = journal.last_seq
        while journal.remote_hw < target:
            batch = journal.after(journal.remote_hw, BATCH)
            if not batch:
                journal.confirmed(journal.last_seq)
                break
            keys, args = _encode(self._redis, journal, batch)
            script = self._apply
            result = await self._redis.run(
                lambda c: script(keys=keys, args=args, client=c),  # noqa: B023
                None,
            )
            if result is None:
                return False
            hw, stored = int(result[0]), int(result[1])
            if hw < 0:
                emit(
                    "spend_replay",
                    logging.WARNING,
                    journal=journal.id,
                    from_seq=stored,
                    message="Redis has less spend than this journal sent it (it lost data): "
                    "replaying what the journal keeps",
                )
                journal.remote_hw = stored
                continue
            journal.confirmed(hw)
        return True

    async def _housekeeping(self) -> None:
        assert self._redis is not None
        now = time.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + HEARTBEAT_S
            key = self._redis.key("replicas", tag=TAG)
            beat, jid = self._beat, self.journal.id
            count = await self._redis.run(
                lambda c: beat(keys=[key], args=[jid, REPLICA_TTL_MS], client=c), None
            )
            if count is not None and int(count) != self.replicas:
                self.replicas = max(1, int(count))
                self.journal.set_meta("replicas", str(self.replicas))
        if now >= self._next_prune:
            self._next_prune = now + 60.0
            before = self._now() - self._settings.journal_keep_hours * 3600
            for journal in self._journals:
                while journal.prune(before) == PRUNE_BATCH:
                    await asyncio.sleep(0)  # let requests run between batches

    def _add_local(self, period: str, field: str, value: int) -> None:
        local = self._local.setdefault(period, {})
        local[field] = local.get(field, 0) + value


def _encode(
    redis: SharedRedis, journal: SpendJournal, batch: list[Entry]
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``_APPLY`` for ``batch``."""
    keys = [redis.key("journals", tag=TAG)]
    index: dict[str, int] = {}

    def at(key: str) -> int:
        if key not in index:
            keys.append(key)
            index[key] = len(keys)
        return index[key]

    labels: dict[Label, int] = {}
    label_args: list[Any] = []
    entry_args: list[Any] = []
    for entry in batch:
        label = entry.label
        if label not in labels:
            labels[label] = len(labels) + 1
            pids = (label.day, label.month)
            spend = [at(redis.key("spend", p, tag=TAG)) for p in pids]
            leases = [at(redis.key("lease", p, s, tag=TAG)) for p in pids for s in label.leases]
            label_args += [len(spend), *spend, len(label.fields), *label.fields, label.attempts]
            label_args += [len(leases), *leases]
        entry_args += [entry.seq, str(entry.nano), labels[label]]
    args = [journal.id, journal.remote_hw, KEEP_S, len(labels), *label_args, *entry_args]
    return keys, args


__all__ = ["KEEP_S", "NANO", "TAG", "SpendLedger", "period_bounds", "periods", "to_nano"]
