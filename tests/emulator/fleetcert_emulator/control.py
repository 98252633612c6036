"""The control endpoint under /_fleetcert/ (JSON; never counted, throttled or faulted).

GET  /_fleetcert/health             -> {"ok": true}
GET  /_fleetcert/config             -> current config
POST /_fleetcert/config             <- partial config object; returns the new config
                                       (fail_requests: rules of requests that always fail)
GET  /_fleetcert/counters           -> the counters map at top level, plus "throttled",
                                       "denied", "invalid", "resources" and "faults" (see README)
GET  /_fleetcert/writes             -> [{"account","region","operation","path"}]: every
                                       mutating request, in arrival order
POST /_fleetcert/counters/reset     (also clears faults, writes and denials)
POST /_fleetcert/reset              -> moto reset + all emulator state + launch config
GET  /_fleetcert/pca/revocations    -> [{"account","ca_arn","serial","reason","revoked_at"}]
POST /_fleetcert/iam/policy         <- {"access_key_id", "policy": <IAM policy JSON>, "user"?}
POST /_fleetcert/iam/policy/clear   <- {"access_key_id"}
GET  /_fleetcert/iam/policy         -> {"<access key id>": <policy as set>}
GET  /_fleetcert/iam/denials        -> [{"account","region","access_key_id","action","resource","verdict","message"}]
POST /_fleetcert/kms/deny           <- {"account", "key_id", "region"?}: no caller may use that key
POST /_fleetcert/kms/deny/clear     <- {"account", "key_id", "region"?}
GET  /_fleetcert/kms/deny           -> [{"account", "key_id"}]
GET  /_fleetcert/clock              -> {"now", "offset_seconds"}: the emulator clock
POST /_fleetcert/clock              <- {"advance_seconds": N}: moves it N seconds forward
"""

from __future__ import annotations

import json
import re

from . import asynchrony, iam, state
from .accounts import account_for_access_key
from .quotas import AWS_DEFAULTS, buckets

_FLOAT_KEYS = ("fault_5xx_rate", "fault_5xx_after_rate", "fault_drop_rate")
_INT_KEYS = ("latency_ms", "request_in_progress_calls", "clock_offset_seconds")


class BadRequest(Exception):
    pass


def resolve_quotas(value, current: dict) -> dict:
    if value == "aws":
        return dict(AWS_DEFAULTS)
    if value in ("off", None):
        return {}
    if isinstance(value, dict):
        merged = dict(current)
        for op, rate in value.items():
            if rate is None:
                merged.pop(op, None)
            else:
                merged[op] = float(rate)
        return merged
    raise BadRequest("quotas must be 'aws', 'off' or an object of operation -> rate")


def resolve_fail_requests(value) -> list:
    if not isinstance(value, list):
        raise BadRequest("fail_requests must be a list of rules")
    rules = []
    for rule in value:
        if not isinstance(rule, dict) or not isinstance(rule.get("operation"), str):
            raise BadRequest("each fail_requests rule needs an operation, e.g. iot:AttachThingPrincipal")
        rules.append({
            "operation": rule["operation"],
            "path_contains": str(rule.get("path_contains", "")),
            "status": int(rule.get("status", 400)),
            "code": str(rule.get("code", "InvalidRequestException")),
            "message": str(rule.get("message", "injected failure")),
            # after: moto carries the request out first (a lost answer)
            "after": bool(rule.get("after", False)),
            # times: only the first N matching requests fail (None: all)
            "times": None if rule.get("times") is None else int(rule["times"]),
            "failed": 0,
        })
    return rules


def apply_config(patch: dict) -> dict:
    if not isinstance(patch, dict):
        raise BadRequest("config must be a JSON object")
    known = set(state.DEFAULT_CONFIG)
    unknown = set(patch) - known
    if unknown:
        raise BadRequest(f"unknown config keys: {sorted(unknown)}")
    try:
        # the preset first, then any explicit key of the same patch over it
        timing = asynchrony.resolve(patch)
    except (TypeError, ValueError) as e:
        raise BadRequest(str(e))
    with state.LOCK:
        new = dict(state.config)
        new.update(timing)
        for k, v in patch.items():
            if k in timing:
                continue
            if k == "quotas":
                new["quotas"] = resolve_quotas(v, state.config.get("quotas", {}))
                if v in ("aws", "off", None) and "jobs_data_quotas" not in patch:
                    new["jobs_data_quotas"] = v == "aws"
            elif k in _FLOAT_KEYS:
                v = float(v)
                if not 0.0 <= v <= 1.0:
                    raise BadRequest(f"{k} must be within [0, 1]")
                new[k] = v
            elif k in _INT_KEYS:
                new[k] = int(v)
            elif k == "fail_requests":
                new[k] = resolve_fail_requests(v)
            elif k == "fault_seed":
                new[k] = None if v is None else int(v)
            elif k in ("validate_requests", "jobs_data_quotas"):
                if not isinstance(v, bool):
                    raise BadRequest(f"{k} must be true or false")
                new[k] = v
            elif k == "quota_clock":
                if v not in ("wall", "test"):
                    raise BadRequest("quota_clock must be 'wall' or 'test'")
                new[k] = v
        state.config.clear()
        state.config.update(new)
        if "fault_seed" in patch:
            state.reseed()
        if "quotas" in patch or "quota_clock" in patch or "jobs_data_quotas" in patch:
            buckets.clear()
        return dict(state.config)


def set_iam_policy(body) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("access_key_id"), str) or "policy" not in body:
        raise BadRequest('iam/policy takes {"access_key_id": "...", "policy": {...}}')
    key = body["access_key_id"]
    try:
        statements = iam.parse_policy(body["policy"])
    except iam.PolicyError as e:
        raise BadRequest(f"invalid policy for {key}: {e}")
    user = str(body.get("user") or key)
    user_arn = f"arn:aws:iam::{account_for_access_key(key)}:user/{user}"
    document = body["policy"] if isinstance(body["policy"], dict) else json.loads(body["policy"])
    with state.LOCK:
        state.iam_policies[key] = {"statements": statements, "document": document, "user_arn": user_arn}
    return {"ok": True, "access_key_id": key, "user_arn": user_arn}


def clear_iam_policy(body) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("access_key_id"), str):
        raise BadRequest('iam/policy/clear takes {"access_key_id": "..."}')
    with state.LOCK:
        cleared = state.iam_policies.pop(body["access_key_id"], None) is not None
    return {"ok": True, "cleared": cleared}


def _json(start_response, status: int, obj) -> list[bytes]:
    body = json.dumps(obj, indent=None, sort_keys=True).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _read_json(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length else b""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as e:
        raise BadRequest(f"invalid JSON: {e}")


def seed_things(body: dict) -> dict:
    """Create `count` things named `<prefix><n>` in one account and region,
    straight in moto's backend: the other systems' things a large account
    holds, for benchmarks (50,000 CreateThing requests would take minutes).
    `attributes` are set on each; never counted or throttled."""
    from moto.iot.models import iot_backends

    if not isinstance(body, dict):
        raise BadRequest("seed-things takes a JSON object")
    try:
        account, region = str(body["account"]), str(body["region"])
        prefix, count = str(body.get("prefix", "other-")), int(body["count"])
    except (KeyError, ValueError) as e:
        raise BadRequest(f"seed-things needs account, region and count: {e}")
    attributes = body.get("attributes") or {}
    if count < 0 or count > 1_000_000 or not isinstance(attributes, dict):
        raise BadRequest("count must be 0..1000000 and attributes an object")
    backend = iot_backends[account][region]
    with state.MOTO_LOCK:
        for n in range(count):
            backend.create_thing(thing_name=f"{prefix}{n}", thing_type_name=None,
                                 attribute_payload={"attributes": dict(attributes)})
    return {"ok": True, "created": count}


_KEY_ID = re.compile(r"^(mrk-)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _denied_key(body) -> tuple[str, str]:
    """(account, key id) of a kms/deny body; an alias or ARN is resolved in moto."""
    from . import kmsuse

    if not isinstance(body, dict) or not isinstance(body.get("account"), str) \
            or not isinstance(body.get("key_id"), str):
        raise BadRequest('kms/deny takes {"account": "...", "key_id": "<id, ARN or alias>", "region"?: "..."}')
    account, ref = body["account"], body["key_id"]
    if _KEY_ID.match(ref):
        return account, ref
    region = body.get("region") or (ref.split(":")[3] if ref.startswith("arn:") else None)
    if not region:
        raise BadRequest("kms/deny: an alias needs the region")
    try:
        with state.MOTO_LOCK:
            return account, kmsuse.key_ids_of(account, region, ref)
    except kmsuse.KmsRefusal as e:
        raise BadRequest(f"kms/deny: {e.message}")


def kms_deny(body, deny: bool) -> dict:
    pair = _denied_key(body)
    with state.LOCK:
        if deny:
            state.kms_denied.add(pair)
        else:
            state.kms_denied.discard(pair)
    return {"ok": True, "account": pair[0], "key_id": pair[1], "denied": deny}


def clock_view() -> dict:
    """The emulator clock: wall time plus clock_offset_seconds (state.now()),
    which PCA issuance, IoT jobs (rollout minutes, timeouts) and the test
    quota clock all read."""
    with state.LOCK:
        return {"now": state.now().isoformat(), "offset_seconds": int(state.config.get("clock_offset_seconds") or 0)}


def advance_clock(body) -> dict:
    """Move the clock forward (never back: a job's timers and rollout
    minutes count from times already handed out)."""
    seconds = body.get("advance_seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise BadRequest('clock takes {"advance_seconds": <whole number of seconds >= 0>}')
    with state.LOCK:
        state.config["clock_offset_seconds"] = int(state.config.get("clock_offset_seconds") or 0) + seconds
    return clock_view()


def handle(environ, start_response):
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "").rstrip("/")
    try:
        if path == "/_fleetcert/health":
            return _json(start_response, 200, {"ok": True})
        if path == "/_fleetcert/config":
            if method == "GET":
                with state.LOCK:
                    return _json(start_response, 200, dict(state.config))
            if method == "POST":
                return _json(start_response, 200, apply_config(_read_json(environ)))
            return _json(start_response, 405, {"error": "use GET or POST"})
        if path == "/_fleetcert/counters" and method == "GET":
            snap = state.snapshot_counters()
            out = dict(snap["counters"])
            out["throttled"] = snap["throttled"]
            out["denied"] = snap["denied"]
            out["invalid"] = snap["invalid"]
            out["resources"] = snap["resources"]
            out["faults"] = snap["faults"]
            return _json(start_response, 200, out)
        if path == "/_fleetcert/writes" and method == "GET":
            with state.LOCK:
                return _json(start_response, 200, list(state.writes))
        if path == "/_fleetcert/counters/reset" and method == "POST":
            state.reset_counters()
            return _json(start_response, 200, {"ok": True})
        if path == "/_fleetcert/reset" and method == "POST":
            state.reset_all()
            buckets.clear()
            return _json(start_response, 200, {"ok": True})
        if path == "/_fleetcert/pca/revocations" and method == "GET":
            with state.LOCK:
                return _json(start_response, 200, list(state.revocations))
        if path == "/_fleetcert/iam/policy" and method == "POST":
            return _json(start_response, 200, set_iam_policy(_read_json(environ)))
        if path == "/_fleetcert/iam/policy/clear" and method == "POST":
            return _json(start_response, 200, clear_iam_policy(_read_json(environ)))
        if path == "/_fleetcert/iam/policy" and method == "GET":
            with state.LOCK:
                return _json(start_response, 200, {k: v["document"] for k, v in state.iam_policies.items()})
        if path == "/_fleetcert/iot/seed-things" and method == "POST":
            return _json(start_response, 200, seed_things(_read_json(environ)))
        if path == "/_fleetcert/kms/deny" and method == "POST":
            return _json(start_response, 200, kms_deny(_read_json(environ), True))
        if path == "/_fleetcert/kms/deny/clear" and method == "POST":
            return _json(start_response, 200, kms_deny(_read_json(environ), False))
        if path == "/_fleetcert/kms/deny" and method == "GET":
            with state.LOCK:
                return _json(start_response, 200, [{"account": a, "key_id": k} for a, k in sorted(state.kms_denied)])
        if path == "/_fleetcert/clock" and method in ("GET", "POST"):
            return _json(start_response, 200, advance_clock(_read_json(environ)) if method == "POST" else clock_view())
        if path == "/_fleetcert/iam/denials" and method == "GET":
            with state.LOCK:
                return _json(start_response, 200, list(state.denials))
        return _json(start_response, 404, {"error": f"no control route {method} {path}"})
    except BadRequest as e:
        return _json(start_response, 400, {"error": str(e)})
