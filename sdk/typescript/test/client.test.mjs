// The TypeScript SDK (built into dist/) against a real routerd.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";

import * as af from "../dist/index.js";
import { Cluster } from "./cluster.mjs";

const cluster = new Cluster();
let url;
before(async () => { url = (await cluster.start()).url; });
after(async () => { await cluster.stop(); });

const denies = (code) => cluster.metric("af_routerd_decisions_total", `outcome="deny",code="${code}"`);
const base = { workflow_id: "wf-ts", tenant: "claims-team", class: "research-agent" };

test("route and report", async () => {
  const accepted = await cluster.metric("af_routerd_reports_accepted_total");
  const c = new af.Client({ url });
  const r = await c.route({ ...base, input_tokens: 18240, output_tokens: 960, needs: ["tools"], fanout: 6 });
  assert.ok(r instanceof af.Route);
  assert.equal(r.model, "swift-mid");
  assert.equal(r.decision.lane, "online-standard");
  assert.match(r.decisionId, /^sdk-[0-9a-f]{16}$/);
  assert.deepEqual(new Set(r.hops().map((h) => h.region)), new Set(["eu-west-1", "us-east-1"]));
  assert.equal(r.decision.policy.cohort, "stable");
  await c.report({ decision_id: r.decisionId, ok: true, latency_ms: 2140, input_tokens: 18240, output_tokens: 955, quality: 0.92 });
  await assert.rejects(c.report({ decision_id: r.decisionId, ok: true, quality: 1.5 }), RangeError);
  assert.equal((await c.status()).state, "healthy");
  assert.equal(await cluster.metric("af_routerd_reports_accepted_total"), accepted + 1);
});

test("trace context: traceparent's trace id comes back", async () => {
  const c = new af.Client({ url });
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const r = await c.route(base, { traceparent: tp, tracestate: "congo=t61rcWkgMzE" });
  assert.equal(r.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  await assert.rejects(c.route({ ...base, fanout: 99 }, { traceparent: tp }), (e) =>
    e instanceof af.FanoutCap && e.traceId === "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal((await c.route(base)).traceId, undefined);
});

test("typed denials, not retried", async () => {
  const c = new af.Client({ url, retry: { retries: 3 } });
  const cases = [
    [{ fanout: 99 }, af.FanoutCap, "FANOUT_CAP"],
    [{ tool_calls: 99 }, af.ToolCallCap, "TOOL_CALL_CAP"],
    [{ attempt: 9 }, af.RetryLimit, "RETRY_LIMIT"],
    [{ max_cost_usd: 1e-7, input_tokens: 10000 }, af.CostLimit, "COST_LIMIT"],
    [{ input_tokens: 900000 }, af.ContextTooLarge, "CONTEXT_TOO_LARGE"],
    [{ needs: ["telepathy"] }, af.NoEligibleModel, "NO_ELIGIBLE_MODEL"],
  ];
  for (const [fields, cls, code] of cases) {
    const n = await denies(code);
    await assert.rejects(c.route({ ...base, ...fields }), (e) => {
      assert.ok(e instanceof cls && e instanceof af.Denied, `${code}: ${e}`);
      assert.equal(e.code, code);
      assert.equal(e.retryable, false);
      assert.equal(e.retryAfterMs, undefined);
      return true;
    });
    assert.equal(await denies(code), n + 1, `${code} asked once`);
  }
  await assert.rejects(c.route({ workflow_id: "w", tenant: "t", class: "marketing", sensitivity: "restricted" }),
    (e) => e instanceof af.PolicyDenied && e.code === "POLICY_DENIED" && e.rule === "no-restricted-marketing");
  await assert.rejects(c.route({ workflow_id: "w", tenant: "t", class: "us-only", sensitivity: "restricted" }),
    af.ResidencyDenied);
});

test("LANE_SATURATED is retried after retry_after_ms, within bounds", async () => {
  const holder = new af.Client({ url });
  const held = await holder.route({ workflow_id: "wf-hold", tenant: "t", class: "single-lane" });
  const waits = [];
  const c = new af.Client({
    url, retry: { retries: 3 },
    sleep: async (ms) => {
      waits.push(ms);
      if (waits.length === 2) await holder.report({ decision_id: held.decisionId, ok: true, latency_ms: 5 });
    },
  });
  const r = await c.route({ workflow_id: "wf-wait", tenant: "t", class: "single-lane" });
  assert.deepEqual(waits, [200, 200]);
  await c.report({ decision_id: r.decisionId, ok: true, latency_ms: 5 });

  const held2 = await holder.route({ workflow_id: "wf-hold2", tenant: "t", class: "single-lane" });
  const n = await denies("LANE_SATURATED");
  const waits2 = [];
  const bounded = new af.Client({ url, retry: { retries: 2 }, sleep: async (ms) => { waits2.push(ms); } });
  await assert.rejects(bounded.route({ workflow_id: "wf-w2", tenant: "t", class: "single-lane" }), (e) =>
    e instanceof af.LaneSaturated && e.retryable && e.retryAfterMs === 200);
  assert.deepEqual(waits2, [200, 200]);
  assert.equal(await denies("LANE_SATURATED"), n + 3);
  await holder.report({ decision_id: held2.decisionId, ok: true, latency_ms: 5 });
});

test("bad requests and unknown decisions", async () => {
  const c = new af.Client({ url });
  await assert.rejects(c.route({ ...base, class: "no-such-class" }), (e) =>
    e instanceof af.BadRequest && e.status === 422 && e.code === "UNKNOWN_CLASS" && e.field === "class");
  await assert.rejects(c.route({ ...base, fanout: "six" }), (e) => e.code === "WRONG_TYPE" && e.field === "fanout");
  await assert.rejects(c.report({ decision_id: "sdk-00000000000000ff", ok: true }), (e) =>
    e instanceof af.UnknownDecision && /tenant, class and revision/.test(e.detail));
  await assert.rejects(c.report({ decision_id: "x", ok: "yes" }), TypeError);
  await assert.rejects(c.outcome({ ...base, outcome: "great" }), RangeError);
  assert.throws(() => new af.Client({ url: "http://127.0.0.1:8080/v1" }), TypeError);
});

test("outcome: accepted, counted, bad values refused", async () => {
  const c = new af.Client({ url });
  const n0 = await cluster.metric("af_routerd_outcomes_accepted_total");
  await c.route({ ...base, workflow_id: "wf-ts-outcome" });
  await c.outcome({ ...base, workflow_id: "wf-ts-outcome", outcome: "success", tool_cost_usd: 0.01,
    human_review_usd: 0.5, labels: { cost_center: "cc-7" } });
  await c.outcome({ ...base, workflow_id: "wf-ts-never-routed", outcome: "abandoned" });
  assert.equal(await cluster.metric("af_routerd_outcomes_accepted_total"), n0 + 2);
  await assert.rejects(c.outcome({ ...base, outcome: "failed", tool_cost_usd: -1 }), (e) =>
    e instanceof af.BadRequest && e.status === 422 && e.field === "tool_cost_usd");
  assert.equal(await cluster.metric("af_routerd_outcomes_accepted_total"), n0 + 2);
});

test("hop reports latency and success itself", async () => {
  const ok0 = await cluster.metric("af_routerd_reports_accepted_total");
  const fail0 = await cluster.metric("af_routerd_report_failures_total");
  const c = new af.Client({ url });
  const req = { workflow_id: "wf-hop", tenant: "t", class: "single-lane" };
  let seen;
  const out = await c.hop(req, async (h) => {
    assert.equal(await cluster.metric("af_routerd_lane_inflight", 'lane="one-slot"'), 1);
    await new Promise((r) => setTimeout(r, 30));
    h.usage({ input_tokens: 100, output_tokens: 20 });
    seen = h;
    return "answer";
  });
  assert.equal(out, "answer");
  assert.ok(seen.latencyMs >= 25, `latency ${seen.latencyMs}`);
  await assert.rejects(c.hop(req, async () => { throw new Error("the model call failed"); }), /model call failed/);
  await c.hop(req, (h) => { h.called(h.route.hops().at(-1)); h.fail(); });
  assert.equal(await cluster.metric("af_routerd_reports_accepted_total"), ok0 + 3);
  assert.equal(await cluster.metric("af_routerd_report_failures_total"), fail0 + 2);
  assert.equal(await cluster.metric("af_routerd_lane_inflight", 'lane="one-slot"'), 0);
  let ran = false;
  await assert.rejects(c.hop({ ...base, fanout: 99 }, () => { ran = true; }), af.FanoutCap);
  assert.equal(ran, false);
});

test("unreachable routerd: Unavailable after bounded retries", async () => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const waits = [];
  const c = new af.Client({ url: `http://127.0.0.1:${port}`, retry: { retries: 2, backoffMs: 10 }, sleep: async (ms) => { waits.push(ms); } });
  await assert.rejects(c.route(base), (e) => e instanceof af.Unavailable && /is routerd running/.test(e.message));
  assert.deepEqual(waits, [10, 20]);
});

test("the example node runs as written", async () => {
  const { execFile } = await import("node:child_process");
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, [new URL("../examples/graph_node.mjs", import.meta.url).pathname],
      { env: { ...process.env, AF_ROUTERD: url }, timeout: 20000 },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(stdout)));
  });
  assert.match(out, /answer: '\[swift-mid@/);
  assert.match(out, /decisionId: 'sdk-/);
  assert.match(out, /outcome: /);
});
