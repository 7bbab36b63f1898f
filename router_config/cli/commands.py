"""The ``llm-router`` command: check, serve, pin, versions, spend, reconcile, demo,
fake-provider, drill.

Each command is a thin shell over the library: ``check`` prints every config
issue (exit 1) or the summary table; ``serve`` runs the gateway under uvicorn;
``pin`` writes a copy of a config with its floating aliases pinned; ``demo`` is
what ``make run`` starts: fake providers plus the gateway.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from router_config.cli.report import summary
from router_config.config.loader import load_config, parse_config
from router_config.config.plugin_settings import ServerSettings
from router_config.config.schema import RouterConfig
from router_config.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="llm-router: an OpenAI-compatible gateway on LiteLLM's Router.",
)
CONFIG_ENV = "LLM_ROUTER_CONFIG"
DEFAULT_CONFIG = Path("litellm_config.yaml")
MODES_HELP = (
    "ok, slow:MS, hang, 500, 503, 429:S, 401, 403, context, garbage, break:N, stall:MS, drift:MODEL"
)


ENV_FILE_ENV = "LLM_ROUTER_ENV_FILE"


def config_environ(env_file: Path | None) -> dict[str, str]:
    """The environment ``os.environ/`` references resolve from: the process's, then the
    ``--env-file`` (a secret store's dotenv file), re-read on every load so a reload picks
    up rotated keys without a restart."""
    environ = dict(os.environ)
    if env_file is not None:
        from dotenv import dotenv_values

        environ.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    return environ


@app.command()
def check(
    config: Annotated[Path, typer.Argument(help="Config file.")] = DEFAULT_CONFIG,
    strict: Annotated[
        bool, typer.Option(help="Also refuse floating aliases and wildcard routes (for CI).")
    ] = False,
    env_file: Annotated[
        Path | None, typer.Option(help="Dotenv file for os.environ/ references.")
    ] = None,
) -> None:
    """Validate CONFIG; print every issue (exit 1) or what the config implies."""
    try:
        loaded = load_config(config, environ=config_environ(env_file), strict=strict)
    except ConfigError as exc:
        typer.echo(f"{exc.file}: {len(exc.issues)} problem(s)", err=True)
        for issue in exc.issues:
            typer.echo(f"  - {issue.render(exc.file)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary(loaded))


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", "-c")] = DEFAULT_CONFIG,
    host: str = "127.0.0.1",
    port: int = 4000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    env_file: Annotated[
        Path | None,
        typer.Option(help="Dotenv file for os.environ/ references, re-read on every reload."),
    ] = None,
) -> None:
    """Serve the gateway for CONFIG."""
    try:
        loaded = load_config(config, environ=config_environ(env_file))  # fail here, first
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    os.environ[CONFIG_ENV] = str(config)
    if env_file is not None:
        os.environ[ENV_FILE_ENV] = str(env_file.resolve())
    _run_uvicorn(
        "router_config.cli.commands:app_from_env", host, port, workers, loaded.plugins.server
    )


@app.command()
def demo(port: int = 4000, host: str = "127.0.0.1") -> None:
    """Start three fake providers and the gateway on them: no keys, no Redis."""
    from router_config.testing import FakeProviderServer

    with (
        FakeProviderServer() as openai_fake,
        FakeProviderServer() as anthropic_fake,
        FakeProviderServer() as local_fake,
    ):
        os.environ.update(
            {
                "DEMO_OPENAI_BASE": openai_fake.openai_base,
                "DEMO_ANTHROPIC_BASE": anthropic_fake.base_url,
                "DEMO_LOCAL_BASE": local_fake.openai_base,
                CONFIG_ENV: "demo",
            }
        )
        typer.echo(
            f"fake providers: openai {openai_fake.base_url}, anthropic "
            f"{anthropic_fake.base_url}, local {local_fake.base_url}"
        )
        typer.echo(f"gateway: http://{host}:{port}/v1  (model 'chat'; try the README's curl)")
        settings = parse_config(demo_config_text(), source="demo (embedded)").plugins.server
        _run_uvicorn("router_config.cli.commands:app_from_env", host, port, 1, settings)


@app.command()
def pin(
    config: Annotated[Path, typer.Argument(help="Config file.")] = DEFAULT_CONFIG,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write (default: *.pinned.yaml).")
    ] = None,
) -> None:
    """Write a copy of CONFIG with every floating alias replaced by its dated version."""
    from router_config.cli.pin_config import pin_file

    target = output or config.with_name(f"{config.stem}.pinned{config.suffix or '.yaml'}")
    result = pin_file(config, target)
    for index, before, after in result.pinned:
        typer.echo(f"model_list[{index}]: {before} -> {after}")
    for index, model, why in result.skipped:
        typer.echo(f"model_list[{index}]: {model} left as is: {why}", err=True)
    if result.note:
        typer.echo(f"note: {result.note}", err=True)
    typer.echo(f"wrote {target} ({len(result.pinned)} pinned); check it with: llm-router check")


@app.command()
def versions(
    config: Annotated[Path, typer.Argument(help="Config file.")] = DEFAULT_CONFIG,
) -> None:
    """Print the pinned model versions, their retirement dates and the history of pin changes."""
    import asyncio

    from router_config.cli.pin_report import pins_report

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(asyncio.run(pins_report(loaded)))


@app.command("spend")
def spend_command(
    config: Annotated[Path, typer.Argument(help="Config file.")] = DEFAULT_CONFIG,
    period: Annotated[str, typer.Option(help="day or month")] = "month",
    fmt: Annotated[str, typer.Option("--format", help="table or csv")] = "table",
) -> None:
    """Print spend by provider, model group, team, deployment, key and user (from Redis,
    or without Redis from this machine's spend journals)."""
    import asyncio
    import datetime as dt

    from router_config.state.spend_report import as_text, offline_report

    try:
        loaded = load_config(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    try:
        data = asyncio.run(offline_report(loaded, period, dt.datetime.now(dt.UTC)))
    except ConnectionError as exc:
        typer.echo(f"llm-router spend: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(as_text(data, fmt))


@app.command("reconcile")
def reconcile_command(
    config: Annotated[Path, typer.Argument(help="Config file.")] = DEFAULT_CONFIG,
    period: Annotated[str, typer.Option(help="day or month (UTC)")] = "month",
    at: Annotated[str | None, typer.Option(help="YYYY-MM or YYYY-MM-DD; default: now")] = None,
    gateway: Annotated[
        str | None, typer.Option(help="Read the ledger from this gateway's /admin/spend")
    ] = None,
    tolerance: Annotated[float, typer.Option(help="USD a row may differ by")] = 0.01,
    environment: Annotated[str | None, typer.Option(help="Langfuse environment")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Compare the spend ledger with Langfuse (Metrics API v2) by provider and team.

    Exit 0: they agree within the tolerance; 1: some row differs; 2: it could not run.
    """
    import datetime as dt

    from router_config.cli.reconcile import Options, ReconcileError, reconcile

    options = Options(period, at, gateway, tolerance, fmt, environment)
    try:
        text, differs = reconcile(load_config(config), options, dt.datetime.now(dt.UTC))
    except (ReconcileError, ConfigError) as exc:
        typer.echo(f"reconcile: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(text)
    if differs:
        raise typer.Exit(1)


@app.command("fake-provider")
def fake_provider(
    port: int = 9000,
    host: str = "127.0.0.1",
    mode: Annotated[str, typer.Option(help=MODES_HELP)] = "ok",
    served_model: Annotated[str | None, typer.Option(help="Model name to report.")] = None,
) -> None:
    """Serve the fake OpenAI/Anthropic-compatible provider used by tests and the drill."""
    from router_config.testing import serve_fake_provider

    serve_fake_provider(host, port, mode, served_model)


@app.command()
def drill() -> None:
    """Inject provider faults against a real gateway and measure failover (exit 1 on a miss)."""
    from router_config.cli.drill import run_drill, table

    typer.echo("llm-router drill: fake providers + gateway on loopback, default failover settings")
    outcomes = run_drill(typer.echo)
    typer.echo("")
    typer.echo(table(outcomes))
    missed = [o.name for o in outcomes if not o.passed]
    if missed:
        typer.echo(f"\nFAILED: {', '.join(missed)}", err=True)
        raise typer.Exit(1)
    typer.echo(
        "\nall scenarios passed: no request failed while a healthy fallback existed, "
        "none took 5 s or more"
    )


def demo_config_text() -> str:
    """The embedded demo config (``router_config/data/demo.yaml``)."""
    return resources.files("router_config").joinpath("data/demo.yaml").read_text("utf-8")


def app_from_env() -> object:
    """uvicorn factory: the app for the config named in ``LLM_ROUTER_CONFIG``."""
    from router_config.api.app import create_app

    source = os.environ.get(CONFIG_ENV, "litellm_config.yaml")
    if source == "demo":
        return create_app(parse_config(demo_config_text(), source="demo (embedded)"))
    env_file = os.environ.get(ENV_FILE_ENV)

    def load() -> RouterConfig:
        return load_config(source, environ=config_environ(Path(env_file) if env_file else None))

    return create_app(load(), reload_from=load)


def _run_uvicorn(target: str, host: str, port: int, workers: int, server: ServerSettings) -> None:
    import uvicorn

    from router_config.api.http_protocol import connection_limits, uvicorn_options

    limits = connection_limits(server)  # header, body, idle and shutdown bounds
    options: dict[str, object] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": "warning",
        "access_log": False,
        "loop": "auto",
    }
    if workers > 1:  # our supervisor: reloads reach every worker, /metrics adds them up
        from router_config.cli.supervisor import exec_supervisor

        exec_supervisor(target, limits, options)
    uvicorn.run(target, **options, **uvicorn_options(limits))  # type: ignore[arg-type]


def main() -> None:
    """Console-script entry point."""
    app()
