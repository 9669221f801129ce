"""Boots a real 1-node controld cluster and a real routerd (from the
checkout's build/bin, or $AF_BIN; the example bundle of $AF_ROOT, default
the checkout) for the SDK tests; stops them at the end.

Ports: within AF_PORT_BASE..AF_PORT_BASE+999 when that is set.
"""
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.environ.get("AF_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "../../.."))
BIN = os.environ.get("AF_BIN") or os.path.join(
    ROOT, os.environ.get("BUILD", "build"), "bin")
EXAMPLES = os.path.join(ROOT, "deploy", "examples")


def port_free(p):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", p)) != 0


def pick_base():
    env = os.environ.get("AF_PORT_BASE")
    for _ in range(50):
        if env:
            base = int(env) + random.randrange(9) * 10
        else:
            base = 10000 + random.randrange(1900) * 10
        ports = [base + 100 + k for k in range(1, 5)] + [base + 901]
        if all(port_free(p) for p in ports):
            return base
    raise RuntimeError("no free ports")


def test_policy():
    """The example bundle plus a one-slot lane (class single-lane, 200 ms
    SLO) and a class limited to us-east-1 (class us-only)."""
    with open(os.path.join(EXAMPLES, "policy.yaml"), encoding="utf-8") as f:
        text = f.read()
    text = text.replace("\nlanes:\n", "\nlanes:\n  one-slot: { max_inflight: 1 }\n")
    return text.replace("\nclasses:\n", "\nclasses:\n"
                        "  single-lane:\n    lane: one-slot\n"
                        "    latency_slo_ms: 200\n"
                        "  us-only:\n    lane: online-standard\n"
                        "    regions: [us-east-1]\n")


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="af-sdk-python.")
        self.base = pick_base()
        self.procs = []
        self.file = os.path.join(self.dir, "cluster.yaml")
        p = self.base + 100
        with open(self.file, "w", encoding="utf-8") as f:
            f.write(f"""cluster: sdk
nodes:
  - id: 1
    raft: 127.0.0.1:{p + 1}
    api: tcp://127.0.0.1:{p + 2}
    pub: tcp://127.0.0.1:{p + 3}
    http: 127.0.0.1:{p + 4}
    data: ./data/node1
raft:
  heartbeat_ms: 100
  election_timeout_ms: 1000
""")
        self.routerd_port = self.base + 901
        self.url = f"http://127.0.0.1:{self.routerd_port}"

    def spawn(self, name, args):
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        self.procs.append(subprocess.Popen(args, stdout=log, stderr=log,
                                           cwd=self.dir))

    def af(self, *args):
        out = subprocess.run([os.path.join(BIN, "af"), "-c", self.file,
                              *args], capture_output=True, text=True,
                             timeout=20)
        if out.returncode != 0:
            raise RuntimeError(f"af {args}: {out.stderr}")
        return out.stdout

    def wait(self, what, fn, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except (OSError, RuntimeError, ValueError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{what} within {seconds} s; logs in {self.dir}")

    def start(self, routerd_args=()):
        self.spawn("node1", [os.path.join(BIN, "controld"), "-c", self.file,
                             "--id", "1"])
        self.wait("no leader", lambda: json.loads(
            self.af("--timeout", "2s", "cluster", "status", "-o", "json")
        ).get("leader"))
        self.af("model", "apply", "-f", os.path.join(EXAMPLES, "models.yaml"))
        pol = os.path.join(self.dir, "policy.yaml")
        with open(pol, "w", encoding="utf-8") as f:
            f.write(test_policy())
        h = json.loads(self.af("policy", "apply", "-f", pol, "-o",
                               "json"))["hash"]
        self.spawn("routerd", [os.path.join(BIN, "routerd"), "-c", self.file,
                               "--listen", f"127.0.0.1:{self.routerd_port}",
                               "--id", "sdk", *routerd_args])
        self.wait("routerd never served the policy",
                  lambda: self.status()["policy"]["stable"]["hash"] == h)

    def status(self):
        with urllib.request.urlopen(self.url + "/v1/status", timeout=2) as r:
            return json.load(r)

    def metric(self, name, labels=""):
        """Sum of a routerd metric's samples whose labels contain `labels`."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=2) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            key, _, val = line.rpartition(" ")
            if (key == name or key.startswith(name + "{")) and labels in key:
                total += float(val)
        return total

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster():
    c = Cluster()
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def url(cluster):
    return cluster.url
