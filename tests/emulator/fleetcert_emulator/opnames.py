"""Operation names (``<service>:<Operation>``) for AWS requests.

acm-pca speaks awsJson1_1: the operation is in ``X-Amz-Target: ACMPrivateCA.<Op>``.
iot speaks restJson1: the operation is found from the HTTP method and path,
matched against every operation's ``http.method`` / ``requestUri`` in botocore's
IoT service model (so every IoT operation is mapped, not a hand-picked list).
"""

from __future__ import annotations

import re
from functools import lru_cache

import botocore.session


@lru_cache(maxsize=1)
def _iot_table() -> list[tuple[str, re.Pattern, int, str]]:
    model = botocore.session.get_session().get_service_model("iot")
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
    # most literal characters first: "/things/{x}/principals" beats "/things/{x}"
    table.sort(key=lambda t: -t[2])
    return table


def iot_operation(method: str, path: str) -> str | None:
    method = method.upper()
    for m, rx, _lit, name in _iot_table():
        if m == method and rx.match(path):
            return name
    return None


def iot_operation_names() -> list[str]:
    return sorted(t[3] for t in _iot_table())


def operation_name(environ: dict, service: str | None) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("ACMPrivateCA."):
        return "acm-pca:" + target.split(".", 1)[1]
    if service in ("iot", "execute-api"):
        # match on the raw (still percent-encoded) path: a URI label such as
        # ListAttachedPolicies' {target} is an ARN whose "/" arrives as %2F.
        raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")).split("?", 1)[0]
        op = iot_operation(environ.get("REQUEST_METHOD", "GET"), raw)
        return "iot:" + (op or "Unknown")
    if service == "acm-pca":
        return "acm-pca:Unknown"
    if target:
        return f"{service}:{target.split('.')[-1]}"
    return f"{service}:Unknown" if service else None


def service_of(op: str | None) -> str:
    return (op or "").split(":", 1)[0]
