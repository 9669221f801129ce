"""The synchronous client against a real routerd."""
import json
import socket
import urllib.error
import urllib.request

import pytest

import af_sdk
from af_sdk import Client, RetryPolicy

REQ = {"input_tokens": 18240, "output_tokens": 960, "needs": ["tools"],
       "agent_role": "researcher", "fanout": 6}


def denies(cluster, code):
    return cluster.metric("af_routerd_decisions_total",
                          f'outcome="deny",code="{code}"')


def test_route_and_report(cluster, url):
    accepted = cluster.metric("af_routerd_reports_accepted_total")
    with Client(url) as af:
        r = af.route("wf-py-1", "claims-team", "research-agent", **REQ)
        assert r.model == "swift-mid" and r.tier == "mid"
        assert r.lane == "online-standard"
        assert r.decision_id.startswith("sdk-")
        # Both regions of swift-mid; observed latency orders them.
        assert {h.region for h in r.hops()} == {"eu-west-1", "us-east-1"}
        assert r.hops()[1].model == "swift-mid"
        assert r.cohort == "stable" and r.revision == 1
        assert r.est_cost_usd == pytest.approx(0.06624)
        af.report(r.decision_id, ok=True, latency_ms=2140,
                  input_tokens=18240, output_tokens=955, quality=0.92)
        assert af.status()["state"] == "healthy"
        with pytest.raises(ValueError):
            af.report(r.decision_id, ok=True, quality=1.5)
    assert cluster.metric("af_routerd_reports_accepted_total") == accepted + 1


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_trace_context(url):
    with Client(url) as af:
        r = af.route("wf-tp", "claims-team", "research-agent",
                     traceparent=TRACEPARENT, tracestate="congo=t61rcWkgMzE")
        assert r.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        with pytest.raises(af_sdk.FanoutCap) as e:
            af.route("wf-tp", "claims-team", "research-agent", fanout=99,
                     traceparent=TRACEPARENT)
        assert e.value.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert af.route("wf-tp", "claims-team", "research-agent").trace_id \
            is None


def test_keep_alive(url):
    with Client(url) as af:
        af.route("wf-ka", "claims-team", "research-agent")
        local = af._conn.sock.getsockname()
        for i in range(50):
            af.route(f"wf-ka-{i}", "claims-team", "research-agent")
        assert af._conn.sock.getsockname() == local


@pytest.mark.parametrize("fields,cls,code", [
    ({"fanout": 99}, af_sdk.FanoutCap, "FANOUT_CAP"),
    ({"tool_calls": 99}, af_sdk.ToolCallCap, "TOOL_CALL_CAP"),
    ({"attempt": 9}, af_sdk.RetryLimit, "RETRY_LIMIT"),
    ({"max_cost_usd": 1e-7, "input_tokens": 10000}, af_sdk.CostLimit,
     "COST_LIMIT"),
    ({"input_tokens": 900000}, af_sdk.ContextTooLarge, "CONTEXT_TOO_LARGE"),
    ({"needs": ["telepathy"]}, af_sdk.NoEligibleModel, "NO_ELIGIBLE_MODEL"),
])
def test_typed_denials_not_retried(cluster, url, fields, cls, code):
    before = denies(cluster, code)
    with Client(url, retry=RetryPolicy(retries=3)) as af:
        with pytest.raises(cls) as e:
            af.route("wf-deny", "claims-team", "research-agent", **fields)
    assert e.value.code == code and not e.value.retryable
    assert e.value.retry_after_ms is None and e.value.decision_id
    assert isinstance(e.value, af_sdk.Denied)
    assert denies(cluster, code) == before + 1  # asked once: not retryable


def test_rule_and_residency_denials(url):
    with Client(url) as af:
        with pytest.raises(af_sdk.PolicyDenied) as e:
            af.route("wf-r", "t", "marketing", sensitivity="restricted")
        assert e.value.code == "POLICY_DENIED"
        assert e.value.rule == "no-restricted-marketing"
        assert "restricted" in str(e.value)
        with pytest.raises(af_sdk.ResidencyDenied):
            af.route("wf-r", "t", "us-only", sensitivity="restricted")


def test_lane_saturated_retry_honours_retry_after(cluster, url):
    waits = []
    with Client(url) as holder:
        held = holder.route("wf-hold", "t", "single-lane")

        def sleep(s):  # the slot frees while the client waits
            waits.append(round(s * 1000))
            if len(waits) == 2:
                holder.report(held.decision_id, ok=True, latency_ms=5)

        with Client(url, retry=RetryPolicy(retries=3), sleep=sleep) as af:
            r = af.route("wf-wait", "t", "single-lane")
        assert waits == [200, 200]  # retry_after_ms of the 200 ms SLO
        holder.report(r.decision_id, ok=True, latency_ms=5)


def test_lane_saturated_bounded(cluster, url):
    before = denies(cluster, "LANE_SATURATED")
    waits = []
    with Client(url) as holder:
        held = holder.route("wf-hold2", "t", "single-lane")
        try:
            with Client(url, retry=RetryPolicy(retries=2),
                        sleep=lambda s: waits.append(s)) as af:
                with pytest.raises(af_sdk.LaneSaturated) as e:
                    af.route("wf-wait2", "t", "single-lane")
            assert e.value.retryable and e.value.retry_after_ms == 200
            assert len(waits) == 2
            assert denies(cluster, "LANE_SATURATED") == before + 3
            with Client(url, retry=RetryPolicy(retries=0)) as af:
                with pytest.raises(af_sdk.LaneSaturated):
                    af.route("wf-wait3", "t", "single-lane")
        finally:
            holder.report(held.decision_id, ok=True, latency_ms=5)


def test_bad_requests(url):
    with Client(url) as af:
        with pytest.raises(af_sdk.BadRequest) as e:
            af.route("wf-b", "t", "no-such-class")
        assert (e.value.status, e.value.code, e.value.field) == \
            (422, "UNKNOWN_CLASS", "class")
        with pytest.raises(af_sdk.BadRequest) as e:
            af.route("wf-b", "t", "research-agent", fanout="six")
        assert (e.value.code, e.value.field) == ("WRONG_TYPE", "fanout")
        with pytest.raises(af_sdk.UnknownDecision) as e:
            af.report("sdk-00000000000000ff", ok=True)
        assert "tenant, class and revision" in e.value.message
        with pytest.raises(TypeError):
            af.report("x", ok="yes")
        with pytest.raises(ValueError):
            af.outcome("wf", "t", "c", "great")


def test_outcome(url, cluster):
    n0 = cluster.metric("af_routerd_outcomes_accepted_total")
    with Client(url) as af:
        af.route("wf-o", "claims-team", "research-agent")
        af.outcome("wf-o", "claims-team", "research-agent", "success",
                   tool_cost_usd=0.01, human_review_usd=0.5,
                   labels={"cost_center": "cc-7"})
        af.outcome("wf-never-routed", "claims-team", "research-agent",
                   "abandoned")
        assert cluster.metric("af_routerd_outcomes_accepted_total") == n0 + 2
        with pytest.raises(af_sdk.BadRequest) as e:
            af.outcome("wf-o", "claims-team", "research-agent", "failed",
                       tool_cost_usd=-1)
        assert (e.value.status, e.value.field) == (422, "tool_cost_usd")
    assert cluster.metric("af_routerd_outcomes_accepted_total") == n0 + 2


def test_hop_reports_success_and_latency(cluster, url):
    ok0 = cluster.metric("af_routerd_reports_accepted_total")
    fail0 = cluster.metric("af_routerd_report_failures_total")
    with Client(url) as af:
        with af.hop("wf-hop", "t", "single-lane") as h:
            assert cluster.metric("af_routerd_lane_inflight",
                                  'lane="one-slot"') == 1
            h.usage(input_tokens=100, output_tokens=20)
        assert h.latency_ms is not None and h.latency_ms >= 0
        assert cluster.metric("af_routerd_lane_inflight",
                              'lane="one-slot"') == 0
        with pytest.raises(RuntimeError):
            with af.hop("wf-hop", "t", "single-lane") as h:
                raise RuntimeError("the model call failed")
        with af.hop("wf-hop", "t", "single-lane") as h:
            h.called(h.route.hops()[-1])
            h.fail()
    assert cluster.metric("af_routerd_reports_accepted_total") == ok0 + 3
    assert cluster.metric("af_routerd_report_failures_total") == fail0 + 2
    assert cluster.metric("af_routerd_lane_inflight", 'lane="one-slot"') == 0


def test_hop_denied_raises_before_the_block(url):
    ran = []
    with Client(url) as af:
        with pytest.raises(af_sdk.FanoutCap):
            with af.hop("wf-hd", "t", "research-agent", fanout=99):
                ran.append(1)
    assert ran == []


def test_unavailable_bounded_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    waits = []
    af = Client(f"http://127.0.0.1:{port}",
                retry=RetryPolicy(retries=2, backoff_ms=10),
                sleep=lambda s: waits.append(round(s * 1000)))
    with pytest.raises(af_sdk.Unavailable) as e:
        af.route("wf-u", "t", "c")
    assert waits == [10, 20]
    assert "is routerd running" in str(e.value)
    with pytest.raises(ValueError):
        Client("127.0.0.1:8080")
