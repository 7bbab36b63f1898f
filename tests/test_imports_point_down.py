"""The layers of the code import only downwards.

``plugins/`` and the concerns below them (config, flow, providers, state) never
import the assembly (registry, wiring, live), the HTTP surface or the CLI: a
plugin that reached up would make the pipeline order and the app's wiring
something a plugin could depend on, and no plugin imports another plugin.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOWER = ["plugins", *(f"router_config/{p}" for p in ("config", "flow", "providers", "state"))]
ABOVE = tuple(
    f"router_config.{name}" for name in ("registry", "wiring", "live", "api", "cli", "testing")
)
CONCERNS = LOWER[1:]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
    return out


def test_lower_layers_never_import_the_assembly_the_api_or_the_cli() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for folder in LOWER
        for path in sorted((ROOT / folder).glob("*.py"))
        for module in _imports(path)
        if module.startswith(ABOVE)
    ]
    assert offenders == []


def test_the_concerns_below_plugins_never_import_a_plugin() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for folder in CONCERNS
        for path in sorted((ROOT / folder).glob("*.py"))
        for module in _imports(path)
        if module == "plugins" or module.startswith("plugins.")
    ]
    assert offenders == []


def test_no_plugin_imports_another_plugin() -> None:
    offenders = []
    for path in sorted((ROOT / "plugins").glob("*.py")):
        others = {m for m in _imports(path) if m.startswith("plugins.")}
        # A plugin may use its own store module (breaker_state, cache_store...), never a plugin.
        plugins_used = {m for m in others if _is_plugin(m)}
        offenders += [f"{path.name} imports {m}" for m in sorted(plugins_used)]
    assert offenders == []


def _is_plugin(module: str) -> bool:
    """A plugin module defines a GatewayPlugin subclass."""
    source = (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    return "(GatewayPlugin)" in source


def test_every_lower_module_is_checked() -> None:
    """The folders above exist and hold code, so the checks cannot pass by finding nothing."""
    for folder in LOWER:
        assert list((ROOT / folder).glob("*.py")), folder
