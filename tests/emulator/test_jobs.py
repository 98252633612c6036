"""AWS IoT Jobs: control plane (patches_jobs.py), device data plane (jobs_data.py), clock."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, make_client

DOC = json.dumps({"operation": "rotate-certificate", "newCertificateId": "abc123"})


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


@pytest.fixture
def device(emulator, account):
    """The jobs data plane client (SigV4 service iot-jobs-data)."""
    return make_client(emulator, "iot-jobs-data", account)


def advance(emulator, seconds: int) -> dict:
    return emulator.control("clock", {"advance_seconds": seconds})


def make_things(iot, *names) -> list[str]:
    return [iot.create_thing(thingName=n)["thingArn"] for n in names]


def group_of(iot, name, *things) -> str:
    arn = iot.create_thing_group(thingGroupName=name)["thingGroupArn"]
    for t in things:
        iot.add_thing_to_thing_group(thingGroupName=name, thingName=t)
    return arn


def executions(iot, job_id, **kw) -> dict[str, str]:
    out = iot.list_job_executions_for_job(jobId=job_id, maxResults=250, **kw)["executionSummaries"]
    return {e["thingArn"].rsplit("/", 1)[1]: e["jobExecutionSummary"]["status"] for e in out}


def details(iot, job_id) -> dict:
    return iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]


# ---------------------------------------------------------------------------
# Targets and executions
# ---------------------------------------------------------------------------
def test_a_job_targeting_a_thing_group_creates_one_execution_per_member(iot):
    make_things(iot, "a", "b", "c", "lone")
    group = group_of(iot, "fleet", "a", "b", "c")
    lone = iot.describe_thing(thingName="lone")["thingArn"]
    job = iot.create_job(jobId="rotate-1", targets=[group, lone], document=DOC)
    assert job["jobArn"].endswith(":job/rotate-1")
    assert executions(iot, "rotate-1") == {"a": "QUEUED", "b": "QUEUED", "c": "QUEUED", "lone": "QUEUED"}
    d = iot.describe_job(jobId="rotate-1")["job"]
    assert d["status"] == "IN_PROGRESS" and d["targetSelection"] == "SNAPSHOT"
    assert d["jobProcessDetails"]["numberOfQueuedThings"] == 4
    assert "processingTargets" not in d["jobProcessDetails"]
    e = iot.describe_job_execution(jobId="rotate-1", thingName="a")["execution"]
    assert e["executionNumber"] == 1 and e["versionNumber"] == 1 and e["status"] == "QUEUED"


def test_a_snapshot_job_ignores_things_that_join_its_group_later(iot):
    make_things(iot, "a", "late")
    group = group_of(iot, "fleet", "a")
    iot.create_job(jobId="j", targets=[group], document=DOC)
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="late")
    assert executions(iot, "j") == {"a": "QUEUED"}


def test_a_continuous_job_follows_its_group(iot):
    make_things(iot, "a", "late")
    group = group_of(iot, "fleet", "a")
    iot.create_job(jobId="j", targets=[group], document=DOC, targetSelection="CONTINUOUS")
    iot.add_thing_to_thing_group(thingGroupName="fleet", thingName="late")
    assert executions(iot, "j") == {"a": "QUEUED", "late": "QUEUED"}
    iot.remove_thing_from_thing_group(thingGroupName="fleet", thingName="a")
    assert executions(iot, "j") == {"a": "REMOVED", "late": "QUEUED"}
    assert iot.describe_job(jobId="j")["job"]["status"] == "IN_PROGRESS"


def test_create_job_refuses_unknown_targets_duplicates_and_too_many_targets(iot, account):
    make_things(iot, "a")
    arn = iot.describe_thing(thingName="a")["thingArn"]
    with pytest.raises(ClientError) as e:
        iot.create_job(jobId="j", targets=[arn.replace("/a", "/ghost")], document=DOC)
    assert code(e.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        iot.create_job(jobId="j", targets=[f"arn:aws:iot:{REGION}:{account}:policy/p"], document=DOC)
    assert code(e.value) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        iot.create_job(jobId="j", targets=[arn] * 101, document=DOC)
    assert code(e.value) == "InvalidRequestException"
    with pytest.raises(ClientError) as e:
        iot.create_job(jobId="j", targets=[arn])  # neither document nor documentSource
    assert code(e.value) == "InvalidRequestException"
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    with pytest.raises(ClientError) as e:
        iot.create_job(jobId="j", targets=[arn], document=DOC)
    assert code(e.value) == "ResourceAlreadyExistsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_active_snapshot_jobs_are_limited_to_100(iot):
    arn = make_things(iot, "a")[0]
    for n in range(100):
        iot.create_job(jobId=f"j{n}", targets=[arn], document=DOC)
    with pytest.raises(ClientError) as e:
        iot.create_job(jobId="one-too-many", targets=[arn], document=DOC)
    assert code(e.value) == "LimitExceededException"
    # a continuous job counts against its own limit
    iot.create_job(jobId="continuous", targets=[arn], document=DOC, targetSelection="CONTINUOUS")
    iot.cancel_job(jobId="j0")
    iot.create_job(jobId="room-again", targets=[arn], document=DOC)


def test_job_tags(iot):
    arn = make_things(iot, "a")[0]
    job_arn = iot.create_job(jobId="j", targets=[arn], document=DOC,
                             tags=[{"Key": "purpose", "Value": "rotation"}])["jobArn"]
    iot.tag_resource(resourceArn=job_arn, tags=[{"Key": "fleet", "Value": "f"}])
    tags = iot.list_tags_for_resource(resourceArn=job_arn)["tags"]
    assert tags == [{"Key": "fleet", "Value": "f"}, {"Key": "purpose", "Value": "rotation"}]


# ---------------------------------------------------------------------------
# The device's side
# ---------------------------------------------------------------------------
def test_a_device_takes_its_job_and_reports_succeeded_with_status_details(iot, device):
    arn = make_things(iot, "dev-1")[0]
    iot.create_job(jobId="rotate", targets=[arn], document=DOC)
    pending = device.get_pending_job_executions(thingName="dev-1")
    assert [j["jobId"] for j in pending["queuedJobs"]] == ["rotate"] and pending["inProgressJobs"] == []
    started = device.start_next_pending_job_execution(thingName="dev-1", statusDetails={"step": "downloading"})
    ex = started["execution"]
    assert ex["jobId"] == "rotate" and ex["status"] == "IN_PROGRESS" and ex["versionNumber"] == 2
    assert json.loads(ex["jobDocument"]) == json.loads(DOC) and ex["statusDetails"] == {"step": "downloading"}
    assert isinstance(ex["startedAt"], int)
    out = device.update_job_execution(thingName="dev-1", jobId="rotate", status="SUCCEEDED", expectedVersion=2,
                                      statusDetails={"newCertificateId": "abc123"}, includeJobExecutionState=True)
    assert out["executionState"] == {"status": "SUCCEEDED", "statusDetails": {"newCertificateId": "abc123"},
                                     "versionNumber": 3}
    seen = iot.describe_job_execution(jobId="rotate", thingName="dev-1")["execution"]
    assert seen["status"] == "SUCCEEDED" and seen["statusDetails"]["detailsMap"] == {"newCertificateId": "abc123"}
    job = iot.describe_job(jobId="rotate")["job"]
    assert job["status"] == "COMPLETED" and job["jobProcessDetails"]["numberOfSucceededThings"] == 1
    assert "completedAt" in job
    pending = device.get_pending_job_executions(thingName="dev-1")
    assert pending["inProgressJobs"] == [] and pending["queuedJobs"] == []


def test_start_next_takes_in_progress_first_then_oldest_queued(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="first", targets=[arn], document=DOC)
    iot.create_job(jobId="second", targets=[arn], document=DOC)
    assert device.start_next_pending_job_execution(thingName="d")["execution"]["jobId"] == "first"
    again = device.start_next_pending_job_execution(thingName="d", statusDetails={"ignored": "yes"})["execution"]
    assert again["jobId"] == "first" and again["statusDetails"] == {} and again["versionNumber"] == 2
    device.update_job_execution(thingName="d", jobId="first", status="FAILED")
    assert device.start_next_pending_job_execution(thingName="d")["execution"]["jobId"] == "second"
    device.update_job_execution(thingName="d", jobId="second", status="REJECTED")
    assert "execution" not in device.start_next_pending_job_execution(thingName="d")


def test_expected_version_mismatch_is_refused(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    device.start_next_pending_job_execution(thingName="d")
    bodies = []
    device.meta.events.register("after-call.iot-jobs-data.UpdateJobExecution",
                                lambda http_response, **_: bodies.append(json.loads(http_response.content)))
    with pytest.raises(ClientError) as e:
        device.update_job_execution(thingName="d", jobId="j", status="SUCCEEDED", expectedVersion=1)
    assert code(e.value) == "VersionMismatchException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # the error carries the execution's current state
    assert bodies[-1]["executionState"] == {"status": "IN_PROGRESS", "statusDetails": {}, "versionNumber": 2}
    state = iot.describe_job_execution(jobId="j", thingName="d")["execution"]
    assert state["status"] == "IN_PROGRESS" and state["versionNumber"] == 2


def test_a_terminal_execution_refuses_updates(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    device.update_job_execution(thingName="d", jobId="j", status="SUCCEEDED")
    with pytest.raises(ClientError) as e:
        device.update_job_execution(thingName="d", jobId="j", status="IN_PROGRESS")
    assert code(e.value) == "InvalidStateTransitionException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_a_device_cannot_set_a_service_status(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    with pytest.raises(ClientError) as e:
        device.update_job_execution(thingName="d", jobId="j", status="CANCELED")
    assert code(e.value) == "InvalidRequestException"


def test_update_of_an_unknown_execution_is_not_found(iot, device):
    make_things(iot, "d")
    with pytest.raises(ClientError) as e:
        device.update_job_execution(thingName="d", jobId="nope", status="IN_PROGRESS")
    assert code(e.value) == "ResourceNotFoundException"


def test_describe_job_execution_on_the_data_plane(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    ex = device.describe_job_execution(thingName="d", jobId="j")["execution"]
    assert ex["status"] == "QUEUED" and ex["thingName"] == "d" and "jobDocument" in ex
    assert "jobDocument" not in device.describe_job_execution(thingName="d", jobId="j",
                                                              includeJobDocument=False)["execution"]
    assert device.describe_job_execution(thingName="d", jobId="$next")["execution"]["jobId"] == "j"
    with pytest.raises(ClientError) as e:
        device.describe_job_execution(thingName="d", jobId="j", executionNumber=2)
    assert code(e.value) == "ResourceNotFoundException"
    device.update_job_execution(thingName="d", jobId="j", status="SUCCEEDED")
    with pytest.raises(ClientError) as e:
        device.describe_job_execution(thingName="d", jobId="j")
    assert code(e.value) == "TerminalStateException"


def test_validation_refuses_bad_status_details(emulator, account, iot):
    # the client's own checks off, so the emulator sees what botocore would refuse
    device = boto3.client("iot-jobs-data", endpoint_url=emulator.url, region_name=REGION,
                          aws_access_key_id=account, aws_secret_access_key="test-secret",
                          config=Config(parameter_validation=False, retries={"total_max_attempts": 1}))
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    bad = [{"bad key": "v"}, {"k": ""}, {f"k{n}": "v" for n in range(11)}, {"k": "x" * 1025}]
    for status_details in bad:
        with pytest.raises(ClientError) as e:
            device.update_job_execution(thingName="d", jobId="j", status="IN_PROGRESS", statusDetails=status_details)
        assert code(e.value) == "InvalidRequestException", status_details
    ex = iot.describe_job_execution(jobId="j", thingName="d")["execution"]
    assert ex["status"] == "QUEUED" and ex["versionNumber"] == 1


def test_validation_message_names_the_status_details_constraint(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    with pytest.raises(ClientError) as e:
        device.update_job_execution(thingName="d", jobId="j", status="IN_PROGRESS", statusDetails={"bad key": "v"})
    assert "at 'statusDetails' failed to satisfy constraint: Map keys must satisfy constraint" in e.value.response["Error"]["Message"]


# ---------------------------------------------------------------------------
# Time: timeouts and rollout
# ---------------------------------------------------------------------------
def test_an_in_progress_execution_times_out_after_the_clock_passes_the_timeout(emulator, iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC, timeoutConfig={"inProgressTimeoutInMinutes": 1})
    ex = device.start_next_pending_job_execution(thingName="d")["execution"]
    assert 0 < ex["approximateSecondsBeforeTimedOut"] <= 60
    advance(emulator, 30)
    assert iot.describe_job_execution(jobId="j", thingName="d")["execution"]["status"] == "IN_PROGRESS"
    advance(emulator, 31)
    assert iot.describe_job_execution(jobId="j", thingName="d")["execution"]["status"] == "TIMED_OUT"
    assert details(iot, "j")["numberOfTimedOutThings"] == 1
    assert iot.describe_job(jobId="j")["job"]["status"] == "COMPLETED"
    with pytest.raises(ClientError) as e:
        device.update_job_execution(thingName="d", jobId="j", status="SUCCEEDED")
    assert code(e.value) == "InvalidStateTransitionException"


def test_a_queued_execution_does_not_time_out(emulator, iot):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC, timeoutConfig={"inProgressTimeoutInMinutes": 1})
    advance(emulator, 3600)
    assert iot.describe_job_execution(jobId="j", thingName="d")["execution"]["status"] == "QUEUED"


def test_a_step_timer_times_out_before_the_in_progress_timer_and_can_be_discarded(emulator, iot, device):
    make_things(iot, "a", "b")
    targets = [iot.describe_thing(thingName=n)["thingArn"] for n in ("a", "b")]
    iot.create_job(jobId="j", targets=targets, document=DOC, timeoutConfig={"inProgressTimeoutInMinutes": 10})
    device.start_next_pending_job_execution(thingName="a", stepTimeoutInMinutes=2)
    device.start_next_pending_job_execution(thingName="b", stepTimeoutInMinutes=2)
    device.update_job_execution(thingName="b", jobId="j", status="IN_PROGRESS", stepTimeoutInMinutes=-1)
    advance(emulator, 121)
    assert executions(iot, "j") == {"a": "TIMED_OUT", "b": "IN_PROGRESS"}
    advance(emulator, 480)
    assert executions(iot, "j") == {"a": "TIMED_OUT", "b": "TIMED_OUT"}


def test_rollout_maximum_per_minute_limits_how_many_executions_are_pending(emulator, iot, device):
    names = [f"d{n}" for n in range(5)]
    targets = make_things(iot, *names)
    iot.create_job(jobId="j", targets=targets, document=DOC, jobExecutionsRolloutConfig={"maximumPerMinute": 2})
    assert sorted(executions(iot, "j")) == ["d0", "d1"]
    assert details(iot, "j")["processingTargets"] == targets[2:]
    assert device.get_pending_job_executions(thingName="d2")["queuedJobs"] == []
    assert "execution" not in device.start_next_pending_job_execution(thingName="d2")
    advance(emulator, 60)
    assert sorted(executions(iot, "j")) == ["d0", "d1", "d2", "d3"]
    assert [j["jobId"] for j in device.get_pending_job_executions(thingName="d2")["queuedJobs"]] == ["j"]
    advance(emulator, 60)
    assert sorted(executions(iot, "j")) == names
    assert "processingTargets" not in details(iot, "j")


def test_a_rollout_minute_later_is_not_completed_early(emulator, iot, device):
    targets = make_things(iot, "a", "b")
    iot.create_job(jobId="j", targets=targets, document=DOC, jobExecutionsRolloutConfig={"maximumPerMinute": 1})
    device.update_job_execution(thingName="a", jobId="j", status="SUCCEEDED")
    assert iot.describe_job(jobId="j")["job"]["status"] == "IN_PROGRESS"
    advance(emulator, 60)
    device.update_job_execution(thingName="b", jobId="j", status="SUCCEEDED")
    assert iot.describe_job(jobId="j")["job"]["status"] == "COMPLETED"


def test_clock_endpoint_moves_forward_only(emulator):
    before = emulator.control("clock")
    after = advance(emulator, 90)
    assert after["offset_seconds"] == before["offset_seconds"] + 90
    assert emulator.control("config")["clock_offset_seconds"] == after["offset_seconds"]
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        emulator.control("clock", {"advance_seconds": -5})
    assert e.value.code == 400


# ---------------------------------------------------------------------------
# Abort, cancel, delete
# ---------------------------------------------------------------------------
def test_abort_criteria_cancel_the_job(iot, device):
    names = ["a", "b", "c", "d"]
    targets = make_things(iot, *names)
    iot.create_job(jobId="j", targets=targets, document=DOC, abortConfig={"criteriaList": [
        {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50, "minNumberOfExecutedThings": 2}]})
    device.start_next_pending_job_execution(thingName="d")
    device.update_job_execution(thingName="a", jobId="j", status="FAILED")
    assert iot.describe_job(jobId="j")["job"]["status"] == "IN_PROGRESS"  # 1 of 4: 25%
    device.update_job_execution(thingName="b", jobId="j", status="FAILED")  # 2 of 4: 50%
    assert iot.describe_job(jobId="j")["job"]["status"] == "CANCELED"
    # only QUEUED executions are canceled; IN_PROGRESS ones keep running
    assert executions(iot, "j") == {"a": "FAILED", "b": "FAILED", "c": "CANCELED", "d": "IN_PROGRESS"}


def test_abort_waits_for_the_minimum_number_of_executed_things(iot, device):
    targets = make_things(iot, "a", "b")
    iot.create_job(jobId="j", targets=targets, document=DOC, abortConfig={"criteriaList": [
        {"failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 10, "minNumberOfExecutedThings": 3}]})
    device.update_job_execution(thingName="a", jobId="j", status="REJECTED")
    assert iot.describe_job(jobId="j")["job"]["status"] == "IN_PROGRESS"


def test_cancel_job_cancels_queued_executions_and_in_progress_ones_only_with_force(iot, device):
    targets = make_things(iot, "a", "b")
    iot.create_job(jobId="j", targets=targets, document=DOC)
    device.start_next_pending_job_execution(thingName="a")
    out = iot.cancel_job(jobId="j", reasonCode="ROTATION_ABANDONED", comment="stop")
    assert out["jobId"] == "j"
    job = iot.describe_job(jobId="j")["job"]
    assert job["status"] == "CANCELED" and job["reasonCode"] == "ROTATION_ABANDONED" and not job["forceCanceled"]
    assert executions(iot, "j") == {"a": "IN_PROGRESS", "b": "CANCELED"}
    iot.cancel_job(jobId="j", force=True)
    assert executions(iot, "j") == {"a": "CANCELED", "b": "CANCELED"}
    assert iot.describe_job(jobId="j")["job"]["forceCanceled"] is True
    with pytest.raises(ClientError) as e:
        device.update_job_execution(thingName="a", jobId="j", status="SUCCEEDED")
    assert code(e.value) == "InvalidStateTransitionException"


def test_cancel_job_execution_needs_force_when_in_progress_and_checks_the_version(iot, device):
    targets = make_things(iot, "a", "b")
    iot.create_job(jobId="j", targets=targets, document=DOC)
    device.start_next_pending_job_execution(thingName="a")
    with pytest.raises(ClientError) as e:
        iot.cancel_job_execution(jobId="j", thingName="a")
    assert code(e.value) == "InvalidStateTransitionException"
    with pytest.raises(ClientError) as e:
        iot.cancel_job_execution(jobId="j", thingName="a", force=True, expectedVersion=1)
    assert code(e.value) == "VersionConflictException"
    iot.cancel_job_execution(jobId="j", thingName="a", force=True, expectedVersion=2)
    iot.cancel_job_execution(jobId="j", thingName="b", statusDetails={"why": "replaced"})
    ex = iot.describe_job_execution(jobId="j", thingName="b")["execution"]
    assert ex["status"] == "CANCELED" and ex["statusDetails"]["detailsMap"] == {"why": "replaced"}
    assert iot.describe_job_execution(jobId="j", thingName="a")["execution"]["forceCanceled"] is True
    assert iot.describe_job(jobId="j")["job"]["status"] == "COMPLETED"


def test_delete_job_is_refused_while_in_progress_without_force(iot):
    arn = make_things(iot, "a")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    with pytest.raises(ClientError) as e:
        iot.delete_job(jobId="j")
    assert code(e.value) == "InvalidStateTransitionException"
    iot.delete_job(jobId="j", force=True)
    with pytest.raises(ClientError) as e:
        iot.describe_job(jobId="j")
    assert code(e.value) == "ResourceNotFoundException"
    iot.create_job(jobId="j", targets=[arn], document=DOC)  # the id is free again


def test_a_deleted_job_is_deletion_in_progress_for_a_while(emulator, iot):
    arn = make_things(iot, "a")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    iot.cancel_job(jobId="j")
    emulator.control("config", {"job_deletion_seconds": 0.5})
    iot.delete_job(jobId="j")
    assert iot.describe_job(jobId="j")["job"]["status"] == "DELETION_IN_PROGRESS"
    with pytest.raises(ClientError) as e:
        iot.delete_job(jobId="j")
    assert code(e.value) == "InvalidStateTransitionException"
    time.sleep(0.6)
    with pytest.raises(ClientError) as e:
        iot.describe_job(jobId="j")
    assert code(e.value) == "ResourceNotFoundException"


# ---------------------------------------------------------------------------
# Listing
# ---------------------------------------------------------------------------
def test_list_job_executions_for_job_pages_at_250_with_a_status_filter(iot, device):
    names = [f"t{n:03d}" for n in range(300)]
    make_things(iot, *names)
    group = group_of(iot, "big", *names)
    iot.create_job(jobId="j", targets=[group], document=DOC)
    for n in names[:3]:
        device.update_job_execution(thingName=n, jobId="j", status="SUCCEEDED")
    first = iot.list_job_executions_for_job(jobId="j", status="QUEUED", maxResults=250)
    assert len(first["executionSummaries"]) == 250 and first["nextToken"]
    rest = iot.list_job_executions_for_job(jobId="j", status="QUEUED", maxResults=250, nextToken=first["nextToken"])
    assert len(rest["executionSummaries"]) == 47 and "nextToken" not in rest
    succeeded = iot.list_job_executions_for_job(jobId="j", status="SUCCEEDED")["executionSummaries"]
    assert [s["thingArn"].rsplit("/", 1)[1] for s in succeeded] == names[:3]
    with pytest.raises(ClientError) as e:
        iot.list_job_executions_for_job(jobId="j", maxResults=251)
    assert code(e.value) == "InvalidRequestException"


def test_list_jobs_filters_by_status_group_and_target_selection(iot):
    make_things(iot, "a")
    group = group_of(iot, "g", "a")
    thing = iot.describe_thing(thingName="a")["thingArn"]
    iot.create_job(jobId="on-group", targets=[group], document=DOC)
    iot.create_job(jobId="on-thing", targets=[thing], document=DOC)
    iot.create_job(jobId="continuous", targets=[group], document=DOC, targetSelection="CONTINUOUS")
    iot.cancel_job(jobId="on-thing")
    ids = lambda **kw: sorted(j["jobId"] for j in iot.list_jobs(**kw)["jobs"])  # noqa: E731
    assert ids() == ["continuous", "on-group", "on-thing"]
    assert ids(status="CANCELED") == ["on-thing"]
    assert ids(thingGroupName="g") == ["continuous", "on-group"]
    assert ids(targetSelection="CONTINUOUS") == ["continuous"]
    page = iot.list_jobs(maxResults=2)
    assert len(page["jobs"]) == 2 and len(iot.list_jobs(nextToken=page["nextToken"])["jobs"]) == 1


def test_list_job_executions_for_thing(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j1", targets=[arn], document=DOC)
    iot.create_job(jobId="j2", targets=[arn], document=DOC)
    device.update_job_execution(thingName="d", jobId="j1", status="SUCCEEDED")
    listed = iot.list_job_executions_for_thing(thingName="d")["executionSummaries"]
    assert {e["jobId"]: e["jobExecutionSummary"]["status"] for e in listed} == {"j1": "SUCCEEDED", "j2": "QUEUED"}
    queued = iot.list_job_executions_for_thing(thingName="d", status="QUEUED")["executionSummaries"]
    assert [e["jobId"] for e in queued] == ["j2"]


# ---------------------------------------------------------------------------
# The layer: names, quotas, IAM
# ---------------------------------------------------------------------------
def test_data_plane_requests_are_named_iotjobsdata(emulator, iot, device, account):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    device.get_pending_job_executions(thingName="d")
    device.update_job_execution(thingName="d", jobId="j", status="IN_PROGRESS")
    counted = emulator.control("counters")[f"{account}/{REGION}"]
    assert counted["iotjobsdata:GetPendingJobExecutions"] == 1 and counted["iotjobsdata:UpdateJobExecution"] == 1
    assert counted["iot:CreateJob"] == 1
    writes = [w["operation"] for w in emulator.control("writes") if w["account"] == account]
    assert "iotjobsdata:UpdateJobExecution" in writes and "iotjobsdata:GetPendingJobExecutions" not in writes


def test_data_plane_reads_share_one_quota_of_200_per_second(emulator, iot, device):
    make_things(iot, "d")
    emulator.control("config", {"quotas": "aws", "quota_clock": "test"})
    assert emulator.control("config")["jobs_data_quotas"] is True
    for n in range(200):
        (device.get_pending_job_executions if n % 2 else device.describe_job_execution)(
            thingName="d", **({} if n % 2 else {"jobId": "$next"}))
    with pytest.raises(ClientError) as e:
        device.get_pending_job_executions(thingName="d")
    assert code(e.value) == "ThrottlingException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    device.start_next_pending_job_execution(thingName="d")  # writes have a bucket of their own
    emulator.control("config", {"quotas": "off"})
    assert emulator.control("config")["jobs_data_quotas"] is False


def test_iam_data_plane_actions_are_iotjobsdata_on_the_thing(emulator, iot, account):
    make_things(iot, "mine", "other")
    key = f"{account}"
    emulator.control("iam/policy", {"access_key_id": key, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iotjobsdata:GetPendingJobExecutions",
         "Resource": f"arn:aws:iot:{REGION}:{account}:thing/mine"}]}})
    device = make_client(emulator, "iot-jobs-data", account)
    try:
        device.get_pending_job_executions(thingName="mine")
        with pytest.raises(ClientError) as e:
            device.get_pending_job_executions(thingName="other")
        assert code(e.value) == "AccessDeniedException"
        assert "iotjobsdata:GetPendingJobExecutions" in e.value.response["Error"]["Message"]
    finally:
        emulator.control("iam/policy/clear", {"access_key_id": key})


def test_iam_create_job_needs_the_job_and_every_target(emulator, iot, account):
    arn = make_things(iot, "a")[0]
    group = group_of(iot, "g", "a")
    emulator.control("iam/policy", {"access_key_id": account, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:CreateJob",
         "Resource": [f"arn:aws:iot:{REGION}:{account}:job/*", group]}]}})
    try:
        iot.create_job(jobId="ok", targets=[group], document=DOC)
        with pytest.raises(ClientError) as e:
            iot.create_job(jobId="no", targets=[group, arn], document=DOC)
        assert code(e.value) == "AccessDeniedException" and arn in e.value.response["Error"]["Message"]
    finally:
        emulator.control("iam/policy/clear", {"access_key_id": account})


def test_a_completed_job_cannot_be_canceled(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    device.update_job_execution(thingName="d", jobId="j", status="SUCCEEDED")
    with pytest.raises(ClientError) as e:
        iot.cancel_job(jobId="j")
    assert code(e.value) == "InvalidRequestException"


def test_get_job_document_and_update_with_include_job_document(iot, device):
    arn = make_things(iot, "d")[0]
    iot.create_job(jobId="j", targets=[arn], document=DOC)
    assert iot.get_job_document(jobId="j")["document"] == DOC
    out = device.update_job_execution(thingName="d", jobId="j", status="IN_PROGRESS", includeJobDocument=True)
    assert out["jobDocument"] == DOC and "executionState" not in out


def test_delete_job_execution_needs_force_unless_terminal(iot, device):
    targets = make_things(iot, "a", "b")
    iot.create_job(jobId="j", targets=targets, document=DOC)
    with pytest.raises(ClientError) as e:
        iot.delete_job_execution(jobId="j", thingName="a", executionNumber=1)
    assert code(e.value) == "InvalidStateTransitionException"
    iot.delete_job_execution(jobId="j", thingName="a", executionNumber=1, force=True)
    device.update_job_execution(thingName="b", jobId="j", status="FAILED")
    iot.delete_job_execution(jobId="j", thingName="b", executionNumber=1)
    assert executions(iot, "j") == {}


def test_get_pending_job_executions_lists_at_most_ten(iot, device):
    arn = make_things(iot, "d")[0]
    for n in range(12):
        iot.create_job(jobId=f"j{n:02d}", targets=[arn], document=DOC)
    device.start_next_pending_job_execution(thingName="d")
    pending = device.get_pending_job_executions(thingName="d")
    assert [j["jobId"] for j in pending["inProgressJobs"]] == ["j00"]
    assert [j["jobId"] for j in pending["queuedJobs"]] == [f"j{n:02d}" for n in range(1, 10)]


def test_iam_thing_group_membership_names_the_group_and_thing_by_name_or_arn(emulator, iot, account):
    thing = make_things(iot, "a")[0]
    allowed = group_of(iot, "allowed")
    group_of(iot, "other")
    emulator.control("iam/policy", {"access_key_id": account, "policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iot:AddThingToThingGroup", "Resource": [allowed, thing]}]}})
    try:
        iot.add_thing_to_thing_group(thingGroupArn=allowed, thingArn=thing)
        iot.add_thing_to_thing_group(thingGroupName="allowed", thingName="a")
        with pytest.raises(ClientError) as e:
            iot.add_thing_to_thing_group(thingGroupName="other", thingArn=thing)
        assert code(e.value) == "AccessDeniedException" and ":thinggroup/other" in e.value.response["Error"]["Message"]
    finally:
        emulator.control("iam/policy/clear", {"access_key_id": account})
