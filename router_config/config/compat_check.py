"""Names every LiteLLM setting a config sets that llm-router does not honour, and refuses typos.

LiteLLM's proxy accepts its own sections loosely: an unknown ``router_settings``
key is logged and ignored, an unknown ``litellm_settings`` key becomes a module
attribute nobody reads, an unknown section is never looked at. So a typo such
as ``router_setings:`` silently turns a feature off. Here an unknown section, or
a key one edit away from a real one, is an error with a did-you-mean; a key
LiteLLM knows but llm-router does not apply is a warning saying what to use
instead (``compat_table``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from router_config.config.compat_table import TABLE, Support
from router_config.errors import ConfigIssue

# Sections llm-router reads itself.
OWN_SECTIONS = frozenset(
    {
        "model_list",
        "litellm_settings",
        "router_settings",
        "general_settings",
        "environment_variables",
        "include",
        "router_plugins",
    }
)
# Every other top-level section LiteLLM's proxy (1.109.1) reads (proxy_server.load_config).
LITELLM_SECTIONS = frozenset(
    {
        "agent_list",
        "agents",
        "assistant_settings",
        "callback_settings",
        "credential_list",
        "default_vertex_config",
        "files_settings",
        "finetune_settings",
        "guardrails",
        "mcp_servers",
        "mcp_tools",
        "pass_through_endpoints",
        "plugins",
        "policies",
        "policy_attachments",
        "prompts",
        "sandbox_tools",
        "search_tools",
        "vector_store_registry",
        "worker_registry",
    }
)
# litellm_settings keys LiteLLM's proxy handles itself rather than as module attributes.
PROXY_LITELLM_KEYS = frozenset(
    {
        "audit_log_callbacks",
        "budget_reset_time",
        "cache",
        "cache_params",
        "callbacks",
        "custom_provider_map",
        "default_internal_user_params",
        "default_max_internal_user_budget",
        "default_team_settings",
        "global_bitbucket_config",
        "global_gitlab_config",
        "global_prompt_directory",
        "guardrails",
        "key_alias_pattern",
        "max_internal_user_budget",
        "max_ui_session_budget",
        "model_group_settings",
        "post_call_rules",
        "priority_reservation_settings",
        "responses",
        "suppress_startup_output",
        "upperbound_key_generate_params",
    }
)
ENTRY_KEYS = frozenset({"model_name", "litellm_params", "model_info"})


@cache
def router_keys() -> frozenset[str]:
    """What LiteLLM's proxy passes from ``router_settings`` to ``Router()``."""
    from litellm.constants import ROUTER_SETTINGS_MANAGED_OUTSIDE_CONFIG
    from litellm.router_api import router_init_args

    names: frozenset[str] = frozenset(router_init_args()) - ROUTER_SETTINGS_MANAGED_OUTSIDE_CONFIG
    return names


def is_litellm_setting(key: str) -> bool:
    """A ``litellm_settings`` key LiteLLM's proxy acts on (handled, or a module attribute)."""
    import litellm

    return key in PROXY_LITELLM_KEYS or (not key.startswith("_") and hasattr(litellm, key))


def check_sections(data: Mapping[str, Any]) -> tuple[list[ConfigIssue], list[str]]:
    """Errors for unknown sections and typos; one warning per setting that is not applied."""
    issues: list[ConfigIssue] = []
    warnings: list[str] = []
    _top_level(data, issues, warnings)
    for section, known in (
        ("router_settings", router_keys()),
        ("litellm_settings", None),
    ):
        value = data.get(section)
        if isinstance(value, Mapping):
            for key in value:
                _setting(section, str(key), known, issues, warnings)
    general = data.get("general_settings")
    if isinstance(general, Mapping):
        for key in general:
            _general(str(key), issues, warnings)
    entries = data.get("model_list")
    if isinstance(entries, list):
        warnings.extend(_entry_warnings(entries))
    return issues, warnings


def _top_level(data: Mapping[str, Any], issues: list[ConfigIssue], warnings: list[str]) -> None:
    for key in map(str, data):
        if key in OWN_SECTIONS:
            continue
        if key in LITELLM_SECTIONS:
            warnings.append(_not_applied(key, TABLE.get(key) or TABLE["*"]))
            continue
        guess = _close(key, OWN_SECTIONS | LITELLM_SECTIONS, 0.6)
        issues.append(
            ConfigIssue(
                key,
                "is not a section of a LiteLLM proxy config or of llm-router's",
                f"did you mean {guess}?" if guess else "remove it, or correct its spelling",
            )
        )


def _setting(
    section: str,
    key: str,
    known: frozenset[str] | None,
    issues: list[ConfigIssue],
    warnings: list[str],
) -> None:
    path = f"{section}.{key}"
    row = TABLE.get(path)
    valid = row is not None or (key in known if known is not None else is_litellm_setting(key))
    if valid:
        row = row or TABLE[f"{section}.*"]
        if row.status == "unsupported":
            warnings.append(_not_applied(path, row))
        return
    other = "litellm_settings" if section == "router_settings" else "router_settings"
    if (other == "router_settings" and key in router_keys()) or (
        other == "litellm_settings" and is_litellm_setting(key)
    ):
        warnings.append(
            f"{path}: LiteLLM reads this key in {other}, not in {section}; "
            "it is ignored here (by LiteLLM too): move it"
        )
        return
    candidates = known if known is not None else _litellm_setting_names()
    guess = _close(key, candidates, 0.8)
    if guess is not None:
        issues.append(
            ConfigIssue(path, f"is not a LiteLLM {section} key", f"did you mean {guess}?")
        )
        return
    warnings.append(f"{path}: not a LiteLLM setting; ignored (LiteLLM ignores it too)")


def _general(key: str, issues: list[ConfigIssue], warnings: list[str]) -> None:
    path = f"general_settings.{key}"
    row = TABLE.get(path)
    if row is None and key != "master_key" and _close(key, {"master_key"}, 0.8):
        issues.append(
            ConfigIssue(path, "is not a LiteLLM general_settings key", "did you mean master_key?")
        )
        return
    row = row or TABLE["general_settings.*"]
    if row.status == "unsupported":
        warnings.append(_not_applied(path, row))


def _entry_warnings(entries: list[Any]) -> list[str]:
    """One warning per unapplied key across model_list, naming every entry that sets it."""
    found: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            continue
        for key in entry:
            if key not in ENTRY_KEYS:
                found.setdefault(f"model_list[].{key}", []).append(i)
        for part in ("litellm_params", "model_info"):
            section = entry.get(part)
            if isinstance(section, Mapping):
                for key in section:
                    row = TABLE.get(f"model_list[].{part}.{key}")
                    if row is not None and row.status == "unsupported":
                        found.setdefault(f"model_list[].{part}.{key}", []).append(i)
    out = []
    for path, indices in found.items():
        row = TABLE.get(path) or Support("unsupported", "not read by llm-router nor by LiteLLM")
        where = path.replace("[]", f"[{','.join(map(str, indices))}]")
        out.append(_not_applied(where, row))
    return out


def _not_applied(path: str, row: Support) -> str:
    return f"{path}: {row.note}"


@cache
def _litellm_setting_names() -> frozenset[str]:
    import litellm

    names = {n for n in vars(litellm) if not n.startswith("_") and n.islower()}
    return frozenset(names | PROXY_LITELLM_KEYS)


def _close(key: str, candidates: Iterable[str], cutoff: float) -> str | None:
    found = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def is_applied(path: str) -> bool:
    """Whether llm-router reads the key at ``path`` (``general_settings.alerting[0].x``...).

    A missing ``os.environ/`` variable under a key that is not applied is only a warning:
    LiteLLM's proxy would not need it either for what llm-router does."""
    head = path.split("[", 1)[0]
    section, _, rest = head.partition(".")
    if section in LITELLM_SECTIONS:
        return False
    if section not in ("general_settings", "litellm_settings", "router_settings") or not rest:
        return True
    key = rest.split(".", 1)[0]
    row = TABLE.get(f"{section}.{key}") or TABLE[f"{section}.*"]
    return row.status != "unsupported"
