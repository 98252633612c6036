"""IAM enforcement: an identity policy per access key id, evaluated before moto.

While a policy is set for an access key id (POST /_fleetcert/iam/policy),
every IoT, IoT jobs data plane, ACM PCA, Secrets Manager, SSM and KMS request signed with that key
is authorised here first, as AWS does for a principal whose only policy is
that identity policy (the resources of the last three: iam_stores.py; the KMS
use Secrets Manager and SSM make for the caller: kmsuse.py):

- The action is the emulator's operation name (``iot:DescribeThing``).
- The resources are the ARNs the request acts on, by the resource types the
  Service Authorization Reference gives each action ("Actions, resources, and
  condition keys for AWS IoT",
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html,
  and "... for AWS Private Certificate Authority",
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsprivatecertificateauthority.html).
  An action with no resource type there is authorised against ``*``, which
  only a ``"Resource": "*"`` statement matches ("If there is no value for this
  column, you must specify all resources ("*")"). A request that names several
  resources is allowed only if each one is.
- Evaluation follows "Policy evaluation logic" for a single identity-based
  policy (IAM User Guide,
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
  and "The difference between explicit and implicit denies",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html):
  an applicable Deny statement wins; otherwise an applicable Allow allows;
  otherwise the request is implicitly denied. Action names match
  case-insensitively, ARNs case-sensitively, with ``*`` and ``?`` wildcards
  ("IAM JSON policy elements: Action / Resource"). NotAction and NotResource
  are supported. Condition, Principal and policy variables are not: a policy
  using them is refused when it is set, so nothing is silently ignored.
- A denial is HTTP 403 ``AccessDeniedException`` with IAM's message ("User:
  <arn> is not authorized to perform: <action> on resource: <arn> because no
  identity-based policy allows the <action> action", or "... with an explicit
  deny in an identity-based policy": IAM User Guide, "Troubleshoot access
  denied error messages").
"""

from __future__ import annotations

import json
import re
import urllib.parse
from functools import lru_cache

import botocore.session

from . import iam_stores

# the services whose requests are authorised (and validated: validation.py)
ENFORCED_SERVICES = ("iot", "acm-pca", "secretsmanager", "ssm", "kms", "iotjobsdata")

# ---------------------------------------------------------------------------
# Resources per action
# ---------------------------------------------------------------------------

# IoT operation -> resource templates. "thing/{thingName}" is
# arn:aws:iot:<region>:<account>:thing/<the request's thingName>; "={x}" is a
# request member that already holds an ARN. Operations not listed have no
# resource type in the Service Authorization Reference (List*, Register*,
# GetRegistrationCode, DescribeEndpoint, ...) and are authorised against "*".
_THING = ["thing/{thingName}"]
_THING_TYPE = ["thingtype/{thingTypeName}"]
_CERT = ["cert/{certificateId}"]
_CACERT = ["cacert/{certificateId}"]
_POLICY = ["policy/{policyName}"]
IOT_RESOURCES: dict[str, list[str]] = {
    **dict.fromkeys(
        ["CreateThing", "DescribeThing", "UpdateThing", "DeleteThing",
         "AttachThingPrincipal", "DetachThingPrincipal", "ListThingPrincipals"], _THING),
    **dict.fromkeys(
        ["CreateThingType", "DescribeThingType", "DeprecateThingType", "DeleteThingType",
         "UpdateThingType"], _THING_TYPE),
    **dict.fromkeys(["DescribeCertificate", "UpdateCertificate", "DeleteCertificate"], _CERT),
    **dict.fromkeys(["DescribeCACertificate", "UpdateCACertificate", "DeleteCACertificate"], _CACERT),
    **dict.fromkeys(
        ["CreatePolicy", "GetPolicy", "DeletePolicy", "CreatePolicyVersion", "GetPolicyVersion",
         "DeletePolicyVersion", "ListPolicyVersions", "SetDefaultPolicyVersion",
         "ListTargetsForPolicy"], _POLICY),
    # The reference lists the target (cert or thing group) for Attach/DetachPolicy.
    # The policy is checked too: stricter than the reference, so a policy that
    # passes here cannot be short of the policy ARN in AWS either.
    **dict.fromkeys(["AttachPolicy", "DetachPolicy"], ["policy/{policyName}", "={target}"]),
    **dict.fromkeys(["TagResource", "UntagResource", "ListTagsForResource"], ["={resourceArn}"]),
    # Jobs ("IAM policies on the control plane", Developer Guide,
    # https://docs.aws.amazon.com/iot/latest/developerguide/iam-policy-users-jobs.html,
    # and the reference's resource types): CreateJob acts on the job and on
    # each target (thing or thinggroup ARN); the execution operations on the
    # job and the thing; ListJobs has none.
    "CreateJob": ["job/{jobId}", "={targets}"],
    **dict.fromkeys(["DescribeJob", "CancelJob", "DeleteJob", "UpdateJob", "GetJobDocument",
                     "ListJobExecutionsForJob"], ["job/{jobId}"]),
    **dict.fromkeys(["DescribeJobExecution", "CancelJobExecution", "DeleteJobExecution"],
                    ["job/{jobId}", "thing/{thingName}"]),
    "ListJobExecutionsForThing": _THING,
    # Thing groups (resource type thinggroup); "a|b": the group or thing is
    # named by either member, as the request gives it.
    **dict.fromkeys(["CreateThingGroup", "DescribeThingGroup", "DeleteThingGroup", "UpdateThingGroup",
                     "ListThingsInThingGroup"], ["thinggroup/{thingGroupName}"]),
    **dict.fromkeys(["AddThingToThingGroup", "RemoveThingFromThingGroup"],
                    ["thinggroup/{thingGroupName}|={thingGroupArn}", "thing/{thingName}|={thingArn}"]),
}

# The jobs data plane: iotjobsdata:<Op> on the thing ("Actions, resources,
# and condition keys for AWS IoT Jobs DataPlane", resource type thing:
# arn:${Partition}:iot:${Region}:${Account}:thing/${ThingName}; the Developer
# Guide's example allows iotjobsdata:DescribeJobExecution on
# arn:aws:iot:region:account-id:thing/thing-name).
JOBS_DATA_RESOURCES: dict[str, list[str]] = dict.fromkeys(
    ["DescribeJobExecution", "GetPendingJobExecutions", "StartNextPendingJobExecution",
     "UpdateJobExecution"], _THING)
_RESOURCES = {"iot": IOT_RESOURCES, "iot-jobs-data": JOBS_DATA_RESOURCES}

# ACM PCA: every action with a resource type acts on the CA named by
# CertificateAuthorityArn (resource type certificate-authority). The two
# without one (CreateCertificateAuthority, ListCertificateAuthorities) name
# no CA in the request and are authorised against "*".
PCA_CA_MEMBER = "CertificateAuthorityArn"


@lru_cache(maxsize=None)
def _input_members(model_name: str) -> dict[str, list[tuple[str, str | None, str]]]:
    """op -> [(member, location, wire name)] from botocore's model."""
    model = botocore.session.get_session().get_service_model(model_name)
    out = {}
    for name in _RESOURCES[model_name]:
        shape = model.operation_model(name).input_shape
        members = []
        for member, sub in (shape.members.items() if shape else []):
            location = sub.serialization.get("location")
            members.append((member, location, sub.serialization.get("name") or member))
        out[name] = members
    return out


@lru_cache(maxsize=None)
def _uri_patterns(model_name: str) -> dict[str, re.Pattern]:
    model = botocore.session.get_session().get_service_model(model_name)
    out = {}
    for name in _RESOURCES[model_name]:
        path = model.operation_model(name).http["requestUri"].split("?", 1)[0]
        regex = ""
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{"):
                label = part.strip("{}+")
                regex += f"(?P<{label}>.+)" if part.endswith("+}") else f"(?P<{label}>[^/]+)"
            else:
                regex += re.escape(part)
        out[name] = re.compile("^" + regex + "/?$")
    return out


def _rest_params(model_name: str, op: str, raw_path: str, query: str, environ: dict,
                 body: bytes) -> dict[str, str | list]:
    labels = {}
    m = _uri_patterns(model_name)[op].match(raw_path)
    if m:
        labels = {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
    qs = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        payload = {}
    params = {}
    for member, location, wire in _input_members(model_name)[op]:
        if location == "uri":
            value = labels.get(wire)
        elif location == "querystring":
            value = qs.get(wire)
        elif location == "header":
            value = environ.get("HTTP_" + wire.upper().replace("-", "_"))
        else:
            value = payload.get(wire) if isinstance(payload, dict) else None
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            params[member] = value
    return params


def _resource(template: str, params: dict, region: str, account: str) -> list[str]:
    """The ARNs one template names: the first alternative ("a|b") the request
    has; "={x}" is a member holding an ARN (or a list of them, each named)."""
    for alternative in template.split("|"):
        if alternative.startswith("="):
            value = params.get(alternative[2:-1])
            if isinstance(value, list):
                return value
            if isinstance(value, str):
                return [value]
            continue
        try:
            return [f"arn:aws:iot:{region}:{account}:" + alternative.format(**params)]
        except KeyError:
            continue
    # The request lacks the member (the service will reject it): nothing to name.
    return ["*"]


def request_resources(op: str, region: str, account: str, environ: dict, body: bytes) -> list[str]:
    """The ARNs a request acts on (["*"] for none)."""
    service, _, name = op.partition(":")
    if service in ("secretsmanager", "ssm", "kms"):
        return iam_stores.request_resources(op, region, account, body)
    if service == "acm-pca":
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            payload = {}
        arn = payload.get(PCA_CA_MEMBER) if isinstance(payload, dict) else None
        return [arn] if isinstance(arn, str) else ["*"]
    model_name = {"iot": "iot", "iotjobsdata": "iot-jobs-data"}.get(service)
    if model_name is None or name not in _RESOURCES[model_name]:
        return ["*"]
    raw = (environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", ""))
    raw_path, _, query = raw.partition("?")
    query = query or environ.get("QUERY_STRING", "")
    params = _rest_params(model_name, name, raw_path, query, environ, body)
    resources = []
    for template in _RESOURCES[model_name][name]:
        resources += _resource(template, params, region, account)
    return resources or ["*"]


# ---------------------------------------------------------------------------
# Policy documents
# ---------------------------------------------------------------------------

class PolicyError(ValueError):
    pass


_UNSUPPORTED = ("Condition", "Principal", "NotPrincipal")


def _strings(statement: dict, key: str, sid: str) -> list[str]:
    value = statement[key]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"statement {sid}: {key} must be a string or a non-empty list of strings")
    return values


def parse_policy(document) -> list[dict]:
    """Validate an identity policy; return its statements, normalised.

    Each: {"sid", "effect", "actions" | "not_actions", "resources" | "not_resources"}.
    """
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as e:
            raise PolicyError(f"policy is not JSON: {e}")
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError("policy must be an object with a Statement")
    statements = document["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyError("Statement must be an object or a list")
    out = []
    for i, st in enumerate(statements):
        sid = str(st.get("Sid", i)) if isinstance(st, dict) else str(i)
        if not isinstance(st, dict):
            raise PolicyError(f"statement {sid} must be an object")
        if st.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"statement {sid}: Effect must be Allow or Deny")
        for key in _UNSUPPORTED:
            if key in st:
                raise PolicyError(f"statement {sid}: {key} is not supported by the emulator")
        if ("Action" in st) == ("NotAction" in st):
            raise PolicyError(f"statement {sid}: exactly one of Action and NotAction")
        if ("Resource" in st) == ("NotResource" in st):
            raise PolicyError(f"statement {sid}: exactly one of Resource and NotResource")
        norm = {"sid": sid, "effect": st["Effect"]}
        for key, field in (("Action", "actions"), ("NotAction", "not_actions"),
                           ("Resource", "resources"), ("NotResource", "not_resources")):
            if key in st:
                values = _strings(st, key, sid)
                if any("${" in v for v in values):
                    raise PolicyError(f"statement {sid}: policy variables are not supported")
                norm[field] = values
        out.append(norm)
    return out


@lru_cache(maxsize=4096)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _any_match(globs: list[str], value: str, ignore_case: bool) -> bool:
    return any(_pattern(g, ignore_case).fullmatch(value) for g in globs)


def _applies(st: dict, action: str, resource: str) -> bool:
    if "actions" in st:
        action_ok = _any_match(st["actions"], action, True)
    else:
        action_ok = not _any_match(st["not_actions"], action, True)
    if "resources" in st:
        resource_ok = _any_match(st["resources"], resource, False)
    else:
        resource_ok = not _any_match(st["not_resources"], resource, False)
    return action_ok and resource_ok


def decide(statements: list[dict], action: str, resource: str) -> str:
    """"Allow", "ExplicitDeny" or "ImplicitDeny" for one action on one resource."""
    allowed = False
    for st in statements:
        if _applies(st, action, resource):
            if st["effect"] == "Deny":
                return "ExplicitDeny"
            allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def authorize(statements: list[dict], action: str, resources: list[str]) -> tuple[str, str | None]:
    """The request's decision and the first resource it fails on.

    Any explicit deny wins over an implicit one, whichever resource it is on.
    """
    worst, failing = "Allow", None
    for resource in resources:
        verdict = decide(statements, action, resource)
        if verdict == "ExplicitDeny":
            return verdict, resource
        if verdict == "ImplicitDeny" and worst == "Allow":
            worst, failing = verdict, resource
    return worst, failing


def denial_message(user_arn: str, action: str, resource: str, verdict: str) -> str:
    if verdict == "ExplicitDeny":
        why = "with an explicit deny in an identity-based policy"
    else:
        why = f"because no identity-based policy allows the {action} action"
    return f"User: {user_arn} is not authorized to perform: {action} on resource: {resource} {why}"
