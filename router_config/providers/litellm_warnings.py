"""LiteLLM's own warnings, which a gateway operator can do nothing about.

LiteLLM's TypedDicts are compiled by pydantic lazily (when a provider is resolved, a
Router built, some calls made), and pydantic warns that their ``ReadOnly`` items are not
protected; LiteLLM also reads pydantic's ``model_fields`` on instances, which pydantic
deprecates, and drops a coroutine unawaited when an attempt is cancelled mid-hop. None is
ours to fix; each would print on start-up or on calls (and fail ``pytest -W error``).
They are muted process-wide whenever a config is parsed or a Router is built, one filter
per warning so any other warning still shows (pydantic raises the ReadOnly one itself, so
it is muted for every TypedDict in the process, ours included). A context manager can't
do it: the calls that raise them are awaited concurrently, and warning filters are global.
"""

from __future__ import annotations

import warnings

_THEIRS = (
    (r"(Extra )?[Ii]tems? .* using the `ReadOnly` qualifier", UserWarning),
    (r"Accessing the 'model_(computed_)?fields' attribute on the instance", DeprecationWarning),
    # LiteLLM builds Anthropic's request coroutine in a worker thread; when our deadline
    # cancels the attempt during that hop, the coroutine is dropped unawaited (harmless).
    (
        r"coroutine 'AnthropicChatCompletion\.completion\.<locals>\.acompletion_dispatch' "
        r"was never awaited",
        RuntimeWarning,
    ),
)


def mute_litellm_warnings() -> None:
    """Ignore LiteLLM's known third-party warnings from here on (idempotent)."""
    for message, category in _THEIRS:
        warnings.filterwarnings("ignore", message=message, category=category)
