"""docs/openapi.yaml stays true to vigild.

1. The document is a well-formed OpenAPI 3.1 description: the top-level keys, every operation
   with responses and a unique operationId, every `$ref` resolving inside the file, every path
   template parameter declared, public operations without security and state-changing
   authenticated ones requiring the CSRF header next to the session cookie.
2. It documents exactly the routes of the route table `routes[]` in src/server/server.c
   (method and path, `{...}` parameters normalised), each with the permission the table
   requires (`x-vigil-permission`, names taken from src/auth/auth.c).
3. Against the real vigild (tests/integration/harness.py, env VIGILD): replies of a
   representative set of endpoints (GET lists and aggregations, and the POSTs used to create
   what they list) carry every `required` key of the documented schema for their status, at
   every level the schema describes (objects, array items, allOf/oneOf), with the documented
   JSON types, enums and constants; errors match the Error schema; /metrics and /api/v1/stream
   have the documented content types.

Needs PyYAML (Debian: python3-yaml); skipped with a message when it is missing.
"""

import json
import os
import re
import sys
import time
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, ServerTestCase  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    yaml = None

SPEC_PATH = os.path.join(REPO, "docs", "openapi.yaml")
SERVER_C = os.path.join(REPO, "src", "server", "server.c")
AUTH_C = os.path.join(REPO, "src", "auth", "auth.c")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
STATE_CHANGING = ("post", "put", "patch", "delete")
NO_YAML = "PyYAML is not installed (apt-get install python3-yaml): openapi checks skipped"


def load_spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def norm_path(p):
    """/api/v1/users/{id} and /api/v1/users/{user_id} are the same route."""
    return re.sub(r"\{[^}/]*\}", "{}", p)


def code_routes():
    """(METHOD, path, handler, perm symbol) of every entry of routes[] in server.c."""
    with open(SERVER_C, encoding="utf-8") as f:
        src = f.read()
    m = re.search(r"\bstruct\s+vig_route\s+routes\s*\[\s*\]\s*=\s*\{(.*?)\n\};", src, re.S)
    if not m:
        raise AssertionError("routes[] table not found in src/server/server.c")
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    entry = re.compile(r'\{\s*EVHTTP_REQ_([A-Z]+)\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*(\w+)\s*(?:,\s*(?:true|false)\s*)?\}')
    routes = entry.findall(body)
    # every brace group in the table must be a recognised entry: a format change fails here
    # (path parameters are blanked first: a path may hold several, e.g. the TAXII routes)
    groups = re.findall(r"\{[^{}]*\}", re.sub(r'"[^"]*"', '""', body))
    if len(groups) != len(routes):
        raise AssertionError("routes[]: %d entries, %d recognised; update the regex in %s"
                             % (len(groups), len(routes), __file__))
    return routes


def perm_names():
    """VIG_PERM_* symbol -> permission name, from the PERM_NAMES table of src/auth/auth.c."""
    with open(AUTH_C, encoding="utf-8") as f:
        src = f.read()
    names = dict(re.findall(r'\[\s*(VIG_PERM_[A-Z_]+)\s*\]\s*=\s*"([a-z_]+:[a-z_]+)"', src))
    names["PERM_PUBLIC"] = "none"
    names["PERM_ANY"] = "any"
    names["PERM_AGENT"] = "agent"  # a verified agent client certificate (api_agents.c)
    return names


class Resolver:
    def __init__(self, doc):
        self.doc = doc

    def pointer(self, ref):
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise KeyError("not a local reference: %r" % (ref,))
        node = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise KeyError("unresolved $ref %s (at %r)" % (ref, part))
        return node

    def deref(self, node, depth=0):
        while isinstance(node, dict) and "$ref" in node:
            if depth > 32:
                raise KeyError("$ref loop")
            node = self.pointer(node["$ref"])
            depth += 1
        return node


def all_refs(node, where="#"):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield where, v
            else:
                yield from all_refs(v, where + "/" + str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_refs(v, "%s/%d" % (where, i))


def operations(doc):
    for path, item in (doc.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and method in item:
                yield path, method, item, item[method]


JSON_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def conform(res, value, schema, where, depth=0):
    """Problems of value against the subset of JSON Schema the document uses."""
    schema = res.deref(schema)
    if not isinstance(schema, dict) or depth > 24:
        return []
    if "oneOf" in schema or "anyOf" in schema:
        branches = schema.get("oneOf") or schema.get("anyOf")
        results = [conform(res, value, b, where, depth + 1) for b in branches]
        if not any(not r for r in results):
            return ["%s: matches none of %d alternatives (%s)" % (where, len(results),
                                                                  "; ".join(r[0] for r in results))]
    problems = []
    for sub in schema.get("allOf", []):
        problems += conform(res, value, sub, where, depth + 1)
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(JSON_TYPES[x](value) for x in types):
            return problems + ["%s: expected %s, got %s" % (where, "/".join(types),
                                                            type(value).__name__)]
    if "const" in schema and value != schema["const"]:
        problems.append("%s: expected %r, got %r" % (where, schema["const"], value))
    if "enum" in schema and value not in schema["enum"]:
        problems.append("%s: %r not in %r" % (where, value, schema["enum"]))
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                problems.append("%s: required key %r missing (keys: %s)"
                                % (where, k, sorted(value)))
        for k, sub in (schema.get("properties") or {}).items():
            if k in value:
                problems += conform(res, value[k], sub, "%s.%s" % (where, k), depth + 1)
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(schema.get("properties") or {})
            if extra:
                problems.append("%s: undocumented keys %s" % (where, sorted(extra)))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value[:25]):
            problems += conform(res, item, schema["items"], "%s[%d]" % (where, i), depth + 1)
    return problems


@unittest.skipIf(yaml is None, NO_YAML)
class OpenApiDocumentTest(unittest.TestCase):
    """Static checks: the document and the route table."""

    @classmethod
    def setUpClass(cls):
        cls.doc = load_spec()
        cls.res = Resolver(cls.doc)

    def test_top_level(self):
        d = self.doc
        self.assertIsInstance(d, dict)
        self.assertRegex(str(d.get("openapi")), r"^3\.1\.\d+$")
        self.assertEqual(d["info"]["title"], "Vigil API")
        self.assertEqual(d["info"]["version"], "0.1.0")
        self.assertIsInstance(d.get("paths"), dict)
        self.assertTrue(d["paths"])
        for p in d["paths"]:
            self.assertTrue(p.startswith("/"), p)
        schemes = d["components"]["securitySchemes"]
        self.assertEqual(schemes["bearerAuth"]["type"], "http")
        self.assertEqual(schemes["bearerAuth"]["scheme"], "bearer")
        self.assertEqual((schemes["cookieAuth"]["type"], schemes["cookieAuth"]["in"],
                          schemes["cookieAuth"]["name"]), ("apiKey", "cookie", "vigil_session"))
        self.assertEqual((schemes["csrfToken"]["in"], schemes["csrfToken"]["name"]),
                         ("header", "X-CSRF-Token"))
        err = d["components"]["schemas"]["Error"]
        self.assertEqual(sorted(err["required"]), ["code", "error"])

    def test_refs_resolve(self):
        refs = list(all_refs(self.doc))
        self.assertGreater(len(refs), 50)
        for where, ref in refs:
            with self.subTest(at=where):
                try:
                    self.res.pointer(ref)
                except (KeyError, ValueError, IndexError) as e:
                    self.fail("%s: %s" % (where, e))

    def test_operations_well_formed(self):
        seen_ids = set()
        schemes = set(self.doc["components"]["securitySchemes"])
        for path, method, item, op in operations(self.doc):
            with self.subTest(op="%s %s" % (method.upper(), path)):
                self.assertTrue(op.get("summary"), "summary missing")
                self.assertIn("operationId", op)
                self.assertNotIn(op["operationId"], seen_ids, "duplicate operationId")
                seen_ids.add(op["operationId"])
                self.assertIsInstance(op.get("responses"), dict)
                self.assertTrue(op["responses"], "no responses")
                for status, resp in op["responses"].items():
                    self.assertRegex(str(status), r"^([1-5][0-9][0-9]|[1-5]XX|default)$")
                    self.assertIn("description", self.res.deref(resp))
                self.assertTrue(any(str(s).startswith("2") for s in op["responses"]),
                                "no success response")
                # path template parameters are declared (path- or operation-level)
                declared = set()
                for prm in list(item.get("parameters", [])) + list(op.get("parameters", [])):
                    prm = self.res.deref(prm)
                    if prm.get("in") == "path":
                        self.assertTrue(prm.get("required"), "path parameter not required")
                        declared.add(prm["name"])
                self.assertEqual(set(re.findall(r"\{([^}]+)\}", path)), declared)
                for req in op.get("security", self.doc.get("security", [])):
                    self.assertTrue(set(req) <= schemes, req)

    def test_security_matches_permission(self):
        for path, method, _, op in operations(self.doc):
            with self.subTest(op="%s %s" % (method.upper(), path)):
                perm = op.get("x-vigil-permission")
                self.assertIsNotNone(perm, "x-vigil-permission missing")
                sec = op.get("security", self.doc["security"])
                if perm == "none":
                    self.assertEqual(sec, [], "public operation with security")
                    continue
                if perm == "agent":  # mutual TLS only (docs/agent-protocol.md)
                    self.assertEqual(sec, [{"agentCert": []}], "agent operation security")
                    continue
                names = [sorted(r) for r in sec]
                self.assertIn(["bearerAuth"], names)
                if method in STATE_CHANGING:
                    # the session cookie alone is not enough: X-CSRF-Token goes with it
                    self.assertIn(["cookieAuth", "csrfToken"], names)
                    self.assertNotIn(["cookieAuth"], names)
                else:
                    self.assertIn(["cookieAuth"], names)

    def test_routes_match_code(self):
        perms = perm_names()
        code = {}
        for method, path, handler, perm in code_routes():
            self.assertIn(perm, perms, "%s: unknown permission symbol %s" % (path, perm))
            key = (method.lower(), norm_path(path))
            self.assertNotIn(key, code, "route listed twice in server.c: %s %s" % key)
            code[key] = (path, perms[perm])
        self.assertGreater(len(code), 20)
        documented = {}
        for path, method, _, op in operations(self.doc):
            documented[(method, norm_path(path))] = (path, op.get("x-vigil-permission"))
        missing = sorted("%s %s" % (m.upper(), code[(m, p)][0]) for m, p in set(code) - set(documented))
        extra = sorted("%s %s" % (m.upper(), documented[(m, p)][0])
                       for m, p in set(documented) - set(code))
        self.assertEqual(missing, [], "routes of server.c missing from docs/openapi.yaml")
        self.assertEqual(extra, [], "documented operations that server.c does not route")
        for key, (path, perm) in code.items():
            with self.subTest(route="%s %s" % (key[0].upper(), path)):
                self.assertEqual(documented[key][1], perm, "x-vigil-permission differs from routes[]")

    def test_api_md_points_here(self):
        with open(os.path.join(REPO, "docs", "api.md"), encoding="utf-8") as f:
            self.assertIn("docs/openapi.yaml", f.read())


RULE = """title: OpenAPI check %(marker)s
id: %(id)s
status: experimental
level: high
tags:
  - attack.execution
  - attack.t1059.004
logsource:
  category: process_creation
  product: linux
detection:
  sel:
    CommandLine|contains: '%(marker)s'
  condition: sel
"""


@unittest.skipIf(yaml is None, NO_YAML)
class OpenApiLiveTest(ServerTestCase):
    maxDiff = None
    """Replies of the real server against the documented schemas."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.doc = load_spec()
        cls.res = Resolver(cls.doc)

    def schema_for(self, method, path, status, ctype="application/json"):
        op = self.doc["paths"][path][method.lower()]
        resp = op["responses"].get(str(status)) or op["responses"].get(status)
        if resp is None:
            resp = op["responses"].get("%sXX" % str(status)[0]) or op["responses"].get("default")
        self.assertIsNotNone(resp, "%s %s: status %s not documented" % (method, path, status))
        resp = self.res.deref(resp)
        self.assertIn(ctype, resp.get("content", {}),
                      "%s %s %s: %s not documented" % (method, path, status, ctype))
        return resp["content"][ctype]["schema"]

    def check(self, method, doc_path, url=None, body=None, headers=None, expect=200, token=True):
        r = self.server.request(method, url or doc_path, body, headers=headers,
                                token=self.token if token else None)
        self.assertEqual(r.status, expect, "%s %s: %r" % (method, url or doc_path, r))
        ctype = (r.header("Content-Type") or "").split(";")[0]
        self.assertEqual(ctype, "application/json", "%s %s" % (method, url))
        value = r.json()
        problems = conform(self.res, value, self.schema_for(method, doc_path, r.status),
                           "%s %s" % (method, url or doc_path))
        self.assertEqual(problems, [], "reply differs from docs/openapi.yaml")
        return value

    def wait_for(self, fn, what, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    def test_live_replies(self):
        s, marker = self.server, "oapi" + uuid.uuid4().hex[:10]
        rule_id = str(uuid.uuid4())

        # public and caller endpoints
        self.check("GET", "/api/v1/health", token=False)
        self.check("GET", "/api/v1/setup", token=False)
        me = self.check("GET", "/api/v1/me")
        self.assertEqual(me["auth"], "token")
        self.check("GET", "/api/v1/fields")

        # things to list
        self.check("POST", "/api/v1/tenants", body={"id": "oapi-t", "name": "OpenAPI"},
                   expect=201)
        self.check("GET", "/api/v1/tenants/{id}", "/api/v1/tenants/oapi-t")
        self.check("POST", "/api/v1/users", expect=201,
                   body={"username": "oapi-user", "password": "oapi-user-password-1",
                         "role": "customer_viewer", "tenant": "oapi-t"})
        self.check("POST", "/api/v1/tokens", body={"name": "oapi", "role": "tier1",
                                                   "expires_in_s": 3600}, expect=201)
        self.check("POST", "/api/v1/rules", body=RULE % {"marker": marker, "id": rule_id},
                   headers={"Content-Type": "application/yaml"}, expect=201)

        def loaded():
            j = self.check("GET", "/api/v1/rules", "/api/v1/rules?limit=1000")
            return any(x["id"] == rule_id and x["loaded"] for x in j["rules"]) \
                and not j["engine"]["pending"]
        self.wait_for(loaded, "the rule to be live")

        now = int(time.time())
        events = [{"@timestamp": (now - 60 * i) * 1000, "host": {"name": "oapi-%d" % (i % 3)},
                   "event": {"category": "process", "type": "start"}, "user": {"name": "root"},
                   "agent": {"id": "oapi-agent"},  # an agent event: logsource product linux
                   "process": {"command_line": "/bin/sh -c %s-%d" % (marker, i),
                               "executable": "/bin/sh"}} for i in range(12)]
        lines = [json.dumps(e) for e in events] + ["{not json"]
        ing = self.check("POST", "/api/v1/events", url="/api/v1/events",
                         body="\n".join(lines) + "\n",
                         headers={"Content-Type": "application/x-ndjson",
                                  "X-Vigil-Batch-Id": "oapi-" + marker})
        self.assertEqual((ing["accepted"], ing["rejected"], ing["duplicate"]), (12, 1, False))
        self.assertEqual(ing["errors"][0]["line"], 13)

        q = quote("process.command_line:*%s*" % marker)
        found = self.check("GET", "/api/v1/events", "/api/v1/events?q=%s&limit=50" % q)
        self.assertEqual(found["count"], 12)
        self.check("GET", "/api/v1/events/count", "/api/v1/events/count?q=%s" % q)
        top = self.check("GET", "/api/v1/events/top", "/api/v1/events/top?field=host.name&q=%s" % q)
        self.assertEqual(len(top["buckets"]), 3)
        hist = self.check("GET", "/api/v1/events/histogram",
                          "/api/v1/events/histogram?interval=3600&q=%s" % q)
        self.assertEqual(hist["interval_s"], 3600)

        def alerts():
            j = self.check("GET", "/api/v1/alerts", "/api/v1/alerts?rule=%s" % rule_id)
            return j["alerts"]
        alert = self.wait_for(alerts, "an alert of the rule")[0]
        self.check("GET", "/api/v1/alerts/{id}", "/api/v1/alerts/%d" % alert["id"])
        self.check("PATCH", "/api/v1/alerts/{id}", "/api/v1/alerts/%d" % alert["id"],
                   body={"status": "acknowledged", "assignee": "admin"})
        self.check("GET", "/api/v1/incidents")

        # lists and audit
        self.check("GET", "/api/v1/tenants")
        self.check("GET", "/api/v1/users")
        self.check("GET", "/api/v1/tokens")
        audit = self.check("GET", "/api/v1/audit", "/api/v1/audit?limit=50")
        self.assertTrue(audit["audit"])
        self.check("POST", "/api/v1/audit/verify")
        self.check("PATCH", "/api/v1/rules/{id}", "/api/v1/rules/%s" % rule_id,
                   body={"enabled": False})

    def test_errors_follow_the_error_schema(self):
        r = self.check("GET", "/api/v1/me", token=False, expect=401)
        self.assertEqual(r["code"], "eauth")
        r = self.check("GET", "/api/v1/events/top", "/api/v1/events/top", expect=400)
        self.assertEqual(r["code"], "einval")
        self.check("GET", "/api/v1/alerts/{id}", "/api/v1/alerts/999999", expect=404)
        self.check("PATCH", "/api/v1/users/{id}", "/api/v1/users/999999", body={"disabled": True},
                   expect=404)
        self.check("POST", "/api/v1/rules", body="title: [unterminated", expect=400,
                   headers={"Content-Type": "application/yaml"})

    def test_text_endpoints(self):
        r = self.server.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertIn("text/plain", self.schema_content_types("/metrics", "get", 200))
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        self.assertIn(b"vigil_http_requests_total", r.body)

        self.assertIn("text/event-stream", self.schema_content_types("/api/v1/stream", "get", 200))
        conn = self.server.connection(timeout=30)
        try:
            conn.request("GET", "/api/v1/stream", headers={"Authorization": "Bearer " + self.token})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
            first = resp.read1(64)
            self.assertTrue(first.startswith(b"retry: "), first)
        finally:
            conn.close()

    def schema_content_types(self, path, method, status):
        resp = self.res.deref(self.doc["paths"][path][method]["responses"][str(status)])
        return set(resp.get("content", {}))


if __name__ == "__main__":
    unittest.main()
