"""``/metrics`` needs the master key or the scraper's key (it shows every team's cost) unless
``public_metrics``; ``/docs`` and ``/redoc`` are off unless enabled (the demo enables them);
``/openapi.json`` stays public."""

from __future__ import annotations

import httpx

from router_config.cli.commands import demo_config_text
from router_config.config.loader import parse_config
from tests.conftest import ConfigFactory, Providers

MASTER, CLIENT, SCRAPER = "sk-master-meta-0001", "sk-client-meta-0002", "scrape-meta-0003"
KEYS = (
    "general_settings:\n  master_key: os.environ/MASTER\n"
    "router_plugins:\n"
    "  client_keys:\n    - {key: os.environ/CLIENT, team: search}\n"
    "  server:\n    metrics_key: os.environ/SCRAPER\n"
)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_metrics_need_the_master_or_the_scrapers_key(make_config: ConfigFactory, serve) -> None:
    gateway = serve(make_config(KEYS, MASTER=MASTER, CLIENT=CLIENT, SCRAPER=SCRAPER))
    url = f"{gateway.base_url}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers=bearer("sk-wrong")).status_code == 401
    assert httpx.get(url, headers=bearer(CLIENT)).status_code == 403
    for key in (MASTER, SCRAPER):
        answer = httpx.get(url, headers=bearer(key))
        assert answer.status_code == 200 and "llm_router_requests" in answer.text
    # The scraper's key opens nothing else.
    spend = httpx.get(f"{gateway.base_url}/admin/spend", headers=bearer(SCRAPER))
    assert spend.status_code == 401
    chat = httpx.post(
        f"{gateway.openai_base}/chat/completions",
        headers=bearer(SCRAPER),
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert chat.status_code == 401


def test_public_metrics_opens_them_to_anyone(make_config: ConfigFactory, serve) -> None:
    config = make_config(
        KEYS + "    public_metrics: true\n", MASTER=MASTER, CLIENT=CLIENT, SCRAPER=SCRAPER
    )
    assert httpx.get(f"{serve(config).base_url}/metrics").status_code == 200


def test_docs_are_off_by_default_and_the_openapi_document_is_public(
    make_config: ConfigFactory, serve
) -> None:
    gateway = serve(make_config(KEYS, MASTER=MASTER, CLIENT=CLIENT, SCRAPER=SCRAPER))
    assert httpx.get(f"{gateway.base_url}/docs").status_code == 404
    assert httpx.get(f"{gateway.base_url}/redoc").status_code == 404
    document = httpx.get(f"{gateway.base_url}/openapi.json")
    assert document.status_code == 200 and "/v1/chat/completions" in document.json()["paths"]


def test_the_demo_serves_its_docs(serve, providers: Providers) -> None:
    env = {
        "DEMO_OPENAI_BASE": providers.openai.openai_base,
        "DEMO_ANTHROPIC_BASE": providers.anthropic.base_url,
        "DEMO_LOCAL_BASE": providers.local.openai_base,
    }
    gateway = serve(parse_config(demo_config_text(), source="demo", environ=env))
    for page in ("/docs", "/redoc"):
        answer = httpx.get(f"{gateway.base_url}{page}")
        assert answer.status_code == 200 and "openapi.json" in answer.text
