"""Pinned versions are recorded at start-up with time and config hash; a pin change shows
up in the history that `llm-router versions` prints."""

from __future__ import annotations

import asyncio

from router_config.cli.pin_report import pins_report
from tests.conftest import BASE_CONFIG, ConfigFactory


def test_a_pin_change_between_two_starts_is_recorded_once(
    make_config: ConfigFactory, serve, redis_url: str
) -> None:
    shared = f"\nrouter_settings:\n  redis_url: {redis_url}\n"
    before = make_config(shared)
    serve(before).stop()
    serve(before).stop()  # same pins again: no new entry
    changed = BASE_CONFIG.replace(
        "model: openai/gpt-4o-2024-08-06\n      api_base: os.environ/"
        "OPENAI_BASE\n      api_key: os.environ/OPENAI_API_KEY\n"
        "      order: 1",
        "model: openai/gpt-4o-2024-11-20\n      api_base: os.environ/"
        "OPENAI_BASE\n      api_key: os.environ/OPENAI_API_KEY\n"
        "      order: 1",
    )
    assert changed != BASE_CONFIG
    after = make_config(shared, text=changed)
    serve(after).stop()
    report = asyncio.run(pins_report(after))
    assert "history (2 entries):" in report
    assert "openai-primary: gpt-4o-2024-08-06 -> gpt-4o-2024-11-20" in report
    assert "openai-primary                  openai       gpt-4o-2024-11-20" in report
