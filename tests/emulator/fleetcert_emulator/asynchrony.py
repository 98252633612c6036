"""What AWS documents as asynchronous or transient, on a wall-clock delay.

All of it is off (0) by default. Each behaviour cites the page it follows:

- thing_detach_seconds. AWS IoT API Reference, DetachThingPrincipal: "This
  call is asynchronous. It might take several seconds for the detachment to
  propagate." The attachment stays in moto's principal_things until the delay
  is over, so ListThingPrincipals(V2), ListPrincipalThings(V2), DeleteThing
  ("Cannot delete. Thing <name> is still attached to one or more principals")
  and DeleteCertificate (DeleteConflictException) all still see it.
- policy_detach_seconds. DetachPolicy / DeletePolicy: "Because of the
  distributed nature of Amazon Web Services, it can take up to five minutes
  after a policy is detached before it's ready to be deleted." The attachment
  stays in moto's principal_policies for the delay (DetachPolicy and the
  deprecated DetachPrincipalPolicy alike).
- ca_creating_seconds. AWS Private CA API Reference,
  DescribeCertificateAuthority: "CREATING - Amazon Web Services Private CA is
  creating your private certificate authority." Then PENDING_CERTIFICATE.
- ca_csr_in_progress_seconds. GetCertificateAuthorityCsr lists
  RequestInProgressException ("Your request is already in progress");
  botocore's acm-pca waiter CertificateAuthorityCSRCreated retries on it.
- certificate_in_progress_seconds. GetCertificate lists
  RequestInProgressException; botocore's waiter CertificateIssued retries on it.
- job_deletion_seconds. IoT DeleteJob: "Deleting a job may take time,
  depending on the number of job executions created for the job and various
  other factors. While the job is being deleted, the status of the job will
  be shown as DELETION_IN_PROGRESS" (jobs.py delete_job).
- revoke_transient_rate. RevokeCertificate lists ConcurrentModificationException
  ("A previous update to your private CA is still ongoing") and
  RequestInProgressException.

Pending state lives on moto's backend objects (per account and region), which
moto's reset (POST /_fleetcert/reset) replaces. Delays use time.monotonic():
a client polls against real time, not against clock_offset_seconds.
"""

from __future__ import annotations

import math
import time

from . import state

SECONDS_KEYS = (
    "thing_detach_seconds",
    "policy_detach_seconds",
    "ca_creating_seconds",
    "ca_csr_in_progress_seconds",
    "certificate_in_progress_seconds",
    "job_deletion_seconds",
)
RATE_KEY = "revoke_transient_rate"
PRESET_KEY = "asynchrony"

# "realistic": short delays a test suite can afford to wait out, long enough
# that a client which does not wait or retry fails.
PRESETS = {
    "off": {k: 0.0 for k in (*SECONDS_KEYS, RATE_KEY)},
    "realistic": {
        "thing_detach_seconds": 1.0,
        "policy_detach_seconds": 2.0,
        "ca_creating_seconds": 1.0,
        "ca_csr_in_progress_seconds": 0.5,
        "certificate_in_progress_seconds": 0.5,
        "job_deletion_seconds": 1.0,
        "revoke_transient_rate": 0.1,
    },
}


def resolve(patch: dict) -> dict:
    """The asynchrony keys a config patch sets: its preset first, then the
    patch's explicit keys over it. ValueError for a bad value."""
    out = {}
    if PRESET_KEY in patch:
        name = patch[PRESET_KEY]
        if name not in PRESETS:
            raise ValueError(f"{PRESET_KEY} must be one of {sorted(PRESETS)}")
        out[PRESET_KEY] = name
        out.update(PRESETS[name])
    for k in SECONDS_KEYS:
        if k in patch:
            v = float(patch[k])
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{k} must be a finite number of seconds >= 0")
            out[k] = v
    if RATE_KEY in patch:
        v = float(patch[RATE_KEY])
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{RATE_KEY} must be within [0, 1]")
        out[RATE_KEY] = v
    return out


def _seconds(key: str) -> float:
    return float(state.config.get(key) or 0)


# ---------------------------------------------------------------------------
# IoT: detachments that propagate later. kind "thing" keys are moto's
# principal_things keys (principal ARN, thing name); kind "policy" keys are
# principal_policies keys (target, policy name).
# ---------------------------------------------------------------------------
_KINDS = {
    "thing": ("principal_things", "thing_detach_seconds"),
    "policy": ("principal_policies", "policy_detach_seconds"),
}


def _pending(backend, kind: str) -> dict:
    name = f"_fc_pending_{kind}_detach"
    pending = getattr(backend, name, None)
    if pending is None:
        pending = {}
        setattr(backend, name, pending)
    return pending


def detach_is_pending(backend, kind: str, key) -> bool:
    return key in _pending(backend, kind)


def defer_detach(backend, kind: str, key) -> bool:
    """Schedule the removal of an attachment moto holds; False when the
    configured delay is 0 (the caller detaches at once)."""
    delay = _seconds(_KINDS[kind][1])
    if delay <= 0:
        return False
    _pending(backend, kind)[key] = time.monotonic() + delay
    return True


def cancel_detach(backend, kind: str, key) -> None:
    """A re-attach of the same pair: the attachment is wanted again, so the
    pending detachment must not remove it later."""
    _pending(backend, kind).pop(key, None)


def settle_iot(backend) -> None:
    """Carry out the detachments whose delay is over (run before each IoT call)."""
    now = time.monotonic()
    for kind, (attr, _) in _KINDS.items():
        pending = _pending(backend, kind)
        for key, due in list(pending.items()):
            if due <= now:
                del pending[key]
                getattr(backend, attr).pop(key, None)


# ---------------------------------------------------------------------------
# ACM PCA: a CA that is still being created, a CSR and certificates that are
# not ready yet, transient revocation failures.
# ---------------------------------------------------------------------------
def on_ca_created(ca) -> None:
    start = time.monotonic()
    creating = _seconds("ca_creating_seconds")
    ca._fc_creating_until = start + creating
    ca._fc_csr_ready_at = start + creating + _seconds("ca_csr_in_progress_seconds")
    if creating > 0:
        ca.status = "CREATING"


def settle_pca(backend) -> None:
    """CREATING -> PENDING_CERTIFICATE once the delay is over (before each PCA
    call, so DescribeCertificateAuthority and ListCertificateAuthorities agree).
    A CA deleted meanwhile keeps its new status."""
    now = time.monotonic()
    for ca in backend.certificate_authorities.values():
        if ca.status == "CREATING" and getattr(ca, "_fc_creating_until", 0) <= now:
            ca.status = "PENDING_CERTIFICATE"


def check_csr_ready(ca, err) -> None:
    """GetCertificateAuthorityCsr: RequestInProgressException while the CA is
    CREATING and for ca_csr_in_progress_seconds after."""
    if ca.status == "CREATING" or time.monotonic() < getattr(ca, "_fc_csr_ready_at", 0):
        raise err("RequestInProgressException", "The certificate signing request for this CA is still being created.")


def check_not_creating(ca, err, action: str) -> None:
    """InvalidStateException ("The state of the private CA does not allow this
    action to occur") while the CA is CREATING."""
    if ca.status == "CREATING":
        raise err("InvalidStateException", f"The certificate authority {ca.arn} is CREATING and cannot {action} yet.")


def on_certificate_issued(ca, cert_arn: str) -> None:
    ready = getattr(ca, "_fc_ready_at", None)
    if ready is None:
        ready = ca._fc_ready_at = {}
    ready[cert_arn] = time.monotonic() + _seconds("certificate_in_progress_seconds")


def check_certificate_ready(ca, cert_arn: str, err) -> None:
    if time.monotonic() < getattr(ca, "_fc_ready_at", {}).get(cert_arn, 0):
        raise err("RequestInProgressException", "The request to issue certificate is still in progress.")


TRANSIENT_REVOKE_ERRORS = (
    ("ConcurrentModificationException", "A previous update to your private CA is still ongoing."),
    ("RequestInProgressException", "Your request is already in progress."),
)


def revoke_transient(err) -> None:
    """One draw per RevokeCertificate from state.revoke_rng (seeded from
    fault_seed, apart from the middleware's three draws per request): below
    the rate, the request fails without being carried out; the lower half of
    that range gives ConcurrentModificationException, the upper half
    RequestInProgressException."""
    rate = float(state.config.get(RATE_KEY) or 0)
    with state.LOCK:
        r = state.revoke_rng.random()
    if r < rate:
        code, message = TRANSIENT_REVOKE_ERRORS[0 if r < rate / 2 else 1]
        raise err(code, message)
