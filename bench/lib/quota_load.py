#!/usr/bin/env python3
"""Closed-loop load against routerds sharing a fleet-wide quota (bench/quota.sh).

CLIENTS threads each loop until DURATION is over: POST /v1/route to a routerd
picked at random (as a load balancer would), and
  - on a route, hold the hop HOLD_MS, then POST /v1/report of it;
  - on QUOTA_EXCEEDED, wait retry_after_ms (as a client should) and go on.
With --semaphore N the clients first take one of N tokens before each hop:
the same offered load held to N in flight by the clients themselves, for a
run without a quota.

The fleet-wide in-flight count is counted on the client side, twice:
  low  = hops whose route answer arrived and whose report was not yet sent.
         Every hop counted here is reserved on its routerd, so low never
         exceeds the true count: a `low` above the limit is a real breach.
  high = hops whose route answer arrived and whose report was not yet
         answered. Every hop reserved on a routerd and already answered is
         counted, so high never falls below the true count.
(a) max_inflight: the highest `low`, sampled at every admission.
(b) a denial is "while free" when high at the moment the route request was
    sent, plus every admission until its answer arrived, stays below the
    limit: the fleet had a free unit during the whole time the denying
    routerd could have decided. Printed per request and per denial.
Prints one JSON object.
"""
import argparse
import http.client
import json
import random
import threading
import time


class Counts:
    def __init__(self):
        self.mu = threading.Lock()
        self.low = self.high = self.max_low = self.max_high = 0
        self.admits = self.denied = self.denied_free = self.other = 0
        self.over = 0  # admissions that saw low above the limit
        self.first_denied = 0  # denials before each routerd's first route
        self.seen = set()
        self.lat = []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True)
    ap.add_argument("--tenant", required=True)
    ap.add_argument("--limit", type=int, required=True)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--hold-ms", type=int, default=200)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--semaphore", type=int, default=0)
    a = ap.parse_args()
    ports = [int(p) for p in a.ports.split(",")]
    c = Counts()
    sem = threading.Semaphore(a.semaphore) if a.semaphore else None
    end = time.monotonic() + a.duration

    def post(conns, port, path, body):
        for attempt in (0, 1):
            conn = conns.get(port)
            if conn is None:
                conn = conns[port] = http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=10)
            try:
                conn.request("POST", path, body,
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                del conns[port]
                if attempt:
                    raise
        return 0, b""

    def client(k):
        conns = {}
        i = 0
        while time.monotonic() < end:
            i += 1
            port = random.choice(ports)
            req = json.dumps({
                "workflow_id": "wf-%d-%d" % (k, i), "tenant": a.tenant,
                "class": "research-agent", "input_tokens": 1000,
                "output_tokens": 200})
            if sem:
                sem.acquire()
            with c.mu:
                high0, admits0 = c.high, c.admits
            t0 = time.monotonic()
            _, body = post(conns, port, "/v1/route", req)
            t1 = time.monotonic()
            d = json.loads(body)
            if d.get("decision") == "route":
                with c.mu:
                    c.low += 1
                    c.high += 1
                    c.admits += 1
                    c.max_low = max(c.max_low, c.low)
                    c.max_high = max(c.max_high, c.high)
                    if c.low > a.limit:
                        c.over += 1
                    c.seen.add(port)
                    c.lat.append(t1 - t0)
                time.sleep(a.hold_ms / 1000)
                with c.mu:
                    c.low -= 1
                rep = json.dumps({
                    "decision_id": d["decision_id"],
                    "workflow_id": "wf-%d-%d" % (k, i), "tenant": a.tenant,
                    "class": "research-agent", "model": d.get("model"),
                    "region": d.get("region"), "ok": True,
                    "latency_ms": a.hold_ms, "input_tokens": 1000,
                    "output_tokens": 200})
                post(conns, port, "/v1/report", rep)
                with c.mu:
                    c.high -= 1
                if sem:
                    sem.release()
                continue
            if sem:
                sem.release()
            if d.get("code") != "QUOTA_EXCEEDED":
                with c.mu:
                    c.other += 1
                time.sleep(0.05)
                continue
            with c.mu:
                c.denied += 1
                if high0 + (c.admits - admits0) < a.limit:
                    c.denied_free += 1
                    if port not in c.seen:
                        c.first_denied += 1
            time.sleep(min(d.get("retry_after_ms", 50), 60000) / 1000)

    ts = [threading.Thread(target=client, args=(k,), daemon=True)
          for k in range(a.clients)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    reqs = c.admits + c.denied + c.other
    lat = sorted(c.lat) or [0]
    print(json.dumps({
        "seconds": round(el, 1), "requests": reqs, "admitted": c.admits,
        "admitted_per_s": round(c.admits / el, 1),
        "utilization": round(c.admits * a.hold_ms / 1000 / el / a.limit, 3),
        "denied": c.denied,
        "other": c.other, "max_inflight": c.max_low,
        "max_inflight_upper": c.max_high, "over_limit_admits": c.over,
        "denied_while_free": c.denied_free,
        "denied_while_free_before_first_route": c.first_denied,
        "denied_while_free_share":
            round(c.denied_free / reqs, 4) if reqs else 0,
        "denied_while_free_of_denials":
            round(c.denied_free / c.denied, 4) if c.denied else 0,
        "route_p50_ms": round(lat[len(lat) // 2] * 1000, 2)}))


if __name__ == "__main__":
    main()
