"""af SDK: route, report and outcome calls to routerd, sync and asyncio.

    from af_sdk import Client, LaneSaturated

    af = Client("http://127.0.0.1:8080")
    with af.hop("wf-1", "claims-team", "research-agent",
                input_tokens=1200) as h:
        answer = call_model(h.route.model, h.route.region)  # your code
        h.usage(input_tokens=1200, output_tokens=310)

Standard library only; Python 3.9 or later.
"""
from ._core import Hop, HopState, RetryPolicy, Route
from .aio import AsyncClient
from .client import Client
from .errors import (DENY_CLASSES, AfError, ApiError, BadRequest,
                     BudgetExceeded, BudgetLeasePending, ContextTooLarge,
                     CostLimit, Denied, FanoutCap, LaneSaturated,
                     ModelsCoolingDown, NoEligibleModel, NoMatchingRule,
                     NoPolicy, NotSupported, Overloaded, PolicyDenied,
                     ResidencyDenied, RetryLimit, ToolCallCap, Unavailable,
                     UnknownDecision)

__version__ = "0.1.0"
__all__ = [
    "AfError", "ApiError", "AsyncClient", "BadRequest", "BudgetExceeded",
    "BudgetLeasePending", "Client", "ContextTooLarge", "CostLimit",
    "DENY_CLASSES", "Denied", "FanoutCap", "Hop", "HopState",
    "LaneSaturated", "ModelsCoolingDown", "NoEligibleModel",
    "NoMatchingRule", "NoPolicy", "NotSupported", "Overloaded",
    "PolicyDenied", "ResidencyDenied", "RetryLimit", "RetryPolicy",
    "Route", "ToolCallCap", "Unavailable", "UnknownDecision",
]
