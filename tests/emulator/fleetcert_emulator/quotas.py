"""Request-rate quotas: a token bucket per (account, region, operation).

Rate r requests/second with a burst of r (a full bucket holds r tokens).

Defaults for ``--quotas aws`` (per account and region, adjustable in real AWS),
for exactly the operations fleetcert calls (``AwsOp`` in src/aws_op.rs; the
integration test tests/it/aws_ops.rs checks both tables name the same
operations with the same rates):
- The figures named in DESIGN.md section 5 (from AWS quota tables).
- ACM PCA: "AWS Private CA endpoints and quotas" (AWS General Reference,
  https://docs.aws.amazon.com/general/latest/gr/pca.html#limits_pca), API
  request-rate quotas, e.g. IssueCertificate 25/s, GetCertificate 75/s,
  RevokeCertificate 20/s, DescribeCertificateAuthority 20/s,
  CreateCertificateAuthority 1/s.
- IoT: "AWS IoT Core endpoints and quotas" -> "AWS IoT Core API throttling
  limits" (AWS General Reference,
  https://docs.aws.amazon.com/general/latest/gr/iot-core.html#throttling-limits).
  Values other than the DESIGN.md ones were taken from that table as we know
  it; AWS changes these, treat as approximate.
- IoT jobs and thing groups: the "AWS IoT Throttling Limits" table of the
  Developer Guide's "AWS IoT Limits" page as of 2019 (awsdocs/aws-iot-docs,
  developerguide/limits-iot.md; the live figures are now on "AWS IoT Device
  Management endpoints and quotas",
  https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html#iot_device_management_quotas,
  and may have changed): AddThingToThingGroup 60/s, CreateThingGroup 25,
  DescribeThingGroup 100, DeleteThingGroup 15, RemoveThingFromThingGroup 15,
  ListThingsInThingGroup 25, ListThingGroups 10; every control-plane jobs
  API (CreateJob, DescribeJob, ListJobs, ...) 10/s.
Operations not listed (none that fleetcert calls) are not throttled.

The jobs data plane (devices, not fleetcert) is throttled apart from that
table, so the table stays exactly fleetcert's AwsOp: DATA_PLANE_DEFAULTS
below, on while config jobs_data_quotas is true (which quotas "aws" / "off"
switch on / off).
"""

from __future__ import annotations

import threading
import time

AWS_DEFAULTS: dict[str, float] = {
    # --- ACM PCA ---
    "acm-pca:IssueCertificate": 25,
    "acm-pca:GetCertificate": 75,
    "acm-pca:RevokeCertificate": 20,
    "acm-pca:CreateCertificateAuthority": 1,
    "acm-pca:DescribeCertificateAuthority": 20,
    "acm-pca:GetCertificateAuthorityCertificate": 20,
    "acm-pca:GetCertificateAuthorityCsr": 10,
    "acm-pca:ImportCertificateAuthorityCertificate": 10,
    "acm-pca:ListCertificateAuthorities": 20,
    "acm-pca:ListTags": 20,
    "acm-pca:TagCertificateAuthority": 10,
    # --- IoT (DESIGN.md section 5) ---
    "iot:RegisterCertificate": 10,
    "iot:DescribeCertificate": 10,
    "iot:ListThings": 10,
    "iot:ListThingPrincipals": 10,
    "iot:GetPolicy": 10,
    "iot:AttachPolicy": 15,
    "iot:AttachThingPrincipal": 100,
    "iot:CreateThing": 100,
    "iot:UpdateThing": 100,
    "iot:DeleteThing": 100,
    # --- IoT (AWS IoT Core API throttling limits table) ---
    "iot:DescribeThing": 350,
    "iot:DetachThingPrincipal": 100,
    "iot:DetachPolicy": 15,
    "iot:ListAttachedPolicies": 15,
    "iot:ListPrincipalThings": 10,
    # not in the published table; taken as its List* peers (10/s)
    "iot:ListTargetsForPolicy": 10,
    "iot:ListCertificatesByCA": 10,
    "iot:UpdateCertificate": 10,
    "iot:DeleteCertificate": 10,
    "iot:RegisterCACertificate": 10,
    "iot:DescribeCACertificate": 10,
    "iot:ListCACertificates": 10,
    "iot:UpdateCACertificate": 10,
    "iot:GetRegistrationCode": 10,
    "iot:CreatePolicy": 10,
    "iot:CreatePolicyVersion": 10,
    "iot:DeletePolicy": 10,
    "iot:DeletePolicyVersion": 10,
    "iot:GetPolicyVersion": 15,
    "iot:ListPolicies": 10,
    "iot:ListPolicyVersions": 10,
    "iot:DescribeEndpoint": 10,
    "iot:ListThingTypes": 10,
    "iot:CreateThingType": 15,
    "iot:TagResource": 10,
    "iot:ListTagsForResource": 10,
    # --- IoT thing groups and jobs (AWS IoT Throttling Limits table, 2019) ---
    "iot:CreateThingGroup": 25,
    "iot:DescribeThingGroup": 100,
    "iot:DeleteThingGroup": 15,
    "iot:AddThingToThingGroup": 60,
    "iot:RemoveThingFromThingGroup": 15,
    "iot:ListThingsInThingGroup": 25,
    "iot:ListThingGroups": 10,
    "iot:CreateJob": 10,
    "iot:DescribeJob": 10,
    "iot:GetJobDocument": 10,
    "iot:ListJobs": 10,
    "iot:ListJobExecutionsForJob": 10,
    "iot:ListJobExecutionsForThing": 10,
    "iot:DescribeJobExecution": 10,
    "iot:CancelJob": 10,
    "iot:CancelJobExecution": 10,
    "iot:DeleteJob": 10,
    # AWS Secrets Manager quotas
    # (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html):
    # DescribeSecret and GetSecretValue 10,000/s combined; the others 50/s
    "secretsmanager:CreateSecret": 50,
    "secretsmanager:PutSecretValue": 50,
    "secretsmanager:GetSecretValue": 10000,
    "secretsmanager:UpdateSecretVersionStage": 50,
    "secretsmanager:DeleteSecret": 50,
    "secretsmanager:ListSecrets": 50,
    "secretsmanager:TagResource": 50,
    "secretsmanager:UntagResource": 50,
    # SSM Parameter Store ("AWS Systems Manager endpoints and quotas"):
    # GetParameter 40/s default throughput; the others taken low (not published)
    "ssm:GetParameter": 40,
    "ssm:PutParameter": 3,
    "ssm:DeleteParameter": 3,
    "ssm:DescribeParameters": 10,
}


# The jobs data plane, AWS IoT Job Limits table (2019, as above): "If invoking
# one or more of these "read" APIs [DescribeJobExecution, GetPendingJobExecutions]
# in the data plane causes the associated AWS account to exceed 200 read
# transactions per second (TPS) in total, then the offending API invocation(s)
# will be throttled"; StartNextPendingJobExecution and UpdateJobExecution
# share 200 write TPS the same way. operation -> (shared bucket, rate); kept
# per account and region like every other bucket.
DATA_PLANE_DEFAULTS: dict[str, tuple[str, float]] = {
    "iotjobsdata:DescribeJobExecution": ("iotjobsdata:reads", 200),
    "iotjobsdata:GetPendingJobExecutions": ("iotjobsdata:reads", 200),
    "iotjobsdata:StartNextPendingJobExecution": ("iotjobsdata:writes", 200),
    "iotjobsdata:UpdateJobExecution": ("iotjobsdata:writes", 200),
}


def bucket_and_rate(op: str | None, cfg: dict) -> tuple[str | None, float | None]:
    """(bucket name, rate) for a request: the operation's own entry in the
    quotas table, else the data plane's shared default when it is on."""
    rate = (cfg.get("quotas") or {}).get(op)
    if rate is not None:
        return op, rate
    if cfg.get("jobs_data_quotas") and op in DATA_PLANE_DEFAULTS:
        return DATA_PLANE_DEFAULTS[op]
    return op, None


class Buckets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._b: dict[tuple, tuple[float, float, float]] = {}  # key -> (tokens, last, rate)

    def clear(self) -> None:
        with self._lock:
            self._b.clear()

    def take(self, key: tuple, rate: float, now: float | None = None) -> bool:
        """True if a request may proceed (a token was taken).

        ``now`` is the bucket clock in seconds (default: the monotonic wall
        clock; the test clock when config ``quota_clock`` is ``"test"``).
        """
        if rate is None or rate <= 0:
            return True
        if now is None:
            now = time.monotonic()
        with self._lock:
            tokens, last, old_rate = self._b.get(key, (rate, now, rate))
            if old_rate != rate:
                tokens = min(tokens, rate)
            # a clock moved backwards refills nothing (and takes nothing away)
            tokens = min(rate, tokens + max(0.0, now - last) * rate)
            if tokens >= 1.0:
                self._b[key] = (tokens - 1.0, now, rate)
                return True
            self._b[key] = (tokens, now, rate)
            return False


buckets = Buckets()
