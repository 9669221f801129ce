"""A Temporal-style activity: an async function a worker runs, retried
by the workflow engine. af decides each attempt; a retryable denial is
turned into the engine's retry with af's delay, a final one fails the
activity for good.

No temporalio import: decorate `summarize` with `@activity.defn` and
raise `ApplicationError(..., non_retryable=True, next_retry_delay=...)`
instead of the stand-in exceptions below.

Run against a routerd: AF_ROUTERD=http://127.0.0.1:8080 python3 temporal_activity.py
"""
import asyncio
import os

from af_sdk import AsyncClient, Denied, RetryPolicy

af = AsyncClient(os.environ.get("AF_ROUTERD", "http://127.0.0.1:8080"),
                 retry=RetryPolicy(retries=1, max_wait_ms=500))


class RetryLater(Exception):
    """Stand-in for the engine's retryable error with a delay."""

    def __init__(self, msg, delay_ms):
        super().__init__(msg)
        self.delay_ms = delay_ms


class FailForGood(Exception):
    """Stand-in for the engine's non-retryable error."""


async def call_model(model, region, text):
    await asyncio.sleep(0.02)  # your async model client
    return {"summary": f"[{model}@{region}] {text[:40]}",
            "input_tokens": 900, "output_tokens": 120}


async def summarize(workflow_id: str, tenant: str, text: str,
                    attempt: int = 0) -> dict:
    try:
        async with af.hop(workflow_id, tenant, "claims-reconciliation",
                          input_tokens=900, output_tokens=200,
                          attempt=attempt) as h:
            out = await call_model(h.route.model, h.route.region, text)
            h.usage(out["input_tokens"], out["output_tokens"])
    except Denied as d:
        if d.retryable:
            raise RetryLater(str(d), d.retry_after_ms or 1000) from d
        raise FailForGood(str(d)) from d
    return {"summary": out["summary"], "model": h.route.model,
            "decision_id": h.route.decision_id}


async def main():
    print(await summarize("wf-recon-7", "claims-team",
                          "ledger lines 1-400 of batch 2026-12-01"))
    try:
        await summarize("wf-recon-7", "claims-team", "again", attempt=9)
    except FailForGood as e:
        print(f"attempt 9: {e}")
    await af.close()


if __name__ == "__main__":
    asyncio.run(main())
