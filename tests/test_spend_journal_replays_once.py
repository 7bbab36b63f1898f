"""The spend journal: what Redis missed is replayed, each entry counted once, however often
and by however many replayers; a dead process's journal is adopted; a Redis that lost its
data gets everything back; without Redis, a restart keeps this machine's spend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis

from router_config.config.shared_state_settings import SharedStateSettings
from router_config.state.shared_redis import SharedRedis
from router_config.state.spend_journal import Label, open_journals
from router_config.state.spend_ledger import SpendLedger

LABEL = Label("day:2026-11-30", "month:2026-11", ("provider:openai", "team:search"), "attempts:x")
SPEND_KEY = "llm-router:{ledger}:spend:day:2026-11-30"


def ledger(folder: Path, shared: SharedRedis | None) -> SpendLedger:
    settings = SharedStateSettings(state_dir=str(folder))
    return SpendLedger(shared, open_journals(folder), settings, lambda: 1_796_000_000.0)


def spent(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).hget(SPEND_KEY, "team:search") or 0)


async def test_entries_written_while_redis_was_down_are_replayed_once(
    tmp_path: Path, redis_url: str
) -> None:
    dead = SharedRedis("redis://127.0.0.1:1/0")
    book = ledger(tmp_path, dead)
    for _ in range(50):
        book.record(1_796_000_000.0, 0.000123456, LABEL)
    assert not await book.flush() and book.pending == 50  # kept, not lost
    book.close_journals()
    await dead.close()

    live = SharedRedis(redis_url)
    one, two = ledger(tmp_path, live), ledger(tmp_path, live)  # the same journal, adopted
    two_view = SpendLedger(live, [one.journal], SharedStateSettings(), lambda: 0.0)
    assert two.pending == 0  # the file was taken: the second process got a fresh one
    await asyncio.gather(one.flush(), two_view.flush(), one.flush())  # replayed at once, 3x
    assert spent(redis_url) == 50 * 123_456
    assert one.pending == 0
    for book in (one, two):
        book.close_journals()
    await live.close()


async def test_a_redis_that_lost_its_data_gets_the_journal_back(
    tmp_path: Path, redis_url: str
) -> None:
    live = SharedRedis(redis_url)
    book = ledger(tmp_path, live)
    for _ in range(10):
        book.record(1_796_000_000.0, 0.001, LABEL)
    assert await book.flush()
    redis.Redis.from_url(redis_url).flushdb()  # restarted without persistence
    book.record(1_796_000_000.0, 0.001, LABEL)
    assert await book.flush()
    assert spent(redis_url) == 11 * 1_000_000
    book.close_journals()
    await live.close()


async def test_without_redis_a_restart_keeps_this_machines_spend(tmp_path: Path) -> None:
    book = ledger(tmp_path, None)
    book.record(1_796_000_000.0, 0.25, LABEL)
    book.close_journals()
    again = ledger(tmp_path, None)
    assert again.local("month:2026-11", "provider:openai") == 250_000_000
    assert again.local("day:2026-11-30", "attempts:x") == 1
    again.close_journals()


async def test_only_entries_redis_confirmed_are_pruned_and_only_when_old(
    tmp_path: Path, redis_url: str
) -> None:
    live = SharedRedis(redis_url)
    book = ledger(tmp_path, live)
    book.record(1_000.0, 0.001, LABEL)  # old
    book.record(1_796_000_000.0, 0.001, LABEL)  # recent
    journal = book.journal
    assert journal.prune(before_ts=1_795_000_000.0) == 0  # nothing confirmed yet
    assert await book.flush()
    book.record(1_000.0, 0.001, LABEL)  # old, not yet in Redis
    assert journal.prune(before_ts=1_795_000_000.0) == 1  # the confirmed old one only
    assert [e.seq for e in journal.after(0, 10)] == [2, 3]
    book.close_journals()
    await live.close()
