"""Emulator-wide state that is not moto's: config, counters, revocations, clock.

Everything here is reset by POST /_fleetcert/reset (together with moto's own
reset). Per-account model state (idempotency caches, cached CA keys, ...) is
kept on moto's backend objects, so moto's reset drops it too.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import threading
from collections import defaultdict

# One lock serialises every call into moto (moto's backends are not thread
# safe); latency and faults are applied outside it.
MOTO_LOCK = threading.RLock()
# Protects the structures below.
LOCK = threading.RLock()

DEFAULT_CONFIG = {
    "quotas": {},  # operation name -> requests per second; {} = no throttling
    "latency_ms": 0,
    "fault_5xx_rate": 0.0,
    "fault_5xx_after_rate": 0.0,
    "fault_drop_rate": 0.0,
    "fault_seed": None,
    "request_in_progress_calls": 0,
    "clock_offset_seconds": 0,
    # "wall": token buckets refill with real time; "test": only as
    # clock_offset_seconds moves forward, so a test can exhaust a bucket and
    # refill it without racing the wall clock
    "quota_clock": "wall",
    # [{"operation", "path_contains", "status", "code", "message"}]: requests
    # that always fail with that error (a deterministic per-resource failure)
    "fail_requests": [],
    # asynchronous / transient AWS behaviour (asynchrony.py), all off by
    # default; "asynchrony" is the last preset applied ("off" / "realistic")
    "asynchrony": "off",
    "thing_detach_seconds": 0.0,
    "policy_detach_seconds": 0.0,
    "ca_creating_seconds": 0.0,
    "ca_csr_in_progress_seconds": 0.0,
    "certificate_in_progress_seconds": 0.0,
    "revoke_transient_rate": 0.0,
    "job_deletion_seconds": 0.0,
    # the jobs data plane's own quotas (quotas.DATA_PLANE_DEFAULTS), kept out
    # of "quotas" so that table stays fleetcert's; "quotas": "aws"/"off" set it
    "jobs_data_quotas": False,
    # check every IoT / ACM PCA request against botocore's model (validation.py)
    "validate_requests": True,
}

launch_config: dict = copy.deepcopy(DEFAULT_CONFIG)  # set by server.main from the CLI
config: dict = copy.deepcopy(DEFAULT_CONFIG)
rng = random.Random()
# RevokeCertificate's transient failures draw from their own generator, so
# they never shift the middleware's three draws per request
revoke_rng = random.Random()

# "<account>/<region>" -> operation -> count
counters: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
throttled: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
# requests an IAM policy denied (iam.py), same shape as throttled
denied: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
# requests the service model refused (validation.py), same shape
invalid: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
# "<account>/<region>" -> operation -> resource ARN -> count, for the requests
# that name a resource (iam.request_resources); "*" ones are not kept
resources: dict[str, dict[str, dict[str, int]]] = defaultdict(
    lambda: defaultdict(lambda: defaultdict(int)))
# each denial: {"account", "region", "access_key_id", "action", "resource", "message"}
denials: list[dict] = []

# access key id -> {"statements": [...], "document": <as set>, "user_arn": str}
iam_policies: dict[str, dict] = {}
# "<account>/<region>" -> fault kind ("5xx", "5xx_after", "drop") -> operation -> count
faults: dict[str, dict[str, dict[str, int]]] = defaultdict(
    lambda: defaultdict(lambda: defaultdict(int)))
# Every mutating request (an operation that is not Describe*/List*/Get*),
# in arrival order: {"account", "region", "operation", "path"}. Capped so a
# long benchmark cannot grow it without bound.
writes: list[dict] = []
WRITES_CAP = 100_000

# PCA revocations, as shown by GET /_fleetcert/pca/revocations
revocations: list[dict] = []

# KMS keys whose key policy lets no caller use them (POST /_fleetcert/kms/deny):
# (account, key id) pairs; see kmsuse.py
kms_denied: set[tuple[str, str]] = set()

_reset_hooks: list = []


def on_reset(fn):
    """Register a callable run by reset_all() (after moto's reset)."""
    _reset_hooks.append(fn)
    return fn


def now() -> dt.datetime:
    """The emulated clock used for certificate validity (UTC, with test offset)."""
    offset = config.get("clock_offset_seconds") or 0
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset)


def reseed() -> None:
    seed = config.get("fault_seed")
    rng.seed(seed)
    revoke_rng.seed(None if seed is None else f"revoke-transient:{seed}")


def set_launch_config(cfg: dict) -> None:
    global launch_config
    # keys the launcher does not set keep their defaults
    launch_config = copy.deepcopy({**DEFAULT_CONFIG, **cfg})
    with LOCK:
        config.clear()
        config.update(copy.deepcopy(launch_config))
        reseed()


# Reads whose names do not start with Describe/List/Get: KMS's cryptographic
# operations change no state, nor do Secrets Manager's batch read and policy check.
_READS = {
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateRandom", "kms:Sign", "kms:Verify",
    "kms:GenerateMac", "kms:VerifyMac",
    "secretsmanager:BatchGetSecretValue", "secretsmanager:ValidateResourcePolicy",
}


def is_write(op: str | None) -> bool:
    """Whether an operation changes state (AWS names reads Describe/List/Get)."""
    if not op or ":" not in op or op in _READS:
        return False
    name = op.split(":", 1)[1]
    return not name.startswith(("Describe", "List", "Get")) and name != "Unknown"


def reset_counters() -> None:
    with LOCK:
        counters.clear()
        throttled.clear()
        denied.clear()
        invalid.clear()
        resources.clear()
        denials.clear()
        faults.clear()
        writes.clear()


def reset_all() -> None:
    from moto.moto_api._internal.models import moto_api_backend

    with MOTO_LOCK:
        moto_api_backend.reset()
    with LOCK:
        config.clear()
        config.update(copy.deepcopy(launch_config))
        reseed()
        counters.clear()
        throttled.clear()
        denied.clear()
        invalid.clear()
        resources.clear()
        denials.clear()
        faults.clear()
        writes.clear()
        revocations.clear()
        kms_denied.clear()
        iam_policies.clear()
        for fn in _reset_hooks:
            fn()


def snapshot_counters() -> dict:
    with LOCK:
        return {
            "counters": {k: dict(v) for k, v in counters.items()},
            "throttled": {k: dict(v) for k, v in throttled.items()},
            "denied": {k: dict(v) for k, v in denied.items()},
            "invalid": {k: dict(v) for k, v in invalid.items()},
            "resources": {k: {op: dict(arns) for op, arns in ops.items()} for k, ops in resources.items()},
            "faults": {k: {kind: dict(ops) for kind, ops in v.items()} for k, v in faults.items()},
        }
