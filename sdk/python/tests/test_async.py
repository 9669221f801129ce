"""The asyncio client against a real routerd (plain asyncio.run: no
pytest plugin needed)."""
import asyncio

import pytest

import af_sdk
from af_sdk import AsyncClient, RetryPolicy


def run(coro):
    return asyncio.run(coro)


def test_route_report_status(cluster, url):
    async def main():
        async with AsyncClient(url) as af:
            r = await af.route("wf-a1", "claims-team", "research-agent",
                               input_tokens=18240, output_tokens=960,
                               needs=["tools"])
            assert r.model == "swift-mid" and r.decision_id.startswith("sdk-")
            await af.report(r.decision_id, ok=True, latency_ms=900)
            return await af.status()
    before = cluster.metric("af_routerd_reports_accepted_total")
    assert run(main())["ready"] is True
    assert cluster.metric("af_routerd_reports_accepted_total") == before + 1


def test_trace_context(url):
    async def main():
        async with AsyncClient(url) as af:
            return await af.route(
                "wf-atp", "claims-team", "research-agent",
                traceparent="00-0af7651916cd43dd8448eb211c80319c-"
                            "b7ad6b7169203331-01")
    assert run(main()).trace_id == "0af7651916cd43dd8448eb211c80319c"


def test_concurrent_calls_share_a_pool(url):
    async def main():
        async with AsyncClient(url, pool=4) as af:
            rs = await asyncio.gather(*[
                af.route(f"wf-c{i}", "claims-team", "research-agent")
                for i in range(40)])
            assert len({r.decision_id for r in rs}) == 40
            assert 1 <= len(af._idle) <= 4
            first = af._idle[-1].writer.get_extra_info("sockname")
            await af.route("wf-again", "claims-team", "research-agent")
            again = af._idle[-1].writer.get_extra_info("sockname")
            assert first == again  # the idle connection was reused
    run(main())


def test_typed_denials(url):
    async def main():
        async with AsyncClient(url) as af:
            with pytest.raises(af_sdk.FanoutCap) as e:
                await af.route("wf-ad", "t", "research-agent", fanout=99)
            assert not e.value.retryable
            with pytest.raises(af_sdk.PolicyDenied):
                await af.route("wf-ad", "t", "marketing",
                               sensitivity="restricted")
            with pytest.raises(af_sdk.BadRequest) as e:
                await af.route("wf-ad", "t", "nope")
            assert e.value.field == "class"
            with pytest.raises(af_sdk.UnknownDecision):
                await af.report("sdk-00000000000000ff", ok=False)
    run(main())


def test_lane_saturated_retried_until_free(url):
    async def main():
        async with AsyncClient(url) as holder, \
                AsyncClient(url, retry=RetryPolicy(retries=5)) as af:
            held = await holder.route("wf-ah", "t", "single-lane")

            async def free_later():
                await asyncio.sleep(0.3)
                await holder.report(held.decision_id, ok=True, latency_ms=1)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            r, _ = await asyncio.gather(
                af.route("wf-aw", "t", "single-lane"), free_later())
            waited = loop.time() - t0
            await af.report(r.decision_id, ok=True, latency_ms=1)
            # two 200 ms waits at least: denied at 0 and 0.2 s, freed at 0.3
            assert waited >= 0.4
            retry0 = AsyncClient(url, retry=RetryPolicy(retries=0))
            held = await holder.route("wf-ah2", "t", "single-lane")
            with pytest.raises(af_sdk.LaneSaturated) as e:
                await retry0.route("wf-aw2", "t", "single-lane")
            assert e.value.retry_after_ms == 200
            await holder.report(held.decision_id, ok=True, latency_ms=1)
            await retry0.close()
    run(main())


def test_hop(cluster, url):
    async def main():
        async with AsyncClient(url) as af:
            async with af.hop("wf-ahop", "t", "single-lane") as h:
                await asyncio.sleep(0.05)
                h.usage(input_tokens=10, output_tokens=5, cost_usd=0.001)
            assert h.latency_ms >= 50
            with pytest.raises(KeyError):
                async with af.hop("wf-ahop", "t", "single-lane"):
                    raise KeyError("boom")
    fail0 = cluster.metric("af_routerd_report_failures_total")
    run(main())
    assert cluster.metric("af_routerd_report_failures_total") == fail0 + 1
    assert cluster.metric("af_routerd_lane_inflight", 'lane="one-slot"') == 0


def test_outcome_and_unavailable(url):
    async def main():
        async with AsyncClient(url) as af:
            await af.outcome("wf-o", "t", "research-agent", "failed")
        dead = AsyncClient("http://127.0.0.1:1",
                           retry=RetryPolicy(retries=1, backoff_ms=5))
        with pytest.raises(af_sdk.Unavailable):
            await dead.route("wf", "t", "c")
    run(main())


def test_idle_connections_closed_by_routerd_are_reopened(url):
    """routerd closes a connection idle for 10 s; both clients notice on
    their next call and send it again on a new connection."""
    import time

    from af_sdk import Client

    async def main():
        sync = Client(url)
        first = sync.route("wf-idle", "claims-team", "research-agent")
        port = sync._conn.sock.getsockname()[1]
        async with AsyncClient(url) as af:
            await af.route("wf-idle", "claims-team", "research-agent")
            await asyncio.sleep(10.5)  # routerd's request deadline is 10 s
            r = await af.route("wf-idle", "claims-team", "research-agent")
            assert r.decision_id
        time.sleep(0.1)
        again = sync.route("wf-idle", "claims-team", "research-agent")
        assert again.decision_id != first.decision_id
        assert sync._conn.sock.getsockname()[1] != port
        sync.close()
    run(main())
