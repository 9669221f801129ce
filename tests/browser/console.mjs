// Drives Debian's chromium (headless) through controld's console:
//   node console.mjs BASE_URL TOKEN EXPECT.json SHOTS_DIR
// (TOKEN "-": the cluster has no auth)
// EXPECT.json holds what af printed for the same cluster (cluster status,
// policy history, canary status, budget list and one budget, report per
// hop and per workflow, shadow status, emergency overrides, audit). The test
// signs in with the token, then on every page checks that what is shown
// is that data, that an SVG chart drew elements, and that the page logged
// no error; a screenshot of each page goes to SHOTS_DIR.
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync, statSync } from "node:fs";

const [base, token, expectFile, shots] = process.argv.slice(2);
const want = JSON.parse(readFileSync(expectFile, "utf8"));
const problems = [];
const fail = (m) => {
  throw new Error(m);
};
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Before the token is given, the browser logs the API's 401 answer: that
  // refusal is what makes the page ask for the token. Nothing else may log.
  let signedIn = false;
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (!signedIn && /status of 401/.test(m.text())) return;
    problems.push("console: " + m.text());
  });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("requestfailed", (r) => problems.push("request failed: " + r.url()));
  page.on("request", (r) => {
    if (!r.url().startsWith(base)) problems.push("request outside controld: " + r.url());
  });

  // Sign in: the cluster asks for a token, the page asks for it. Token
  // "-": a cluster without auth: the console opens directly.
  await page.goto(base + "/ui/");
  if (token === "-") {
    signedIn = true;
    await page.waitForSelector("main[data-view=overview] #leader");
    if (await page.isVisible("#login")) fail("a cluster without auth asks for a token");
  } else {
    await page.waitForSelector("#login:not([hidden])");
    const why = await page.textContent("#login-why");
    if (!/token is required/.test(why)) fail("login says: " + why);
    signedIn = true;
    await page.fill("#token", token);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("main[data-view=overview] #leader");
  }

  // Overview: the real leader and members, drawn bars.
  const leader = await page.textContent("#leader");
  if (leader !== String(want.cluster.leader)) fail(`leader shown ${leader}, af says ${want.cluster.leader}`);
  const rows = await page.$$eval("#members tbody tr", (trs) =>
    trs.map((tr) => ({ id: Number(tr.dataset.node), role: tr.children[1].textContent, cls: tr.className })));
  const nodes = want.cluster.nodes.map((n) => ({ id: n.id, role: n.role }));
  if (JSON.stringify(rows.map((r) => ({ id: r.id, role: r.role }))) !== JSON.stringify(nodes))
    fail("members shown " + JSON.stringify(rows) + ", af says " + JSON.stringify(nodes));
  if (!rows.find((r) => r.id === want.cluster.leader && r.cls === "leader")) fail("leader row not marked");
  const bars = await page.$$eval("#fleet-chart svg rect", (rs) => rs.map((r) => Number(r.getAttribute("data-value"))));
  if (bars.length !== 4 || bars[0] !== want.fleet.length || !(Number(await page.getAttribute("#fleet-chart svg rect", "width")) > 0))
    fail("fleet chart bars " + JSON.stringify(bars) + " for " + want.fleet.length + " routerds");
  await page.screenshot({ path: shots + "/overview.png", fullPage: true });

  // Policy: every revision listed, the newest two diffed.
  await page.click("a[data-view=policy]");
  await page.waitForSelector("main[data-view=policy] #diff-stat");
  const revs = await page.$$eval("main[data-view=policy] tbody tr td:nth-child(3)", (t) => t.map((x) => Number(x.textContent)));
  const wantRevs = want.history.revisions.map((r) => r.revision);
  if (JSON.stringify(revs) !== JSON.stringify(wantRevs)) fail("history shows " + revs + ", af says " + wantRevs);
  if (!(await page.$("pre.diff span.add")) || !(await page.$("pre.diff span.del"))) fail("the diff shows no change");
  await page.screenshot({ path: shots + "/policy.png", fullPage: true });

  // Rollout: the canary, its verdict, both cohorts' lines.
  await page.click("a[data-view=rollout]");
  await page.waitForSelector("main[data-view=rollout] #verdict");
  const verdict = await page.textContent("#verdict");
  if (verdict !== want.canary.verdict) fail(`verdict shown ${verdict}, af says ${want.canary.verdict}`);
  const text = await page.textContent("main[data-view=rollout]");
  if (!text.includes(String(want.canary.canary.requests))) fail("canary sample count not shown");
  // The lines are the history controld keeps (af canary status has it
  // too): a vertex per point, at least as many as af saw a moment ago.
  const hist = want.canary.history.length;
  const starts = want.canary.history.filter((p, i, a) => i > 0 && p.step_index !== a[i - 1].step_index).length;
  if (hist < 2) fail("af canary status has " + hist + " history points");
  for (const k of ["stable", "canary"]) {
    const v = await page.$$eval(`main[data-view=rollout] svg path.line.${k}`, (p) => p.map((x) => (x.getAttribute("d").match(/[ML]/g) || []).length));
    const pieces = await page.$$eval(`main[data-view=rollout] svg path.line.${k}`, (p) => p.map((x) => (x.getAttribute("d").match(/M/g) || []).length));
    if (pieces[0] !== 1 + starts) fail(k + " error rate line in " + pieces[0] + " pieces for " + starts + " step starts");
    // error rate and requests have a value at every point; p99 and
    // $/success only once the cohort has requests, successes.
    if (v.length !== 4 || v[0] < hist || v[3] < hist) fail(k + " lines with " + v + " vertices for " + hist + " history points");
  }
  // A mark on each chart where a step began (the totals start afresh).
  const marks = (await page.$$("main[data-view=rollout] svg line.step-mark")).length;
  if (starts < 1 || marks < 4 * starts) fail(marks + " step marks for " + starts + " step starts in af's history");
  if (!/points kept by controld/.test(await page.textContent("#history-note"))) fail("history note: " + (await page.textContent("#history-note")));
  await page.screenshot({ path: shots + "/rollout.png", fullPage: true });

  // Shadow: the shadowed hash, the sample rate, per class the agreement,
  // the changed share and the samples, the drops: what af shadow status says.
  await page.click("a[data-view=shadow]");
  await page.waitForSelector("main[data-view=shadow] #shadow-classes");
  const sh = want.shadow;
  if ((await page.getAttribute("#shadow-hash", "title")) !== sh.hash) fail("shadow hash shown " + (await page.getAttribute("#shadow-hash", "title")) + ", af says " + sh.hash);
  if ((await page.textContent("#shadow-sample")) !== sh.sample_pct + "%") fail("sample rate " + (await page.textContent("#shadow-sample")));
  if ((await page.textContent("#shadow-state")) !== sh.state) fail("shadow state " + (await page.textContent("#shadow-state")));
  if ((await page.textContent("#shadow-dropped")) !== String(sh.total.dropped)) fail("drops shown " + (await page.textContent("#shadow-dropped")) + ", af says " + sh.total.dropped);
  const shRows = await page.$$eval("#shadow-classes tbody tr[data-class]", (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  const pc = (v) => (v === null ? "-" : (v * 100).toFixed(2) + "%");
  const wantSh = sh.classes.map((c) => [c.class, String(c.sampled), String(c.same), c.agreement_pct === null ? "-" : c.agreement_pct.toFixed(2) + "%",
    String(c.changed.total), pc(c.sampled ? c.changed.total / c.sampled : null)]);
  if (JSON.stringify(shRows.map((r) => r.slice(0, 6))) !== JSON.stringify(wantSh)) fail("shadow rows " + JSON.stringify(shRows) + ", af says " + JSON.stringify(wantSh));
  if (shRows.some((r, i) => r[r.length - 1] !== String(sh.classes[i].dropped))) fail("per-class drops " + JSON.stringify(shRows));
  const seg = await page.$$eval("#shadow-chart svg rect", (rs) => rs.map((r) => Number(r.getAttribute("data-value"))));
  const wantSeg = sh.classes.flatMap((c) => [c.same, c.changed.total, c.dropped].filter((v) => v > 0));
  if (JSON.stringify(seg) !== JSON.stringify(wantSeg)) fail("shadow chart segments " + seg + ", af's counts " + wantSeg);
  await page.screenshot({ path: shots + "/shadow.png", fullPage: true });

  // Budgets: one burn-down per tenant with its hard line.
  await page.click("a[data-view=budgets]");
  await page.waitForSelector("main[data-view=budgets] section.card");
  for (const b of want.budgets) {
    const t = await page.textContent("main[data-view=budgets]");
    if (!t.includes(b.tenant)) fail("budget of " + b.tenant + " not shown");
  }
  const hard = await page.$$("main[data-view=budgets] svg line.hard");
  if (hard.length !== want.budgets.length) fail(hard.length + " hard lines for " + want.budgets.length + " budgets");
  // The spent line follows the hourly history controld keeps: its start,
  // a vertex per point, and now.
  const vertices = await page.$$eval("main[data-view=budgets] svg path.line.burn", (p) =>
    p.map((x) => (x.getAttribute("d").match(/[ML]/g) || []).length));
  const ct = want.budgets.findIndex((b) => b.tenant === "claims-team");
  if (vertices.length !== want.budgets.length) fail(vertices.length + " spent lines for " + want.budgets.length + " budgets");
  // A settlement in a new hour adds a point: an hour may have begun
  // between af's answer (the expect file) and this page's.
  const hourOf = (ms) => Math.floor(ms / 3600000);
  const newHour = hourOf(statSync(expectFile).mtimeMs) !== hourOf(Date.now());
  const wantVertices = want.claims_team.history.length + 2;
  if (vertices[ct] !== wantVertices && !(newHour && vertices[ct] === wantVertices + 1))
    fail("claims-team's spent line has " + vertices[ct] + " vertices, its history " + want.claims_team.history.length + " points");
  await page.screenshot({ path: shots + "/budgets.png", fullPage: true });

  // Showback: the rows af reports, a bar per row.
  await page.click("a[data-view=showback]");
  await page.waitForSelector("main[data-view=showback] table");
  const keys = await page.$$eval("#hop-rows tbody tr td:first-child", (t) => t.map((x) => x.textContent));
  const wantKeys = want.report.map((r) => r.tenant);
  if (JSON.stringify(keys) !== JSON.stringify(wantKeys)) fail("showback rows " + keys + ", af says " + wantKeys);
  if ((await page.$$("main[data-view=showback] svg rect")).length < 2 * wantKeys.length) fail("showback bars missing");
  // The workflow unit: outcomes, success rate, $ per successful workflow
  // and waste per row, as af report --unit workflow gives them.
  const wfRows = await page.$$eval("#workflows tbody tr", (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  const money = (v) => (v === null ? "-" : "$" + Number(v).toFixed(Number(v) !== 0 && Math.abs(Number(v)) < 0.01 ? 6 : Math.abs(Number(v)) < 1 && Number(v) !== 0 ? 4 : 2));
  const wantWf = want.workflows.map((r) => [r.tenant, String(r.workflows), String(r.succeeded), String(r.failed), String(r.abandoned),
    (r.success_rate * 100).toFixed(2) + "%", money(r.cost_usd), money(r.usd_per_success)]);
  if (JSON.stringify(wfRows.map((r) => r.slice(0, 8))) !== JSON.stringify(wantWf)) fail("workflow rows " + JSON.stringify(wfRows) + ", af says " + JSON.stringify(wantWf));
  if (wfRows.some((r, i) => r[10] !== money(want.workflows[i].waste_usd))) fail("workflow waste " + JSON.stringify(wfRows));
  if ((await page.$$("#workflows svg rect")).length < 2 * wantWf.length) fail("workflow bars missing");
  await page.screenshot({ path: shots + "/showback.png", fullPage: true });

  // Emergency: every override in force, as af emergency list shows them.
  await page.click("a[data-view=emergency]");
  await page.waitForSelector("main[data-view=emergency] section.card");
  const ids = await page.$$eval("main[data-view=emergency] tbody tr td:first-child", (t) => t.map((x) => x.textContent));
  const wantIds = want.emergency.map((o) => o.id);
  if (JSON.stringify(ids) !== JSON.stringify(wantIds)) fail("overrides " + ids + ", af says " + wantIds);
  const et = await page.textContent("main[data-view=emergency]");
  if (!et.includes("drain_lane batch-offline") || !et.includes("batch lane drained for the console")) fail("override effect or reason not shown: " + et);
  await page.screenshot({ path: shots + "/emergency.png", fullPage: true });

  // Audit: newest first, as af audit lists it.
  await page.click("a[data-view=audit]");
  await page.waitForSelector("main[data-view=audit] tbody tr");
  const first = await page.textContent("main[data-view=audit] tbody tr td");
  if (Number(first) !== want.audit.records[0].index) fail(`audit starts at ${first}, af says ${want.audit.records[0].index}`);
  await page.screenshot({ path: shots + "/audit.png", fullPage: true });

  if (await page.isVisible("#error")) fail("error shown: " + (await page.textContent("#error")));
  if (problems.length) fail(problems.join("\n"));
  console.log("# console: 8 pages rendered the cluster's data, no errors; screenshots in " + shots);
} finally {
  await browser.close();
}
