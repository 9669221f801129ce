"""The asyncio client: HTTP/1.1 over asyncio streams, a small pool of
keep-alive connections (one per request in flight)."""
import asyncio
import contextlib
import ssl
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from . import _core, errors
from ._core import HopState, RetryPolicy, Route

MAX_HEADER_BYTES = 32 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024


class _Conn:
    def __init__(self, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.used = False

    def close(self) -> None:
        self.writer.close()


class AsyncClient:
    """routerd's API for asyncio code.

    >>> af = AsyncClient("http://127.0.0.1:8080")
    >>> r = await af.route("wf-1", "claims-team", "research-agent")
    >>> await af.report(r.decision_id, ok=True, latency_ms=840)
    >>> await af.close()

    Up to `pool` idle connections are kept open; concurrent calls open
    more as needed.
    """

    def __init__(self, url: str = "http://127.0.0.1:8080",
                 timeout: float = 2.0, retry: Optional[RetryPolicy] = None,
                 pool: int = 8):
        scheme, self._host, self._port = _core.base_url(url)
        self._ssl = ssl.create_default_context() if scheme == "https" else None
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self._pool_max = pool
        self._idle: List[_Conn] = []

    # ------------------------------------------------------- transport
    async def _open(self) -> _Conn:
        r, w = await asyncio.open_connection(self._host, self._port,
                                             ssl=self._ssl)
        return _Conn(r, w)

    async def _exchange(self, c: _Conn, req: bytes) -> Tuple[int, bytes, bool]:
        c.writer.write(req)
        await c.writer.drain()
        head = await c.reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEADER_BYTES:
            raise errors.Unavailable("routerd answer headers too large")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise errors.Unavailable(f"not an HTTP answer: {lines[0]!r}")
        status = int(parts[1])
        length = None
        close = parts[0] == "HTTP/1.0"
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v.strip())
            elif k == "connection":
                close = v.strip().lower() == "close"
            elif k == "transfer-encoding":
                raise errors.Unavailable(
                    f"routerd answered with {line.strip()!r}; this client "
                    "reads Content-Length bodies only")
        if length is None or length > MAX_BODY_BYTES:
            raise errors.Unavailable(f"bad Content-Length in {lines!r}")
        data = await c.reader.readexactly(length)
        return status, data, close

    async def _roundtrip(self, req: bytes) -> Tuple[int, bytes]:
        c = self._idle.pop() if self._idle else await self._open()
        try:
            try:
                status, data, close = await self._exchange(c, req)
            except (asyncio.IncompleteReadError, ConnectionError):
                c.close()
                if not c.used:
                    raise
                c = await self._open()  # a stale keep-alive connection
                status, data, close = await self._exchange(c, req)
        except BaseException:
            c.close()
            raise
        c.used = True
        if close or len(self._idle) >= self._pool_max:
            c.close()
        else:
            self._idle.append(c)
        return status, data

    async def _call(self, method: str, path: str,
                    body: Optional[bytes] = None,
                    headers: Optional[Dict[str, str]] = None) -> Any:
        body = body or b""
        h = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}",
             f"User-Agent: {_core.USER_AGENT}",
             "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
        for k, v in (headers or {}).items():
            if "\r" in v or "\n" in v:
                raise ValueError(f"header {k}: no line breaks")
            h.append(f"{k}: {v}")
        req = ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + body
        try:
            status, data = await asyncio.wait_for(self._roundtrip(req),
                                                  self.timeout)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, ValueError) as e:
            raise errors.Unavailable(
                f"routerd at {self._host}:{self._port} {path}: {e!r}; "
                "is routerd running and listening there?") from e
        return _core.parse(status, data, path)

    async def _retrying(self, fn):
        waited = 0.0
        attempt = 0
        while True:
            try:
                return await fn()
            except errors.AfError as e:
                w = self.retry.wait_ms(e, attempt, waited)
                if w is None:
                    raise
                await asyncio.sleep(w / 1000.0)
                waited += w
                attempt += 1

    async def close(self) -> None:
        while self._idle:
            c = self._idle.pop()
            c.close()
            with contextlib.suppress(Exception):
                await c.writer.wait_closed()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ------------------------------------------------------------- API
    async def route(self, workflow_id: str, tenant: str, class_: str, *,
                    traceparent: Optional[str] = None,
                    tracestate: Optional[str] = None,
                    **fields: Any) -> Route:
        """As Client.route."""
        body = _core.route_body(workflow_id, tenant, class_, fields)
        hdr = _core.trace_headers(traceparent, tracestate)

        async def once():
            return _core.decision(
                await self._call("POST", "/v1/route", body, hdr))
        return await self._retrying(once)

    async def report(self, decision_id: str, ok: bool, **fields: Any) -> None:
        """As Client.report."""
        body = _core.report_body(decision_id, ok, fields)
        await self._retrying(lambda: self._call("POST", "/v1/report", body))

    async def outcome(self, workflow_id: str, tenant: str, class_: str,
                      outcome: str, **fields: Any) -> None:
        """As Client.outcome (NotSupported when routerd answers 404)."""
        body = _core.outcome_body(workflow_id, tenant, class_, outcome,
                                  fields)
        await self._retrying(lambda: self._call("POST", "/v1/outcome", body))

    async def status(self) -> Dict[str, Any]:
        return await self._call("GET", "/v1/status")

    @contextlib.asynccontextmanager
    async def hop(self, workflow_id: str, tenant: str, class_: str,
                  **fields: Any) -> AsyncIterator[HopState]:
        """As Client.hop, for `async with`."""
        run = _core.HopRun(await self.route(workflow_id, tenant, class_,
                                            **fields))
        try:
            with run.block() as state:
                yield state
        finally:
            with run.reporting() as (decision_id, ok, rep):
                await self.report(decision_id, ok, **rep)
