"""What the sync and asyncio clients share: request bodies, decision
parsing, the retry rule and the hop bookkeeping. No I/O here."""
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

from . import errors

OUTCOMES = ("success", "failed", "abandoned")
USER_AGENT = "af-sdk-python/0.1"


@dataclass(frozen=True)
class Hop:
    """A (model, tier, region) to call."""

    model: str
    tier: str
    region: str


@dataclass(frozen=True)
class Route:
    """A routed decision: call `model` in `region`, else the `fallback`
    hops in order."""

    decision_id: str
    model: str
    provider: str
    tier: str
    region: str
    lane: str
    fallback: List[Hop]
    max_retries: int
    est_cost_usd: float
    rule: Optional[str]
    degraded: bool
    revision: int
    cohort: str
    registry_revision: int
    trace_id: Optional[str]
    raw: Dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Route":
        pol = d.get("policy") or {}
        return cls(
            decision_id=d["decision_id"], model=d["model"],
            provider=d.get("provider", ""), tier=d["tier"],
            region=d["region"], lane=d.get("lane", ""),
            fallback=[Hop(h["model"], h["tier"], h["region"])
                      for h in d.get("fallback", [])],
            max_retries=int(d.get("max_retries", 0)),
            est_cost_usd=float(d.get("est_cost_usd", 0)),
            rule=d.get("rule"), degraded=bool(d.get("degraded", False)),
            revision=int(pol.get("revision", 0)),
            cohort=pol.get("cohort", "stable"),
            registry_revision=int(d.get("registry_revision", 0)),
            trace_id=d.get("trace_id"), raw=d)

    def hops(self) -> List[Hop]:
        """The primary, then the fallbacks: the order to try them in."""
        return [Hop(self.model, self.tier, self.region)] + self.fallback


def base_url(url: str) -> Tuple[str, str, int]:
    """(scheme, host, port) of a routerd URL such as http://127.0.0.1:8080."""
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"routerd URL {url!r}: want http://HOST:PORT")
    if u.path not in ("", "/"):
        raise ValueError(f"routerd URL {url!r}: give no path, only HOST:PORT")
    return u.scheme, u.hostname, u.port or (443 if u.scheme == "https" else 80)


def drop_none(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def route_body(workflow_id: str, tenant: str, class_: str,
               fields: Dict[str, Any]) -> bytes:
    body = {"workflow_id": workflow_id, "tenant": tenant, "class": class_}
    body.update(drop_none(fields))
    return json.dumps(body, separators=(",", ":")).encode()


def report_body(decision_id: str, ok: bool, fields: Dict[str, Any]) -> bytes:
    if not isinstance(ok, bool):
        raise TypeError("report: ok must be True or False")
    q = fields.get("quality")
    if q is not None and (isinstance(q, bool) or
                          not isinstance(q, (int, float)) or
                          not 0 <= q <= 1):
        raise ValueError(f"report: quality must be a number from 0 to 1, "
                         f"got {q!r}")
    body = {"decision_id": decision_id, "ok": ok}
    body.update(drop_none(fields))
    if "class_" in body:
        body["class"] = body.pop("class_")
    return json.dumps(body, separators=(",", ":")).encode()


def outcome_body(workflow_id: str, tenant: str, class_: str, outcome: str,
                 fields: Dict[str, Any]) -> bytes:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r}: want one of {OUTCOMES}")
    body = {"workflow_id": workflow_id, "tenant": tenant, "class": class_,
            "outcome": outcome}
    body.update(drop_none(fields))
    return json.dumps(body, separators=(",", ":")).encode()


def trace_headers(traceparent: Optional[str],
                  tracestate: Optional[str]) -> Dict[str, str]:
    h = {}
    if traceparent:
        h["traceparent"] = traceparent
    if tracestate:
        h["tracestate"] = tracestate
    return h


def parse(status: int, data: bytes, path: str) -> Any:
    """The JSON of a 2xx answer, else raises the matching ApiError."""
    try:
        body = json.loads(data) if data else None
    except ValueError:
        body = data[:200].decode("utf-8", "replace")
        if 200 <= status < 300:
            raise errors.ApiError(status, "BAD_RESPONSE",
                                  f"{path}: answer is not JSON: {body!r}")
    if 200 <= status < 300:
        return body
    raise errors.api_error(status, body, path)


def decision(body: Dict[str, Any]) -> Route:
    """A Route, or raises the Denied subclass of the deny's code."""
    if body.get("decision") == "deny":
        raise errors.denied(body)
    if body.get("decision") != "route":
        raise errors.ApiError(200, "BAD_RESPONSE",
                              f"/v1/route: not a decision: {str(body)[:200]}")
    return Route.from_json(body)


class RetryPolicy:
    """Retries what is retryable, at most `retries` times, waiting
    retry_after_ms (else `backoff_ms`, doubled per attempt), each wait
    capped at `max_wait_ms` and all waits at `budget_ms` in total."""

    def __init__(self, retries: int = 2, backoff_ms: int = 50,
                 max_wait_ms: int = 2000, budget_ms: int = 5000):
        if retries < 0 or backoff_ms < 0 or max_wait_ms < 0 or budget_ms < 0:
            raise ValueError("retry bounds must be >= 0")
        self.retries = retries
        self.backoff_ms = backoff_ms
        self.max_wait_ms = max_wait_ms
        self.budget_ms = budget_ms

    def wait_ms(self, err: errors.AfError, attempt: int,
                waited_ms: float) -> Optional[float]:
        """How long to wait before attempt `attempt` + 1, or None: raise."""
        if not err.retryable or attempt >= self.retries:
            return None
        w = err.retry_after_ms
        if w is None:
            w = self.backoff_ms * (2 ** attempt)
        w = min(float(w), float(self.max_wait_ms))
        if waited_ms + w > self.budget_ms:
            return None
        return w


class HopState:
    """What a hop() block reports when it ends. Set what you know: the
    tokens, the cost, the (model, region) you called when it was a
    fallback, or fail() for an answer that was an error without raising."""

    def __init__(self, route: Route):
        self.route = route
        self.model: Optional[str] = None
        self.region: Optional[str] = None
        self.input_tokens: Optional[int] = None
        self.output_tokens: Optional[int] = None
        self.cost_usd: Optional[float] = None
        self.ok: Optional[bool] = None
        self.latency_ms: Optional[int] = None
        self._t0 = time.monotonic()

    def called(self, hop: Hop) -> None:
        """Say the hop went to this (fallback) model and region."""
        self.model, self.region = hop.model, hop.region

    def usage(self, input_tokens: Optional[int] = None,
              output_tokens: Optional[int] = None,
              cost_usd: Optional[float] = None) -> None:
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost_usd = cost_usd

    def fail(self) -> None:
        """Report the hop as failed even though the block did not raise."""
        self.ok = False

    def finish(self, raised: bool) -> Tuple[bool, Dict[str, Any]]:
        """(ok, report fields) at the end of the block."""
        ms = int((time.monotonic() - self._t0) * 1000)
        self.latency_ms = ms
        ok = (not raised) and self.ok is not False
        return ok, {"latency_ms": ms, "input_tokens": self.input_tokens,
                    "output_tokens": self.output_tokens,
                    "cost_usd": self.cost_usd, "model": self.model,
                    "region": self.region}


class HopRun:
    """The part of hop() that Client and AsyncClient share: the block runs
    in `with run.block() as state:`, the report, however the client sends
    it, in `with run.reporting() as (decision_id, ok, fields):` in the
    finally after it. The hop is ok unless the block raised or called
    fail(); a report that fails (AfError) is raised unless the block
    raised, whose error then goes on instead."""

    def __init__(self, route: Route):
        self.state = HopState(route)
        self._raised = False

    @contextlib.contextmanager
    def block(self) -> Iterator[HopState]:
        try:
            yield self.state
        except BaseException:
            self._raised = True
            raise

    @contextlib.contextmanager
    def reporting(self) -> Iterator[Tuple[str, bool, Dict[str, Any]]]:
        ok, rep = self.state.finish(self._raised)
        try:
            yield self.state.route.decision_id, ok, rep
        except errors.AfError:
            if not self._raised:
                raise
