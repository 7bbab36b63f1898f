"""Every billed deployment has a price: from the config, or LiteLLM's bundled price map.

LiteLLM prices a model missing from its map at $0 without a word, so budgets
and finance would see free calls that are not. A deployment is refused only
when it calls a provider's own API (no ``api_base``: billed for sure) and no
price is found anywhere. Behind an ``api_base`` we cannot know: an
OpenAI-compatible server may be free (self-hosted) or billed (a reseller), and
Azure reports the model it served, which LiteLLM prices; those get a warning
naming the fix instead.
"""

from __future__ import annotations

from router_config.config.schema import RouterConfig
from router_config.errors import ConfigIssue
from router_config.providers.pricing import price_source

_FIX = (
    "set model_info.input_cost_per_token and output_cost_per_token (USD per token), "
    "model_info.base_model (a model LiteLLM's price map knows), or model_info.free: true"
)


def price_issues(config: RouterConfig) -> tuple[list[ConfigIssue], list[str]]:
    """Errors for billed deployments priced nowhere; warnings where billing is unknown."""
    errors: list[ConfigIssue] = []
    warnings: list[str] = []
    # Only chat deployments are served (and billed per token or second); other modes are
    # priced per image, query... by LiteLLM, and listed by check for now.
    for dep in config.deployments:
        if price_source(dep).kind != "unpriced":
            continue
        path = f"model_list[{dep.index}].model_info"
        if dep.api_base is None and dep.provider != "azure":
            errors.append(
                ConfigIssue(
                    path,
                    f"deployment {dep.id!r} has no price in the config nor in LiteLLM's price "
                    f"map for {dep.provider}/{dep.pinned_model}, so its spend would be counted "
                    "as $0",
                    _FIX,
                )
            )
        elif dep.provider == "azure":
            warnings.append(
                f"model_list[{dep.index}]: {dep.id} is priced by the model Azure reports "
                "(non-streaming answers, when LiteLLM's map knows it): set "
                "model_info.base_model to price every call"
            )
        else:
            warnings.append(
                f"model_list[{dep.index}]: {dep.id} ({dep.provider}/{dep.pinned_model} at "
                f"{dep.api_host}) has no known price and is counted as $0: {_FIX}"
            )
    return errors, warnings
