"""The one exception tree of llm-router.

Every error the gateway raises on purpose is a ``RouterError``. Each class knows
the HTTP status and the OpenAI error ``type``/``code`` it maps to, so a single
exception handler in the HTTP layer can turn any of them into the JSON shape the
``openai`` SDK expects, and no handler anywhere else needs to know about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass


class RouterError(Exception):
    """Base of every error llm-router raises deliberately."""

    status_code: int = 500
    error_type: str = "api_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers the response for this error must carry."""
        return {}


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where it is, what is wrong, how to fix it."""

    path: str
    message: str
    fix: str = ""

    def render(self, file: str) -> str:
        """One line a platform engineer can act on without reading our code."""
        where = f"{file}: {self.path}" if self.path else file
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{where}: {self.message}.{fix}"


class ConfigError(RouterError):
    """The config file cannot be used; carries every issue found, not only the first."""

    error_type = "config_error"

    def __init__(self, file: str, issues: list[ConfigIssue]) -> None:
        self.file = file
        self.issues = tuple(issues)
        super().__init__("\n".join(issue.render(file) for issue in self.issues))


class InvalidRequest(RouterError):
    """The client's request is malformed or names a parameter we refuse."""

    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class AuthenticationFailed(RouterError):
    """No bearer key, or one we do not know."""

    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(RouterError):
    """A known key asked for something it may not use."""

    status_code = 403
    error_type = "permission_error"
    code = "permission_denied"


class ModelNotFound(RouterError):
    """The requested model group is not in the config."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"


class ResponseNotFound(RouterError):
    """A stored Responses API response (``previous_response_id``) is unknown to this team,
    or has expired."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "response_not_found"


class PayloadTooLarge(RouterError):
    """The request body is over the configured limit."""

    status_code = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class UpstreamRejectedRequest(RouterError):
    """A provider refused the request as the caller's fault (HTTP 400 class).

    Failing over would not help: every provider would refuse it the same way,
    so the caller gets the provider's reason with status 400.
    """

    status_code = 400
    error_type = "invalid_request_error"
    code = "upstream_rejected_request"


class BudgetExceeded(RouterError):
    """A budget is spent (policy ``reject``): no provider is called."""

    status_code = 429
    error_type = "insufficient_quota"
    code = "budget_exceeded"


class RateLimited(RouterError):
    """The caller is over a requests- or tokens-per-minute limit of its key or team.

    ``error_type`` is ``requests`` or ``tokens`` as in OpenAI's own 429s, and the
    response carries Retry-After and the ``x-ratelimit-*`` headers. ``scope`` names the
    limit (``key:alias``, ``team:name``), so admission can refuse that scope's next
    requests at once until ``retry_after_s`` has passed.
    """

    status_code = 429
    code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        headers: dict[str, str],
        scope: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.error_type = kind
        self._headers = headers
        self.scope = scope
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return dict(self._headers)


class TooManyInFlight(RouterError):
    """The key already has ``max_in_flight_per_key`` requests running in this process."""

    status_code = 429
    error_type = "requests"
    code = "too_many_requests_in_flight"

    def headers(self) -> dict[str, str]:
        return {"retry-after": "1"}


class Overloaded(RouterError):
    """The process is at ``max_in_flight`` and no slot came free within ``queue_timeout_s``."""

    status_code = 503
    error_type = "service_unavailable"
    code = "overloaded"

    def headers(self) -> dict[str, str]:
        return {"retry-after": "1"}


class ClientClosed(RouterError):
    """The client left before its request was read: nobody is left to answer (logged once,
    as ``client_closed``, never as an error with a traceback). 499 as nginx logs it."""

    status_code = 499
    error_type = "invalid_request_error"
    code = "client_closed"


class VersionDrift(RouterError):
    """The provider served another model version than the one pinned (policy ``reject``)."""

    status_code = 502
    error_type = "api_error"
    code = "version_drift"


class VersionUnavailable(RouterError):
    """The caller demanded an exact version no deployment of the group is pinned to."""

    status_code = 404
    error_type = "invalid_request_error"
    code = "model_version_not_found"


@dataclass(frozen=True)
class AttemptSummary:
    """What one provider attempt did, in words safe to show a client."""

    deployment: str
    provider: str
    model: str
    error: str
    latency_ms: float


class DeadlineExceeded(RouterError):
    """The caller's own deadline (``x-router-timeout-ms``) ran out: the caller's limit, not a
    provider's fault, so no breaker moves and no alert fires."""

    status_code = 504
    error_type = "timeout"
    code = "deadline_exceeded"


# The openai SDKs obey ``x-should-retry`` before their own rules. Their default is 2 retries
# with 0.5-8 s of backoff, or Retry-After when the answer gives one: a retry that cannot
# succeed for longer than this is refused outright, so the application decides at once.
QUICK_RETRY_S = 2


class AllProvidersFailed(RouterError):
    """Every deployment in the plan failed, or the deadline ran out first."""

    status_code = 503
    error_type = "service_unavailable"
    code = "all_providers_failed"

    def __init__(self, attempts: list[AttemptSummary], *, retry_after_s: int = 1) -> None:
        self.attempts = tuple(attempts)
        self.retry_after_s = retry_after_s
        detail = "; ".join(
            f"{a.deployment} ({a.provider}/{a.model}): {a.error} after {a.latency_ms:.0f} ms"
            for a in attempts
        )
        super().__init__(
            f"All providers failed for this request: {detail or 'no deployment was available'}."
        )

    def headers(self) -> dict[str, str]:
        wait = max(1, self.retry_after_s)
        return {
            "retry-after": str(wait),
            "x-should-retry": "true" if wait <= QUICK_RETRY_S else "false",
        }
