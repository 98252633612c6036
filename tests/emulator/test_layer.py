"""Quota / fault / control layer, account isolation, process behaviour."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from conftest import HERE, REGION, make_client


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def test_startup_time_and_ready_line(emulator):
    print(f"\nemulator startup (process start -> READY line): {emulator.startup_seconds * 1000:.0f} ms")
    assert emulator.control("health") == {"ok": True}


def test_exit_on_stdin_eof_and_quiet_stdout():
    proc = subprocess.Popen([sys.executable, "-m", "fleetcert_emulator", "--port", "0", "--exit-on-stdin-eof"],
                            cwd=HERE, env=dict(os.environ, PYTHONPATH=HERE),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("FLEETCERT_EMULATOR_READY port=")
    port = int(line.split("=")[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/_fleetcert/health")
    assert json.loads(conn.getresponse().read()) == {"ok": True}
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == ""  # exactly one line on stdout
    assert "GET /_fleetcert/health" not in proc.stderr.read()  # no access log by default


def test_quota_throttles_eleventh_call(emulator, iot):
    # The test clock: the bucket refills only when the test moves the clock,
    # so ten calls fit however slowly a loaded machine makes them.
    emulator.control("config", {"quotas": {"iot:ListThings": 10}, "quota_clock": "test"})
    for _ in range(10):
        iot.list_things()
    with pytest.raises(ClientError) as e:
        iot.list_things()
    assert code(e.value) == "ThrottlingException"
    # botocore's IoT model: ThrottlingException httpStatusCode 400, code in x-amzn-ErrorType
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ThrottlingException"
    iot.describe_endpoint(endpointType="iot:Data-ATS")  # other operations are not throttled
    with pytest.raises(ClientError):
        iot.list_things()  # still empty: the test clock has not moved
    emulator.control("config", {"clock_offset_seconds": 1})  # one second: ten tokens back
    for _ in range(10):
        iot.list_things()
    with pytest.raises(ClientError):
        iot.list_things()


def test_quota_clock_rejects_unknown_values(emulator):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        emulator.control("config", {"quota_clock": "sometimes"})
    assert e.value.code == 400


def test_pca_throttle_shape_and_aws_defaults(emulator, pca):
    cfg = emulator.control("config", {"quotas": "aws"})
    assert cfg["quotas"]["acm-pca:IssueCertificate"] == 25 and cfg["quotas"]["iot:AttachThingPrincipal"] == 100
    emulator.control("config", {"quotas": {"acm-pca:ListCertificateAuthorities": 1}})
    pca.list_certificate_authorities()
    with pytest.raises(ClientError) as e:
        pca.list_certificate_authorities()
    assert code(e.value) == "ThrottlingException"
    meta = e.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 400
    assert meta["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"


def test_throttle_raw_bodies(emulator, account):
    emulator.control("config", {"quotas": {"iot:ListThings": 1, "acm-pca:ListCertificateAuthorities": 1}})
    auth = (f"AWS4-HMAC-SHA256 Credential={account}/20260101/{REGION}/{{svc}}/aws4_request, "
            "SignedHeaders=host, Signature=00")
    def raw(method, path, svc, headers=None, body=None):
        c = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
        c.request(method, path, body=body, headers={"Authorization": auth.format(svc=svc), **(headers or {})})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    raw("GET", "/things", "iot")
    status, headers, body = raw("GET", "/things", "iot")
    assert status == 400 and headers["x-amzn-ErrorType"] == "ThrottlingException"
    assert json.loads(body) == {"message": "Rate exceeded"}
    h = {"X-Amz-Target": "ACMPrivateCA.ListCertificateAuthorities", "Content-Type": "application/x-amz-json-1.1"}
    raw("POST", "/", "acm-pca", h, b"{}")
    status, headers, body = raw("POST", "/", "acm-pca", h, b"{}")
    assert status == 400 and json.loads(body) == {"__type": "ThrottlingException", "message": "Rate exceeded"}


def test_fault_5xx_before_and_after(emulator, iot, account):
    emulator.control("counters/reset", {})
    emulator.control("config", {"fault_5xx_rate": 1.0})
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="before")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert code(e.value) == "InternalFailureException"
    emulator.control("config", {"fault_5xx_rate": 0.0, "fault_5xx_after_rate": 1.0})
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="after")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    emulator.control("config", {"fault_5xx_after_rate": 0.0})
    assert iot.describe_thing(thingName="after")["thingName"] == "after"  # it was carried out
    with pytest.raises(ClientError) as e:
        iot.describe_thing(thingName="before")  # it was not
    assert code(e.value) == "ResourceNotFoundException"
    # each injected fault is counted, by kind and operation
    assert emulator.control("counters")["faults"][f"{account}/{REGION}"] == {
        "5xx": {"iot:CreateThing": 1}, "5xx_after": {"iot:CreateThing": 1},
    }


def test_fail_requests_fail_only_the_matching_resource(emulator, iot):
    emulator.control("config", {"fail_requests": [
        {"operation": "iot:CreateThing", "path_contains": "/things/broken", "code": "InvalidRequestException"},
    ]})
    with pytest.raises(ClientError) as e:
        iot.create_thing(thingName="broken")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert code(e.value) == "InvalidRequestException"
    assert iot.create_thing(thingName="fine")["thingName"] == "fine"
    emulator.control("config", {"fail_requests": []})
    assert iot.create_thing(thingName="broken")["thingName"] == "broken"


def test_fault_drop_closes_connection(emulator, iot, account):
    emulator.control("counters/reset", {})
    emulator.control("config", {"fault_drop_rate": 1.0})
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        iot.list_things()
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    conn.request("GET", "/things", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=000000000001/20260101/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=0"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    # the control endpoint is never faulted
    assert emulator.control("health") == {"ok": True}
    faults = emulator.control("counters")["faults"]
    assert faults[f"{account}/{REGION}"] == {"drop": {"iot:ListThings": 1}}  # one attempt (retries=1)
    assert faults["000000000001/us-east-1"] == {"drop": {"iot:ListThings": 1}}


def test_writes_log_records_mutating_requests_only(emulator, iot, account):
    emulator.control("counters/reset", {})
    iot.create_thing(thingName="w1")
    iot.describe_thing(thingName="w1")
    iot.list_things()
    iot.update_thing(thingName="w1", attributePayload={"attributes": {"a": "b"}})
    iot.get_registration_code()
    mine = [w for w in emulator.control("writes") if w["account"] == account]
    assert [(w["operation"], w["path"]) for w in mine] == [
        ("iot:CreateThing", "/things/w1"), ("iot:UpdateThing", "/things/w1"),
    ]
    assert mine[0]["region"] == REGION
    emulator.control("counters/reset", {})
    assert [w for w in emulator.control("writes") if w["account"] == account] == []


def test_fault_seed_is_deterministic(emulator, iot):
    def run():
        emulator.control("config", {"fault_5xx_rate": 0.5, "fault_seed": 1234})
        out = []
        for _ in range(12):
            try:
                iot.list_things()
                out.append("ok")
            except ClientError:
                out.append("5xx")
        return out
    a, b = run(), run()
    assert a == b and "ok" in a and "5xx" in a


def test_latency(emulator, iot):
    # Generous bounds: the AWS call sleeps 1.5 s by construction; the control
    # call only has to finish well inside that on a loaded machine.
    emulator.control("config", {"latency_ms": 1500})
    t = time.monotonic()
    iot.list_things()
    assert time.monotonic() - t >= 1.5
    t = time.monotonic()
    emulator.control("health")
    assert time.monotonic() - t < 1.5  # not on the control endpoint


def test_counters(emulator, iot, account):
    emulator.control("counters/reset", {})
    emulator.control("config", {"quotas": {"iot:ListThings": 2}})
    for _ in range(3):
        try:
            iot.list_things()
        except ClientError:
            pass
    iot.create_thing(thingName="c1")
    iot.update_thing(thingName="c1", attributePayload={"attributes": {"a": "b"}})
    iot.list_thing_principals(thingName="c1")
    c = emulator.control("counters")
    mine = c[f"{account}/{REGION}"]
    assert mine == {"iot:ListThings": 3, "iot:CreateThing": 1, "iot:UpdateThing": 1, "iot:ListThingPrincipals": 1}
    assert c["throttled"][f"{account}/{REGION}"] == {"iot:ListThings": 1}
    emulator.control("counters/reset", {})
    assert f"{account}/{REGION}" not in emulator.control("counters")


def test_account_and_region_isolation(emulator, account):
    a = make_client(emulator, "iot", account)
    other = f"{(int(account) + 500000) % 10**12:012d}"
    b = make_client(emulator, "iot", other)
    c = make_client(emulator, "iot", account, region="eu-west-1")
    arn = a.create_thing(thingName="mine")["thingArn"]
    assert f":{account}:" in arn and f":{REGION}:" in arn
    assert b.list_things()["things"] == [] and c.list_things()["things"] == []
    assert a.describe_endpoint(endpointType="iot:Data-ATS") != b.describe_endpoint(endpointType="iot:Data-ATS")
    counters = emulator.control("counters")
    assert counters[f"{account}/eu-west-1"] == {"iot:ListThings": 1}


def test_reset(emulator, iot, account):
    iot.create_thing(thingName="gone")
    emulator.control("config", {"latency_ms": 5, "clock_offset_seconds": 99})
    emulator.control("iam/policy", {"access_key_id": account, "policy": {"Statement": []}})
    assert emulator.control("reset", {}) == {"ok": True}
    assert emulator.control("iam/policy") == {}
    cfg = emulator.control("config")
    assert cfg["latency_ms"] == 0 and cfg["clock_offset_seconds"] == 0 and cfg["quotas"] == {}
    assert iot.list_things()["things"] == []
    assert emulator.control("pca/revocations") == []
    counters = emulator.control("counters")
    assert set(counters) - {"throttled", "denied", "invalid", "resources", "faults"} <= {f"{account}/{REGION}"}
    assert counters["throttled"] == counters["denied"] == counters["invalid"] == counters["faults"] == {}


def test_control_rejects_bad_config(emulator):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        emulator.control("config", {"no_such_key": 1})
    assert e.value.code == 400


def test_iot_operation_names_from_botocore_model():
    from fleetcert_emulator.opnames import iot_operation, iot_operation_names
    names = iot_operation_names()
    assert len(names) > 200
    cert = "arn%3Aaws%3Aiot%3Aap-northeast-1%3A123456789012%3Acert%2Fabc"
    cases = {
        ("GET", "/things"): "ListThings",
        ("GET", "/things/dev-1"): "DescribeThing",
        ("PATCH", "/things/dev-1"): "UpdateThing",
        ("GET", "/things/dev-1/principals"): "ListThingPrincipals",
        ("GET", "/certificates-by-ca/abc"): "ListCertificatesByCA",
        ("GET", "/certificates/abc"): "DescribeCertificate",
        ("PUT", "/certificates/abc"): "UpdateCertificate",
        ("POST", "/certificate/register"): "RegisterCertificate",
        ("POST", f"/attached-policies/{cert}"): "ListAttachedPolicies",
        ("PUT", f"/target-policies/telemetry"): "AttachPolicy",
        ("POST", "/policy-targets/telemetry"): "ListTargetsForPolicy",
        ("GET", "/registrationcode"): "GetRegistrationCode",
        ("GET", "/tags"): "ListTagsForResource",
    }
    for (method, path), op in cases.items():
        assert iot_operation(method, path) == op, (method, path)


def test_many_concurrent_clients(emulator, account):
    import concurrent.futures as cf
    iot = make_client(emulator, "iot", account)
    def work(i):
        c = make_client(emulator, "iot", account)
        c.create_thing(thingName=f"conc-{i}")
        for _ in range(5):
            c.describe_thing(thingName=f"conc-{i}")
        return i
    with cf.ThreadPoolExecutor(32) as ex:
        assert sorted(ex.map(work, range(64))) == list(range(64))
    names, token = [], None
    while True:
        page = iot.list_things(maxResults=250, **({"nextToken": token} if token else {}))
        names += [t["thingName"] for t in page["things"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(names) == 64
    assert emulator.control("counters")[f"{account}/{REGION}"]["iot:DescribeThing"] == 320


def test_seed_things_creates_uncounted_things_with_attributes(emulator, iot, account):
    out = emulator.control("iot/seed-things", {"account": account, "region": REGION, "prefix": "other-",
                                               "count": 300, "attributes": {"owner": "erp"}})
    assert out == {"ok": True, "created": 300}
    emulator.control("counters/reset", {})
    names, token = [], None
    while True:
        page = iot.list_things(maxResults=250, **({"nextToken": token} if token else {}))
        names += [(t["thingName"], t["attributes"]) for t in page["things"]]
        token = page.get("nextToken")
        if not token:
            break
    assert len(names) == 300 and ("other-299", {"owner": "erp"}) in names
    # Filtered on the server, the seeded things cost nothing.
    assert iot.list_things(attributeName="fleetcert", attributeValue="x", usePrefixAttributeValue=True)["things"] == []
    assert emulator.control("counters")[f"{account}/{REGION}"] == {"iot:ListThings": 3}
