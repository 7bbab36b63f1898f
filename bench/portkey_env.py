"""Portkey's open-source gateway (Node.js), to measure it side by side with us.

npm package ``@portkey-ai/gateway``, pinned, installed into ``bench/.portkey`` by
this script (its postinstall patch step is skipped: it only patches Portkey's own
dev dependencies). One Node process, ``--headless``. Portkey reads its targets
per request from the ``x-portkey-config`` header: here a fallback strategy over
the same fake provider and models as our bench config, with ``custom_host``
pointing at it (127.0.0.1 is a trusted custom host by default).

Portkey 1.15.2 on Node 20 failed every streaming request here ("TypeError:
immutable"), so the benchmark (non-streaming, like all of ours) is what it can run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
PREFIX = HERE / ".portkey"
PACKAGE = "@portkey-ai/gateway"
VERSION = "1.15.2"


def ensure_portkey() -> list[str]:
    """The command that starts Portkey's gateway (without ``--port``), installing it first."""
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("bench: Portkey's gateway needs node and npm (apt-get install nodejs npm)")
    script = PREFIX / "node_modules" / PACKAGE / "build" / "start-server.js"
    if not script.exists() or installed_version() != VERSION:
        print(f"bench: installing {PACKAGE}@{VERSION} into {PREFIX}", flush=True)
        PREFIX.mkdir(exist_ok=True)
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(PREFIX),
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                f"{PACKAGE}@{VERSION}",
            ],
            check=True,
            capture_output=True,
        )
    return [node, str(script), "--headless"]


def installed_version() -> str | None:
    manifest = PREFIX / "node_modules" / PACKAGE / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text())["version"])


def fallback_config(fake_base: str) -> str:
    """The ``x-portkey-config`` header: the primary, then the Anthropic-format fallback, then
    the local model, as in ``llm_router.yaml``."""
    targets = [
        ("openai", "sk-bench-openai", f"{fake_base}/v1", "gpt-4o-2024-08-06"),
        ("anthropic", "sk-bench-anthropic", f"{fake_base}/v1", "claude-sonnet-4-20250514"),
        ("openai", "none", f"{fake_base}/v1", "llama-3.1-8b-instruct"),
    ]
    return json.dumps(
        {
            "strategy": {"mode": "fallback"},
            "targets": [
                {
                    "provider": provider,
                    "api_key": key,
                    "custom_host": host,
                    "override_params": {"model": model},
                }
                for provider, key, host, model in targets
            ],
        },
        separators=(",", ":"),
    )
