"""Asynchronous and transient AWS behaviour (fleetcert_emulator/asynchrony.py).

Delays are wall clock. Each test checks the state during the delay right after
starting it (a handful of requests, well inside DELAY), then sleeps just past it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
import urllib.error

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from conftest import HERE, TEMPLATE, create_root_ca, issue, make_csr, new_key

DELAY = 0.8
ASYNC_KEYS = ("thing_detach_seconds", "policy_detach_seconds", "ca_creating_seconds",
              "ca_csr_in_progress_seconds", "certificate_in_progress_seconds", "revoke_transient_rate")
POLICY_DOC = '{"Version":"2012-10-17","Statement":[]}'


def failure(call, **kw) -> tuple[str, int, str]:
    """(error code, HTTP status, message) of a call that must fail."""
    with pytest.raises(ClientError) as e:
        call(**kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Message", "")


def wait_past(t0: float, delay: float) -> None:
    time.sleep(max(0.0, t0 + delay + 0.05 - time.monotonic()))


def self_signed_pem(cn: str = "dev") -> str:
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def inactive_cert(iot, pem: str | None = None) -> tuple[str, str]:
    """An INACTIVE certificate (so DeleteCertificate is refused only for its attachments)."""
    out = iot.register_certificate_without_ca(certificatePem=pem or self_signed_pem(), status="INACTIVE")
    return out["certificateArn"], out["certificateId"]


def thing_with_cert(iot, name="th"):
    cert_arn, cert_id = inactive_cert(iot)
    iot.create_thing(thingName=name)
    iot.attach_thing_principal(thingName=name, principal=cert_arn)
    return cert_arn, cert_id


def shown_attached(iot, thing: str, cert_arn: str) -> dict:
    return {
        "ListThingPrincipals": iot.list_thing_principals(thingName=thing)["principals"] == [cert_arn],
        "ListThingPrincipalsV2": [o["principal"] for o in
                                  iot.list_thing_principals_v2(thingName=thing)["thingPrincipalObjects"]] == [cert_arn],
        "ListPrincipalThings": iot.list_principal_things(principal=cert_arn)["things"] == [thing],
        "ListPrincipalThingsV2": [o["thingName"] for o in
                                  iot.list_principal_things_v2(principal=cert_arn)["principalThingObjects"]] == [thing],
    }


# ---------------------------------------------------------------------------
# thing_detach_seconds
# ---------------------------------------------------------------------------
def test_thing_detach_propagates_after_the_delay(emulator, iot):
    cert_arn, cert_id = thing_with_cert(iot)
    emulator.control("config", {"thing_detach_seconds": DELAY})
    t0 = time.monotonic()
    iot.detach_thing_principal(thingName="th", principal=cert_arn)  # success at once
    shown = shown_attached(iot, "th", cert_arn)
    assert shown == dict.fromkeys(shown, True)
    assert failure(iot.delete_thing, thingName="th") == (
        "InvalidRequestException", 400, "Cannot delete. Thing th is still attached to one or more principals")
    code, status, _ = failure(iot.delete_certificate, certificateId=cert_id)
    assert (code, status) == ("DeleteConflictException", 409)
    assert time.monotonic() - t0 < DELAY / 2, "too slow to check the window"
    time.sleep(max(0.0, t0 + DELAY / 2 - time.monotonic()))
    # again while pending: success, and it does not postpone the first one
    iot.detach_thing_principal(thingName="th", principal=cert_arn)
    assert iot.list_thing_principals(thingName="th")["principals"] == [cert_arn]
    wait_past(t0, DELAY)
    shown = shown_attached(iot, "th", cert_arn)
    assert shown == dict.fromkeys(shown, False)
    iot.delete_thing(thingName="th")
    iot.delete_certificate(certificateId=cert_id)
    # once propagated, a further detach is moto's ResourceNotFoundException again
    iot.create_thing(thingName="th")
    assert failure(iot.detach_thing_principal, thingName="th", principal=cert_arn)[:2] == ("ResourceNotFoundException", 404)


def test_thing_reattach_cancels_the_pending_detach(emulator, iot):
    cert_arn, _ = thing_with_cert(iot)
    emulator.control("config", {"thing_detach_seconds": DELAY})
    t0 = time.monotonic()
    iot.detach_thing_principal(thingName="th", principal=cert_arn)
    iot.attach_thing_principal(thingName="th", principal=cert_arn)
    wait_past(t0, DELAY)
    assert iot.list_thing_principals(thingName="th")["principals"] == [cert_arn]
    # and a later detach is pending again, from its own start
    t1 = time.monotonic()
    iot.detach_thing_principal(thingName="th", principal=cert_arn)
    assert iot.list_thing_principals(thingName="th")["principals"] == [cert_arn]
    wait_past(t1, DELAY)
    assert iot.list_thing_principals(thingName="th")["principals"] == []


def test_thing_detach_is_immediate_at_zero(iot):
    cert_arn, cert_id = thing_with_cert(iot)
    # DeleteThing while attached: InvalidRequestException with botocore's 400 (moto said 409)
    assert failure(iot.delete_thing, thingName="th")[:2] == ("InvalidRequestException", 400)
    iot.detach_thing_principal(thingName="th", principal=cert_arn)
    assert iot.list_thing_principals(thingName="th")["principals"] == []
    assert failure(iot.detach_thing_principal, thingName="th", principal=cert_arn)[0] == "ResourceNotFoundException"
    iot.delete_thing(thingName="th")
    iot.delete_certificate(certificateId=cert_id)


def test_delete_certificate_refusals(iot):
    # DeleteCertificate: "A certificate cannot be deleted if it has a policy or
    # IoT thing attached to it or if its status is set to ACTIVE."
    out = iot.register_certificate_without_ca(certificatePem=self_signed_pem(), status="ACTIVE")
    assert failure(iot.delete_certificate, certificateId=out["certificateId"])[:2] == ("CertificateStateException", 406)
    cert_arn, cert_id = thing_with_cert(iot)
    assert failure(iot.delete_certificate, certificateId=cert_id)[:2] == ("DeleteConflictException", 409)
    iot.detach_thing_principal(thingName="th", principal=cert_arn)
    iot.create_policy(policyName="pol", policyDocument=POLICY_DOC)
    iot.attach_policy(policyName="pol", target=cert_arn)
    assert failure(iot.delete_certificate, certificateId=cert_id)[:2] == ("DeleteConflictException", 409)
    iot.detach_policy(policyName="pol", target=cert_arn)
    iot.delete_certificate(certificateId=cert_id)


# ---------------------------------------------------------------------------
# policy_detach_seconds
# ---------------------------------------------------------------------------
def policy_shown(iot, cert_arn: str) -> list[bool]:
    return [
        [p["policyName"] for p in iot.list_attached_policies(target=cert_arn)["policies"]] == ["pol"],
        [p["policyName"] for p in iot.list_principal_policies(principal=cert_arn)["policies"]] == ["pol"],
        iot.list_targets_for_policy(policyName="pol")["targets"] == [cert_arn],
    ]


@pytest.mark.parametrize("deprecated", [False, True], ids=["DetachPolicy", "DetachPrincipalPolicy"])
def test_policy_detach_propagates_after_the_delay(emulator, iot, deprecated):
    cert_arn, cert_id = inactive_cert(iot)
    iot.create_policy(policyName="pol", policyDocument=POLICY_DOC)
    iot.attach_policy(policyName="pol", target=cert_arn)
    emulator.control("config", {"policy_detach_seconds": DELAY})

    def detach():
        if deprecated:
            iot.detach_principal_policy(policyName="pol", principal=cert_arn)
        else:
            iot.detach_policy(policyName="pol", target=cert_arn)
    t0 = time.monotonic()
    detach()
    assert policy_shown(iot, cert_arn) == [True, True, True]
    assert failure(iot.delete_policy, policyName="pol")[:2] == ("DeleteConflictException", 409)
    assert failure(iot.delete_certificate, certificateId=cert_id)[:2] == ("DeleteConflictException", 409)
    assert time.monotonic() - t0 < DELAY / 2, "too slow to check the window"
    time.sleep(max(0.0, t0 + DELAY / 2 - time.monotonic()))
    detach()  # again while pending: success, without postponing the first one
    wait_past(t0, DELAY)
    assert policy_shown(iot, cert_arn) == [False, False, False]
    iot.delete_policy(policyName="pol")
    iot.delete_certificate(certificateId=cert_id)


def test_force_delete_takes_the_policy_attachments_with_it(emulator, iot):
    # forceDelete: "Forces the deletion of a certificate if it is inactive and
    # is not attached to an IoT thing": a pending policy detachment does not
    # block it, and nothing of the certificate is left to trip later calls.
    cert_arn, cert_id = inactive_cert(iot)
    other_arn, other_id = inactive_cert(iot)
    iot.create_policy(policyName="pol", policyDocument=POLICY_DOC)
    iot.attach_policy(policyName="pol", target=cert_arn)
    emulator.control("config", {"policy_detach_seconds": 30})
    iot.detach_policy(policyName="pol", target=cert_arn)
    assert failure(iot.delete_certificate, certificateId=cert_id)[:2] == ("DeleteConflictException", 409)
    iot.delete_certificate(certificateId=cert_id, forceDelete=True)
    assert iot.list_targets_for_policy(policyName="pol")["targets"] == []
    iot.delete_certificate(certificateId=other_id)
    iot.delete_policy(policyName="pol")


def test_policy_reattach_cancels_the_pending_detach(emulator, iot):
    cert_arn, _ = inactive_cert(iot)
    iot.create_policy(policyName="pol", policyDocument=POLICY_DOC)
    iot.attach_policy(policyName="pol", target=cert_arn)
    emulator.control("config", {"policy_detach_seconds": DELAY})
    t0 = time.monotonic()
    iot.detach_policy(policyName="pol", target=cert_arn)
    iot.attach_principal_policy(policyName="pol", principal=cert_arn)  # the deprecated attach cancels too
    wait_past(t0, DELAY)
    assert policy_shown(iot, cert_arn) == [True, True, True]


# ---------------------------------------------------------------------------
# ca_creating_seconds, ca_csr_in_progress_seconds
# ---------------------------------------------------------------------------
def new_ca(pca) -> str:
    return pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA",
                                           "Subject": {"CommonName": "slow"}},
        CertificateAuthorityType="ROOT")["CertificateAuthorityArn"]


def ca_status(pca, arn) -> str:
    return pca.describe_certificate_authority(CertificateAuthorityArn=arn)["CertificateAuthority"]["Status"]


def self_issue(pca, arn, csr: bytes):
    return pca.issue_certificate(CertificateAuthorityArn=arn, Csr=csr, SigningAlgorithm="SHA256WITHECDSA",
                                 TemplateArn=TEMPLATE + "RootCACertificate/V1", Validity={"Type": "YEARS", "Value": 1})


def test_ca_is_creating_for_the_delay(emulator, pca):
    emulator.control("config", {"ca_creating_seconds": DELAY})
    t0 = time.monotonic()
    arn = new_ca(pca)
    created = time.monotonic()  # the CA's timer started before this
    assert ca_status(pca, arn) == "CREATING"
    assert [c["Status"] for c in pca.list_certificate_authorities()["CertificateAuthorities"]] == ["CREATING"]
    assert failure(pca.get_certificate_authority_csr, CertificateAuthorityArn=arn)[:2] == ("RequestInProgressException", 400)
    assert failure(self_issue, pca=pca, arn=arn, csr=make_csr("x"))[:2] == ("InvalidStateException", 400)
    assert failure(pca.import_certificate_authority_certificate, CertificateAuthorityArn=arn,
                   Certificate=self_signed_pem().encode())[:2] == ("InvalidStateException", 400)
    assert time.monotonic() - t0 < DELAY, "too slow to check the window"
    wait_past(created, DELAY)
    assert ca_status(pca, arn) == "PENDING_CERTIFICATE"
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = self_issue(pca, arn, csr.encode())["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem.encode())
    assert ca_status(pca, arn) == "ACTIVE"


def test_csr_in_progress_after_creating(emulator, pca):
    emulator.control("config", {"ca_creating_seconds": 0.3, "ca_csr_in_progress_seconds": DELAY})
    t0 = time.monotonic()
    arn = new_ca(pca)
    wait_past(t0, 0.3)
    assert ca_status(pca, arn) == "PENDING_CERTIFICATE"
    assert failure(pca.get_certificate_authority_csr, CertificateAuthorityArn=arn)[0] == "RequestInProgressException"
    assert time.monotonic() - t0 < 0.3 + DELAY, "too slow to check the window"
    wait_past(t0, 0.3 + DELAY)
    assert "BEGIN CERTIFICATE REQUEST" in pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    # the CSR delay alone: PENDING_CERTIFICATE at once, the CSR not yet
    emulator.control("config", {"ca_creating_seconds": 0, "ca_csr_in_progress_seconds": DELAY})
    arn = new_ca(pca)
    assert ca_status(pca, arn) == "PENDING_CERTIFICATE"
    assert failure(pca.get_certificate_authority_csr, CertificateAuthorityArn=arn)[0] == "RequestInProgressException"


# ---------------------------------------------------------------------------
# certificate_in_progress_seconds
# ---------------------------------------------------------------------------
def issue_only(pca, ca_arn, cn="dev") -> str:
    return pca.issue_certificate(CertificateAuthorityArn=ca_arn, Csr=make_csr(cn), SigningAlgorithm="SHA256WITHECDSA",
                                 Validity={"Type": "DAYS", "Value": 1})["CertificateArn"]


def test_certificate_in_progress_for_the_delay(emulator, pca):
    ca_arn, _ = create_root_ca(pca)
    emulator.control("config", {"certificate_in_progress_seconds": DELAY})
    t0 = time.monotonic()
    arn = issue_only(pca, ca_arn)
    for _ in range(2):
        assert failure(pca.get_certificate, CertificateAuthorityArn=ca_arn, CertificateArn=arn)[:2] == (
            "RequestInProgressException", 400)
    # GetCertificateAuthorityCertificate has no RequestInProgressException in its error list
    assert "BEGIN CERTIFICATE" in pca.get_certificate_authority_certificate(CertificateAuthorityArn=ca_arn)["Certificate"]
    wait_past(t0, DELAY)
    assert "BEGIN CERTIFICATE" in pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)["Certificate"]


def test_certificate_in_progress_time_then_count(emulator, pca):
    # the time-based delay first, then request_in_progress_calls more answers
    ca_arn, _ = create_root_ca(pca)
    emulator.control("config", {"certificate_in_progress_seconds": 0.3, "request_in_progress_calls": 1})
    t0 = time.monotonic()
    arn = issue_only(pca, ca_arn)
    assert failure(pca.get_certificate, CertificateAuthorityArn=ca_arn, CertificateArn=arn)[0] == "RequestInProgressException"
    wait_past(t0, 0.3)
    assert failure(pca.get_certificate, CertificateAuthorityArn=ca_arn, CertificateArn=arn)[0] == "RequestInProgressException"
    assert pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)["Certificate"]


def test_root_certificate_in_progress_too(emulator, pca):
    # the CA's own certificate comes from GetCertificate as well
    emulator.control("config", {"certificate_in_progress_seconds": DELAY})
    arn = new_ca(pca)
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    t0 = time.monotonic()
    cert_arn = self_issue(pca, arn, csr.encode())["CertificateArn"]
    assert failure(pca.get_certificate, CertificateAuthorityArn=arn, CertificateArn=cert_arn)[0] == "RequestInProgressException"
    wait_past(t0, DELAY)
    assert pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]


# ---------------------------------------------------------------------------
# revoke_transient_rate
# ---------------------------------------------------------------------------
TRANSIENT = {"ConcurrentModificationException", "RequestInProgressException"}


def serial_of(pem: str) -> str:
    return f"{x509.load_pem_x509_certificate(pem.encode()).serial_number:x}"


def revoke_outcome(pca, ca_arn, serial) -> str:
    try:
        pca.revoke_certificate(CertificateAuthorityArn=ca_arn, CertificateSerial=serial, RevocationReason="SUPERSEDED")
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


def test_revoke_transient_errors_do_not_revoke(emulator, pca, account):
    ca_arn, _ = create_root_ca(pca)
    _, pem = issue(pca, ca_arn)
    emulator.control("config", {"revoke_transient_rate": 1.0, "fault_seed": 5})
    outcomes = [revoke_outcome(pca, ca_arn, serial_of(pem)) for _ in range(16)]
    assert set(outcomes) == TRANSIENT  # both kinds, never carried out
    code, status, _ = failure(pca.revoke_certificate, CertificateAuthorityArn=ca_arn, CertificateSerial=serial_of(pem),
                              RevocationReason="SUPERSEDED")
    assert code in TRANSIENT and status == 400
    assert [r for r in emulator.control("pca/revocations") if r["account"] == account] == []
    emulator.control("config", {"revoke_transient_rate": 0})
    assert revoke_outcome(pca, ca_arn, serial_of(pem)) == "ok"
    assert revoke_outcome(pca, ca_arn, serial_of(pem)) == "RequestAlreadyProcessedException"


def test_revoke_transient_is_deterministic_under_fault_seed(emulator, pca):
    ca_arn, _ = create_root_ca(pca)

    def run():
        pems = [issue(pca, ca_arn, cn=f"d{i}")[1] for i in range(16)]
        emulator.control("config", {"revoke_transient_rate": 0.5, "fault_seed": 77})
        out = [revoke_outcome(pca, ca_arn, serial_of(p)) for p in pems]
        emulator.control("config", {"revoke_transient_rate": 0})
        return out
    a, b = run(), run()
    assert a == b and "ok" in a and set(a) - {"ok"}


def test_revoke_draws_leave_the_fault_sequence_alone(emulator, pca):
    # The middleware draws three numbers per request (drop, 5xx, 5xx-after)
    # from random.Random(fault_seed); the revoke draws come from elsewhere, so
    # which requests get a 5xx is exactly what that sequence says.
    ca_arn, _ = create_root_ca(pca)
    _, pem = issue(pca, ca_arn)
    emulator.control("config", {"revoke_transient_rate": 1.0, "fault_5xx_rate": 0.5, "fault_seed": 2024})
    got = ["5xx" if revoke_outcome(pca, ca_arn, serial_of(pem)).startswith("InternalFailure") else "handler"
           for _ in range(16)]
    rng = random.Random(2024)
    want = []
    for _ in range(16):
        _drop, r_5xx, _after = rng.random(), rng.random(), rng.random()
        want.append("5xx" if r_5xx < 0.5 else "handler")
    emulator.control("config", {"fault_5xx_rate": 0, "revoke_transient_rate": 0})
    assert got == want and "5xx" in got and "handler" in got


# ---------------------------------------------------------------------------
# Config: preset, validation, launch flags, defaults, reset
# ---------------------------------------------------------------------------
REALISTIC = {"thing_detach_seconds": 1.0, "policy_detach_seconds": 2.0, "ca_creating_seconds": 1.0,
             "ca_csr_in_progress_seconds": 0.5, "certificate_in_progress_seconds": 0.5, "revoke_transient_rate": 0.1}


def test_preset_and_explicit_keys(emulator):
    cfg = emulator.control("config", {"asynchrony": "realistic"})
    assert {k: cfg[k] for k in ASYNC_KEYS} == REALISTIC and cfg["asynchrony"] == "realistic"
    cfg = emulator.control("config", {"asynchrony": "realistic", "thing_detach_seconds": 0.25})
    assert cfg["thing_detach_seconds"] == 0.25 and cfg["policy_detach_seconds"] == 2.0  # explicit key wins
    cfg = emulator.control("config", {"thing_detach_seconds": 0.5})  # alone: the others stay
    assert cfg["thing_detach_seconds"] == 0.5 and cfg["revoke_transient_rate"] == 0.1
    cfg = emulator.control("config", {"asynchrony": "off"})
    assert {k: cfg[k] for k in ASYNC_KEYS} == dict.fromkeys(ASYNC_KEYS, 0.0)


@pytest.mark.parametrize("bad", [
    {"asynchrony": "sometimes"}, {"thing_detach_seconds": -1}, {"ca_creating_seconds": "nan"},
    {"revoke_transient_rate": 1.5}, {"certificate_in_progress_seconds": "soon"},
])
def test_bad_asynchrony_config_is_refused(emulator, bad):
    with pytest.raises(urllib.error.HTTPError) as e:
        emulator.control("config", bad)
    assert e.value.code == 400
    assert emulator.control("config")["thing_detach_seconds"] == 0.0  # nothing applied


def test_all_off_by_default(emulator):
    from fleetcert_emulator.state import DEFAULT_CONFIG
    assert DEFAULT_CONFIG["asynchrony"] == "off"
    assert {k: DEFAULT_CONFIG[k] for k in ASYNC_KEYS} == dict.fromkeys(ASYNC_KEYS, 0.0)
    # the session's emulator runs without flags: after a reset it has the launch config
    emulator.control("reset", {})
    cfg = emulator.control("config")
    assert cfg["asynchrony"] == "off" and {k: cfg[k] for k in ASYNC_KEYS} == dict.fromkeys(ASYNC_KEYS, 0.0)


def test_all_off_behaves_as_before(iot, pca):
    cert_arn, cert_id = thing_with_cert(iot)
    iot.create_policy(policyName="pol", policyDocument=POLICY_DOC)
    iot.attach_policy(policyName="pol", target=cert_arn)
    iot.detach_thing_principal(thingName="th", principal=cert_arn)
    iot.detach_policy(policyName="pol", target=cert_arn)
    iot.delete_thing(thingName="th")  # each at once, no waiting
    iot.delete_policy(policyName="pol")
    iot.delete_certificate(certificateId=cert_id)
    arn = new_ca(pca)
    assert ca_status(pca, arn) == "PENDING_CERTIFICATE"
    ca_arn, _ = create_root_ca(pca)  # CSR, root certificate and import with no wait
    _, pem = issue(pca, ca_arn)
    assert {revoke_outcome(pca, ca_arn, serial_of(pem))} == {"ok"}


def test_launch_flags():
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetcert_emulator", "--port", "0", "--exit-on-stdin-eof",
         "--asynchrony", "realistic", "--thing-detach-seconds", "0.25", "--revoke-transient-rate", "0"],
        cwd=HERE, env=dict(os.environ, PYTHONPATH=HERE), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("FLEETCERT_EMULATOR_READY port=")
        from conftest import Emulator
        emu = Emulator(int(line.strip().split("=", 1)[1]), 0, proc)
        want = dict(REALISTIC, thing_detach_seconds=0.25, revoke_transient_rate=0.0)
        cfg = emu.control("config")
        assert {k: cfg[k] for k in ASYNC_KEYS} == want and cfg["asynchrony"] == "realistic"
        emu.control("config", {"asynchrony": "off"})
        emu.control("reset", {})  # back to the launch flags
        cfg = emu.control("config")
        assert {k: cfg[k] for k in ASYNC_KEYS} == want
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    bad = subprocess.run([sys.executable, "-m", "fleetcert_emulator", "--port", "0", "--thing-detach-seconds", "-1"],
                         cwd=HERE, env=dict(os.environ, PYTHONPATH=HERE), capture_output=True, text=True, timeout=30)
    assert bad.returncode != 0 and "thing_detach_seconds" in bad.stderr


def test_reset_drops_pending_state(emulator, iot, pca):
    pem = self_signed_pem()
    cert_arn, _ = inactive_cert(iot, pem)
    iot.create_thing(thingName="th")
    iot.attach_thing_principal(thingName="th", principal=cert_arn)
    iot.create_policy(policyName="pol", policyDocument=POLICY_DOC)
    iot.attach_policy(policyName="pol", target=cert_arn)
    emulator.control("config", {"thing_detach_seconds": 30, "policy_detach_seconds": 30, "ca_creating_seconds": 30})
    iot.detach_thing_principal(thingName="th", principal=cert_arn)
    iot.detach_policy(policyName="pol", target=cert_arn)
    assert ca_status(pca, new_ca(pca)) == "CREATING"
    emulator.control("reset", {})
    cfg = emulator.control("config")
    assert {k: cfg[k] for k in ASYNC_KEYS} == dict.fromkeys(ASYNC_KEYS, 0.0)
    # the same names and certificate again: nothing is attached or pending
    assert inactive_cert(iot, pem)[0] == cert_arn
    iot.create_thing(thingName="th")
    iot.create_policy(policyName="pol", policyDocument=POLICY_DOC)
    assert iot.list_thing_principals(thingName="th")["principals"] == []
    assert iot.list_targets_for_policy(policyName="pol")["targets"] == []
    iot.delete_thing(thingName="th")
    iot.delete_policy(policyName="pol")
    assert pca.list_certificate_authorities()["CertificateAuthorities"] == []
