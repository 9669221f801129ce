"""The synchronous client: one keep-alive HTTP connection (http.client)."""
import contextlib
import http.client
import socket
import threading
import time
from typing import Any, Dict, Iterator, Optional

from . import _core, errors
from ._core import HopState, RetryPolicy, Route

# A reused keep-alive connection that routerd closed meanwhile fails with
# one of these before any answer: the request is sent again once on a
# fresh connection.
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine,
          ConnectionResetError, BrokenPipeError)


class Client:
    """routerd's API over one keep-alive connection.

    >>> af = Client("http://127.0.0.1:8080")
    >>> r = af.route("wf-1", "claims-team", "research-agent", input_tokens=1200)
    >>> af.report(r.decision_id, ok=True, latency_ms=840)

    Calls are serialized on the connection (a lock): give each worker
    thread its own Client for parallel calls.
    """

    def __init__(self, url: str = "http://127.0.0.1:8080",
                 timeout: float = 2.0, retry: Optional[RetryPolicy] = None,
                 sleep=time.sleep):
        scheme, self._host, self._port = _core.base_url(url)
        self._https = scheme == "https"
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self._sleep = sleep
        self._conn: Optional[http.client.HTTPConnection] = None
        self._used = False
        self._lock = threading.Lock()

    # ------------------------------------------------------- transport
    def _connect(self) -> http.client.HTTPConnection:
        cls = (http.client.HTTPSConnection if self._https
               else http.client.HTTPConnection)
        c = cls(self._host, self._port, timeout=self.timeout)
        c.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._used = False
        return c

    def _once(self, method: str, path: str, body: Optional[bytes],
              headers: Dict[str, str]):
        if self._conn is None:
            self._conn = self._connect()
        reused = self._used
        try:
            self._conn.request(method, path, body, headers)
            rsp = self._conn.getresponse()
            data = rsp.read()
        except _STALE:
            self.close_connection()
            if not reused:
                raise
            self._conn = self._connect()
            self._conn.request(method, path, body, headers)
            rsp = self._conn.getresponse()
            data = rsp.read()
        self._used = True
        if rsp.will_close:
            self.close_connection()
        return rsp.status, data

    def _call(self, method: str, path: str, body: Optional[bytes] = None,
              headers: Optional[Dict[str, str]] = None):
        h = {"Content-Type": "application/json",
             "User-Agent": _core.USER_AGENT}
        if headers:
            h.update(headers)
        with self._lock:
            try:
                status, data = self._once(method, path, body, h)
            except (OSError, http.client.HTTPException) as e:
                self.close_connection()
                raise errors.Unavailable(
                    f"routerd at {self._host}:{self._port} {path}: {e!r}; "
                    "is routerd running and listening there?") from e
        return _core.parse(status, data, path)

    def _retrying(self, fn):
        waited = 0.0
        attempt = 0
        while True:
            try:
                return fn()
            except errors.AfError as e:
                w = self.retry.wait_ms(e, attempt, waited)
                if w is None:
                    raise
                self._sleep(w / 1000.0)
                waited += w
                attempt += 1

    def close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self.close_connection()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------- API
    def route(self, workflow_id: str, tenant: str, class_: str, *,
              traceparent: Optional[str] = None,
              tracestate: Optional[str] = None, **fields: Any) -> Route:
        """Decides one hop. Returns a Route; raises a Denied subclass for
        a deny (after retrying retryable ones), an ApiError for a refused
        request. `fields` are the other request fields (input_tokens,
        needs, labels, ...)."""
        body = _core.route_body(workflow_id, tenant, class_, fields)
        hdr = _core.trace_headers(traceparent, tracestate)
        return self._retrying(lambda: _core.decision(
            self._call("POST", "/v1/route", body, hdr)))

    def report(self, decision_id: str, ok: bool, **fields: Any) -> None:
        """Reports how a routed hop went (latency_ms, input_tokens,
        output_tokens, cost_usd, quality from 0 to 1 when an eval or a
        verifier scored the outcome, model and region when a fallback was
        called)."""
        body = _core.report_body(decision_id, ok, fields)
        self._retrying(lambda: self._call("POST", "/v1/report", body))

    def outcome(self, workflow_id: str, tenant: str, class_: str,
                outcome: str, **fields: Any) -> None:
        """Reports how a workflow ended: success, failed or abandoned
        (tool_cost_usd, human_review_usd, labels). Raises NotSupported
        when the routerd does not serve /v1/outcome."""
        body = _core.outcome_body(workflow_id, tenant, class_, outcome,
                                  fields)
        self._retrying(lambda: self._call("POST", "/v1/outcome", body))

    def status(self) -> Dict[str, Any]:
        return self._call("GET", "/v1/status")

    @contextlib.contextmanager
    def hop(self, workflow_id: str, tenant: str, class_: str,
            **fields: Any) -> Iterator[HopState]:
        """Routes, runs the block, then reports its latency and success
        (ok unless the block raised or called fail()).

        >>> with af.hop("wf-1", "claims-team", "research-agent") as h:
        ...     answer = call_model(h.route.model, h.route.region)
        ...     h.usage(input_tokens=1200, output_tokens=300)
        """
        run = _core.HopRun(self.route(workflow_id, tenant, class_, **fields))
        try:
            with run.block() as state:
                yield state
        finally:
            with run.reporting() as (decision_id, ok, rep):
                self.report(decision_id, ok, **rep)
