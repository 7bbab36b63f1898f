"""Which model names are exact versions, and what `check` says about each deployment's pin.

Knowledge of model families, floating aliases and retirement dates lives in
``data/model_versions.yaml``, not in code; the rule for unknown names is a
dated (``-2024-08-06``, ``-20241022``) or numbered (``-0613``) suffix. Local
servers (vLLM, Ollama...) serve whatever weights they were started with, so
their deployments must name the weights in ``model_info.version``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from router_config.config.schema import Deployment
from router_config.errors import ConfigIssue

_VERSIONED = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4})$")


@dataclass(frozen=True)
class Catalog:
    """Floating aliases, known versions with retirement dates, local providers."""

    aliases: frozenset[str]
    retires: dict[str, dt.date | None]
    local_providers: frozenset[str]
    current: dict[str, str]  # alias -> the dated version it points to today


@cache
def catalog() -> Catalog:
    text = resources.files("router_config").joinpath("data/model_versions.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    aliases: set[str] = set()
    retires: dict[str, dt.date | None] = {}
    current: dict[str, str] = {}
    for family in data["families"].values():
        aliases.update(family.get("aliases", []))
        current.update(family.get("current") or {})
        for name, info in (family.get("versions") or {}).items():
            retires[name] = (info or {}).get("retires")
    return Catalog(frozenset(aliases), retires, frozenset(data["local_providers"]), current)


def base_name(model: str) -> str:
    """The model name without a provider path (``meta-llama/Llama-3`` -> ``Llama-3``)."""
    return model.rsplit("/", 1)[-1]


def is_local(deployment: Deployment) -> bool:
    return deployment.provider in catalog().local_providers


def pinned_version(deployment: Deployment) -> str:
    """The exact version a deployment is pinned to: ``model_info.version`` or the model name."""
    version = deployment.model_info.get("version")
    return str(version) if version else deployment.pinned_model


def is_floating(name: str) -> bool:
    """True for an alias that providers move to new versions over time."""
    name = base_name(name).lower()
    known = catalog()
    if name in known.aliases or name.endswith("-latest"):
        return True
    return name not in known.retires and not _VERSIONED.search(name)


def is_floating_deployment(deployment: Deployment) -> bool:
    """True when the deployment names no exact version: a floating alias, or a local
    server without ``model_info.version``. Such a deployment is pinned on first sight."""
    if deployment.model_info.get("version"):
        return False
    return is_local(deployment) or is_floating(pin_reference(deployment))


def pin_reference(deployment: Deployment) -> str:
    """The model name answers are checked against: the model, or for Azure (whose model is
    a deployment name) the ``model_info.base_model`` it was deployed from, when given."""
    base = deployment.model_info.get("base_model")
    if deployment.provider in ("azure", "azure_ai") and base:
        return base_name(str(base))
    return deployment.pinned_model


def pin_issues(
    deployments: tuple[Deployment, ...], today: dt.date, warn_days: int, *, require_pins: bool
) -> tuple[list[ConfigIssue], list[str]]:
    """Floating pins: warnings (pinned on first sight), or errors with ``require_pins``
    unless the deployment says ``allow_floating``; warnings for upcoming retirements."""
    issues: list[ConfigIssue] = []
    warnings: list[str] = []
    for dep in deployments:
        path = f"model_list[{dep.index}]"
        allowed = bool(dep.model_info.get("allow_floating"))
        if is_floating_deployment(dep):
            if require_pins and not allowed:
                issues.append(_refusal(dep, path))
            else:
                warnings.append(
                    f"{path}: {dep.id} uses the floating alias {dep.pinned_model!r}: the version "
                    f"its first answer names is recorded and drift from it alerted ({_how(dep)})"
                )
        retires = catalog().retires.get(base_name(dep.pinned_model))
        if retires is not None and (retires - today).days <= warn_days:
            when = "retired on" if retires <= today else "retires on"
            warnings.append(
                f"{path}: {dep.pinned_model} {when} {retires.isoformat()}: "
                "plan a pin upgrade (README, 'Version pinning')"
            )
    return issues, warnings


def _how(dep: Deployment) -> str:
    """How to pin this deployment for reproducible results."""
    if is_local(dep):
        return "name the weights in model_info.version to pin it"
    if dep.provider in ("azure", "azure_ai"):
        return "an Azure deployment name: deploy a dated model version to pin it"
    return f"pin {_suggest(dep.pinned_model)}, or run llm-router pin"


def _refusal(dep: Deployment, path: str) -> ConfigIssue:
    if is_local(dep):
        return ConfigIssue(
            f"{path}.model_info.version",
            f"local deployment {dep.id!r} names no version of the weights it serves",
            "set model_info.version (a weights revision or digest), or "
            "model_info.allow_floating: true",
        )
    return ConfigIssue(
        f"{path}.litellm_params.model",
        f"{dep.pinned_model!r} is a floating alias, not a pinned version "
        "(router_plugins.pinning.require_pins, or check --strict)",
        f"pin a dated version ({_suggest(dep.pinned_model)}; llm-router pin writes them), "
        "or set model_info.allow_floating: true",
    )


def _suggest(alias: str) -> str:
    current = current_version(alias)
    if current:
        return f"e.g. {current}"
    stem = base_name(alias).lower().removesuffix("-latest")
    known = sorted(v for v in catalog().retires if v.startswith(stem + "-"))
    return "e.g. " + ", ".join(known[-2:]) if known else "a name ending in its release date"


def current_version(alias: str) -> str | None:
    """The dated version a floating alias points to today, when ``model_versions.yaml`` says."""
    return catalog().current.get(base_name(alias).lower())


def served_matches(pin: str, served: str) -> bool:
    """Does the model a provider reports equal the pin (modulo prefixes and suffixes)?"""
    pin_n, served_n = base_name(pin).lower(), base_name(served).lower()
    return served_n == pin_n or served_n.startswith(pin_n + ":") or served_n.startswith(pin_n + "@")
