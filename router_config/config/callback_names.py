"""``litellm_settings.callbacks`` / ``success_callback`` / ``failure_callback``, checked and loaded.

An entry is one of: ``module.instance``, a CustomLogger (or function) in a
Python file beside the config, loaded with LiteLLM's own loader as its proxy
does; the name of a logger LiteLLM builds itself (``otel``, ``datadog``...);
or a name llm-router replaces (``langfuse``, ``prometheus``) or that LiteLLM
has no logger class for, which ``check`` names. A module that cannot be
imported is an error naming the file LiteLLM's proxy would have looked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from router_config.config.compat_table import REPLACED_CALLBACKS, TABLE
from router_config.errors import ConfigIssue

KINDS = ("callbacks", "success_callback", "failure_callback")
# One instance per (entry, config file) in a process, as LiteLLM's proxy imports once: a
# reload or a second check keeps the same object (and the module's side effects run once).
_LOADED: dict[tuple[str, str], Any] = {}


def built_in(name: str) -> bool:
    """A logger LiteLLM builds from its name (its custom-logger-compatible callbacks)."""
    import litellm

    return name in litellm._known_custom_logger_compatible_callbacks


def load_callback(name: str, source: str) -> Any:
    """The object ``module.instance`` names, found beside the config file ``source``."""
    key = (name, os.path.abspath(source))
    if key not in _LOADED:
        from litellm.proxy.types_utils.utils import get_instance_fn

        _LOADED[key] = get_instance_fn(name, config_file_path=source)
    return _LOADED[key]


_BUILT: dict[str, Any] = {}


def callback_instance(name: str, source: str) -> Any:
    """The CustomLogger an entry names: LiteLLM builds its own loggers (once per process, as
    its proxy does); a ``module.instance`` is loaded beside the config; a plain function
    (LiteLLM's custom-function callback) is wrapped so it is called as LiteLLM calls it."""
    from litellm.integrations.custom_logger import CustomLogger

    if built_in(name):
        if name not in _BUILT:
            from litellm.litellm_core_utils.litellm_logging import (
                _init_custom_logger_compatible_class,
            )

            _BUILT[name] = _init_custom_logger_compatible_class(
                name, internal_usage_cache=None, llm_router=None, raise_import_errors=True
            )
        return _BUILT[name]
    found = load_callback(name, source)
    if isinstance(found, CustomLogger) or not callable(found):
        return found
    return _FunctionLogger(found)


def _function_logger_class() -> type:
    from litellm.integrations.custom_logger import CustomLogger

    class FunctionLogger(CustomLogger):  # type: ignore[misc]
        """LiteLLM's custom function callback: ``fn(kwargs, response, start_time, end_time)``."""

        def __init__(self, fn: Any) -> None:
            super().__init__()
            self.fn = fn

        async def async_log_success_event(
            self, kwargs: Any, response: Any, start: Any, end: Any
        ) -> None:
            result = self.fn(kwargs, response, start, end)
            if hasattr(result, "__await__"):
                await result

        async def async_log_failure_event(
            self, kwargs: Any, response: Any, start: Any, end: Any
        ) -> None:
            await self.async_log_success_event(kwargs, response, start, end)

    return FunctionLogger


def _FunctionLogger(fn: Any) -> Any:
    return _function_logger_class()(fn)


def configured_callbacks(
    settings: Mapping[str, Any], source: str, issues: list[ConfigIssue], warnings: list[str]
) -> dict[str, tuple[str, ...]]:
    """The entries to fire, by kind; the others are named (warnings) or refused (errors)."""
    out: dict[str, tuple[str, ...]] = {}
    for kind in KINDS:
        value = settings.get(kind)
        if value is None:
            continue
        names = [value] if isinstance(value, str) else list(value)
        kept = []
        for name in map(str, names):
            path = f"litellm_settings.{kind}"
            if name in REPLACED_CALLBACKS:
                warnings.append(f"{path}: {name}: {REPLACED_CALLBACKS[name].note}")
            elif built_in(name):
                kept.append(name)
            elif "." in name and not name.startswith(("s3://", "gcs://")):
                if _importable(name, source, path, issues):
                    kept.append(name)
            else:
                warnings.append(f"{path}: {name}: {TABLE['callback: <other name>'].note}")
        if kept:
            out[kind] = tuple(kept)
    return out


def _importable(name: str, source: str, path: str, issues: list[ConfigIssue]) -> bool:
    try:
        load_callback(name, source)
    except Exception as exc:  # ImportError, AttributeError, or the module's own error
        module = name.rsplit(".", 1)[0].replace(".", "/") + ".py"
        where = os.path.join(os.path.dirname(os.path.abspath(source)), module)
        issues.append(
            ConfigIssue(
                path,
                f"cannot load {name!r} ({type(exc).__name__}: {str(exc)[:200]})",
                f"put the module at {where} (beside the config, as LiteLLM's proxy looks for "
                "it) and define the instance in it",
            )
        )
        return False
    return True
