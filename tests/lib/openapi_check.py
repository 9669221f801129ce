"""Validates real HTTP response bodies against api/openapi.yaml.

Usage: openapi_check.py OPENAPI_YAML MANIFEST
MANIFEST has one response a line: METHOD PATH STATUS FILE, where PATH is
the path as the document spells it (/api/v1/policy/revisions/{rev}) and
FILE holds the body. Every response must be documented (its status, else
`default`) and its JSON body must match the schema. Prints one line per
response; exits 1 when any fails, 2 on a bad document or manifest.
"""
import json
import sys

import jsonschema
import yaml


def load_document(path):
    with open(path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    if not str(spec.get("openapi", "")).startswith("3.1"):
        raise SystemExit(f"{path}: not an OpenAPI 3.1 document")
    for name, schema in spec["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            raise SystemExit(f"{path}: schema {name}: {e.message}")
    return spec


def deref(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise SystemExit(f"unsupported $ref {ref}")
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def response_schema(spec, method, path, status):
    """The schema of a documented response, else an error string."""
    op = spec["paths"].get(path, {}).get(method.lower())
    if op is None:
        return None, f"{method} {path} is not in the document"
    responses = op["responses"]
    rsp = responses.get(str(status), responses.get("default"))
    if rsp is None:
        return None, f"{method} {path}: status {status} is not documented"
    content = deref(spec, rsp).get("content", {})
    media = content.get("application/json")
    if media is None:
        return None, f"{method} {path} {status}: no JSON body documented"
    return media["schema"], None


def check(spec, method, path, status, body):
    """Returns None when the body matches, else what is wrong."""
    schema, err = response_schema(spec, method, path, status)
    if err:
        return err
    try:
        doc = json.loads(body)
    except ValueError as e:
        return f"body is not JSON ({e}): {body[:200]!r}"
    # A oneOf with a discriminator: validate against the branch the body
    # names, so a drift is reported in that branch's terms.
    top = deref(spec, schema)
    disc = top.get("discriminator") if isinstance(top, dict) else None
    if disc and isinstance(doc, dict):
        target = disc["mapping"].get(str(doc.get(disc["propertyName"])))
        if target is None:
            return (f"{disc['propertyName']} is {doc.get(disc['propertyName'])!r}, "
                    f"not one of {sorted(disc['mapping'])}")
        schema = {"$ref": target}
    resolver = jsonschema.RefResolver.from_schema(spec)
    v = jsonschema.Draft202012Validator(schema, resolver=resolver)
    errors = list(v.iter_errors(doc))
    if not errors:
        return None
    # The most specific cause (inside oneOf branches too), then the rest.
    lines = []
    for e in [jsonschema.exceptions.best_match(errors)] + errors[:4]:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        msg = e.message if len(e.message) < 160 else e.message[:157] + "..."
        lines.append(f"at {where}: {msg}")
    return "\n  ".join(lines)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    spec = load_document(argv[1])
    failed = n = 0
    with open(argv[2], encoding="utf-8") as m:
        for lineno, line in enumerate(m, 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 4:
                print(f"{argv[2]}:{lineno}: want METHOD PATH STATUS FILE",
                      file=sys.stderr)
                return 2
            method, path, status, fname = parts
            with open(fname, encoding="utf-8") as f:
                body = f.read()
            n += 1
            err = check(spec, method, path, int(status), body)
            if err:
                failed += 1
                print(f"FAIL {method} {path} {status} ({fname}):\n  {err}")
            else:
                print(f"ok   {method} {path} {status}")
    print(f"{n - failed} of {n} responses match {argv[1]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
