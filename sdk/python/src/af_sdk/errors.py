"""Exceptions: one class per deny code, one per kind of API error.

Every exception of this package derives from AfError. A deny is a
Denied (its subclass names the code); a refused request is an ApiError
(status, code, message, field); a routerd that cannot be reached is
Unavailable. Each carries `retryable` and `retry_after_ms` (None when
routerd gave none): the clients retry those that are retryable, within
their bounds, before raising.
"""
from typing import Any, Dict, Optional


class AfError(Exception):
    """Base of every error of the af SDK."""

    retryable = False
    retry_after_ms: Optional[int] = None


class Denied(AfError):
    """routerd decided the hop may not run (a 200 deny decision).

    `code` is the deny code (a subclass names each built-in code; a deny
    rule's own code is a plain Denied or PolicyDenied), `decision` the
    whole decision body.
    """

    code = ""

    def __init__(self, decision: Dict[str, Any]):
        self.decision = decision
        self.code = decision.get("code", "")
        self.decision_id = decision.get("decision_id")
        self.rule = decision.get("rule")
        self.retryable = bool(decision.get("retryable", False))
        self.retry_after_ms = decision.get("retry_after_ms")
        self.trace_id = decision.get("trace_id")
        msg = decision.get("message", "")
        super().__init__(f"{self.code}: {msg}" if msg else self.code)

    @property
    def message(self) -> str:
        return self.decision.get("message", "")


class FanoutCap(Denied):
    """fanout over the class's max_fanout."""


class ToolCallCap(Denied):
    """tool_calls over the class's max_tool_calls."""


class RetryLimit(Denied):
    """attempt over the class's max_retries."""


class LaneSaturated(Denied):
    """The lane is at max_inflight (retryable, retry_after_ms set)."""


class BudgetExceeded(Denied):
    """The tenant's hard budget for the period is spent (retry_after_ms:
    time to the next period; not retryable before it)."""


class BudgetLeasePending(Denied):
    """routerd's budget lease is being refilled (retryable)."""


class ModelsCoolingDown(Denied):
    """Every candidate is cooling down after failures (retryable)."""


class NoMatchingRule(Denied):
    """No rule of the bundle matched the request."""


class ResidencyDenied(Denied):
    """Models would qualify but for region (residency, class regions)."""


class CostLimit(Denied):
    """Models would qualify but for max_cost_usd."""


class ContextTooLarge(Denied):
    """Models would qualify but for their context limit."""


class NoEligibleModel(Denied):
    """No model qualifies (tier, capabilities, status)."""


class PolicyDenied(Denied):
    """A deny rule's own code (the bundle's `deny.code`)."""


DENY_CLASSES = {
    "FANOUT_CAP": FanoutCap,
    "TOOL_CALL_CAP": ToolCallCap,
    "RETRY_LIMIT": RetryLimit,
    "LANE_SATURATED": LaneSaturated,
    "BUDGET_EXCEEDED": BudgetExceeded,
    "BUDGET_LEASE_PENDING": BudgetLeasePending,
    "MODELS_COOLING_DOWN": ModelsCoolingDown,
    "NO_MATCHING_RULE": NoMatchingRule,
    "RESIDENCY_DENIED": ResidencyDenied,
    "COST_LIMIT": CostLimit,
    "CONTEXT_TOO_LARGE": ContextTooLarge,
    "NO_ELIGIBLE_MODEL": NoEligibleModel,
}


def denied(decision: Dict[str, Any]) -> Denied:
    """The exception for a deny decision."""
    return DENY_CLASSES.get(decision.get("code", ""), PolicyDenied)(decision)


class ApiError(AfError):
    """routerd refused the request: `status` (HTTP), `code`, `message`,
    `field` (the request field at fault, or None)."""

    def __init__(self, status: int, code: str, message: str,
                 field: Optional[str] = None):
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        where = f" (field {field})" if field else ""
        super().__init__(f"HTTP {status} {code}{where}: {message}")


class BadRequest(ApiError):
    """400, 413 or 422: the request is wrong; sending it again fails too."""


class UnknownDecision(BadRequest):
    """422 UNKNOWN_DECISION: the report names a decision this routerd
    does not know; send tenant, class and revision with it."""


class Overloaded(ApiError):
    """429 OVERLOADED: routerd has too many open connections (retryable)."""

    retryable = True


class NoPolicy(ApiError):
    """503 NO_POLICY: routerd has no policy loaded yet (retryable)."""

    retryable = True


class NotSupported(ApiError):
    """The routerd answered 404 for an endpoint this SDK knows (an older
    routerd): upgrade routerd, or stop calling it."""


class Unavailable(AfError):
    """routerd could not be reached (connection refused or reset, timeout,
    not HTTP). Retryable."""

    retryable = True


def api_error(status: int, body: Any, path: str) -> ApiError:
    """The exception for a non-2xx answer."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return ApiError(status, "HTTP_%d" % status,
                        f"{path}: unexpected body {str(body)[:200]!r}")
    code = str(err.get("code", ""))
    msg = str(err.get("message", ""))
    field = err.get("field")
    if status == 404 and code == "NOT_FOUND":
        return NotSupported(status, code,
                            f"this routerd does not serve {path} ({msg}); "
                            "upgrade routerd to a version that has it",
                            field)
    if code == "UNKNOWN_DECISION":
        return UnknownDecision(status, code, msg, field)
    if status == 429:
        return Overloaded(status, code, msg, field)
    if status == 503:
        return NoPolicy(status, code, msg, field)
    if status in (400, 413, 422):
        return BadRequest(status, code, msg, field)
    return ApiError(status, code, msg, field)
