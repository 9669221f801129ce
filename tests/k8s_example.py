#!/usr/bin/env python3
"""What the Kubernetes example must hold together, beyond each object's
schema (tests/schema_check.py): the StatefulSet, its headless Service and
the cluster file of the ConfigMap name the same pods and ports; the raft
port is open to controld pods only; the PodDisruptionBudget keeps a
quorum; the routerd sidecar's token is the one whose hash the tokens
Secret holds.

usage: k8s_example.py CONTROLD.yaml ROUTERD.yaml OUTDIR
Writes OUTDIR/cluster.yaml and OUTDIR/tokens (the ConfigMap's cluster file
with the tokens path pointing at OUTDIR/tokens) for `controld --check`,
prints the node count, exits 1 naming the first mismatch.
"""
import hashlib
import sys

import yaml


def fail(msg):
    print(f"k8s_example: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def one(objs, kind):
    found = [d for (k, _), d in objs.items() if k == kind]
    if len(found) != 1:
        fail(f"expected one {kind}, found {len(found)}")
    return found[0]


def container(pod_spec, name):
    for c in pod_spec["containers"]:
        if c["name"] == name:
            return c
    fail(f"no container {name}")
    return None


def ports(c):
    return {p["name"]: p["containerPort"] for p in c.get("ports", [])}


def check_statefulset(objs, cfg):
    sts = one(objs, "StatefulSet")
    svc = objs.get(("Service", sts["spec"]["serviceName"]))
    if svc is None:
        fail(f"no Service {sts['spec']['serviceName']} for the StatefulSet")
    s = svc["spec"]
    if s.get("clusterIP") != "None" or not s.get("publishNotReadyAddresses"):
        fail("the StatefulSet's Service must be headless "
             "(clusterIP: None) and publishNotReadyAddresses: true")
    if sts["spec"].get("podManagementPolicy") != "Parallel":
        fail("podManagementPolicy must be Parallel (a quorum starts "
             "together)")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    sel = sts["spec"]["selector"]["matchLabels"]
    if any(labels.get(k) != v for k, v in sel.items()) or \
            any(labels.get(k) != v for k, v in s["selector"].items()):
        fail("the pods' labels do not match the selectors")
    c = container(sts["spec"]["template"]["spec"], "controld")
    if "--id-from-hostname" not in c["command"]:
        fail("controld must take its id from the pod name "
             "(--id-from-hostname)")
    nodes = cfg["nodes"]
    if sts["spec"]["replicas"] != len(nodes):
        fail(f"{sts['spec']['replicas']} replicas, {len(nodes)} nodes")
    cp = ports(c)
    for i, n in enumerate(sorted(nodes, key=lambda n: n["id"])):
        pod = f"{sts['metadata']['name']}-{i}"
        if n["id"] != i + 1:
            fail(f"node ids must be 1..{len(nodes)} (pod {pod} is "
                 f"node {i + 1})")
        for key, url in (("raft", n["raft"]), ("api", n["api"]),
                         ("pub", n["pub"])):
            host, port = url.split("://")[-1].rsplit(":", 1)
            if host.split(".")[:2] != [pod, svc["metadata"]["name"]]:
                fail(f"node {n['id']} {key}: {host} is not pod {pod} "
                     f"under Service {svc['metadata']['name']}")
            if int(port) != cp.get(key):
                fail(f"node {n['id']} {key} port {port}: the container "
                     f"has {cp.get(key)}")
        if not n.get("raft_bind", "").startswith("0.0.0.0:"):
            fail(f"node {n['id']}: raft_bind 0.0.0.0:PORT (a pod's own "
                 "name may resolve only once it runs)")
    return sts, sel, cp


def check_policies(objs, sel, cp, n_nodes):
    pdb = one(objs, "PodDisruptionBudget")
    if pdb["spec"]["selector"]["matchLabels"] != sel:
        fail("the PodDisruptionBudget selects other pods")
    if pdb["spec"].get("minAvailable") != n_nodes // 2 + 1:
        fail(f"minAvailable must be a quorum, {n_nodes // 2 + 1}")
    np = one(objs, "NetworkPolicy")
    if np["spec"]["podSelector"]["matchLabels"] != sel:
        fail("the NetworkPolicy applies to other pods")
    for rule in np["spec"]["ingress"]:
        rports = {p["port"] for p in rule.get("ports", [])}
        if cp["raft"] in rports or not rports:
            peers = rule.get("from", [])
            if not peers or any(p.get("podSelector", {}).get(
                    "matchLabels") != sel for p in peers):
                fail("the raft port must admit controld pods only")


def check_tokens(objs, routerd_objs, cfg, outdir):
    auth = objs.get(("Secret", "af-auth"))
    if auth is None:
        fail("no Secret af-auth")
    tokens = auth["stringData"]["tokens"]
    with open(f"{outdir}/tokens", "w", encoding="utf-8") as f:
        f.write(tokens)
    cfg["auth"]["tokens"] = f"{outdir}/tokens"
    roles = {line.split()[0]: line.split()[1]
             for line in tokens.splitlines() if line.strip()}
    dep = one(routerd_objs, "Deployment")
    spec = dep["spec"]["template"]["spec"]
    r = container(spec, "routerd")
    env = {e["name"]: e.get("value") for e in r.get("env", [])}
    if "AF_TOKEN_FILE" not in env:
        fail("routerd takes its token from AF_TOKEN_FILE")
    if "--token" in r["command"]:
        fail("a token on routerd's command line")
    mounts = {m["mountPath"]: m["name"] for m in r["volumeMounts"]}
    d, file = env["AF_TOKEN_FILE"].rsplit("/", 1)
    vol = next(v for v in spec["volumes"] if v["name"] == mounts.get(d))
    sec = routerd_objs[("Secret", vol["secret"]["secretName"])]
    tok = sec["stringData"][file].strip()
    if roles.get(hashlib.sha256(tok.encode()).hexdigest()) != "routerd":
        fail("the sidecar's token has no routerd line in Secret af-auth")
    listen = r["command"][r["command"].index("--listen") + 1]
    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    if listen.startswith("127.") and ann.get("prometheus.io/port") == \
            listen.rsplit(":", 1)[1]:
        fail("prometheus.io/port points at routerd's loopback port")
    sts_image = one(objs, "StatefulSet")["spec"]["template"]["spec"][
        "containers"][0]["image"]
    if r["image"] != sts_image:
        fail(f"routerd runs {r['image']}, controld {sts_image}")


def main(argv):
    if len(argv) != 4:
        fail("usage: k8s_example.py CONTROLD.yaml ROUTERD.yaml OUTDIR")
    objs, routerd_objs, outdir = load(argv[1]), load(argv[2]), argv[3]
    cm = objs.get(("ConfigMap", "af-cluster"))
    if cm is None:
        fail("no ConfigMap af-cluster")
    cfg = yaml.safe_load(cm["data"]["cluster.yaml"])
    sts, sel, cp = check_statefulset(objs, cfg)
    check_policies(objs, sel, cp, len(cfg["nodes"]))
    check_tokens(objs, routerd_objs, cfg, outdir)
    with open(f"{outdir}/cluster.yaml", "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    print(len(cfg["nodes"]))


if __name__ == "__main__":
    main(sys.argv)
