"""Operation names (``<service>:<Operation>``) for AWS requests.

acm-pca, Secrets Manager, SSM and KMS speak awsJson1_1: the operation is in
``X-Amz-Target: <targetPrefix>.<Op>``, the prefix being each botocore model's
``metadata.targetPrefix`` (ACMPrivateCA, secretsmanager, AmazonSSM,
TrentService); the name given is ``<signing name>:<Op>`` with the model's
``metadata.signingName`` (acm-pca, secretsmanager, ssm, kms), which is also the
IAM service prefix of the actions (Service Authorization Reference).
iot speaks restJson1: the operation is found from the HTTP method and path,
matched against every operation's ``http.method`` / ``requestUri`` in botocore's
IoT service model (so every IoT operation is mapped, not a hand-picked list).
The jobs data plane (SigV4 name iot-jobs-data) likewise from its own model:
its paths overlap IoT's (GET /things/{thingName}/jobs is ListJobExecutionsForThing
in one, GetPendingJobExecutions in the other), so the signing name picks the model.
"""

from __future__ import annotations

import re
from functools import lru_cache

import botocore.session


@lru_cache(maxsize=None)
def _rest_table(model_name: str) -> list[tuple[str, re.Pattern, int, str]]:
    model = botocore.session.get_session().get_service_model(model_name)
    table = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        method = http["method"].upper()
        path = http["requestUri"].split("?", 1)[0]
        regex, literal = "", 0
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                regex += ".+" if part.endswith("+}") else "[^/]+"
            else:
                regex += re.escape(part)
                literal += len(part)
        table.append((method, re.compile("^" + regex + "/?$"), literal, name))
    # most literal characters first: "/things/{x}/principals" beats "/things/{x}",
    # and iot-jobs-data's "/things/{x}/jobs/$next" beats "/things/{x}/jobs/{y}"
    table.sort(key=lambda t: -t[2])
    return table


def rest_operation(model_name: str, method: str, path: str) -> str | None:
    method = method.upper()
    for m, rx, _lit, name in _rest_table(model_name):
        if m == method and rx.match(path):
            return name
    return None


def iot_operation(method: str, path: str) -> str | None:
    return rest_operation("iot", method, path)


def iot_operation_names() -> list[str]:
    return sorted(t[3] for t in _rest_table("iot"))


# X-Amz-Target prefix -> IAM / SigV4 service name, for the awsJson1_1 services
TARGET_PREFIXES = {
    "ACMPrivateCA": "acm-pca",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
    "TrentService": "kms",
}


# restJson1 model -> operation name prefix. The device data plane signs as
# iot-jobs-data (the model's signingName) but its IAM actions are
# iotjobsdata:<Op> ("Actions, resources, and condition keys for AWS IoT Jobs
# DataPlane (service prefix: iotjobsdata)", Service Authorization Reference,
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiotjobsdataplane.html):
# the name is the IAM action, as for every other service here.
REST_PREFIXES = {"iot": "iot", "iot-jobs-data": "iotjobsdata"}


def operation_name(environ: dict, service: str | None) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    prefix, dot, op = target.partition(".")
    if dot and prefix in TARGET_PREFIXES:
        return f"{TARGET_PREFIXES[prefix]}:{op}"
    if service in ("iot", "execute-api", "iot-jobs-data"):
        # match on the raw (still percent-encoded) path: a URI label such as
        # ListAttachedPolicies' {target} is an ARN whose "/" arrives as %2F.
        raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")).split("?", 1)[0]
        model_name = "iot-jobs-data" if service == "iot-jobs-data" else "iot"
        op = rest_operation(model_name, environ.get("REQUEST_METHOD", "GET"), raw)
        return REST_PREFIXES[model_name] + ":" + (op or "Unknown")
    if service in ("acm-pca", "secretsmanager", "ssm", "kms"):
        return f"{service}:Unknown"
    if target:
        return f"{service}:{target.split('.')[-1]}"
    return f"{service}:Unknown" if service else None


def service_of(op: str | None) -> str:
    return (op or "").split(":", 1)[0]
