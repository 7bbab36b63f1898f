"""Redis is configured with LiteLLM's own keys: router_settings, cache_params, REDIS_* variables."""

from __future__ import annotations

import pytest

from router_config.errors import ConfigError
from tests.conftest import ConfigFactory


def redis_of(make_config: ConfigFactory, extra: str = "", **env: str):  # type: ignore[no-untyped-def]
    return make_config(extra, **env).redis


def test_router_settings_url_and_host_port_password(make_config: ConfigFactory) -> None:
    by_url = redis_of(make_config, "router_settings:\n  redis_url: redis://u:pw@10.0.0.1:6380/2\n")
    assert by_url.mode == "single" and by_url.describe() == "redis://10.0.0.1:6380/2 user u"
    by_host = redis_of(
        make_config,
        "router_settings:\n  redis_host: 10.0.0.2\n  redis_port: 6381\n  redis_password: pw\n",
    )
    assert (by_host.host, by_host.port, by_host.password.get_secret_value()) == (
        "10.0.0.2",
        6381,
        "pw",
    )


def test_cluster_from_cache_params_or_the_environment(make_config: ConfigFactory) -> None:
    in_file = redis_of(
        make_config,
        "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n"
        "    password: pw\n    redis_startup_nodes:\n"
        "      - {host: 10.0.0.1, port: 7000}\n      - {host: 10.0.0.2, port: 7001}\n",
    )
    assert in_file.mode == "cluster" and [n.port for n in in_file.startup_nodes] == [7000, 7001]
    assert in_file.password.get_secret_value() == "pw"
    from_env = redis_of(make_config, REDIS_CLUSTER_NODES='[{"host": "10.0.0.3", "port": 7002}]')
    assert from_env.mode == "cluster" and from_env.source == "REDIS_CLUSTER_NODES"


def test_sentinel_from_the_environment_with_its_own_password(make_config: ConfigFactory) -> None:
    settings = redis_of(
        make_config,
        REDIS_SENTINEL_NODES='[["10.0.0.1", 26379], ["10.0.0.2", 26379]]',
        REDIS_SERVICE_NAME="mymaster",
        REDIS_SENTINEL_PASSWORD="sentinel-pw",
        REDIS_PASSWORD="data-pw",
    )
    assert settings.mode == "sentinel" and settings.service_name == "mymaster"
    assert settings.sentinel_password.get_secret_value() == "sentinel-pw"
    assert settings.password.get_secret_value() == "data-pw"
    assert "pw" not in settings.describe()


def test_a_target_in_the_file_outranks_the_environment_as_in_litellm(
    make_config: ConfigFactory,
) -> None:
    settings = redis_of(
        make_config,
        "router_settings:\n  redis_url: rediss://10.0.0.9:6390/0\n",
        REDIS_CLUSTER_NODES='[{"host": "10.0.0.3", "port": 7002}]',
        REDIS_SSL_CA_CERTS="/etc/ssl/redis-ca.pem",
    )
    assert settings.mode == "single" and settings.uses_tls
    assert settings.ssl_ca_certs == "/etc/ssl/redis-ca.pem"  # not a target: still applies


def test_no_redis_key_means_no_redis(make_config: ConfigFactory) -> None:
    assert redis_of(make_config) is None
    in_memory = "litellm_settings:\n  cache_params:\n    type: local\n    host: 10.0.0.1\n"
    assert redis_of(make_config, in_memory) is None


@pytest.mark.parametrize(
    ("env", "path"),
    [
        ({"REDIS_CLUSTER_NODES": "not json"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_SENTINEL_NODES": '[["10.0.0.1", 26379]]'}, "REDIS_SENTINEL_NODES"),
        ({"REDIS_URL": "redis://x", "REDIS_PORT": "six"}, "REDIS_PORT"),
    ],
)
def test_bad_redis_settings_name_the_key_and_the_fix(
    make_config: ConfigFactory, env: dict[str, str], path: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(**env)
    assert [issue.path for issue in caught.value.issues] == [path]
    assert caught.value.issues[0].fix


def test_check_says_which_redis_holds_shared_state(make_config: ConfigFactory) -> None:
    from router_config.cli.report import summary

    nodes = '[{"host": "10.0.0.3", "port": 7002}, {"host": "10.0.0.4", "port": 7002}]'
    report = summary(make_config(REDIS_CLUSTER_NODES=nodes, REDIS_PASSWORD="secret-pw"))
    assert (
        "shared state: Redis cluster 10.0.0.3:7002 (+1 nodes), source REDIS_CLUSTER_NODES" in report
    )
    assert "secret-pw" not in report
