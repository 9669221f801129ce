// Boots a real 1-node controld cluster and a real routerd (from the
// checkout's build/bin, or $AF_BIN) for the SDK tests. Ports within
// AF_PORT_BASE..AF_PORT_BASE+999 when that is set.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = process.env.AF_ROOT ?? path.resolve(here, "../../..");
const BIN = process.env.AF_BIN ?? path.join(ROOT, process.env.BUILD ?? "build", "bin");
const EXAMPLES = path.join(ROOT, "deploy", "examples");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); resolve(false); });
    s.once("error", () => resolve(true));
  });
}

async function pickBase() {
  const env = process.env.AF_PORT_BASE;
  for (let i = 0; i < 50; i++) {
    const r = Math.floor(Math.random() * (env ? 9 : 1900));
    const base = env ? Number(env) + r * 10 : 10000 + r * 10;
    const ports = [101, 102, 103, 104, 901].map((k) => base + k);
    if ((await Promise.all(ports.map(portFree))).every(Boolean)) return base;
  }
  throw new Error("no free ports");
}

/** The example bundle plus a one-slot lane (class single-lane, 200 ms
 * SLO) and a class limited to us-east-1 (class us-only). */
function testPolicy() {
  return readFileSync(path.join(EXAMPLES, "policy.yaml"), "utf8")
    .replace("\nlanes:\n", "\nlanes:\n  one-slot: { max_inflight: 1 }\n")
    .replace("\nclasses:\n", "\nclasses:\n  single-lane:\n    lane: one-slot\n    latency_slo_ms: 200\n" +
      "  us-only:\n    lane: online-standard\n    regions: [us-east-1]\n");
}

export class Cluster {
  procs = [];

  async start(routerdArgs = []) {
    this.dir = mkdtempSync(path.join(tmpdir(), "af-sdk-ts."));
    this.base = await pickBase();
    this.file = path.join(this.dir, "cluster.yaml");
    const p = this.base + 100;
    writeFileSync(this.file, `cluster: sdk
nodes:
  - id: 1
    raft: 127.0.0.1:${p + 1}
    api: tcp://127.0.0.1:${p + 2}
    pub: tcp://127.0.0.1:${p + 3}
    http: 127.0.0.1:${p + 4}
    data: ./data/node1
raft:
  heartbeat_ms: 100
  election_timeout_ms: 1000
`);
    this.port = this.base + 901;
    this.url = `http://127.0.0.1:${this.port}`;
    this.spawn("node1", path.join(BIN, "controld"), ["-c", this.file, "--id", "1"]);
    await this.wait("no leader", () => JSON.parse(this.af("--timeout", "2s", "cluster", "status", "-o", "json")).leader);
    this.af("model", "apply", "-f", path.join(EXAMPLES, "models.yaml"));
    const pol = path.join(this.dir, "policy.yaml");
    writeFileSync(pol, testPolicy());
    const hash = JSON.parse(this.af("policy", "apply", "-f", pol, "-o", "json")).hash;
    this.spawn("routerd", path.join(BIN, "routerd"),
      ["-c", this.file, "--listen", `127.0.0.1:${this.port}`, "--id", "sdk", ...routerdArgs]);
    await this.wait("routerd never served the policy", async () => (await this.status()).policy?.stable?.hash === hash);
    return this;
  }

  spawn(name, bin, args) {
    const log = openSync(path.join(this.dir, `${name}.log`), "a");
    this.procs.push(spawn(bin, args, { cwd: this.dir, stdio: ["ignore", log, log] }));
  }

  af(...args) {
    return execFileSync(path.join(BIN, "af"), ["-c", this.file, ...args], { encoding: "utf8", timeout: 20000 });
  }

  async wait(what, fn, ms = 20000) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      try {
        if (await fn()) return;
      } catch { /* not yet */ }
      await sleep(50);
    }
    throw new Error(`${what} within ${ms / 1000} s; logs in ${this.dir}`);
  }

  async status() {
    return (await fetch(this.url + "/v1/status")).json();
  }

  /** Sum of a routerd metric's samples whose labels contain `labels`. */
  async metric(name, labels = "") {
    const text = await (await fetch(this.url + "/metrics")).text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const i = line.lastIndexOf(" ");
      const key = line.slice(0, i);
      if ((key === name || key.startsWith(name + "{")) && key.includes(labels)) total += Number(line.slice(i + 1));
    }
    return total;
  }

  async stop() {
    const exits = this.procs.reverse().map((p) => new Promise((r) => {
      if (p.exitCode !== null) return r();
      p.once("exit", r);
      p.kill("SIGTERM");
      setTimeout(() => { p.kill("SIGKILL"); }, 10000).unref();
    }));
    await Promise.all(exits);
    if (!process.env.KEEP) rmSync(this.dir, { recursive: true, force: true });
  }
}
