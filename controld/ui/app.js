/* The af console: read-only pages over controld's /api/v1, refreshed
 * while they are open. The token (when the cluster asks for one) is kept
 * in this tab's sessionStorage and sent as a bearer header. */
"use strict";
(function () {
  const TOKEN = "af-token";
  const REFRESH_MS = 5000;
  const $ = (s) => document.querySelector(s);
  const S = window.AfSvg;
  let timer = null, generation = 0;

  class AuthError extends Error {}

  /* h("td", {class: "num"}, "text", node...) */
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "class") e.className = attrs[k];
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of kids) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const badge = (s) => h("span", { class: "badge " + s }, s);
  /* money: a number, or an exact decimal string ("1.870000") */
  const usd = (x) => { if (x === null || x === undefined) return "-"; const v = Number(x); return "$" + v.toFixed(v !== 0 && Math.abs(v) < 0.01 ? 6 : Math.abs(v) < 1 && v !== 0 ? 4 : 2); };
  const pct = (v) => (v === null || v === undefined ? "-" : (v * 100).toFixed(2) + "%");
  const short = (hash) => (hash || "").replace(/^sha256:/, "").slice(0, 12);
  function table(head, rows, attrs) {
    return h("table", attrs || {},
      h("thead", {}, h("tr", {}, ...head.map((c) => h("th", { class: /^[$#%]|_num$/.test(c) ? "num" : "" }, c.replace(/_num$/, "").replace(/^[#%]/, ""))))),
      h("tbody", {}, ...rows));
  }
  const td = (v, cls) => h("td", cls ? { class: cls } : {}, v);
  const card = (title, ...kids) => h("section", { class: "card" }, h("h2", {}, title), ...kids);

  async function api(path) {
    const headers = { Accept: "application/json" };
    const tok = sessionStorage.getItem(TOKEN);
    if (tok) headers.Authorization = "Bearer " + tok;
    const r = await fetch("/api/v1" + path, { headers: headers, cache: "no-store" });
    const body = await r.json().catch(() => null);
    const why = body && body.error ? body.error.code + ": " + body.error.message : "HTTP " + r.status;
    if (r.status === 401) {
      showLogin(why);
      throw new AuthError(why);
    }
    if (!r.ok) throw new Error("GET /api/v1" + path + ": " + why);
    return body;
  }

  function showLogin(why) {
    $("#login-why").textContent = why;
    $("#login").hidden = false;
    $("#view").hidden = true;
  }

  /* ------------------------------------------------------- overview */

  async function overview(main) {
    const [cl, fleet, ro] = await Promise.all([api("/cluster"), api("/fleet"), api("/rollout")]);
    const lead = cl.nodes.find((n) => n.id === cl.leader);
    const states = ["SYNCED", "STALE", "NACKED", "LOST"];
    const count = (s) => fleet.filter((f) => f.state === s).length;
    main.append(
      card("Cluster",
        h("div", { class: "kpi" },
          h("div", {}, h("b", { id: "leader" }, cl.leader === null ? "none" : cl.leader), h("span", {}, "leader")),
          h("div", {}, h("b", {}, lead ? lead.term : "-"), h("span", {}, "term")),
          h("div", {}, h("b", {}, lead ? lead.commit_index : "-"), h("span", {}, "commit index")),
          h("div", {}, h("b", {}, cl.nodes.length), h("span", {}, "members")),
          h("div", {}, h("b", {}, fleet.length), h("span", {}, "routerds")),
          h("div", {}, h("b", {}, ro.state), h("span", {}, "rollout"))),
        table(["id", "role", "term_num", "applied_num", "commit_num", "raft", "endpoint"],
          cl.nodes.map((n) => h("tr", { class: n.id === cl.leader ? "leader" : "", "data-node": n.id },
            td(n.id), td(badge(n.role)), td(n.term === null ? "-" : n.term, "num"),
            td(n.applied_index === null ? "-" : n.applied_index, "num"),
            td(n.commit_index === null ? "-" : n.commit_index, "num"), td(n.raft || "-"), td(n.endpoint || "-"))),
          { id: "members" }),
        cl.not_members && cl.not_members.length ? h("p", { class: "muted" }, "in the cluster file but not members: " + cl.not_members.join(", ")) : null,
        h("p", { class: "hint" }, "auth: " + cl.auth)),
      h("div", { class: "grid" },
        card("Applied index per node",
          S.bars(cl.nodes.map((n) => ({ label: "node " + n.id + (n.id === cl.leader ? " (leader)" : ""), value: n.applied_index || 0, cls: n.id === cl.leader ? "stable" : "leased", note: n.applied_index === null ? "unreachable" : String(n.applied_index) })), { label: "applied index per node" })),
        card("Fleet states",
          h("div", { id: "fleet-chart" },
            S.bars(states.map((s) => ({ label: s, value: count(s), cls: s === "SYNCED" ? "stable" : s === "LOST" ? "waste" : "canary", note: String(count(s)) })), { label: "routerds by state", max: 1 })))),
      card("Fleet",
        fleet.length ? table(["routerd", "state", "revision_num", "hash", "canary_num", "registry_num", "last seen"],
          fleet.map((f) => h("tr", {}, td(f.id), td(badge(f.state)), td(f.revision, "num"), td(h("code", {}, short(f.hash))),
            td(f.canary_revision || "-", "num"), td(f.registry_revision, "num"), td(f.last_seen + (f.reason ? " (" + f.reason + ")" : ""))))) :
          h("p", { class: "muted" }, "no routerd has reported yet")));
  }

  /* --------------------------------------------------------- policy */

  async function policy(main) {
    const revs = [];
    let next = null;
    const list = h("tbody");
    const diffOut = h("div");
    const more = h("button", { type: "button", onclick: () => page() }, "Older revisions");
    const pick = (name, rev, on) => h("input", Object.assign({ type: "radio", name: name, value: rev, "aria-label": name + " " + rev }, on ? { checked: "" } : {}));
    async function page() {
      const doc = await api("/policy/history?limit=50" + (next ? "&after=" + next : ""));
      for (const r of doc.revisions) {
        revs.push(r);
        list.append(h("tr", {}, td(pick("a", r.revision, revs.length === 2)), td(pick("b", r.revision, revs.length === 1)),
          td(r.revision, "num"), td(badge(r.state)), td(h("code", {}, short(r.hash))), td(r.author), td(r.time), td(r.message)));
      }
      next = doc.next_after;
      more.hidden = !next;
    }
    async function diff() {
      const a = main.querySelector("input[name=a]:checked"), b = main.querySelector("input[name=b]:checked");
      diffOut.replaceChildren();
      if (!a || !b) return;
      const [ra, rb] = await Promise.all([api("/policy/revisions/" + a.value), api("/policy/revisions/" + b.value)]);
      const d = window.AfDiff.lineDiff(ra.source, rb.source);
      const head = h("p", {}, "revision " + ra.revision + " (" + ra.state + ") \u2192 revision " + rb.revision + " (" + rb.state + ")");
      if (d === null) {
        diffOut.append(head, h("p", {}, "too large to compare here: af policy diff " + ra.revision + " " + rb.revision));
        return;
      }
      const adds = d.filter((x) => x.op === "add").length, dels = d.filter((x) => x.op === "del").length;
      diffOut.append(head, h("p", { class: "muted", id: "diff-stat" }, "+" + adds + " \u2212" + dels + " lines"),
        h("pre", { class: "diff" }, ...d.map((x) => h("span", { class: x.op }, (x.op === "add" ? "+ " : x.op === "del" ? "- " : "  ") + x.line))));
    }
    main.append(card("Policy history",
      h("div", { class: "controls" }, h("button", { type: "button", onclick: diff }, "Diff A \u2192 B"), more),
      h("table", {}, h("thead", {}, h("tr", {}, ...["A", "B", "rev", "state", "hash", "author", "time", "message"].map((c) => h("th", {}, c)))), list)),
      card("Diff", diffOut));
    await page();
    if (revs.length >= 2) await diff();
    return { static: true };
  }

  /* -------------------------------------------------------- rollout */

  function gateRows(ro) {
    const g = ro.gates, s = ro.stable, c = ro.canary, f = ro.fleet;
    const q = (v) => (v === null ? "-" : v.toFixed(3));
    const ratio = (a, b) => (a !== null && b ? a / b : null);
    const rows = [
      ["error rate", pct(s.error_rate), pct(c.error_rate), "delta \u2264 " + pct(g.max_error_delta), c.error_rate - s.error_rate, g.max_error_delta, pct(c.error_rate - s.error_rate)],
      ["p99 latency", s.p99_ms + " ms", c.p99_ms + " ms", "ratio \u2264 " + S.fmt(g.max_latency_ratio), ratio(c.p99_ms, s.p99_ms), g.max_latency_ratio],
      ["$ per success", usd(s.usd_per_success), usd(c.usd_per_success), "ratio \u2264 " + S.fmt(g.max_cost_ratio), ratio(c.usd_per_success, s.usd_per_success), g.max_cost_ratio],
      ["samples", s.requests, c.requests, "each \u2265 " + (g.min_samples || 0), Math.min(s.requests, c.requests), g.min_samples, String(Math.min(s.requests, c.requests)), true],
      ["quality", q(s.quality), q(c.quality), "drop \u2264 " + S.fmt(g.max_quality_drop), s.quality !== null && c.quality !== null ? s.quality - c.quality : null, g.max_quality_drop],
      ["fleet serving the step", "-", f.serving + " of " + f.live, "share \u2265 " + (g.require_fleet_pct || 0) + "%", 100 * f.serving_share, g.require_fleet_pct, pct(f.serving_share) + (f.waiting ? " (waiting)" : ""), true],
      ["fleet NACKing the canary", "-", f.nacked + " of " + f.live, "share < " + (g.max_nack_pct || 0) + "%", 100 * f.nack_share, g.max_nack_pct, pct(f.nack_share)],
    ];
    return rows.map(([name, sv, cv, gate, obs, lim, shown, atLeast]) => {
      let v = "-";
      if (!lim) return h("tr", {}, td(name), td(sv, "num"), td(cv, "num"), td("off", "muted"), td("-", "num"), td("-"));
      if (obs !== null && obs !== undefined && !isNaN(obs))
        v = badge((atLeast ? obs >= lim : obs <= lim) ? "pass" : "fail");
      return h("tr", {}, td(name), td(sv, "num"), td(cv, "num"), td(gate), td(shown !== undefined && shown !== null ? shown : obs === null || obs === undefined ? "-" : S.fmt(obs), "num"), td(v));
    });
  }

  async function rollout(main) {
    const ro = await api("/rollout");
    /* The history controld keeps: the step's cohorts so far, one point
     * every few seconds of the rollout (the spacing grows with it). */
    const s = (ro.history || []).map((p) => Object.assign({ t: Date.parse(p.at) }, p));
    /* The line breaks where a step began: its totals start afresh. */
    const series = (f) => ["stable", "canary"].map((k) => ({ name: k, cls: k,
      points: s.filter((x) => f(x[k]) !== null).map((x, i, a) => [x.t, f(x[k]), i > 0 && x.step_index !== a[i - 1].step_index]) }));
    const time = (v) => new Date(v).toISOString().slice(11, 19);
    const span = s.length > 1 ? Math.round((s[s.length - 1].t - s[0].t) / 1000) : 0;
    /* Each step's totals start afresh: mark where a step began. */
    const marks = s.filter((x, i) => i > 0 && x.step_index !== s[i - 1].step_index).map((x) => ({ x: x.t, label: "step " + (x.step_index + 1) + " (" + x.weight + "%)" }));
    main.append(card("Rollout",
      h("div", { class: "kpi" },
        h("div", {}, h("b", { id: "rollout-state" }, ro.state), h("span", {}, "state")),
        h("div", {}, h("b", {}, ro.stable_revision), h("span", {}, "stable " + short(ro.stable_hash))),
        h("div", {}, h("b", {}, ro.canary_revision || "-"), h("span", {}, "canary " + short(ro.canary_hash))),
        h("div", {}, h("b", {}, ro.weight + "%"), h("span", {}, "canary weight")),
        h("div", {}, h("b", {}, ro.steps.length ? ro.step_index + 1 + " / " + ro.steps.length : "-"), h("span", {}, "step"))),
      h("p", {}, "verdict now: ", h("strong", { id: "verdict" }, ro.verdict || "-")),
      ro.state === "none" ? h("p", { class: "muted" }, "no canary is running; last action: " + (ro.last_action || "none")) : S.steps(ro.steps, ro.step_index, ro.weight),
      h("p", { class: "hint" }, "last action: " + (ro.last_action || "-"))));
    if (ro.state === "none") return;
    main.append(
      card("Canary vs stable (this step)",
        table(["metric", "stable", "canary", "gate", "observed", "within"], gateRows(ro))),
      h("p", { class: "legend" }, h("span", { class: "stable" }, h("i"), "stable"), h("span", { class: "canary" }, h("i"), "canary"),
        h("span", { class: "muted", id: "history-note" }, s.length + " points kept by controld over " + span + " s of this rollout (each: the step so far)")),
      h("div", { class: "grid" },
        card("Error rate", S.lines(series((c) => c.error_rate), { xfmt: time, yfmt: pct, label: "error rate over time", vlines: marks,
          hlines: ro.gates.max_error_delta ? [{ y: ro.stable.error_rate + ro.gates.max_error_delta, cls: "hard", label: "stable + max delta" }] : [] })),
        card("p99 latency (ms)", S.lines(series((c) => (c.requests ? c.p99_ms : null)), { xfmt: time, label: "p99 latency over time", vlines: marks })),
        card("$ per success", S.lines(series((c) => c.usd_per_success), { xfmt: time, label: "USD per success over time", vlines: marks })),
        card("Requests this step", S.lines(series((c) => c.requests), { xfmt: time, yfmt: (v) => v.toFixed(0), label: "requests over time", vlines: marks }))));
  }

  /* -------------------------------------------------------- budgets */

  function periodStart(b) {
    const end = Date.parse(b.period_end);
    if (b.period === "day") return end - 86400000;
    const e = new Date(end);
    return Date.UTC(e.getUTCFullYear(), e.getUTCMonth() - 1, 1);
  }

  function burn(b) {
    const start = periodStart(b), end = Date.parse(b.period_end), now = Math.min(Date.now(), end);
    const used = b.spent_usd + b.leased_usd;
    const pace = now > start ? (used * (end - start)) / (now - start) : used;
    /* The pace line stops where it leaves the chart (a little above the
     * hard limit) so that a fast start does not squash the rest. */
    const top = Math.max(b.hard_usd, used) * 1.25;
    const paceEnd = pace <= top ? [end, pace] : [now + ((top - used) / (pace - used)) * (end - now), top];
    const day = (v) => new Date(v).toISOString().slice(5, 10);
    const hl = [{ y: b.hard_usd, cls: "hard", label: "hard " + usd(b.hard_usd) }];
    if (b.soft_usd !== null) hl.push({ y: b.soft_usd, cls: "soft", label: "soft " + usd(b.soft_usd), left: true });
    /* The spend as settled hour by hour (controld keeps one point per
     * hour it moved), then what is spent and leased now. */
    const spent = [[start, 0]].concat((b.history || []).map((p) => [Date.parse(p.at), p.spent_usd]), [[now, used]]);
    return S.lines([
      { name: "ideal", cls: "ideal", points: [[start, 0], [end, b.hard_usd]] },
      { name: "spent", cls: "burn", points: spent },
      { name: "pace", cls: "ideal", points: [[now, used], paceEnd] },
    ], { xmin: start, xmax: end, xfmt: day, yfmt: (v) => "$" + S.fmt(v), hlines: hl, label: "burn-down of " + b.tenant });
  }

  async function budgets(main) {
    const list = await Promise.all((await api("/budgets")).map((b) => api("/budgets/" + encodeURIComponent(b.tenant))));
    if (!list.length) {
      main.append(card("Budgets", h("p", { class: "muted" }, "no budgets: every tenant is unlimited")));
      return;
    }
    main.append(card("Spent against the hard limit",
      h("p", { class: "legend" }, h("span", { class: "spent" }, h("i"), "spent + leased"), h("span", { class: "hard" }, h("i"), "over the soft limit")),
      S.bars(list.map((b) => ({ label: b.tenant, value: b.spent_usd + b.leased_usd, cls: b.soft_usd !== null && b.spent_usd + b.leased_usd >= b.soft_usd ? "waste" : "spent",
        note: usd(b.spent_usd + b.leased_usd) + " / " + usd(b.hard_usd) })), { max: Math.max(...list.map((b) => b.hard_usd)), label: "spend per tenant" })));
    const grid = h("div", { class: "grid" });
    for (const b of list)
      grid.append(card(b.tenant + " (" + b.period + ")",
        h("div", { class: "kpi" },
          h("div", {}, h("b", {}, usd(b.spent_usd)), h("span", {}, "spent")),
          h("div", {}, h("b", {}, usd(b.leased_usd)), h("span", {}, "leased")),
          h("div", {}, h("b", {}, usd(b.remaining_usd)), h("span", {}, "remaining")),
          h("div", {}, h("b", {}, b.period_end.slice(0, 10)), h("span", {}, "period ends"))),
        burn(b),
        h("p", { class: "legend" }, h("span", { class: "spent" }, h("i"), "spent"), h("span", { class: "soft" }, h("i"), "soft"), h("span", { class: "hard" }, h("i"), "hard"),
          h("span", { class: "muted" }, "dotted: even pace, and this period's pace to its end"))));
    main.append(grid);
  }

  /* ------------------------------------------------------- showback */

  const report = { by: "tenant", since: "", until: "" };

  async function showback(main) {
    const q = "?by=" + report.by + (report.since ? "&since=" + report.since : "") + (report.until ? "&until=" + report.until : "");
    /* Workflows group by tenant or class only (a workflow's hops may use
     * several models and revisions). */
    const wby = report.by === "class" ? "class" : "tenant";
    const wq = "?unit=workflow&by=" + wby + (report.since ? "&since=" + report.since : "") + (report.until ? "&until=" + report.until : "");
    const [rows, wf] = await Promise.all([api("/report" + q), api("/report" + wq)]);
    const by = h("select", { "aria-label": "group by", onchange: (e) => { report.by = e.target.value; show(); } },
      ...["tenant", "class", "model", "revision"].map((k) => h("option", Object.assign({ value: k }, k === report.by ? { selected: "" } : {}), k)));
    const date = (k) => h("input", { type: "date", value: report[k], "aria-label": k, onchange: (e) => { report[k] = e.target.value; show(); } });
    /* money comes as 6-decimal strings: summed in whole micro-USD */
    const micro = (v) => Math.round(Number(v) * 1e6);
    const total = rows.reduce((a, r) => a + micro(r.spend_usd), 0) / 1e6, waste = rows.reduce((a, r) => a + micro(r.waste_usd), 0) / 1e6;
    main.append(card("Showback",
      h("div", { class: "controls" }, "by", by, "since", date("since"), "until", date("until")),
      h("div", { class: "kpi" },
        h("div", {}, h("b", {}, usd(total)), h("span", {}, "spend")),
        h("div", {}, h("b", {}, usd(waste)), h("span", {}, "spent on failures")),
        h("div", {}, h("b", {}, rows.reduce((a, r) => a + r.successes, 0)), h("span", {}, "successful outcomes"))),
      table([report.by, "successes_num", "failures_num", "$ spend", "$ per success", "$ waste"],
        rows.map((r) => h("tr", {}, td(r[report.by]), td(r.successes, "num"), td(r.failures, "num"), td(usd(r.spend_usd), "num"), td(usd(r.usd_per_success), "num"), td(usd(r.waste_usd), "num"))), { id: "hop-rows" })),
      h("div", { class: "grid" },
        card("$ per successful outcome", S.bars(rows.map((r) => ({ label: r[report.by], value: Number(r.usd_per_success || 0), cls: "stable", note: usd(r.usd_per_success) })), { label: "USD per success" })),
        card("Waste (spend on failures)", S.bars(rows.map((r) => ({ label: r[report.by], value: Number(r.waste_usd), cls: "waste", note: usd(r.waste_usd) })), { label: "waste" }))),
      workflows(wf, wby));
  }

  /* The workflow unit (af report --unit workflow): money comes as exact
   * 6-decimal strings. */
  function workflows(wf, by) {
    const n = (v) => (v === null ? null : Number(v));
    const sum = (k) => wf.reduce((a, r) => a + r[k], 0);
    const cost = wf.reduce((a, r) => a + n(r.cost_usd), 0), waste = wf.reduce((a, r) => a + n(r.waste_usd), 0), ok = sum("succeeded");
    return h("section", { id: "workflows" },
      card("Workflows (per outcome)",
        h("div", { class: "kpi" },
          h("div", {}, h("b", {}, sum("workflows")), h("span", {}, "workflows ended")),
          h("div", {}, h("b", {}, sum("workflows") ? pct(ok / sum("workflows")) : "-"), h("span", {}, "success rate")),
          h("div", {}, h("b", {}, ok ? usd(cost / ok) : "-"), h("span", {}, "$ per successful workflow")),
          h("div", {}, h("b", {}, usd(waste)), h("span", {}, "waste (failed and abandoned)"))),
        wf.length ? table([by, "#workflows", "#succeeded", "#failed", "#abandoned", "%success", "$ cost", "$ per success", "$ p50", "$ p95", "$ waste", "#hops"],
          wf.map((r) => h("tr", { "data-key": r[by] }, td(r[by]), td(r.workflows, "num"), td(r.succeeded, "num"), td(r.failed, "num"), td(r.abandoned, "num"),
            td(pct(r.success_rate), "num"), td(usd(n(r.cost_usd)), "num"), td(usd(n(r.usd_per_success)), "num"), td(usd(n(r.p50_success_usd)), "num"),
            td(usd(n(r.p95_success_usd)), "num"), td(usd(n(r.waste_usd)), "num"), td(r.hops, "num")))) :
          h("p", { class: "muted" }, "no workflow has ended in these days (POST /v1/outcome to routerd ends one)")),
      h("div", { class: "grid" },
        card("$ per successful workflow", S.bars(wf.map((r) => ({ label: r[by], value: n(r.usd_per_success) || 0, cls: "stable", note: usd(n(r.usd_per_success)) })), { label: "USD per successful workflow" })),
        card("Outcomes", S.stack(wf.map((r) => ({ label: r[by], parts: [{ value: r.succeeded, cls: "stable" }, { value: r.failed, cls: "waste" }, { value: r.abandoned, cls: "canary" }], note: pct(r.success_rate) + " success" })), { label: "workflow outcomes" }),
          h("p", { class: "legend" }, h("span", { class: "stable" }, h("i"), "succeeded"), h("span", { class: "waste" }, h("i"), "failed"), h("span", { class: "canary" }, h("i"), "abandoned"))),
        card("Workflow waste", S.bars(wf.map((r) => ({ label: r[by], value: n(r.waste_usd), cls: "waste", note: usd(n(r.waste_usd)) })), { label: "workflow waste" }))));
  }

  /* --------------------------------------------------------- shadow */

  async function shadow(main) {
    const sh = await api("/shadow");
    if (sh.state === "none") {
      main.append(card("Shadow evaluation", h("p", { class: "muted", id: "shadow-state" }, "none: no shadow has been started (af shadow start -f FILE)")));
      return;
    }
    const t = sh.total, share = (c) => (c.sampled ? c.changed.total / c.sampled : null);
    const kinds = ["model", "tier", "region", "route_to_deny", "deny_to_route", "deny_code"];
    const row = (name, c, cls) => h("tr", cls ? { class: cls } : { "data-class": name },
      td(name), td(c.sampled, "num"), td(c.same, "num"), td(c.agreement_pct === null ? "-" : c.agreement_pct.toFixed(2) + "%", "num"),
      td(c.changed.total, "num"), td(pct(share(c)), "num"), ...kinds.map((k) => td(c.changed[k], "num")),
      td(usd(c.cost_usd.stable), "num"), td(usd(c.cost_usd.shadow), "num"), td(c.dropped, "num"));
    main.append(card("Shadow evaluation",
      h("div", { class: "kpi" },
        h("div", {}, h("b", { id: "shadow-state" }, sh.state), h("span", {}, "state")),
        h("div", {}, h("b", {}, sh.revision), h("span", {}, "revision " + (sh.name || ""))),
        h("div", {}, h("b", {}, h("code", { id: "shadow-hash", title: sh.hash }, short(sh.hash))), h("span", {}, "shadowed hash")),
        h("div", {}, h("b", { id: "shadow-sample" }, sh.sample_pct + "%"), h("span", {}, "of requests sampled")),
        h("div", {}, h("b", { id: "shadow-agree" }, t.agreement_pct === null ? "-" : t.agreement_pct.toFixed(2) + "%"), h("span", {}, "agreement over " + t.sampled)),
        h("div", {}, h("b", { id: "shadow-dropped" }, t.dropped), h("span", {}, "dropped (queue full)"))),
      h("p", { class: "hint" }, "started " + sh.started + (sh.expires ? ", expires " + sh.expires : ", until stopped") + (sh.ended ? ", ended " + sh.ended : "") +
        "; by " + sh.author + (sh.message ? ": " + sh.message : "")),
      table(["class", "#sampled", "#same", "%agree", "#changed", "%changed"].concat(kinds.map((k) => k + "_num"), ["$ stable", "$ shadow", "#dropped"]),
        sh.classes.map((c) => row(c.class, c)).concat([row("(total)", t, "total")]), { id: "shadow-classes" })),
      h("div", { class: "grid" },
        card("Agreement and change per class",
          h("div", { id: "shadow-chart" }, S.stack(sh.classes.map((c) => ({ label: c.class, parts: [{ value: c.same, cls: "stable" }, { value: c.changed.total, cls: "canary" }, { value: c.dropped, cls: "waste" }],
            note: (c.agreement_pct === null ? "-" : c.agreement_pct.toFixed(1) + "%") + " same" })), { label: "agreement per class" })),
          h("p", { class: "legend" }, h("span", { class: "stable" }, h("i"), "same"), h("span", { class: "canary" }, h("i"), "changed"), h("span", { class: "waste" }, h("i"), "dropped"))),
        card("Changes by kind",
          S.bars(kinds.map((k) => ({ label: k, value: t.changed[k], cls: "canary", note: String(t.changed[k]) })), { label: "changes by kind", max: 1 })),
        card("Estimated cost of the routed hops",
          S.bars([{ label: "stable", value: t.cost_usd.stable, cls: "stable", note: usd(t.cost_usd.stable) }, { label: "shadow", value: t.cost_usd.shadow, cls: "canary", note: usd(t.cost_usd.shadow) }], { label: "cost both ways" }))));
  }

  /* ------------------------------------------------------ emergency */

  async function emergency(main) {
    const list = await api("/emergency");
    const scope = (o) => (o.scope.tenant || "every tenant") + " / " + (o.scope.class || "every class");
    const effect = (o) => Object.keys(o.effect).map((k) => k + (o.effect[k] === true ? "" : " " + o.effect[k])).join(", ");
    const left = (o) => Math.max(0, Math.round((Date.parse(o.expires) - Date.now()) / 1000));
    main.append(card("Emergency overrides in force",
      list.length === 0 ? h("p", { class: "muted" }, "none: every routerd decides by its bundle alone")
        : table(["id", "scope", "effect", "reason", "principal", "expires", "seconds left_num"],
          list.map((o) => h("tr", {}, td(o.id), td(scope(o)), td(effect(o)), td(o.reason), td(o.principal), td(o.expires), td(left(o), "num"))))));
  }

  /* ---------------------------------------------------------- audit */

  async function audit(main) {
    let next = null;
    const body = h("tbody");
    const more = h("button", { type: "button", onclick: () => page() }, "Older records");
    async function page() {
      const doc = await api("/audit?limit=100" + (next ? "&after=" + next : ""));
      for (const a of doc.records)
        body.append(h("tr", {}, td(a.index, "num"), td(a.time), td(a.principal), td(a.verb), td(badge(a.outcome.toLowerCase() === "ok" ? "ok" : a.outcome)), td(a.target), td(a.detail)));
      next = doc.next_after;
      more.hidden = !next;
    }
    main.append(card("Audit trail", h("table", {}, h("thead", {}, h("tr", {}, ...["index", "time", "principal", "verb", "outcome", "target", "detail"].map((c) => h("th", {}, c)))), body), more));
    await page();
    return { static: true };
  }

  /* ------------------------------------------------------------ pages */

  const views = { overview: overview, policy: policy, rollout: rollout, shadow: shadow, budgets: budgets, showback: showback, emergency: emergency, audit: audit };

  async function show() {
    const name = (location.hash || "#overview").slice(1);
    const view = views[name] || overview;
    const gen = ++generation;
    clearTimeout(timer);
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === name);
    const main = h("main", { id: "view", "data-view": name, "aria-live": "polite" });
    try {
      const r = await view(main);
      if (gen !== generation) return;
      $("#view").replaceWith(main);
      $("#error").hidden = true;
      $("#login").hidden = true;
      $("#updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
      if (!(r && r.static)) timer = setTimeout(show, REFRESH_MS);
    } catch (e) {
      if (gen !== generation || e instanceof AuthError) return;
      $("#error").textContent = e.message;
      $("#error").hidden = false;
      timer = setTimeout(show, REFRESH_MS);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#login").addEventListener("submit", (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN, $("#token").value.trim());
      $("#token").value = "";
      $("#view").hidden = false;
      $("#logout").hidden = false;
      show();
    });
    $("#logout").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN);
      $("#logout").hidden = true;
      show();
    });
    $("#logout").hidden = !sessionStorage.getItem(TOKEN);
    window.addEventListener("hashchange", show);
    show();
  });
})();
