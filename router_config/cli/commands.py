"""The ``llm-router`` command: check, serve, demo, fake-provider, drill.

Each command is a thin shell over the library: ``check`` prints every config
issue (exit 1) or the summary table; ``serve`` runs the gateway under uvicorn;
``demo`` is what ``make run`` starts: fake providers plus the gateway.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from router_config.cli.report import summary
from router_config.config.loader import load_config, parse_config
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


@app.command()
def check(
    config: Annotated[Path, typer.Argument(help="Config file.")] = DEFAULT_CONFIG,
) -> None:
    """Validate CONFIG; print every issue (exit 1) or what the config implies."""
    try:
        loaded = load_config(config)
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
) -> None:
    """Serve the gateway for CONFIG."""
    try:
        load_config(config)  # fail here, readably, before uvicorn starts workers
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    os.environ[CONFIG_ENV] = str(config)
    _run_uvicorn("router_config.cli.commands:app_from_env", host, port, workers)


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
        _run_uvicorn("router_config.cli.commands:app_from_env", host, port, 1)


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
    return create_app(load_config(source))


def _run_uvicorn(target: str, host: str, port: int, workers: int) -> None:
    import uvicorn

    options = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_level": "warning",
        "access_log": False,
        "loop": "auto",
        "http": "auto",
    }
    if workers > 1:  # our supervisor: reloads reach every worker, /metrics adds them up
        from router_config.cli.supervisor import run_workers

        run_workers(target, **options)
        return
    uvicorn.run(target, **options)  # type: ignore[arg-type]


def main() -> None:
    """Console-script entry point."""
    app()
