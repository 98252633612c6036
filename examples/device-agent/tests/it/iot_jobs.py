"""The cloud side of the HTTPS test, with boto3 against the project's AWS
emulator: create things and a job (IoT control plane), then read the job
executions back. One JSON request on stdin, one JSON answer on stdout."""

import json
import sys

import boto3

req = json.load(sys.stdin)
iot = boto3.client(
    "iot",
    endpoint_url=req["endpoint"],
    region_name=req["region"],
    aws_access_key_id=req["account"],
    aws_secret_access_key="emulator-secret",
)
if req["action"] == "create":
    arns = [iot.create_thing(thingName=t)["thingArn"] for t in req["things"]]
    iot.create_job(jobId=req["jobId"], targets=arns, document=json.dumps(req["document"]))
    print(json.dumps({}))
elif req["action"] == "describe":
    out = {}
    for t in req["things"]:
        e = iot.describe_job_execution(jobId=req["jobId"], thingName=t)["execution"]
        out[t] = {
            "status": e["status"],
            "statusDetails": e.get("statusDetails", {}).get("detailsMap", {}),
            "versionNumber": e["versionNumber"],
        }
    print(json.dumps(out))
else:
    sys.exit(f"unknown action {req['action']}")
