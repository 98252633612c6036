"""Every IoT, IoT jobs data plane, ACM PCA, Secrets Manager, SSM and KMS request checked against botocore's service model.

AWS validates a request's input against its operation's model before it
does anything else, and answers a malformed request with HTTP 400:

- IoT (restJson1): ``InvalidRequestException`` ("The request is not valid.",
  the error the IoT model and API reference list for every operation).
  AWS answers e.g. ``InvalidRequestException: 2 validation errors detected:
  Value '{"state"=...}' at 'attributePayload.attributes' failed to satisfy
  constraint: Map keys must satisfy constraint: [Member must have length less
  than or equal to 128, Member must have length greater than or equal to 0,
  Member must satisfy regular expression pattern: [a-zA-Z0-9_.,@/:#-]+]; ...``
  (https://github.com/aws/aws-sdk-java/issues/666).
- ACM PCA (awsJson1_1): ``ValidationException``, not in the PCA model but one
  of the errors common to all AWS APIs ("The input fails to satisfy the
  constraints specified by an AWS service", HTTP 400: the "Common Errors" page
  every API reference carries, e.g.
  https://docs.aws.amazon.com/pca-connector-scep/latest/APIReference/CommonErrors.html),
  as ACM answers it: ``ValidationException: 1 validation error detected: Value
  '*.dev.mycompany.com' at 'tags.2.member.value' failed to satisfy constraint:
  ...`` (https://github.com/terraform-aws-modules/terraform-aws-acm/issues/93).

The message is the one AWS's services share (their common request validation)::

    1 validation error detected: Value 'x' at 'maxResults' failed to satisfy
    constraint: Member must have value less than or equal to 1000
    N validation errors detected: <error>; <error>

Each part, as AWS words it:

- ``Value '100' at 'maxResults' failed to satisfy constraint: Member must have
  value less than or equal to 50`` (https://github.com/flanksource/config-db/pull/35)
- ``Member must have length greater than or equal to 1`` for a string or a
  list (``Value '[]' at 'subjectAlternativeNames'``,
  https://github.com/pfulop/serverless-cloudfront-distribution-certificate/issues/7)
- ``Member must satisfy regular expression pattern: <the model's pattern>``
  (https://github.com/aws/aws-cli/issues/790)
- ``Member must satisfy enum value set: [ROLLBACK, DELETE, DO_NOTHING]``
  (https://github.com/seanedwards/cfer/issues/19)
- ``Value null at 'serviceCode' failed to satisfy constraint: Member must not
  be null`` for a missing required member
- the path is the member names from the top, first letter lower case
  (ACM's ``CertificateArn`` is ``'certificateArn'``,
  https://github.com/hashicorp/terraform-provider-aws/issues/24470), a list
  entry that is a structure is ``<list>.<n>.member`` counted from 1
  (``'tags.2.member.value'``,
  https://github.com/terraform-aws-modules/terraform-aws-acm/issues/93);
  scalar list entries and map keys/values are reported at the list or map,
  with all of the entry's constraints in brackets (aws-sdk-java#666 above).

A value of the wrong type (a string where the model has an integer, a body
that is not a JSON object) cannot be read at all: HTTP 400
``SerializationException``, as smithy's protocol tests require of a server
("When the request body is not valid JSON, the response should be a 400
SerializationException", smithy-lang/smithy,
smithy-aws-protocol-tests/model/restJson1/malformedRequests/malformed-request-body.smithy;
malformed-integer.smithy likewise for numbers in the body, path and query).
The message is ours.

Secrets Manager, SSM and KMS (awsJson1_1) answer ``ValidationException``
as ACM PCA does: their API References list it among the Common Errors ("The
input fails to satisfy the constraints specified by an AWS service", HTTP
400; e.g. https://docs.aws.amazon.com/secretsmanager/latest/apireference/CommonErrors.html),
and KMS answers e.g. "1 validation error detected: Value '2000' at
'numberOfBytes' failed to satisfy constraint: Member must have value less than
or equal to 1024" (the form moto copies in kms/responses.py).

A member the model marks ``sensitive`` (a secret's SecretString, a KMS
Plaintext) is not echoed: ``Value at 'secretString' failed to satisfy
constraint: ...``, the form AWS gives a sensitive member (Cognito's username,
massif-press/compcon#1951: "1 validation error detected: Value at 'username'
failed to satisfy constraint: Member must satisfy regular expression pattern").

Members the model does not know are ignored, as AWS ignores them. Blob and
timestamp members are accepted as given (only their presence is checked).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from functools import lru_cache

import botocore.session

from .javaregex import compile_java

SERVICES = ("iot", "acm-pca", "secretsmanager", "ssm", "kms", "iotjobsdata")
# the error code of a request the model refuses, per service; the jobs data
# plane (restJson1 like IoT) lists InvalidRequestException ("The contents of
# the request were invalid") for every operation
VALIDATION_CODE = {"iot": "InvalidRequestException", "acm-pca": "ValidationException",
                   "secretsmanager": "ValidationException", "ssm": "ValidationException",
                   "kms": "ValidationException", "iotjobsdata": "InvalidRequestException"}
# operation-name prefix -> botocore model, where they differ (opnames.REST_PREFIXES)
MODEL_NAMES = {"iotjobsdata": "iot-jobs-data"}


class Unreadable(ValueError):
    """A request (or a value in it) that cannot be read as the model's type."""


@lru_cache(maxsize=None)
def _model(service: str):
    return botocore.session.get_session().get_service_model(MODEL_NAMES.get(service, service))


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _join(path: str, name: str) -> str:
    return f"{path}.{_lower_first(name)}" if path else _lower_first(name)


def render(value) -> str:
    """A value as AWS prints it in a message (Java's toString of the parsed input)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={render(v)}" for k, v in value.items()) + "}"
    return str(value)


# ---------------------------------------------------------------------------
# Constraints of one shape
# ---------------------------------------------------------------------------

def _constraints(shape) -> list[tuple[str, object]]:
    """[(message, test)] for a scalar or collection shape.

    The order (max length, min length, pattern) is that of the bracketed list
    in aws-sdk-java#666; AWS does not document one.

    test(value) is True when the value satisfies the constraint.
    """
    meta, kind, out = shape.metadata, shape.type_name, []
    if kind in ("string", "list", "map"):
        if meta.get("max") is not None:
            out.append((f"Member must have length less than or equal to {meta['max']}",
                        lambda v, n=meta["max"]: len(v) <= n))
        if meta.get("min") is not None:
            out.append((f"Member must have length greater than or equal to {meta['min']}",
                        lambda v, n=meta["min"]: len(v) >= n))
    if kind == "string" and meta.get("pattern") is not None:
        rx = compile_java(meta["pattern"])
        out.append((f"Member must satisfy regular expression pattern: {meta['pattern']}",
                    lambda v, rx=rx: rx.fullmatch(v) is not None))
    if kind == "string" and shape.enum:
        values = list(shape.enum)
        out.append((f"Member must satisfy enum value set: [{', '.join(values)}]",
                    lambda v, values=values: v in values))
    if kind in ("integer", "long", "float", "double"):
        if meta.get("max") is not None:
            out.append((f"Member must have value less than or equal to {meta['max']}",
                        lambda v, n=meta["max"]: v <= n))
        if meta.get("min") is not None:
            out.append((f"Member must have value greater than or equal to {meta['min']}",
                        lambda v, n=meta["min"]: v >= n))
    return out


_JSON_TYPES = {
    "string": (str,), "blob": (str,), "boolean": (bool,), "integer": (int,), "long": (int,),
    "float": (int, float), "double": (int, float), "timestamp": (str, int, float),
    "structure": (dict,), "map": (dict,), "list": (list,),
}


def _check_type(shape, value, path: str) -> None:
    kind = shape.type_name
    ok = isinstance(value, _JSON_TYPES.get(kind, (object,)))
    if ok and kind in ("integer", "long", "float", "double"):
        ok = not isinstance(value, bool)
    if not ok:
        raise Unreadable(f"Value '{render(value)}' at '{path}' cannot be read as {kind}")


def _violation(value, path: str, message: str, sensitive: bool = False) -> str:
    if sensitive and value is not None:
        return f"Value at '{path}' failed to satisfy constraint: {message}"
    shown = "null" if value is None else f"'{render(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {message}"


def _entry_failed(shape, value, path: str) -> bool:
    """Whether a scalar list entry / map key / map value breaks any constraint."""
    _check_type(shape, value, path)
    return any(not test(value) for _, test in _constraints(shape))


def _all_of(shape) -> str:
    return "[" + ", ".join(message for message, _ in _constraints(shape)) + "]"


# ---------------------------------------------------------------------------
# Walking a value
# ---------------------------------------------------------------------------

def _is_container(shape) -> bool:
    return shape.type_name in ("structure", "list", "map")


def check_value(shape, value, path: str, errors: list[str]) -> None:
    """Append to errors what is wrong with value (present, not None) for shape."""
    _check_type(shape, value, path)
    kind = shape.type_name
    if kind == "structure":
        if not shape.metadata.get("document"):
            check_members(shape, _by_member_name(shape, value), path, errors)
        return
    sensitive = bool(shape.metadata.get("sensitive"))
    for message, test in _constraints(shape):
        if not test(value):
            errors.append(_violation(value, path, message, sensitive))
    if kind == "list":
        _check_list(shape.member, value, path, errors)
    elif kind == "map":
        _check_map(shape, value, path, errors)


def _check_list(entry, values: list, path: str, errors: list[str]) -> None:
    if _is_container(entry):
        for n, v in enumerate(values, start=1):
            if v is not None:
                check_value(entry, v, f"{path}.{n}.member", errors)
    elif any(v is not None and _entry_failed(entry, v, path) for v in values):
        errors.append(_violation(values, path, f"Member must satisfy constraint: {_all_of(entry)}"))


def _check_map(shape, mapping: dict, path: str, errors: list[str]) -> None:
    if any(_entry_failed(shape.key, k, path) for k in mapping):
        errors.append(_violation(mapping, path, f"Map keys must satisfy constraint: {_all_of(shape.key)}"))
    entry = shape.value
    if _is_container(entry):
        for k, v in mapping.items():
            if v is not None:
                check_value(entry, v, f"{path}.{k}", errors)
    elif any(v is not None and _entry_failed(entry, v, path) for v in mapping.values()):
        errors.append(_violation(mapping, path, f"Map value must satisfy constraint: {_all_of(entry)}"))


def _by_member_name(shape, obj: dict) -> dict:
    """A JSON object's members keyed by member name (JSON uses the locationName if any)."""
    return {name: obj.get(member.serialization.get("name", name)) for name, member in shape.members.items()}


def check_members(shape, values: dict, path: str, errors: list[str]) -> None:
    """values: member name -> value (None when absent), for structure shape."""
    for name in shape.required_members:
        if values.get(name) is None:
            errors.append(_violation(None, _join(path, name), "Member must not be null"))
    for name, member in shape.members.items():
        if values.get(name) is not None:
            check_value(member, values[name], _join(path, name), errors)


# ---------------------------------------------------------------------------
# Reading the request
# ---------------------------------------------------------------------------

def _json_body(body: bytes):
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        raise Unreadable("The request body is not valid JSON")
    if not isinstance(parsed, dict):
        raise Unreadable("The request body is not a JSON object")
    return parsed


@lru_cache(maxsize=None)
def _route(model, op: str) -> tuple[re.Pattern, tuple[str, ...]]:
    """The operation's requestUri as a regex over the raw path, and its label names."""
    path = model.operation_model(op).http["requestUri"].split("?", 1)[0]
    regex, labels = "", []
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{"):
            labels.append(part.strip("{}+"))
            regex += "(.+)" if part.endswith("+}") else "([^/]+)"
        else:
            regex += re.escape(part)
    return re.compile("^" + regex + "/?$"), tuple(labels)


def _from_text(shape, text: str, path: str):
    """A URI label, query or header value as the model's type."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise Unreadable(f"Value '{text}' at '{path}' cannot be read as {kind}")
        return int(text)
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise Unreadable(f"Value '{text}' at '{path}' cannot be read as {kind}")
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise Unreadable(f"Value '{text}' at '{path}' cannot be read as boolean")
        return text.lower() == "true"
    return text


def rest_json_values(model, op: str, environ: dict, body: bytes) -> dict:
    """Member name -> value for a restJson1 (IoT) request: URI labels, query, headers, JSON body."""
    shape = model.operation_model(op).input_shape
    raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")).split("?", 1)[0]
    rx, labels = _route(model, op)
    m = rx.match(raw)
    uri = dict(zip(labels, (urllib.parse.unquote(g) for g in m.groups()))) if m else {}
    query: dict[str, list[str]] = {}
    for k, v in urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
        query.setdefault(k, []).append(v)
    payload = shape.serialization.get("payload")
    parsed = _json_body(body) if payload is None or shape.members[payload].type_name == "structure" else {}
    values = {}
    for name, member in shape.members.items():
        location, wire = member.serialization.get("location"), member.serialization.get("name", name)
        path = _lower_first(name)
        if location == "uri":
            values[name] = _from_text(member, uri[wire], path) if wire in uri else None
        elif location == "querystring":
            texts = query.get(wire)
            if texts is not None and member.type_name == "list":
                values[name] = [_from_text(member.member, t, path) for t in texts]
            elif texts is not None:
                values[name] = _from_text(member, texts[0], path)
        elif location == "header":
            text = environ.get("HTTP_" + wire.upper().replace("-", "_"))
            values[name] = None if text is None else _from_text(member, text, path)
        elif name == payload:
            values[name] = parsed if member.type_name == "structure" and body.strip() else None
        elif payload is None:
            values[name] = parsed.get(wire)
    return values


def errors_for(op: str, environ: dict, body: bytes) -> list[str]:
    """The validation errors of one request (op is ``<service>:<Operation>``).

    Raises Unreadable for a request that cannot be read as the model's types.
    """
    service, _, name = op.partition(":")
    model = _model(service)
    if name not in model.operation_names:
        return []  # not an operation of the model: moto answers it
    shape = model.operation_model(name).input_shape
    if shape is None:
        return []
    if model.protocol == "rest-json":
        values = rest_json_values(model, name, environ, body)
    else:
        values = _by_member_name(shape, _json_body(body))
    errors: list[str] = []
    check_members(shape, values, "", errors)
    return errors


def message(errors: list[str]) -> str:
    n = len(errors)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors)


def refusal(op: str, environ: dict, body: bytes) -> tuple[str, str] | None:
    """(error code, message) AWS would answer for this request, or None if it is valid."""
    service = op.partition(":")[0]
    if service not in SERVICES or op.endswith(":Unknown"):
        return None
    try:
        errors = errors_for(op, environ, body)
    except Unreadable as e:
        return "SerializationException", str(e)
    return (VALIDATION_CODE[service], message(errors)) if errors else None
