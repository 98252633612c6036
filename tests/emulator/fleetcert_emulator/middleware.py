"""WSGI middleware in front of moto: control endpoint, counters, quotas, latency, faults."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid

from . import control, state
from .accounts import account_region_from_auth
from .opnames import operation_name, service_of
from .quotas import buckets

log = logging.getLogger("fleetcert_emulator")

_REASONS = {200: "OK", 400: "Bad Request", 429: "Too Many Requests", 500: "Internal Server Error"}


def _error(service: str, status: int, code: str, message: str):
    """(status line, headers, body) in the service's real error shape.

    acm-pca (awsJson1_1): {"__type": code, "message": ...},
        Content-Type application/x-amz-json-1.1.
    iot (restJson1): code in the x-amzn-ErrorType header, body {"message": ...}.
    """
    rid = str(uuid.uuid4())
    if service == "iot":
        body = json.dumps({"message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
        ]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1")]
    headers += [("x-amzn-RequestId", rid), ("Content-Length", str(len(body)))]
    return f"{status} {_REASONS.get(status, 'Error')}", headers, [body]


def throttle_response(service: str):
    # botocore models: iot ThrottlingException has httpStatusCode 400; acm-pca's
    # awsJson1_1 errors are all HTTP 400.
    return _error(service, 400, "ThrottlingException", "Rate exceeded")


def fault_response(service: str):
    if service == "iot":
        return _error(service, 500, "InternalFailureException", "An unexpected error has occurred (injected fault).")
    return _error(service, 500, "InternalFailure", "The request processing has failed because of an unknown error (injected fault).")


class DropConnection(ConnectionAbortedError):
    """Raised to make werkzeug abandon the request without writing a response."""


def _drop(environ):
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise DropConnection("fleetcert emulator: injected connection drop")


def _count_fault(key: str, kind: str, op: str | None) -> None:
    with state.LOCK:
        state.faults[key][kind][op or "unknown"] += 1


class EmulatorMiddleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_fleetcert/") or path == "/_fleetcert":
            return control.handle(environ, start_response)

        account, region, signing = account_region_from_auth(environ.get("HTTP_AUTHORIZATION"))
        op = operation_name(environ, signing)
        service = service_of(op)
        key = f"{account}/{region}"
        with state.LOCK:
            cfg = state.config
            if op:
                state.counters[key][op] += 1
            if state.is_write(op) and len(state.writes) < state.WRITES_CAP:
                state.writes.append({"account": account, "region": region, "operation": op, "path": path})
            # always draw three numbers so a seed gives the same sequence whatever the rates
            r_drop, r_5xx, r_after = state.rng.random(), state.rng.random(), state.rng.random()
            latency = cfg.get("latency_ms") or 0
            rate = (cfg.get("quotas") or {}).get(op)
            drop = r_drop < (cfg.get("fault_drop_rate") or 0)
            f5xx = r_5xx < (cfg.get("fault_5xx_rate") or 0)
            after = r_after < (cfg.get("fault_5xx_after_rate") or 0)
            # the token buckets' clock: wall time, or the test clock
            bucket_now = (float(cfg.get("clock_offset_seconds") or 0)
                          if cfg.get("quota_clock") == "test" else None)
            failing = next(
                (r for r in cfg.get("fail_requests") or []
                 if r["operation"] == op and r["path_contains"] in path),
                None,
            )

        if latency > 0:
            time.sleep(latency / 1000.0)
        if drop:
            log.info("drop %s %s", key, op)
            _count_fault(key, "drop", op)
            _drop(environ)
        if rate and not buckets.take((account, region, op), rate, bucket_now):
            with state.LOCK:
                state.throttled[key][op] += 1
            status, headers, body = throttle_response(service)
            start_response(status, headers)
            return body
        if failing:
            status, headers, body = _error(service, failing["status"], failing["code"], failing["message"])
            start_response(status, headers)
            return body
        if f5xx:
            _count_fault(key, "5xx", op)
            status, headers, body = fault_response(service)
            start_response(status, headers)
            return body

        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: captured.setdefault("extra", []).append(data)

        with state.MOTO_LOCK:
            result = self.app(environ, capture)
            try:
                body = b"".join(captured.get("extra", [])) + b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()

        if after:
            log.info("5xx-after %s %s (moto answered %s)", key, op, captured.get("status"))
            _count_fault(key, "5xx_after", op)
            status, headers, body_ = fault_response(service)
            start_response(status, headers)
            return body_
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]
