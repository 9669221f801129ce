// Drives Debian's chromium (headless) through controld's console:
//   node console.mjs BASE_URL TOKEN EXPECT.json SHOTS_DIR
// EXPECT.json holds what af printed for the same cluster (cluster status,
// policy history, canary status, budget list and one budget, report,
// emergency overrides, audit). The test
// signs in with the token, then on every page checks that what is shown
// is that data, that an SVG chart drew elements, and that the page logged
// no error; a screenshot of each page goes to SHOTS_DIR.
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";

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

  // Sign in: the cluster asks for a token, the page asks for it.
  await page.goto(base + "/ui/");
  await page.waitForSelector("#login:not([hidden])");
  const why = await page.textContent("#login-why");
  if (!/token is required/.test(why)) fail("login says: " + why);
  signedIn = true;
  await page.fill("#token", token);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("main[data-view=overview] #leader");

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
  for (const k of ["stable", "canary"])
    if (!(await page.$(`main[data-view=rollout] svg path.line.${k}`))) fail("no " + k + " line drawn");
  await page.screenshot({ path: shots + "/rollout.png", fullPage: true });

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
  if (vertices[ct] !== want.claims_team.history.length + 2)
    fail("claims-team's spent line has " + vertices[ct] + " vertices, its history " + want.claims_team.history.length + " points");
  await page.screenshot({ path: shots + "/budgets.png", fullPage: true });

  // Showback: the rows af reports, a bar per row.
  await page.click("a[data-view=showback]");
  await page.waitForSelector("main[data-view=showback] table");
  const keys = await page.$$eval("main[data-view=showback] tbody tr td:first-child", (t) => t.map((x) => x.textContent));
  const wantKeys = want.report.map((r) => r.tenant);
  if (JSON.stringify(keys) !== JSON.stringify(wantKeys)) fail("showback rows " + keys + ", af says " + wantKeys);
  if ((await page.$$("main[data-view=showback] svg rect")).length < 2 * wantKeys.length) fail("showback bars missing");
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
  console.log("# console: 7 pages rendered the cluster's data, no errors; screenshots in " + shots);
} finally {
  await browser.close();
}
