"""AWS IoT Jobs: jobs and job executions on the emulator clock.

moto's jobs do not expand thing-group targets, number every execution 123,
never time out, roll out or abort, and mark a job CANCELED before checking
whether it may be canceled. This module keeps its own store (on moto's IoT
backend, so moto's reset drops it) for both the control plane
(patches_jobs.py) and the device data plane (jobs_data.py). Sources, cited
beside the code:

- Developer Guide, "Jobs and job execution states"
  (https://docs.aws.amazon.com/iot/latest/developerguide/iot-jobs-lifecycle.html)
- Developer Guide, "How job configurations work" (rollout, abort, timers;
  https://docs.aws.amazon.com/iot/latest/developerguide/jobs-configurations-details.html)
- API Reference pages of each operation
  (https://docs.aws.amazon.com/iot/latest/apireference/API_<Operation>.html and
  API_iot-jobs-data_<Operation>.html)
- Limits: Developer Guide "AWS IoT Limits", AWS IoT Job Limits table (the
  2019 text, awsdocs/aws-iot-docs developerguide/limits-iot.md; the figures
  now live on "AWS IoT Device Management endpoints and quotas",
  https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html#job-limits,
  which may have raised them).

Time is state.now(): wall time plus clock_offset_seconds, which
POST /_fleetcert/clock moves forward. Work that AWS does in the background
(rolling out, timing out, aborting, completing) is caught up by settle()
before every IoT and jobs request.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field

from . import state

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED")
# "Initiated by device?" column of the job execution states table (lifecycle page)
DEVICE_STATUSES = ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED")
# AbortCriteria.failureType: FAILED | REJECTED | TIMED_OUT | ALL
FAILURE_TYPES = {"FAILED": ("FAILED",), "REJECTED": ("REJECTED",), "TIMED_OUT": ("TIMED_OUT",),
                 "ALL": ("FAILED", "REJECTED", "TIMED_OUT")}
# AWS IoT Job Limits table: "Targets 1..100: The number of targets a job can
# have"; "MaximumJobExecutionsPerMinute 1..1000"; "Active snapshot jobs 100"
# and "Active continuous jobs 100" (each irrespective of the other);
# inProgressTimeoutInMinutes and stepTimeoutInMinutes "1 minute to 7 days"
# (10080), "A value of -1 is also valid when using the UpdateJobExecution
# API and discards a previously set timer"; StatusDetail map 1..10 pairs.
MAX_TARGETS = 100
MAX_PER_MINUTE = 1000
MAX_ACTIVE_JOBS = 100
MAX_TIMEOUT_MINUTES = 10080
MAX_DETAILS = 10
# DetailsMap: "The maximum length of the value in the name/value pair is
# 1,024 characters" (iot-jobs-data model documentation).
MAX_DETAIL_VALUE = 1024
# "AWS IoT Jobs can roll out and cancel job executions swiftly at a rate of
# 1000 devices per minute" (job-limits.html): the rate without a rollout config.
DEFAULT_PER_MINUTE = 1000
# DeleteJob: "Only 10 jobs may have status DELETION_IN_PROGRESS at the same
# time, or a LimitExceededException will occur."
MAX_DELETIONS = 10
# GetPendingJobExecutions "can return up to a maximum of 10 pending job
# executions" (job-limits.html, Job executions limits).
MAX_PENDING_LISTED = 10

_TARGET_ARN = re.compile(r"^arn:aws[a-z-]*:iot:([^:]+):(\d{12}):(thing|thinggroup)/([a-zA-Z0-9:_-]+)$")


class JobsError(Exception):
    """An AWS error: code, message, HTTP status, and for the data plane's
    InvalidStateTransition and VersionMismatch the execution's state
    ("In this case, the body of the error message also contains the
    executionState field", jobs-api.html ErrorResponse)."""

    def __init__(self, code: str, message: str, status: int, execution=None):
        super().__init__(message)
        self.code, self.message, self.status, self.execution = code, message, status, execution


def invalid(message: str) -> JobsError:
    return JobsError("InvalidRequestException", message, 400)


def not_found(message: str) -> JobsError:
    return JobsError("ResourceNotFoundException", message, 404)


def now() -> dt.datetime:
    return state.now()


@dataclass
class Execution:
    job_id: str
    thing_name: str
    thing_arn: str
    queued_at: dt.datetime
    status: str = "QUEUED"
    started_at: dt.datetime | None = None
    last_updated_at: dt.datetime | None = None
    # "Job execution versions are incremented each time they are updated"
    version: int = 1
    # one execution per thing and job (retries are not modelled)
    number: int = 1
    details: dict = field(default_factory=dict)
    force_canceled: bool = False
    progress_deadline: dt.datetime | None = None
    step_deadline: dt.datetime | None = None

    def deadline(self) -> dt.datetime | None:
        # "The step timer can't exceed the in-progress timer's absolute bound."
        deadlines = [d for d in (self.progress_deadline, self.step_deadline) if d is not None]
        return min(deadlines) if deadlines else None

    def seconds_left(self, when: dt.datetime) -> int | None:
        """approximateSecondsBeforeTimedOut, while a timer runs."""
        deadline = self.deadline()
        if self.status != "IN_PROGRESS" or deadline is None:
            return None
        return max(0, int((deadline - when).total_seconds()))

    def change(self, status: str, when: dt.datetime) -> None:
        self.status = status
        self.last_updated_at = when
        self.version += 1
        if status in TERMINAL:
            self.progress_deadline = self.step_deadline = None


@dataclass
class Job:
    job_id: str
    arn: str
    targets: list
    target_selection: str
    created_at: dt.datetime
    document: str | None
    per_minute: int
    abort_criteria: list
    timeout_minutes: int | None
    echo: dict  # request members DescribeJob returns as given
    status: str = "IN_PROGRESS"
    last_updated_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    force_canceled: bool = False
    reason_code: str | None = None
    comment: str | None = None
    # targets not rolled out yet: (due time, thing name, thing ARN)
    pending: list = field(default_factory=list)
    executions: dict = field(default_factory=dict)  # thing name -> Execution
    deleting_until: float | None = None  # time.monotonic() deadline


def store(backend) -> dict[str, Job]:
    jobs = getattr(backend, "_fc_jobs", None)
    if jobs is None:
        jobs = backend._fc_jobs = {}
    return jobs


def get_job(backend, job_id: str) -> Job:
    job = store(backend).get(job_id)
    if job is None:
        raise not_found(f"Job {job_id} does not exist.")
    return job


def live_jobs(backend) -> list[Job]:
    return [j for j in store(backend).values() if j.deleting_until is None]


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------
def parse_target(backend, arn: str) -> tuple[str, str]:
    """(kind, name) of a job target: a thing or thing group ARN of this account and region."""
    m = _TARGET_ARN.match(arn or "")
    if not m or m.group(1) != backend.region_name or m.group(2) != backend.account_id:
        raise invalid(f"Target {arn} is not a thing or thing group ARN of this account and region.")
    return m.group(3), m.group(4)


def members(backend, targets: list, strict: bool) -> dict[str, str]:
    """thing name -> thing ARN of every thing the targets name, in target order.

    A thing group target stands for its things (direct members). strict:
    a target that does not exist is ResourceNotFoundException (CreateJob);
    otherwise it stands for nothing (a CONTINUOUS job's group deleted later).
    """
    out: dict[str, str] = {}
    for arn in targets:
        kind, name = parse_target(backend, arn)
        if kind == "thing":
            if arn in backend.things:
                out.setdefault(name, arn)
            elif strict:
                raise not_found(f"Thing {name} does not exist.")
            continue
        group = backend.thing_groups.get(arn)
        if group is None:
            if strict:
                raise not_found(f"Thing group {name} does not exist.")
            continue
        for thing in group.things.values():
            out.setdefault(thing.thing_name, thing.arn)
    return out


# ---------------------------------------------------------------------------
# Background work: rollout, continuous groups, timeouts, abort, completion
# ---------------------------------------------------------------------------
def plan_rollout(job: Job, things: dict[str, str], start: dt.datetime) -> None:
    """jobExecutionsRolloutConfig.maximumPerMinute: "The maximum number of
    things that will be notified of a pending job, per minute": the n-th
    target (from 0) is rolled out at start + (n // rate) minutes. Until then
    it has no execution at all: nothing pending for the device, nothing listed."""
    for n, (name, arn) in enumerate(things.items()):
        job.pending.append((start + dt.timedelta(minutes=n // job.per_minute), name, arn))
    roll_out(job, start)


def roll_out(job: Job, when: dt.datetime) -> None:
    while job.pending and job.pending[0][0] <= when:
        due, name, arn = job.pending.pop(0)
        if name not in job.executions:
            job.executions[name] = Execution(job.job_id, name, arn, queued_at=due, last_updated_at=due)


def follow_groups(backend, job: Job, when: dt.datetime) -> None:
    """CONTINUOUS: "for any new devices, the job executions are created in
    near-real time as soon as the devices join the target group" (rollout
    rates apply only to the things in the group at creation); a thing that
    left: "When your device is no longer a valid target for the job
    execution ... AWS IoT Jobs sets the job execution status to REMOVED"."""
    things = members(backend, job.targets, strict=False)
    job.pending = [p for p in job.pending if p[1] in things]
    waiting = {p[1] for p in job.pending}
    for name, arn in things.items():
        if name not in job.executions and name not in waiting:
            job.pending.append((when, name, arn))
    job.pending.sort(key=lambda p: p[0])
    for name, execution in job.executions.items():
        if name not in things and execution.status not in TERMINAL:
            execution.change("REMOVED", when)


def time_out(job: Job, when: dt.datetime) -> None:
    """"Whenever a job execution remains in the IN_PROGRESS status for longer
    than this interval, the job execution fails and switches to the terminal
    TIMED_OUT status" (in-progress and step timers alike)."""
    for execution in job.executions.values():
        deadline = execution.deadline()
        if execution.status == "IN_PROGRESS" and deadline is not None and deadline <= when:
            execution.change("TIMED_OUT", deadline)


def abort_if_met(job: Job, when: dt.datetime) -> None:
    """abortConfig: once minNumberOfExecutedThings things "receive job
    execution notifications" (have an execution), the job is canceled when
    failures of failureType reach thresholdPercentage of them ("The minimum
    percentage of job execution failures that must occur to initiate the job
    abort")."""
    executed = len(job.executions)
    for criteria in job.abort_criteria:
        if executed == 0 or executed < criteria["minNumberOfExecutedThings"]:
            continue
        kinds = FAILURE_TYPES[criteria["failureType"]]
        failures = sum(1 for e in job.executions.values() if e.status in kinds)
        if failures * 100.0 / executed >= float(criteria["thresholdPercentage"]):
            cancel(job, when, force=False)
            return


def complete_if_done(job: Job, when: dt.datetime) -> None:
    """"For a snapshot job, the job status changes to COMPLETED when all its
    job executions enter a terminal state"; a continuous job stays IN_PROGRESS."""
    if job.status != "IN_PROGRESS" or job.target_selection != "SNAPSHOT" or job.pending:
        return
    if all(e.status in TERMINAL for e in job.executions.values()):
        job.status = "COMPLETED"
        job.completed_at = job.last_updated_at = when


def after_change(job: Job, when: dt.datetime) -> None:
    if job.status == "IN_PROGRESS":
        abort_if_met(job, when)
        complete_if_done(job, when)


def settle(backend) -> None:
    """Catch up with the clock: finished deletions, rollout, continuous
    targets, timeouts, abort and completion, job by job."""
    when = now()
    jobs = store(backend)
    for job_id, job in list(jobs.items()):
        if job.deleting_until is not None:
            if time.monotonic() >= job.deleting_until:
                del jobs[job_id]
            continue
        if job.status == "IN_PROGRESS":
            if job.target_selection == "CONTINUOUS":
                follow_groups(backend, job, when)
            roll_out(job, when)
        # an IN_PROGRESS execution of a job canceled without force keeps its timers
        time_out(job, when)
        after_change(job, when)


# ---------------------------------------------------------------------------
# Control plane
# ---------------------------------------------------------------------------
def _minutes(value, what: str, allow_discard: bool = False) -> int | None:
    if value is None:
        return None
    value = int(value)
    if allow_discard and value == -1:
        return -1
    if not 1 <= value <= MAX_TIMEOUT_MINUTES:
        raise invalid(f"{what} must be between 1 and {MAX_TIMEOUT_MINUTES} minutes.")
    return value


def _per_minute(rollout: dict | None) -> int:
    rate = (rollout or {}).get("maximumPerMinute")
    if rate is None:
        return DEFAULT_PER_MINUTE
    if not 1 <= int(rate) <= MAX_PER_MINUTE:
        raise invalid(f"maximumPerMinute must be between 1 and {MAX_PER_MINUTE}.")
    return int(rate)


def _check_new_job(backend, job_id: str, p: dict) -> None:
    existing = store(backend).get(job_id)
    if existing is not None:
        raise JobsError("ResourceAlreadyExistsException", f"Job {job_id} already exists.", 409)
    targets = p.get("targets") or []
    if len(targets) > MAX_TARGETS:
        raise invalid(f"A job can have at most {MAX_TARGETS} targets.")
    if p.get("document") is None and p.get("documentSource") is None:
        # CreateJob, document: "Required if you don't specify a value for documentSource."
        raise invalid("Either document or documentSource must be specified.")
    selection = p.get("targetSelection") or "SNAPSHOT"
    active = sum(1 for j in live_jobs(backend) if j.status == "IN_PROGRESS" and j.target_selection == selection)
    if active >= MAX_ACTIVE_JOBS:
        raise JobsError("LimitExceededException",
                        f"The number of active {selection.lower()} jobs has reached the limit of {MAX_ACTIVE_JOBS}.", 410)


def create_job(backend, job_id: str, p: dict) -> Job:
    """CreateJob: targets are things and/or thing groups; targetSelection
    defaults to SNAPSHOT; "When you create a job ... the job status changes
    to IN_PROGRESS"."""
    _check_new_job(backend, job_id, p)
    things = members(backend, p["targets"], strict=True)
    when = now()
    job = Job(
        job_id=job_id,
        arn=f"arn:aws:iot:{backend.region_name}:{backend.account_id}:job/{job_id}",
        targets=list(p["targets"]), target_selection=p.get("targetSelection") or "SNAPSHOT",
        created_at=when, last_updated_at=when, document=p.get("document"),
        per_minute=_per_minute(p.get("jobExecutionsRolloutConfig")),
        abort_criteria=list((p.get("abortConfig") or {}).get("criteriaList") or []),
        timeout_minutes=_minutes((p.get("timeoutConfig") or {}).get("inProgressTimeoutInMinutes"),
                                 "inProgressTimeoutInMinutes"),
        echo={k: p[k] for k in ("description", "documentSource", "presignedUrlConfig",
                                "jobExecutionsRolloutConfig", "abortConfig", "timeoutConfig")
              if p.get(k) is not None},
    )
    store(backend)[job_id] = job
    plan_rollout(job, things, when)
    after_change(job, when)
    return job


def cancel(job: Job, when: dt.datetime, force: bool, reason_code=None, comment=None) -> None:
    """CancelJob: force "If true job executions with status IN_PROGRESS and
    QUEUED are canceled, otherwise only job executions with status QUEUED
    are canceled." Targets not rolled out yet never get an execution. The
    abort configuration uses the same path without force ("only QUEUED job
    executions are canceled")."""
    job.status = "CANCELED"
    job.pending.clear()
    job.force_canceled = job.force_canceled or force
    job.reason_code = reason_code if reason_code is not None else job.reason_code
    job.comment = comment if comment is not None else job.comment
    job.last_updated_at = job.completed_at = when
    for execution in job.executions.values():
        if execution.status == "QUEUED" or (force and execution.status == "IN_PROGRESS"):
            execution.force_canceled = force
            execution.change("CANCELED", when)


def cancel_job(backend, job_id: str, force: bool, reason_code, comment) -> Job:
    job = get_job(backend, job_id)
    if job.deleting_until is not None or job.status == "COMPLETED":
        # "Attempting to delete or cancel a job whose status is already
        # DELETION_IN_PROGRESS will result in an error." CancelJob's error
        # list has no InvalidStateTransitionException; the message is ours.
        raise invalid(f"Job {job_id} is {job.status} and cannot be canceled.")
    cancel(job, now(), force, reason_code, comment)
    return job


def delete_job(backend, job_id: str, force: bool) -> None:
    """DeleteJob: force "When true, you can delete a job which is IN_PROGRESS.
    Otherwise, you can only delete a job which is in a terminal state
    (COMPLETED or CANCELED) or an exception will occur"; while deleting the
    job shows DELETION_IN_PROGRESS (asynchrony key job_deletion_seconds)."""
    job = get_job(backend, job_id)
    if job.deleting_until is not None:
        raise JobsError("InvalidStateTransitionException", f"Job {job_id} is already being deleted.", 409)
    if job.status == "IN_PROGRESS" and not force:
        raise JobsError("InvalidStateTransitionException",
                        f"Job {job_id} is IN_PROGRESS; set force to delete it.", 409)
    deleting = sum(1 for j in store(backend).values() if j.deleting_until is not None)
    if deleting >= MAX_DELETIONS:
        raise JobsError("LimitExceededException",
                        f"At most {MAX_DELETIONS} jobs may be DELETION_IN_PROGRESS at the same time.", 410)
    delay = float(state.config.get("job_deletion_seconds") or 0)
    if delay <= 0:
        del store(backend)[job_id]
        return
    job.status = "DELETION_IN_PROGRESS"
    job.deleting_until = time.monotonic() + delay


def execution_of(backend, job_id: str, thing_name: str, number=None) -> tuple[Job, Execution]:
    job = store(backend).get(job_id)
    execution = job.executions.get(thing_name) if job and job.deleting_until is None else None
    if execution is None or (number is not None and int(number) != execution.number):
        raise not_found(f"Job execution of job {job_id} on thing {thing_name} does not exist.")
    return job, execution


def check_details(details) -> None:
    """statusDetails: at most 10 name/value pairs (CancelJobExecution: "You
    can specify at most 10 name/value pairs"; Job Limits table), values of at
    most 1,024 characters (model documentation). Keys and value patterns are
    the model's, checked by validation.py. "InvalidRequest ... this code is
    returned when an UpdateJobExecution request contains invalid status
    details" (jobs-api.html)."""
    if details is None:
        return
    if len(details) > MAX_DETAILS:
        raise invalid(f"statusDetails can have at most {MAX_DETAILS} name/value pairs.")
    for key, value in details.items():
        if len(str(value)) > MAX_DETAIL_VALUE:
            raise invalid(f"The statusDetails value of {key} is longer than {MAX_DETAIL_VALUE} characters.")


def cancel_execution(backend, job_id, thing_name, force: bool, expected, details) -> None:
    """CancelJobExecution: "If you attempt to cancel a job execution that is
    IN_PROGRESS, and you do not set force to true, then an
    InvalidStateTransitionException will be thrown"; expectedVersion "If the
    version ... does not match, the cancellation is rejected with a
    VersionConflictException"."""
    job, execution = execution_of(backend, job_id, thing_name)
    check_details(details)
    if expected is not None and int(expected) != execution.version:
        raise JobsError("VersionConflictException",
                        f"Expected version {expected} does not match the current version {execution.version}.", 409)
    if execution.status in TERMINAL or (execution.status == "IN_PROGRESS" and not force):
        raise JobsError("InvalidStateTransitionException",
                        f"Job execution is {execution.status} and cannot be canceled"
                        + ("" if execution.status in TERMINAL else " without force") + ".", 409)
    when = now()
    if details is not None:
        execution.details = dict(details)
    execution.force_canceled = force
    execution.change("CANCELED", when)
    after_change(job, when)


def delete_execution(backend, job_id, thing_name, number, force: bool) -> None:
    """DeleteJobExecution, force: "When true, you can delete a job execution
    which is IN_PROGRESS. Otherwise, you can only delete a job execution
    which is in a terminal state ... or an exception will occur"."""
    job, execution = execution_of(backend, job_id, thing_name, number)
    if execution.status not in TERMINAL and not force:
        raise JobsError("InvalidStateTransitionException",
                        f"Job execution is {execution.status}; set force to delete it.", 409)
    del job.executions[thing_name]
