"""hop() of both clients when the report after the block fails (no
routerd: route and report are stubbed on the client). A failed report is
raised when the block went well, and gives way to the block's own error
when the block raised; either way the hop was reported once, ok unless
the block raised or called fail()."""
import asyncio
from types import SimpleNamespace

import pytest

import af_sdk
from af_sdk import AsyncClient, Client

ROUTE = SimpleNamespace(decision_id="d-1")


def one_hop(kind, report_fails, block):
    """Runs one hop around block(state); returns (the reports sent, the
    type of the error that came out of the with statement or None)."""
    sent = []

    def report(decision_id, ok, **fields):
        sent.append((decision_id, ok, fields["latency_ms"] >= 0))
        if report_fails:
            raise af_sdk.Unavailable("routerd went away")

    async def areport(decision_id, ok, **fields):
        report(decision_id, ok, **fields)

    async def aroute(*args, **kwargs):
        return ROUTE

    async def amain():
        c = AsyncClient()
        c.route, c.report = aroute, areport
        async with c.hop("wf-1", "t", "research-agent") as h:
            block(h)

    try:
        if kind == "sync":
            c = Client()
            c.route, c.report = (lambda *a, **k: ROUTE), report
            with c.hop("wf-1", "t", "research-agent") as h:
                block(h)
        else:
            asyncio.run(amain())
    except Exception as e:  # pylint: disable=broad-except
        return sent, type(e)
    return sent, None


def boom(_):
    raise KeyError("the model call failed")


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("report_fails,block,ok,err", [
    (False, lambda h: None, True, None),
    (False, lambda h: h.fail(), False, None),
    (False, boom, False, KeyError),
    (True, lambda h: None, True, af_sdk.Unavailable),
    (True, boom, False, KeyError),
])
def test_hop_report_failure(kind, report_fails, block, ok, err):
    assert one_hop(kind, report_fails, block) == ([("d-1", ok, True)], err)
