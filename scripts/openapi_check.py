#!/usr/bin/env python3
"""Validate responses recorded by `crabglamp sim --record FILE` against Hetzner's OpenAPI document.

Input: one or more record files, one JSON object per line:
    {"method": "GET", "path": "/servers/{id}", "status": 200, "body": {...} | null}
`path` may be a route template ("/servers/{id}") or a concrete path ("/servers/42"), with or
without the "/v1" prefix and a query string.

For each recorded response the script finds the operation in the spec (path template + method),
picks the response entry for the status ("200", then "4xx"/"5xx", then "default"), converts its
OpenAPI 3.0 schema into JSON Schema (draft 7) and validates the body:

* `nullable: true` becomes `type: [T, "null"]` (and adds null to an `enum`); beside `allOf`,
  `oneOf`, `anyOf` or `$ref` it becomes `anyOf: [{"type": "null"}, <schema>]`.
* `$ref`s (`#/components/...`) are resolved inline.
* `integer` accepts JSON integers only (2.0 is refused: hcloud-go decodes ints strictly,
  docs/hetzner-api.md §13.1); `format` date-time / decimal / int32 / int64 are checked.
* Responses with no content in the spec (204) must have no body.
* Error statuses (>= 400) must carry the error envelope `{"error": {"code", "message",
  "details"?}}` (docs/hetzner-api.md §3) and nothing else; when the operation has no entry for
  the status, the envelope is the whole check. A success status the operation does not list
  fails, and so does a path the spec does not know.

Output: one line per failure (method, path, status, JSON path of the field, message), then the
last line `counts: PASSED FAILED`. Exit status 0 when nothing failed, 1 otherwise, 2 on bad
usage (spec or record file missing).

`--self-test` runs the converter and matcher against hand-made bodies and real fragments of the
spec instead of reading record files.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from jsonschema import Draft7Validator, FormatChecker, validators

# Keywords whose values are a single sub-schema / a list of them / a map of them.
_SUB_ONE = ("items", "not", "additionalProperties")
_SUB_LIST = ("allOf", "oneOf", "anyOf")
_SUB_MAP = ("properties", "patternProperties")
# OpenAPI-only keywords that mean nothing (or something else) to JSON Schema.
# (`example` is kept: draft 7 ignores it, and the self-test samples bodies from it.)
_OPENAPI_ONLY = ("nullable", "discriminator", "xml", "externalDocs", "deprecated",
                 "readOnly", "writeOnly")

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


class SpecError(Exception):
    """The OpenAPI document is missing, unreadable or has an unresolvable `$ref`."""


def _resolve_pointer(spec: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise SpecError(f"only local $refs are supported, got {ref!r}")
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SpecError(f"unresolvable $ref {ref!r}")
        node = node[part]
    return node


def to_json_schema(node: Any, spec: dict, _stack: tuple[str, ...] = ()) -> Any:
    """Convert an OpenAPI 3.0 schema object into a self-contained draft-7 JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(n, spec, _stack) for n in node]
    if not isinstance(node, dict):
        return node
    nullable = node.get("nullable") is True
    if "$ref" in node:
        ref = node["$ref"]
        if ref in _stack:
            raise SpecError(f"recursive $ref {ref!r} is not supported")
        target = to_json_schema(_resolve_pointer(spec, ref), spec, _stack + (ref,))
        # Siblings of $ref are ignored by OpenAPI 3.0, except that we honour `nullable`.
        return {"anyOf": [{"type": "null"}, target]} if nullable else target

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY:
            continue
        if key in _SUB_ONE and isinstance(value, dict):
            out[key] = to_json_schema(value, spec, _stack)
        elif key in _SUB_LIST:
            out[key] = [to_json_schema(v, spec, _stack) for v in value]
        elif key in _SUB_MAP:
            out[key] = {k: to_json_schema(v, spec, _stack) for k, v in value.items()}
        else:
            out[key] = copy.deepcopy(value)

    if not nullable:
        return out
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        if "null" not in types:
            out["type"] = types + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
        if any(k in out for k in _SUB_LIST):
            # A null must not be rejected by the combinator either.
            combo = {k: out.pop(k) for k in _SUB_LIST if k in out}
            return {"anyOf": [{"type": "null"}, {**out, **combo}]}
        return out
    if any(k in out for k in _SUB_LIST) or "enum" in out:
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
            if not any(k in out for k in _SUB_LIST):
                return out
        return {"anyOf": [{"type": "null"}, out]}
    return out  # no type and no combinator: anything, null included


def _is_int(_checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft7Validator,
    type_checker=Draft7Validator.TYPE_CHECKER.redefine("integer", _is_int),
)

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _check_date_time(value: Any) -> bool:
    return not isinstance(value, str) or bool(_RFC3339.match(value))


@_FORMATS.checks("decimal")
def _check_decimal(value: Any) -> bool:
    return not isinstance(value, str) or bool(_DECIMAL.match(value))


@_FORMATS.checks("int32")
def _check_int32(value: Any) -> bool:
    return not _is_int(None, value) or -(2**31) <= value < 2**31


@_FORMATS.checks("int64")
def _check_int64(value: Any) -> bool:
    return not _is_int(None, value) or -(2**63) <= value < 2**63


def make_validator(schema: dict) -> Any:
    """A draft-7 validator with strict integers and Hetzner's formats checked."""
    return _Validator(schema, format_checker=_FORMATS)


# The generic error envelope, docs/hetzner-api.md §3. Every operation in the spec carries it
# as its "4xx"/"5xx" response, e.g.
#   jq '.paths["/servers"].get.responses["4xx"].content["application/json"].schema' openapi.json
# Here it is tightened: nothing but `error`, and nothing in it but code, message, details.
def error_envelope(spec: dict) -> dict:
    """The spec's error envelope schema (from GET /servers 4xx), closed to extra keys."""
    try:
        raw = spec["paths"]["/servers"]["get"]["responses"]["4xx"]["content"][
            "application/json"]["schema"]
    except KeyError as exc:
        raise SpecError("no error envelope at paths./servers.get.responses.4xx") from exc
    env = to_json_schema(raw, spec)
    env["additionalProperties"] = False
    env["properties"]["error"]["additionalProperties"] = False
    return env


@dataclass
class Operation:
    template: str
    method: str
    responses: dict


def _segments(path: str) -> list[str]:
    path = path.split("?", 1)[0]
    if path.startswith("/v1/") or path == "/v1":
        path = path[3:]
    return [s for s in path.strip("/").split("/") if s != ""]


def _is_param(seg: str) -> bool:
    return seg.startswith("{") and seg.endswith("}")


def match_operations(spec: dict, method: str, path: str) -> list[Operation]:
    """Spec operations for a recorded method + path, best matches only (may be several).

    Literal segments must be equal; a spec `{param}` matches any recorded segment; a recorded
    `{param}` (route template) matches a spec `{param}` or, less well, any spec literal.
    """
    rec = _segments(path)
    best: list[Operation] = []
    best_score = -1
    for template, item in spec.get("paths", {}).items():
        op = item.get(method.lower())
        if not isinstance(op, dict):
            continue
        tpl = _segments(template)
        if len(tpl) != len(rec):
            continue
        score = 0
        ok = True
        for t, r in zip(tpl, rec):
            if _is_param(t):
                score += 2 if _is_param(r) else 1
            elif _is_param(r):
                score += 0
            elif t == r:
                score += 3
            else:
                ok = False
                break
        if not ok:
            continue
        if score > best_score:
            best, best_score = [], score
        if score == best_score:
            best.append(Operation(template, method.upper(), op.get("responses", {})))
    return best


def _response_entry(responses: dict, status: int) -> dict | None:
    for key in (str(status), f"{status // 100}xx", f"{status // 100}XX", "default"):
        if key in responses:
            return responses[key]
    return None


@dataclass
class Result:
    ok: bool
    problems: list[str]


def _json_path(err: Any) -> str:
    path = getattr(err, "json_path", None)
    return path if path else "$"


def _errors(validator: Any, body: Any, limit: int = 5) -> list[str]:
    errs = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{_json_path(e)}: {e.message[:300]}" for e in errs[:limit]]


def _check_against(spec: dict, op: Operation, status: int, body: Any,
                   cache: dict) -> list[str]:
    entry = _response_entry(op.responses, status)
    if entry is None:
        if status >= 400:
            return []  # the envelope check alone applies
        return [f"status {status} is not a response of {op.method} {op.template} "
                f"(spec has {sorted(op.responses)})"]
    content = (entry.get("content") or {}).get("application/json")
    if content is None or "schema" not in content:
        if body not in (None, "", {}):
            return [f"$: spec defines no body for status {status}, got {json.dumps(body)[:120]}"]
        return []
    if body is None:
        return [f"$: spec defines a body for status {status}, got none"]
    key = (op.template, op.method, status)
    if key not in cache:
        cache[key] = make_validator(to_json_schema(content["schema"], spec))
    return _errors(cache[key], body)


def check_response(spec: dict, method: str, path: str, status: int, body: Any,
                   cache: dict | None = None) -> Result:
    """Validate one recorded response; `problems` name the JSON path of each bad field."""
    cache = {} if cache is None else cache
    if isinstance(body, str):
        try:
            body = json.loads(body) if body.strip() else None
        except json.JSONDecodeError:
            return Result(False, [f"$: body is not JSON: {body[:120]!r}"])
    problems: list[str] = []
    if status >= 400:
        if "envelope" not in cache:
            cache["envelope"] = make_validator(error_envelope(spec))
        if body is None:
            problems.append("$: error response without the error envelope")
        else:
            problems += _errors(cache["envelope"], body)
    ops = match_operations(spec, method, path)
    if not ops:
        if status < 400:
            problems.append(f"no operation {method.upper()} {path} in the spec")
        return Result(not problems, problems)
    # Several equally good matches (a route template hiding a literal command): any may pass.
    per_op = [_check_against(spec, op, status, body, cache) for op in ops]
    problems += min(per_op, key=len)
    problems = list(dict.fromkeys(problems))  # the envelope and the 4xx schema overlap
    return Result(not problems, problems)


def read_records(paths: list[Path]) -> Iterator[tuple[str, dict | None, str | None]]:
    """Yield (file:line, record, parse error) for each non-empty line."""
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield f"{path}:{n}", None, f"not JSON: {exc}"
                    continue
                yield f"{path}:{n}", rec, None


def load_spec(path: Path) -> dict:
    """Read the OpenAPI document; SpecError when it is missing or not JSON."""
    if not path.is_file():
        raise SpecError(f"OpenAPI document not found: {path} (expected shared/ beside the repo)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(f"cannot read OpenAPI document {path}: {exc}") from exc


def default_spec_path() -> Path:
    """`<repo root>/../shared/hetzner/openapi.json`, the repo root being this file's parent's parent."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "hetzner" / "openapi.json"


def run_records(spec: dict, files: list[Path], verbose: bool) -> tuple[int, int]:
    passed = failed = 0
    cache: dict = {}
    seen_ok: set = set()
    for where, rec, err in read_records(files):
        if err is not None or rec is None:
            failed += 1
            print(f"FAIL {where}: {err}")
            continue
        try:
            method = str(rec["method"])
            path = str(rec["path"])
            status = int(rec["status"])
        except (KeyError, TypeError, ValueError):
            failed += 1
            print(f"FAIL {where}: record lacks method/path/status: {json.dumps(rec)[:200]}")
            continue
        if _segments(path)[:1] == ["__sim"]:
            continue  # admin endpoints are ours, not Hetzner's
        result = check_response(spec, method, path, status, rec.get("body"), cache)
        if result.ok:
            passed += 1
            if verbose and (method, path, status) not in seen_ok:
                seen_ok.add((method, path, status))
                print(f"ok   {method} {path} {status}")
        else:
            failed += 1
            for p in result.problems:
                print(f"FAIL {method} {path} {status}: {p}  [{where}]")
    return passed, failed


# ---------------------------------------------------------------------------------------------
# Self-test: the converter and matcher against real spec fragments and hand-made bodies.


def _sample(schema: Any, depth: int = 0) -> Any:
    """A body built from a converted schema: every property, examples where given."""
    if not isinstance(schema, dict) or depth > 30:
        return None
    if "anyOf" in schema:
        non_null = [s for s in schema["anyOf"] if s != {"type": "null"}]
        return _sample(non_null[0], depth + 1) if non_null else None
    if "oneOf" in schema:
        return _sample(schema["oneOf"][0], depth + 1)
    if "allOf" in schema:
        merged: dict = {}
        for part in schema["allOf"]:
            value = _sample(part, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    types = schema.get("type")
    t = [x for x in types if x != "null"][0] if isinstance(types, list) else types
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    if t == "object":
        props = schema.get("properties", {})
        return {k: _sample(v, depth + 1) for k, v in props.items()}
    if t == "array":
        return [_sample(schema.get("items", {}), depth + 1)]
    if "example" in schema:
        return schema["example"]
    fmt = schema.get("format")
    return {"integer": 1, "number": 1.5, "boolean": False,
            "string": {"date-time": "2016-01-30T23:55:00+00:00",
                       "decimal": "1.0000000000"}.get(fmt, "x")}.get(t, None)


def self_test(spec: dict) -> tuple[int, int]:
    passed = failed = 0

    def check(name: str, cond: bool, detail: Any = "") -> None:
        nonlocal passed, failed
        if cond:
            passed += 1
            print(f"ok   self-test: {name}")
        else:
            failed += 1
            print(f"FAIL self-test: {name} {detail}")

    def schema_of(path: str, method: str, status: str) -> dict:
        return spec["paths"][path][method]["responses"][status]["content"]["application/json"][
            "schema"]

    # Converter on synthetic fragments.
    conv = to_json_schema({"type": "string", "enum": ["a", "b"], "nullable": True}, spec)
    check("nullable enum admits null", conv == {"type": ["string", "null"], "enum": ["a", "b", None]},
          conv)
    conv = to_json_schema({"nullable": True, "allOf": [{"type": "object", "required": ["x"]}]}, spec)
    check("nullable beside allOf admits null and keeps allOf",
          make_validator(conv).is_valid(None) and not make_validator(conv).is_valid({})
          and make_validator(conv).is_valid({"x": 1}), conv)
    conv = to_json_schema({"type": "object", "nullable": True,
                           "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}, spec)
    check("nullable object beside oneOf", make_validator(conv).is_valid(None)
          and make_validator(conv).is_valid({"a": 1})
          and not make_validator(conv).is_valid({"c": 1}), conv)
    fake = {"components": {"schemas": {"P": {"type": "object", "required": ["id"],
                                             "properties": {"id": {"type": "integer"}}}}}}
    conv = to_json_schema({"$ref": "#/components/schemas/P", "nullable": True}, fake)
    check("$ref resolved, nullable honoured", make_validator(conv).is_valid(None)
          and make_validator(conv).is_valid({"id": 3})
          and not make_validator(conv).is_valid({"id": "3"}), conv)
    check("integer refuses 2.0", not make_validator({"type": "integer"}).is_valid(2.0))
    check("date-time format checked",
          make_validator({"type": "string", "format": "date-time"}).is_valid("2016-01-30T23:55:00+00:00")
          and not make_validator({"type": "string", "format": "date-time"}).is_valid("yesterday"))
    check("decimal format checked",
          not make_validator({"type": "string", "format": "decimal"}).is_valid("1,5"))

    # Real fragments: a server body sampled from the spec must pass, mutations must fail.
    server_schema = to_json_schema(schema_of("/servers/{id}", "get", "200"), spec)
    body = _sample(server_schema)
    res = check_response(spec, "GET", "/servers/{id}", 200, body)
    check("sampled GET /servers/{id} body passes", res.ok, res.problems)
    res = check_response(spec, "GET", "/v1/servers/42?x=1", 200, json.dumps(body))
    check("concrete /v1 path with query matches the template", res.ok, res.problems)
    nulls = copy.deepcopy(body)
    nulls["server"]["public_net"]["ipv4"] = None
    nulls["server"]["image"] = None
    check("required-nullable keys accept null",
          check_response(spec, "GET", "/servers/{id}", 200, nulls).ok)
    missing = copy.deepcopy(body)
    del missing["server"]["public_net"]["ipv4"]
    res = check_response(spec, "GET", "/servers/{id}", 200, missing)
    check("missing public_net.ipv4 fails at $.server.public_net",
          not res.ok and any("$.server.public_net" in p and "ipv4" in p for p in res.problems),
          res.problems)
    bad_int = copy.deepcopy(body)
    bad_int["server"]["id"] = 42.0
    res = check_response(spec, "GET", "/servers/{id}", 200, bad_int)
    check("server id 42.0 fails at $.server.id",
          not res.ok and any(p.startswith("$.server.id:") for p in res.problems), res.problems)
    bad_enum = copy.deepcopy(body)
    bad_enum["server"]["status"] = "sleeping"
    res = check_response(spec, "GET", "/servers/{id}", 200, bad_enum)
    check("unknown server status fails", not res.ok
          and any(p.startswith("$.server.status:") for p in res.problems), res.problems)

    # Action endpoints: literal spec paths, concrete or template records.
    action = {"action": {"id": 13, "command": "start_server", "status": "running", "progress": 0,
                         "started": "2016-01-30T23:50:00+00:00", "finished": None,
                         "resources": [{"id": 42, "type": "server"}], "error": None}}
    check("POST /servers/42/actions/poweron 201 passes",
          check_response(spec, "POST", "/servers/42/actions/poweron", 201, action).ok)
    check("POST /servers/{id}/actions/{action} template matches a literal command",
          check_response(spec, "POST", "/servers/{id}/actions/{action}", 201, action).ok)
    bad_action = copy.deepcopy(action)
    bad_action["action"]["progress"] = 0.5
    res = check_response(spec, "POST", "/servers/{id}/actions/poweron", 201, bad_action)
    check("action progress 0.5 fails at $.action.progress",
          not res.ok and any(p.startswith("$.action.progress:") for p in res.problems),
          res.problems)
    del bad_action["action"]["finished"]
    res = check_response(spec, "GET", "/actions/{id}", 200, bad_action)
    check("action without finished fails", not res.ok, res.problems)

    # Statuses.
    check("DELETE /firewalls/{id} 204 without body passes",
          check_response(spec, "DELETE", "/firewalls/{id}", 204, None).ok)
    res = check_response(spec, "DELETE", "/firewalls/{id}", 204, {"action": {}})
    check("204 with a body fails", not res.ok, res.problems)
    res = check_response(spec, "GET", "/servers", 201, {"servers": []})
    check("status absent from the spec fails", not res.ok
          and "not a response" in " ".join(res.problems), res.problems)
    err = {"error": {"code": "not_found", "message": "server not found", "details": None}}
    check("404 error envelope passes",
          check_response(spec, "GET", "/servers/{id}", 404, err).ok)
    check("error on an unknown path validates against the envelope",
          check_response(spec, "GET", "/no_such_thing", 404, err).ok)
    res = check_response(spec, "GET", "/servers/{id}", 404, {"error": {"code": "not_found"}})
    check("error without message fails at $.error", not res.ok
          and any(p.startswith("$.error:") for p in res.problems), res.problems)
    res = check_response(spec, "GET", "/servers/{id}", 429, {"code": "rate_limit_exceeded"})
    check("error without envelope fails", not res.ok, res.problems)
    res = check_response(spec, "GET", "/servers/{id}", 404,
                         {"error": {"code": "x", "message": "y"}, "extra": 1})
    check("error envelope with extra keys fails", not res.ok, res.problems)
    res = check_response(spec, "GET", "/no_such_thing", 200, {})
    check("success on an unknown path fails", not res.ok, res.problems)

    # Firewall rules: all six keys, port null for icmp.
    fw_schema = to_json_schema(schema_of("/firewalls/{id}", "get", "200"), spec)
    fw = _sample(fw_schema)
    fw["firewall"]["rules"] = [{"direction": "in", "protocol": "icmp", "port": None,
                                "source_ips": ["0.0.0.0/0"], "destination_ips": [],
                                "description": None}]
    res = check_response(spec, "GET", "/firewalls/{id}", 200, fw)
    check("firewall with an icmp rule (port null) passes", res.ok, res.problems)
    del fw["firewall"]["rules"][0]["destination_ips"]
    res = check_response(spec, "GET", "/firewalls/{id}", 200, fw)
    check("rule without destination_ips fails at $.firewall.rules[0]", not res.ok
          and any(p.startswith("$.firewall.rules[0]") for p in res.problems), res.problems)

    # Pricing: decimal strings.
    pr = _sample(to_json_schema(schema_of("/pricing", "get", "200"), spec))
    res = check_response(spec, "GET", "/pricing", 200, pr)
    check("sampled /pricing body passes", res.ok, res.problems)
    pr["pricing"]["currency"] = None
    res = check_response(spec, "GET", "/pricing", 200, pr)
    check("pricing currency null fails", not res.ok, res.problems)
    return passed, failed


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records", nargs="*", type=Path, help="record files (JSON lines)")
    ap.add_argument("--spec", type=Path, default=None,
                    help="OpenAPI document (default: <repo>/../shared/hetzner/openapi.json)")
    ap.add_argument("--self-test", action="store_true", help="test the converter, not records")
    ap.add_argument("-v", "--verbose", action="store_true", help="list each passing route once")
    args = ap.parse_args(argv)
    try:
        spec = load_spec(args.spec or default_spec_path())
    except SpecError as exc:
        print(f"openapi_check: {exc}", file=sys.stderr)
        return 2
    if args.self_test:
        passed, failed = self_test(spec)
    else:
        if not args.records:
            print("openapi_check: no record files given", file=sys.stderr)
            return 2
        missing = [p for p in args.records if not p.is_file()]
        if missing:
            print(f"openapi_check: record file not found: {missing[0]}", file=sys.stderr)
            return 2
        passed, failed = run_records(spec, args.records, args.verbose)
        if passed + failed == 0:
            print("FAIL no responses were recorded")
            failed = 1
    print(f"counts: {passed} {failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
