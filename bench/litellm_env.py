"""A separate virtualenv with LiteLLM's own proxy, to measure it side by side.

The same litellm version as the product (read from pyproject.toml). Not
``litellm[proxy]``: it pulls litellm-proxy-extras, which this registry does not
always carry (../shared/LITELLM_NOTES.md), so the proxy's server dependencies
are installed by name.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-litellm"
PROXY_DEPS = [
    "fastapi",
    "uvicorn",
    "uvloop",
    "httptools",
    "gunicorn",
    "backoff",
    "apscheduler",
    "cryptography",
    "pyjwt",
    "python-multipart",
    "rq",
    "orjson",
    "email-validator",
    "websockets>=15.0.1,<16",
    "fastapi-sso",
    "pynacl",
    "rich>=13.9.4,<14",
    "tomlkit",
    "hiredis",
    "restrictedpython",
    "inquirerpy",
    "expression",
    "mcp",
    "soundfile",
]


def litellm_version() -> str:
    text = (HERE.parent / "pyproject.toml").read_text()
    found = re.search(r'"litellm==([\d.]+)"', text)
    if not found:
        raise SystemExit("bench: pyproject.toml must pin litellm exactly")
    return found.group(1)


def ensure_litellm_proxy() -> Path:
    """The ``litellm`` CLI of the bench venv, created (about a minute) when missing."""
    version = litellm_version()
    stamp = VENV / f".installed-{version}"
    cli = VENV / "bin" / "litellm"
    if stamp.exists() and cli.exists():
        return cli
    print(f"bench: installing LiteLLM's proxy {version} into {VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"litellm=={version}", *PROXY_DEPS], check=True)
    stamp.touch()
    return cli
