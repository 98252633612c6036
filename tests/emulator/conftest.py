"""pytest fixtures: one emulator process per test session, one AWS account per test."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "ap-northeast-1"
_accounts = itertools.count(int(time.time()) % 1000 * 1000)


class Emulator:
    def __init__(self, port: int, startup_seconds: float, proc):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.startup_seconds = startup_seconds
        self.proc = proc

    def control(self, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_fleetcert/" + path, data=data,
                                     method="GET" if body is None else "POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())


@pytest.fixture(scope="session")
def emulator():
    env = dict(os.environ, PYTHONPATH=HERE)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleetcert_emulator", "--port", "0", "--exit-on-stdin-eof"],
        cwd=HERE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    startup = time.monotonic() - t0
    assert line.startswith("FLEETCERT_EMULATOR_READY port="), line
    emu = Emulator(int(line.strip().split("=", 1)[1]), startup, proc)
    yield emu
    proc.stdin.close()  # --exit-on-stdin-eof: the emulator exits by itself
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(autouse=True)
def _default_config(emulator):
    """Every test starts with launch-time config (no quotas, faults, offset)."""
    emulator.control("config", {
        "quotas": "off", "latency_ms": 0, "fault_5xx_rate": 0, "fault_5xx_after_rate": 0,
        "fault_drop_rate": 0, "request_in_progress_calls": 0, "clock_offset_seconds": 0,
        "quota_clock": "wall", "asynchrony": "off", "validate_requests": True,
    })
    yield


@pytest.fixture
def account() -> str:
    return f"{next(_accounts) % 10**12:012d}"


def make_client(emulator, service, account, region=REGION, retries=1):
    return boto3.client(
        service, endpoint_url=emulator.url, region_name=region,
        aws_access_key_id=account, aws_secret_access_key="test-secret",
        config=Config(retries={"total_max_attempts": retries, "mode": "standard"}),
    )


@pytest.fixture
def pca(emulator, account):
    return make_client(emulator, "acm-pca", account)


@pytest.fixture
def iot(emulator, account):
    return make_client(emulator, "iot", account)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def make_csr(cn: str, key=None, san: list[str] | None = None) -> bytes:
    key = key or new_key()
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


TEMPLATE = "arn:aws:acm-pca:::template/"


def create_root_ca(pca, key_alg="EC_prime256v1", sign_alg="SHA256WITHECDSA", years=10, tags=None, cn="Test Root",
                   usage_mode=None):
    """Create a ROOT CA and activate it the way AWS documents (CSR -> RootCACertificate/V1 -> import)."""
    kw = {"Tags": tags} if tags else {}
    if usage_mode:
        kw["UsageMode"] = usage_mode
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={"KeyAlgorithm": key_alg, "SigningAlgorithm": sign_alg,
                                           "Subject": {"CommonName": cn, "Organization": "Example"}},
        CertificateAuthorityType="ROOT", **kw)["CertificateAuthorityArn"]
    csr = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    cert_arn = pca.issue_certificate(
        CertificateAuthorityArn=arn, Csr=csr.encode(), SigningAlgorithm=sign_alg,
        TemplateArn=TEMPLATE + "RootCACertificate/V1", Validity={"Type": "YEARS", "Value": years})["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=arn, CertificateArn=cert_arn)["Certificate"]
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=pem.encode())
    return arn, pem


def issue(pca, ca_arn, cn="dev", days=7, template="EndEntityClientAuthCertificate/V1", key=None, **kw):
    arn = pca.issue_certificate(
        CertificateAuthorityArn=ca_arn, Csr=make_csr(cn, key), SigningAlgorithm=kw.pop("sign", "SHA256WITHECDSA"),
        TemplateArn=TEMPLATE + template, Validity=kw.pop("validity", {"Type": "DAYS", "Value": days}), **kw,
    )["CertificateArn"]
    pem = pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=arn)["Certificate"]
    return arn, pem


def load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())
