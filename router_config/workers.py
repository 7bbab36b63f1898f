"""How a worker knows it runs under our supervisor (``llm-router serve --workers N``).

Its own module, with nothing heavy imported: the supervisor sets the variable and must
not load the gateway (LiteLLM alone is ~200 MB), while workers read it.
"""

from __future__ import annotations

import os

# Set by ``llm-router serve --workers N`` to the supervisor's pid (see ``cli/supervisor``).
SUPERVISOR_ENV = "LLM_ROUTER_SUPERVISOR_PID"


def under_supervisor() -> bool:
    """True in a worker of our own supervisor, which forwards SIGHUP to every worker."""
    pid = os.environ.get(SUPERVISOR_ENV)
    return bool(pid) and pid == str(os.getppid())
