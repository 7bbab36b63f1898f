"""TLS (``rediss://``) and an ACL user, configured with LiteLLM's own keys: a redis-server
that speaks only TLS and refuses the default user still holds the gateway's spend."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import redis
import trustme

from tests.conftest import ConfigFactory, Providers
from tests.failover_support import wait_for
from tests.redis_servers import RedisServer, servers, take_port
from tests.shared_state_support import settled, shared_state

MASTER = "sk-master-tls-test-0001"
USER, PASSWORD = "gateway", "gw-acl-password-0001"


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[RedisServer, Path]]:
    authority = trustme.CA()
    cert = authority.issue_cert("127.0.0.1")
    ca_file, cert_file = tmp_path / "ca.pem", tmp_path / "server.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    port = take_port()
    args = ["--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    args += ["--tls-cert-file", str(cert_file), "--tls-key-file", str(cert_file)]
    args += ["--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"]
    args += ["--save", "", "--appendonly", "no"]
    # Only the gateway's ACL user may log in, and only to its own keys.
    args += ["--user", "default", "off"]
    grants = ["+@read", "+@write", "+@scripting", "+@connection", "+time"]  # docs/shared-state.md
    args += ["--user", USER, "on", f">{PASSWORD}", "~llm-router:*", *grants]
    server = RedisServer(port, tmp_path, args, ready=lambda: answers_tls(port, ca_file))
    with servers(tmp_path) as started:
        started.append(server.start())
        yield server, ca_file


def answers_tls(port: int, ca_file: Path) -> bool:
    try:
        client = redis.Redis(
            host="127.0.0.1",
            port=port,
            ssl=True,
            ssl_ca_certs=str(ca_file),
            username=USER,
            password=PASSWORD,
        )
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_spend_goes_to_a_tls_redis_as_an_acl_user(
    tls_redis: tuple[RedisServer, Path], make_config: ConfigFactory, serve, providers: Providers
) -> None:
    server, ca_file = tls_redis
    text = (
        f"general_settings:\n  master_key: {MASTER}\n"
        "router_plugins:\n  cache: {mode: 'off'}\n"
        f"router_settings:\n  redis_url: rediss://{USER}:{PASSWORD}@127.0.0.1:{server.port}/0\n"
    )
    gateway = serve(make_config(text, REDIS_SSL_CA_CERTS=str(ca_file)))
    state = shared_state(gateway)["redis"]
    assert state["reachable"] and state["target"].endswith(f"tls user {USER}")
    assert PASSWORD not in str(state)
    admin = {"authorization": f"Bearer {MASTER}"}
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    answers = [
        httpx.post(f"{gateway.openai_base}/chat/completions", json=body, headers=admin, timeout=20)
        for _ in range(3)
    ]
    assert wait_for(lambda: settled(gateway))
    report = httpx.get(f"{gateway.base_url}/admin/spend?period=day", headers=admin).json()
    assert report["source"] == "redis"
    expected = sum(Decimal(r.headers["x-router-cost-usd"]) for r in answers)
    assert abs(Decimal(str(report["total_usd"])) - expected) <= Decimal("3e-9")
    with pytest.raises(redis.RedisError):  # the default user is refused: the ACL is real
        redis.Redis(host="127.0.0.1", port=server.port, ssl=True, ssl_ca_certs=str(ca_file)).ping()
