"""The device side of AWS IoT Jobs: the iot-jobs-data data plane (restJson1).

moto has no iot-jobs-data service: its server would look for a backend at
host iot-jobs-data.<region>.amazonaws.com and find none. The middleware
names these requests ``iotjobsdata:<Operation>`` (opnames.py) and hands them
to ``app`` here instead of moto, under the same lock, over the same job
store as the control plane (jobs.py).

Each operation follows "Jobs device HTTP API"
(https://docs.aws.amazon.com/iot/latest/developerguide/jobs-http-device-api.html)
and its API Reference page
(https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_<Operation>.html).
Timestamps are whole seconds since the epoch: the model's queuedAt,
startedAt and lastUpdatedAt are longs, "The time, in seconds since the epoch".
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from . import jobs, validation
from .accounts import account_region_from_auth
from .jobs import JobsError, invalid, not_found

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 409: "Conflict", 410: "Gone"}


def _epoch(when: dt.datetime | None) -> int | None:
    return None if when is None else int(when.timestamp())


def _compact(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def execution_dict(job: jobs.Job, execution: jobs.Execution, include_document: bool) -> dict:
    """A JobExecution of the data plane (statusDetails is the flat DetailsMap)."""
    return _compact({
        "jobId": execution.job_id, "thingName": execution.thing_name, "status": execution.status,
        "statusDetails": dict(execution.details), "queuedAt": _epoch(execution.queued_at),
        "startedAt": _epoch(execution.started_at), "lastUpdatedAt": _epoch(execution.last_updated_at),
        "approximateSecondsBeforeTimedOut": execution.seconds_left(jobs.now()),
        "versionNumber": execution.version, "executionNumber": execution.number,
        "jobDocument": job.document if include_document else None,
    })


def summary_dict(execution: jobs.Execution) -> dict:
    return _compact({
        "jobId": execution.job_id, "queuedAt": _epoch(execution.queued_at),
        "startedAt": _epoch(execution.started_at), "lastUpdatedAt": _epoch(execution.last_updated_at),
        "versionNumber": execution.version, "executionNumber": execution.number,
    })


def state_dict(execution: jobs.Execution) -> dict:
    return {"status": execution.status, "statusDetails": dict(execution.details),
            "versionNumber": execution.version}


# ---------------------------------------------------------------------------
# The device's view of its executions
# ---------------------------------------------------------------------------
def _check_thing(backend, thing_name: str) -> None:
    if f"arn:aws:iot:{backend.region_name}:{backend.account_id}:thing/{thing_name}" not in backend.things:
        raise not_found(f"Thing {thing_name} does not exist.")


def pending(backend, thing_name: str) -> list[tuple[jobs.Job, jobs.Execution]]:
    """StartNextPendingJobExecution: "Any job executions with status
    IN_PROGRESS are returned first. Job executions are returned in the order
    in which they were created." Targets not rolled out yet have no execution."""
    found = [(job, job.executions[thing_name]) for job in jobs.live_jobs(backend)
             if thing_name in job.executions
             and job.executions[thing_name].status in ("QUEUED", "IN_PROGRESS")]
    return sorted(found, key=lambda je: (je[1].status != "IN_PROGRESS", je[1].queued_at))


def start(job: jobs.Job, execution: jobs.Execution, when: dt.datetime) -> None:
    """The in-progress timer "starts to run and the job execution switches to
    IN_PROGRESS status"; it applies to all executions of the job."""
    execution.started_at = when
    if job.timeout_minutes:
        execution.progress_deadline = when + dt.timedelta(minutes=job.timeout_minutes)


def set_step_timer(execution: jobs.Execution, minutes: int | None, when: dt.datetime) -> None:
    """"When a new step timer is created, the previous step timer is
    discarded"; -1 "discards a previously set timer" (UpdateJobExecution)."""
    if minutes == -1:
        execution.step_deadline = None
    elif minutes is not None:
        execution.step_deadline = when + dt.timedelta(minutes=minutes)


def get_pending(backend, p: dict) -> dict:
    """GetPendingJobExecutions: IN_PROGRESS and QUEUED executions, at most 10
    (job-limits.html: "The API can return up to a maximum of 10 pending job
    executions"), oldest first."""
    _check_thing(backend, p["thingName"])
    listed = sorted(pending(backend, p["thingName"]), key=lambda je: je[1].queued_at)[:jobs.MAX_PENDING_LISTED]
    return {
        "inProgressJobs": [summary_dict(e) for _, e in listed if e.status == "IN_PROGRESS"],
        "queuedJobs": [summary_dict(e) for _, e in listed if e.status == "QUEUED"],
    }


def start_next(backend, p: dict) -> dict:
    """StartNextPendingJobExecution: "If the next pending job execution is
    QUEUED, its status changes to IN_PROGRESS and the job execution's status
    details are set as specified. If the next pending job execution is
    already IN_PROGRESS, its status details do not change. If no job
    executions are pending, the response does not include the execution field.\""""
    _check_thing(backend, p["thingName"])
    details = p.get("statusDetails")
    jobs.check_details(details)
    step = jobs._minutes(p.get("stepTimeoutInMinutes"), "stepTimeoutInMinutes")
    found = pending(backend, p["thingName"])
    if not found:
        return {}
    job, execution = found[0]
    if execution.status == "QUEUED":
        when = jobs.now()
        start(job, execution, when)
        if details is not None:
            execution.details = dict(details)
        execution.change("IN_PROGRESS", when)
        set_step_timer(execution, step, when)
    return {"execution": execution_dict(job, execution, True)}


def describe(backend, p: dict) -> dict:
    """DescribeJobExecution: jobId $next "to return the next pending job
    execution for a thing"; includeJobDocument "Unless set to false, the
    response contains the job document. The default is true." An execution
    in a terminal state: TerminalStateException ("TerminalStateReached:
    Occurs when a command to describe a job is performed on a job that is in
    a terminal state", jobs-api.html; HTTP 410 in the model)."""
    _check_thing(backend, p["thingName"])
    include = p.get("includeJobDocument") is not False
    if p["jobId"] == "$next":
        found = pending(backend, p["thingName"])
        return {"execution": execution_dict(*found[0], include)} if found else {}
    job, execution = jobs.execution_of(backend, p["jobId"], p["thingName"], p.get("executionNumber"))
    if execution.status in jobs.TERMINAL:
        raise JobsError("TerminalStateException", f"Job execution is in terminal state {execution.status}.", 410)
    return {"execution": execution_dict(job, execution, include)}


def _check_update(execution: jobs.Execution, status: str, expected) -> None:
    """expectedVersion: "If the version of the job execution stored in Jobs
    does not match, the update is rejected with a VersionMismatch error, and
    an ErrorResponse that contains the current job execution status data is
    returned"; a terminal execution cannot change ("an attempt to change a
    request in state SUCCEEDED to state IN_PROGRESS": InvalidStateTransition)."""
    if expected is not None and int(expected) != execution.version:
        raise JobsError("VersionMismatchException",
                        f"Expected version {expected} does not match the current version {execution.version}.",
                        409, execution)
    if execution.status in jobs.TERMINAL:
        raise JobsError("InvalidStateTransitionException",
                        f"Job execution is in terminal state {execution.status} and cannot become {status}.",
                        409, execution)
    if status not in jobs.DEVICE_STATUSES:
        # status: "The new status for the job execution (IN_PROGRESS, FAILED,
        # SUCCESS, or REJECTED)"; the others are set by AWS IoT Jobs only.
        raise invalid(f"A device cannot set the status {status}; use one of {', '.join(jobs.DEVICE_STATUSES)}.")


def update(backend, p: dict) -> dict:
    """UpdateJobExecution: the new status, statusDetails ("If not specified,
    the statusDetails are unchanged"), a step timer, optimistic locking."""
    _check_thing(backend, p["thingName"])
    job, execution = jobs.execution_of(backend, p["jobId"], p["thingName"], p.get("executionNumber"))
    details = p.get("statusDetails")
    jobs.check_details(details)
    step = jobs._minutes(p.get("stepTimeoutInMinutes"), "stepTimeoutInMinutes", allow_discard=True)
    _check_update(execution, p["status"], p.get("expectedVersion"))
    when = jobs.now()
    if execution.status == "QUEUED" and p["status"] == "IN_PROGRESS":
        start(job, execution, when)
    if details is not None:
        execution.details = dict(details)
    execution.change(p["status"], when)
    if p["status"] == "IN_PROGRESS":
        set_step_timer(execution, step, when)
    jobs.after_change(job, when)
    out = {}
    if p.get("includeJobExecutionState"):
        out["executionState"] = state_dict(execution)
    if p.get("includeJobDocument") and job.document is not None:
        out["jobDocument"] = job.document
    return out


HANDLERS = {
    "GetPendingJobExecutions": get_pending,
    "StartNextPendingJobExecution": start_next,
    "DescribeJobExecution": describe,
    "UpdateJobExecution": update,
}


# ---------------------------------------------------------------------------
# WSGI
# ---------------------------------------------------------------------------
def _respond(start_response, status: int, payload: dict, code: str | None = None) -> list[bytes]:
    body = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4())),
               ("Content-Length", str(len(body)))]
    if code:
        headers.append(("x-amzn-ErrorType", code))
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
    return [body]


def _read(environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length else b""


def app(environ, start_response):
    """Serve one iot-jobs-data request (the caller holds state.MOTO_LOCK)."""
    from moto.iot.models import iot_backends

    from .opnames import operation_name

    account, region, _ = account_region_from_auth(environ.get("HTTP_AUTHORIZATION"))
    op = operation_name(environ, "iot-jobs-data").split(":", 1)[1]
    handler = HANDLERS.get(op)
    if handler is None:
        return _respond(start_response, 404, {"message": f"The emulator does not serve iot-jobs-data {op}."},
                        "ResourceNotFoundException")
    backend = iot_backends[account][region]
    try:
        values = validation.rest_json_values(validation._model("iotjobsdata"), op, environ, _read(environ))
        jobs.settle(backend)
        return _respond(start_response, 200, handler(backend, values))
    except JobsError as e:
        payload = {"message": e.message}
        if e.execution is not None:
            payload["executionState"] = state_dict(e.execution)
        return _respond(start_response, e.status, payload, e.code)
    except (validation.Unreadable, ValueError, TypeError) as e:
        return _respond(start_response, 400, {"message": str(e)}, "InvalidRequestException")
