#!/usr/bin/env python3
"""Schema checks of the shipped deployment files, with no cluster and no
network: every document of the Kubernetes manifests against the shapes of
the Kubernetes API objects it uses (apiVersion, kind, the fields and types
of the published OpenAPI definitions for the parts the manifests use,
unknown fields refused, as `kubectl apply --validate=strict` does), and the
Grafana dashboard against the dashboard JSON model (schemaVersion 38).

usage: schema_check.py k8s FILE.yaml...
       schema_check.py grafana FILE.json
Prints one line per file; exits 1 naming the document and the path of the
first error.
"""
import json
import sys

import jsonschema
import yaml

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
STRMAP = {"type": "object", "additionalProperties": STR}
INT_OR_STR = {"type": ["integer", "string"]}
QUANTITY = {"type": ["string", "integer", "number"]}
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        "maxLength": 253}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}


def obj(props, required=(), extra=False):
    """An object with these properties (refusing others unless extra)."""
    s = {"type": "object", "properties": props,
         "additionalProperties": extra}
    if required:
        s["required"] = list(required)
    return s


def arr(items, min_items=0):
    return {"type": "array", "items": items, "minItems": min_items}


METADATA = obj({"name": NAME, "namespace": NAME, "labels": STRMAP,
                "annotations": STRMAP}, ["name"])
TEMPLATE_META = obj({"labels": STRMAP, "annotations": STRMAP})
SELECTOR = obj({"matchLabels": STRMAP,
                "matchExpressions": arr(obj(
                    {"key": STR, "operator": {"enum": [
                        "In", "NotIn", "Exists", "DoesNotExist"]},
                     "values": arr(STR)}, ["key", "operator"]))})
HTTP_GET = obj({"path": STR, "port": INT_OR_STR,
                "scheme": {"enum": ["HTTP", "HTTPS"]}}, ["port"])
PROBE = obj({"httpGet": HTTP_GET,
             "exec": obj({"command": arr(STR, 1)}, ["command"]),
             "tcpSocket": obj({"port": INT_OR_STR}, ["port"]),
             "initialDelaySeconds": INT, "periodSeconds": INT,
             "timeoutSeconds": INT, "failureThreshold": INT,
             "successThreshold": INT})
ENV = obj({"name": STR, "value": STR,
           "valueFrom": obj({
               "fieldRef": obj({"fieldPath": STR}, ["fieldPath"]),
               "secretKeyRef": obj({"name": STR, "key": STR}, ["key"]),
               "configMapKeyRef": obj({"name": STR, "key": STR}, ["key"])})},
          ["name"])
RESOURCES = obj({"requests": {"type": "object",
                              "additionalProperties": QUANTITY},
                 "limits": {"type": "object",
                            "additionalProperties": QUANTITY}})
CAPS = obj({"add": arr(STR), "drop": arr(STR)})
SECCOMP = obj({"type": {"enum": ["RuntimeDefault", "Localhost",
                                 "Unconfined"]},
               "localhostProfile": STR}, ["type"])
CONTAINER_SC = obj({"allowPrivilegeEscalation": BOOL,
                    "readOnlyRootFilesystem": BOOL, "runAsNonRoot": BOOL,
                    "runAsUser": INT, "runAsGroup": INT,
                    "privileged": BOOL, "capabilities": CAPS,
                    "seccompProfile": SECCOMP})
POD_SC = obj({"runAsNonRoot": BOOL, "runAsUser": INT, "runAsGroup": INT,
              "fsGroup": INT, "seccompProfile": SECCOMP,
              "supplementalGroups": arr(INT)})
CONTAINER = obj({
    "name": NAME, "image": STR, "command": arr(STR), "args": arr(STR),
    "env": arr(ENV), "workingDir": STR,
    "ports": arr(obj({"name": {"type": "string", "maxLength": 15},
                      "containerPort": PORT,
                      "protocol": {"enum": ["TCP", "UDP", "SCTP"]}},
                     ["containerPort"])),
    "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
    "resources": RESOURCES, "securityContext": CONTAINER_SC,
    "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
    "volumeMounts": arr(obj({"name": STR, "mountPath": STR,
                             "subPath": STR, "readOnly": BOOL},
                            ["name", "mountPath"]))}, ["name", "image"])
KEY_PATHS = arr(obj({"key": STR, "path": STR, "mode": INT},
                    ["key", "path"]))
VOLUME = obj({
    "name": NAME,
    "configMap": obj({"name": STR, "items": KEY_PATHS, "defaultMode": INT,
                      "optional": BOOL}),
    "secret": obj({"secretName": STR, "items": KEY_PATHS,
                   "defaultMode": INT, "optional": BOOL}),
    "emptyDir": obj({"medium": STR, "sizeLimit": QUANTITY}),
    "persistentVolumeClaim": obj({"claimName": STR, "readOnly": BOOL},
                                 ["claimName"])}, ["name"])
AFFINITY_TERM = obj({"topologyKey": STR, "labelSelector": SELECTOR},
                    ["topologyKey"])
AFFINITY = obj({"podAntiAffinity": obj({
    "requiredDuringSchedulingIgnoredDuringExecution": arr(AFFINITY_TERM),
    "preferredDuringSchedulingIgnoredDuringExecution": arr(obj(
        {"weight": {"type": "integer", "minimum": 1, "maximum": 100},
         "podAffinityTerm": AFFINITY_TERM},
        ["weight", "podAffinityTerm"]))})})
POD_SPEC = obj({"containers": arr(CONTAINER, 1),
                "initContainers": arr(CONTAINER), "volumes": arr(VOLUME),
                "securityContext": POD_SC, "affinity": AFFINITY,
                "terminationGracePeriodSeconds": INT,
                "serviceAccountName": STR,
                "nodeSelector": STRMAP}, ["containers"])
POD_TEMPLATE = obj({"metadata": TEMPLATE_META, "spec": POD_SPEC}, ["spec"])
PVC_TEMPLATE = obj({"metadata": obj({"name": NAME, "labels": STRMAP},
                                    ["name"]),
                    "spec": obj({
                        "accessModes": arr({"enum": [
                            "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany",
                            "ReadWriteOncePod"]}, 1),
                        "storageClassName": STR,
                        "resources": RESOURCES}, ["accessModes",
                                                   "resources"])},
                   ["metadata", "spec"])


def kind(api, name, spec=None, required=("spec",), more=None):
    props = {"apiVersion": {"const": api}, "kind": {"const": name},
             "metadata": METADATA}
    if spec is not None:
        props["spec"] = spec
    props.update(more or {})
    return obj(props, ["apiVersion", "kind", "metadata", *required])


SCHEMAS = {
    ("v1", "ConfigMap"): kind("v1", "ConfigMap", required=(),
                              more={"data": STRMAP}),
    ("v1", "Secret"): kind("v1", "Secret", required=(), more={
        "type": STR, "stringData": STRMAP,
        "data": {"type": "object", "additionalProperties": {
            "type": "string", "pattern": r"^[A-Za-z0-9+/=]*$"}}}),
    ("v1", "Service"): kind("v1", "Service", obj({
        "clusterIP": STR, "publishNotReadyAddresses": BOOL,
        "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer",
                          "ExternalName"]},
        "selector": STRMAP,
        "ports": arr(obj({"name": STR, "port": PORT,
                          "targetPort": INT_OR_STR,
                          "protocol": {"enum": ["TCP", "UDP", "SCTP"]}},
                         ["port"]), 1)}, ["ports"])),
    ("apps/v1", "StatefulSet"): kind("apps/v1", "StatefulSet", obj({
        "serviceName": STR, "replicas": INT,
        "podManagementPolicy": {"enum": ["OrderedReady", "Parallel"]},
        "selector": SELECTOR, "template": POD_TEMPLATE,
        "volumeClaimTemplates": arr(PVC_TEMPLATE),
        "updateStrategy": obj({"type": {"enum": [
            "RollingUpdate", "OnDelete"]}})},
        ["serviceName", "selector", "template"])),
    ("apps/v1", "Deployment"): kind("apps/v1", "Deployment", obj({
        "replicas": INT, "selector": SELECTOR, "template": POD_TEMPLATE},
        ["selector", "template"])),
    ("policy/v1", "PodDisruptionBudget"): kind(
        "policy/v1", "PodDisruptionBudget", {
            **obj({"minAvailable": INT_OR_STR,
                   "maxUnavailable": INT_OR_STR, "selector": SELECTOR},
                  ["selector"]),
            "oneOf": [{"required": ["minAvailable"]},
                      {"required": ["maxUnavailable"]}]}),
    ("networking.k8s.io/v1", "NetworkPolicy"): kind(
        "networking.k8s.io/v1", "NetworkPolicy", obj({
            "podSelector": SELECTOR,
            "policyTypes": arr({"enum": ["Ingress", "Egress"]}),
            "ingress": arr(obj({
                "from": arr(obj({"podSelector": SELECTOR,
                                 "namespaceSelector": SELECTOR,
                                 "ipBlock": obj({"cidr": STR,
                                                 "except": arr(STR)},
                                                ["cidr"])})),
                "ports": arr(obj({"protocol": {"enum": ["TCP", "UDP",
                                                        "SCTP"]},
                                  "port": INT_OR_STR, "endPort": INT}))}))},
            ["podSelector"])),
}

TARGET = obj({"refId": STR, "expr": {"type": "string", "minLength": 1},
              "legendFormat": STR, "instant": BOOL, "range": BOOL,
              "format": {"enum": ["time_series", "table", "heatmap"]},
              "datasource": obj({"type": {"const": "prometheus"},
                                 "uid": STR}, ["type", "uid"])},
             ["refId", "expr", "datasource"])
GRID = obj({"x": {"type": "integer", "minimum": 0, "maximum": 23},
            "y": {"type": "integer", "minimum": 0},
            "w": {"type": "integer", "minimum": 1, "maximum": 24},
            "h": {"type": "integer", "minimum": 1}}, ["x", "y", "w", "h"])
PANEL = obj({
    "id": {"type": "integer", "minimum": 1}, "title": STR,
    "type": {"enum": ["row", "stat", "timeseries", "table", "gauge",
                      "bargauge", "text", "heatmap"]},
    "gridPos": GRID, "datasource": obj({"type": STR, "uid": STR}),
    "targets": arr(TARGET), "fieldConfig": obj({
        "defaults": {"type": "object"}, "overrides": arr({})}),
    "options": {"type": "object"}, "collapsed": BOOL,
    "panels": arr({}), "description": STR, "transformations": arr({})},
    ["id", "type", "title", "gridPos"])
DASHBOARD = obj({
    "title": {"type": "string", "minLength": 1},
    "uid": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,40}$"},
    "schemaVersion": {"type": "integer", "minimum": 36},
    "version": INT, "editable": BOOL, "tags": arr(STR),
    "time": obj({"from": STR, "to": STR}, ["from", "to"]),
    "refresh": STR, "timezone": STR, "description": STR,
    "templating": obj({"list": arr({"type": "object",
                                    "required": ["name", "type"]})}),
    "annotations": obj({"list": arr({})}),
    "panels": arr(PANEL, 1)}, ["title", "uid", "schemaVersion", "panels"])


def fail(msg):
    print(f"schema_check: {msg}", file=sys.stderr)
    sys.exit(1)


def where(err):
    return "/".join(str(p) for p in err.absolute_path) or "(top)"


def check_k8s(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if not docs:
        fail(f"{path}: no documents")
    seen = set()
    for i, d in enumerate(docs, 1):
        key = (d.get("apiVersion"), d.get("kind"))
        schema = SCHEMAS.get(key)
        if schema is None:
            fail(f"{path}: document {i}: no schema for {key[1]} "
                 f"{key[0]} (add it to tests/schema_check.py)")
        errs = sorted(jsonschema.Draft7Validator(schema).iter_errors(d),
                      key=lambda e: list(e.absolute_path))
        if errs:
            name = d.get("metadata", {}).get("name", "?")
            fail(f"{path}: document {i} ({key[1]} {name}): "
                 f"{where(errs[0])}: {errs[0].message}")
        ident = (key[1], d["metadata"]["name"])
        if ident in seen:
            fail(f"{path}: {ident[0]} {ident[1]} appears twice")
        seen.add(ident)
    print(f"{path}: {len(docs)} documents valid "
          f"({', '.join(sorted({k for k, _ in seen}))})")


def check_grafana(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    errs = list(jsonschema.Draft7Validator(DASHBOARD).iter_errors(d))
    if errs:
        fail(f"{path}: {where(errs[0])}: {errs[0].message}")
    ids = [p["id"] for p in d["panels"]]
    if len(ids) != len(set(ids)):
        fail(f"{path}: panel ids repeat")
    for p in d["panels"]:
        g = p["gridPos"]
        if g["x"] + g["w"] > 24:
            fail(f"{path}: panel {p['id']} passes the 24-column grid")
        if p["type"] != "row" and not p.get("targets"):
            fail(f"{path}: panel {p['id']} has no query")
    print(f"{path}: dashboard valid ({len(ids)} panels)")


def main(argv):
    if len(argv) < 3 or argv[1] not in ("k8s", "grafana"):
        fail(__doc__.strip().splitlines()[-4])
    for path in argv[2:]:
        (check_k8s if argv[1] == "k8s" else check_grafana)(path)


if __name__ == "__main__":
    main(sys.argv)
