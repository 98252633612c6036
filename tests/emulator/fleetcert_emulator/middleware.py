"""WSGI middleware in front of moto: control endpoint, counters, quotas, latency, faults."""

from __future__ import annotations

import io
import json
import logging
import socket
import time
import uuid

from . import control, iam, jobs_data, kmsuse, state, validation
from .accounts import access_key_from_auth, account_region_from_auth
from .opnames import operation_name, service_of
from .quotas import bucket_and_rate, buckets

log = logging.getLogger("fleetcert_emulator")

_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}
# the restJson1 services: error code in the x-amzn-ErrorType header
_REST_JSON = ("iot", "iotjobsdata")


def _error(service: str, status: int, code: str, message: str):
    """(status line, headers, body) in the service's real error shape.

    acm-pca, secretsmanager, ssm, kms (awsJson1_1): {"__type": code,
        "message": ...}, Content-Type application/x-amz-json-1.1 (smithy's
        awsJson1_1 protocol: the error code is the body's __type; botocore
        reads "message" or "Message").
    iot, iotjobsdata (restJson1): code in the x-amzn-ErrorType header, body {"message": ...}.
    """
    rid = str(uuid.uuid4())
    if service in _REST_JSON:
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
    # botocore models: iot ThrottlingException has httpStatusCode 400, the
    # jobs data plane's 429; acm-pca's awsJson1_1 errors are all HTTP 400.
    return _error(service, 429 if service == "iotjobsdata" else 400, "ThrottlingException", "Rate exceeded")


def fault_response(service: str):
    if service == "iotjobsdata":
        # the data plane's model has no InternalFailureException; its 5xx is
        # ServiceUnavailableException ("The service is temporarily unavailable", 503)
        return _error(service, 503, "ServiceUnavailableException", "The service is temporarily unavailable (injected fault).")
    if service == "iot":
        return _error(service, 500, "InternalFailureException", "An unexpected error has occurred (injected fault).")
    return _error(service, 500, "InternalFailure", "The request processing has failed because of an unknown error (injected fault).")


# IAM denials of these services are HTTP 400: the Secrets Manager API
# Reference's Common Errors page, "AccessDeniedException: You do not have
# sufficient access to perform this action. HTTP Status Code: 400"
# (https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html);
# SSM's IAM denial as AWS answered it: "User: ... is not authorized to perform:
# ssm:GetParameter on resource: ... (Service: AWSSimpleSystemsManagement; Status
# Code: 400; Error Code: AccessDeniedException" (aws-samples/aws-workshop-for-kubernetes#250);
# KMS's Common Errors list AccessDeniedException with HTTP 400 as well.
_DENIED_400 = ("secretsmanager", "ssm", "kms")


def access_denied(service: str, message: str):
    # IAM's denial, as IoT (restJson1: code in x-amzn-ErrorType) and ACM PCA
    # (awsJson1_1: "__type") carry it. Neither botocore model lists
    # AccessDeniedException; AWS answers it from the authorisation layer with
    # HTTP 403 and clients see it as an unmodelled error code.
    status = 400 if service in _DENIED_400 else 403
    return _error(service, status, "AccessDeniedException", message)


def invalid_request(service: str, code: str, message: str):
    # A request the service model refuses: HTTP 400 with the service's
    # validation error (validation.py says which and why).
    return _error(service, 400, code, message)


def _validation_check(environ, op, key, body):
    """(status, headers, body) of the error AWS gives a malformed request, or None."""
    refused = validation.refusal(op, environ, body)
    if refused is None:
        return None
    code, message = refused
    with state.LOCK:
        state.invalid[key][op] += 1
    log.info("invalid %s %s: %s", key, op, message)
    return invalid_request(service_of(op), code, message)


def _read_body(environ) -> bytes:
    """The request body; environ's input is replaced so moto can read it again."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = environ["wsgi.input"].read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream
        body = environ["wsgi.input"].read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _iam_check(environ, op, service, account, region, key, resources):
    """(status, headers, body) of a denial, or None when allowed or no policy is set."""
    access_key = access_key_from_auth(environ.get("HTTP_AUTHORIZATION"))
    with state.LOCK:
        policy = state.iam_policies.get(access_key) if access_key else None
    if policy is None or service not in iam.ENFORCED_SERVICES:
        return None
    verdict, resource = iam.authorize(policy["statements"], op, resources)
    if verdict == "Allow":
        return None
    message = iam.denial_message(policy["user_arn"], op, resource, verdict)
    with state.LOCK:
        state.denied[key][op] += 1
        state.denials.append({
            "account": account, "region": region, "access_key_id": access_key,
            "action": op, "resource": resource, "verdict": verdict, "message": message,
        })
    log.info("denied %s %s on %s (%s)", key, op, resource, verdict)
    return access_denied(service, message)


def _take(rule: dict) -> bool:
    """Count one use of a fail_requests rule; False once its "times" are used up.

    Counted only when the rule is about to apply (not for a request throttled,
    denied or faulted first), so "times" is exact under random faults.
    """
    with state.LOCK:
        if rule["times"] is not None and rule["failed"] >= rule["times"]:
            return False
        rule["failed"] += 1
        return True


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

    def _call_moto(self, environ, op, account, region) -> tuple[dict, bytes]:
        """moto's answer: ({"status", "headers"}, body), under the moto lock."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: captured.setdefault("extra", []).append(data)

        with state.MOTO_LOCK:
            # Secrets Manager and SSM use KMS as the caller (kmsuse.py)
            kmsuse.set_caller(access_key_from_auth(environ.get("HTTP_AUTHORIZATION")), account, region, op)
            result = None
            # the jobs data plane is the emulator's own (moto has none)
            app = jobs_data.app if (op or "").startswith("iotjobsdata:") else self.app
            try:
                result = app(environ, capture)
                body = b"".join(captured.get("extra", [])) + b"".join(result)
            finally:
                kmsuse.set_caller(None, None, None, None)
                if hasattr(result, "close"):
                    result.close()
        return captured, body

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_fleetcert/") or path == "/_fleetcert":
            return control.handle(environ, start_response)

        account, region, signing = account_region_from_auth(environ.get("HTTP_AUTHORIZATION"))
        op = operation_name(environ, signing)
        service = service_of(op)
        key = f"{account}/{region}"
        resources, body = ["*"], b""
        if service in iam.ENFORCED_SERVICES and op:
            body = _read_body(environ)
            resources = iam.request_resources(op, region, account, environ, body)
        with state.LOCK:
            cfg = state.config
            if op:
                state.counters[key][op] += 1
                for arn in resources:
                    if arn != "*":
                        state.resources[key][op][arn] += 1
            if state.is_write(op) and len(state.writes) < state.WRITES_CAP:
                state.writes.append({"account": account, "region": region, "operation": op, "path": path})
            # always draw three numbers so a seed gives the same sequence whatever the rates
            r_drop, r_5xx, r_after = state.rng.random(), state.rng.random(), state.rng.random()
            latency = cfg.get("latency_ms") or 0
            validate = cfg.get("validate_requests", True)
            bucket, rate = bucket_and_rate(op, cfg)
            drop = r_drop < (cfg.get("fault_drop_rate") or 0)
            f5xx = r_5xx < (cfg.get("fault_5xx_rate") or 0)
            after = r_after < (cfg.get("fault_5xx_after_rate") or 0)
            # the token buckets' clock: wall time, or the test clock
            bucket_now = (float(cfg.get("clock_offset_seconds") or 0)
                          if cfg.get("quota_clock") == "test" else None)
            failing = next(
                (r for r in cfg.get("fail_requests") or []
                 if r["operation"] == op and r["path_contains"] in path
                 and (r["times"] is None or r["failed"] < r["times"])),
                None,
            )

        if latency > 0:
            time.sleep(latency / 1000.0)
        if drop:
            log.info("drop %s %s", key, op)
            _count_fault(key, "drop", op)
            _drop(environ)
        denial = _iam_check(environ, op, service, account, region, key, resources)
        if denial:
            status, headers, body = denial
            start_response(status, headers)
            return body
        # After the IAM check (a denied request is AccessDenied whatever it
        # carries), before quotas and faults (a malformed request never uses
        # a token nor reaches moto). AWS does not document this order.
        refusal = _validation_check(environ, op, key, body) if validate and op else None
        if refusal:
            status, headers, body = refusal
            start_response(status, headers)
            return body
        if rate and not buckets.take((account, region, bucket), rate, bucket_now):
            with state.LOCK:
                state.throttled[key][op] += 1
            status, headers, body = throttle_response(service)
            start_response(status, headers)
            return body
        if failing and not failing["after"]:
            if _take(failing):
                status, headers, body = _error(service, failing["status"], failing["code"], failing["message"])
                start_response(status, headers)
                return body
            failing = None
        if f5xx:
            _count_fault(key, "5xx", op)
            status, headers, body = fault_response(service)
            start_response(status, headers)
            return body
        if failing and not _take(failing):
            failing = None

        captured, body = self._call_moto(environ, op, account, region)

        if failing:
            # "after": moto carried the request out; the client sees the error.
            log.info("fail-after %s %s (moto answered %s)", key, op, captured.get("status"))
            status, headers, body_ = _error(service, failing["status"], failing["code"], failing["message"])
            start_response(status, headers)
            return body_
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
