"""AWS IoT Jobs control plane (iot restJson1) over the emulator's job store (jobs.py).

Every jobs operation of moto's IoTResponse is replaced: moto's own store
never expands thing groups, numbers every execution 123 and checks
cancellation after it has already marked the job CANCELED. Each handler
follows the API Reference page of its operation
(https://docs.aws.amazon.com/iot/latest/apireference/API_<Operation>.html).
"""

from __future__ import annotations

from collections import Counter
from functools import wraps

from moto.core.responses import ActionResult, EmptyResult
from moto.iot.responses import IoTResponse

from . import jobs
from .jobs import JobsError
from .patches_iot import _err, _page, _store_tags, _tags

# ListJobs / ListJobExecutionsFor*: maxResults 1..250 (LaserMaxResults in
# the model); AWS documents no default page size, 50 is ours.
DEFAULT_PAGE = 50
_COUNTED = (("numberOfCanceledThings", "CANCELED"), ("numberOfSucceededThings", "SUCCEEDED"),
            ("numberOfFailedThings", "FAILED"), ("numberOfRejectedThings", "REJECTED"),
            ("numberOfQueuedThings", "QUEUED"), ("numberOfInProgressThings", "IN_PROGRESS"),
            ("numberOfRemovedThings", "REMOVED"), ("numberOfTimedOutThings", "TIMED_OUT"))


def _compact(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def aws_errors(handler):
    """A JobsError becomes the IoT error of that code and HTTP status."""
    @wraps(handler)
    def wrapper(self):
        try:
            return handler(self)
        except JobsError as e:
            raise _err(e.code, e.message, e.status)
    return wrapper


def process_details(job: jobs.Job) -> dict:
    """JobProcessDetails: counts by execution status; processingTargets "The
    target devices to which the job execution is being rolled out. This
    value will be null after the job execution has finished rolling out"."""
    counts = Counter(e.status for e in job.executions.values())
    details = {name: counts[status] for name, status in _COUNTED}
    if job.pending:
        details["processingTargets"] = [arn for _, _, arn in job.pending]
    return details


def job_dict(job: jobs.Job) -> dict:
    echo = {k: v for k, v in job.echo.items() if k != "documentSource"}
    return _compact({
        "jobArn": job.arn, "jobId": job.job_id, "targetSelection": job.target_selection,
        "status": job.status, "forceCanceled": job.force_canceled, "reasonCode": job.reason_code,
        "comment": job.comment, "targets": job.targets, "createdAt": job.created_at,
        "lastUpdatedAt": job.last_updated_at, "completedAt": job.completed_at,
        "jobProcessDetails": process_details(job),
        # isConcurrent: rolling out (or canceling) executions (job-limits.html)
        "isConcurrent": bool(job.pending) and job.status == "IN_PROGRESS", **echo,
    })


def job_summary(job: jobs.Job, group_id: str | None) -> dict:
    return _compact({
        "jobArn": job.arn, "jobId": job.job_id, "thingGroupId": group_id,
        "targetSelection": job.target_selection, "status": job.status, "createdAt": job.created_at,
        "lastUpdatedAt": job.last_updated_at, "completedAt": job.completed_at,
        "isConcurrent": bool(job.pending) and job.status == "IN_PROGRESS",
    })


def execution_dict(execution: jobs.Execution) -> dict:
    """The control plane's JobExecution (statusDetails wrapped in detailsMap)."""
    return _compact({
        "jobId": execution.job_id, "status": execution.status, "forceCanceled": execution.force_canceled,
        "statusDetails": {"detailsMap": dict(execution.details)}, "thingArn": execution.thing_arn,
        "queuedAt": execution.queued_at, "startedAt": execution.started_at,
        "lastUpdatedAt": execution.last_updated_at, "executionNumber": execution.number,
        "versionNumber": execution.version,
        "approximateSecondsBeforeTimedOut": execution.seconds_left(jobs.now()),
    })


def execution_summary(execution: jobs.Execution) -> dict:
    return _compact({
        "status": execution.status, "queuedAt": execution.queued_at, "startedAt": execution.started_at,
        "lastUpdatedAt": execution.last_updated_at, "executionNumber": execution.number,
    })


def _paged(self, items: list, key: str) -> ActionResult:
    page, nxt = _page(items, self._get_param("maxResults"), self._get_param("nextToken"), DEFAULT_PAGE)
    return ActionResult(_compact({key: page, "nextToken": nxt}))


# ---------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------
_CREATE_MEMBERS = ("targets", "document", "documentSource", "description", "presignedUrlConfig",
                   "targetSelection", "jobExecutionsRolloutConfig", "abortConfig", "timeoutConfig")


@aws_errors
def create_job(self):
    """CreateJob: the job and its tags ("Metadata which can be used to manage the job")."""
    b = self.iot_backend
    job = jobs.create_job(b, self._get_param("jobId"), {k: self._get_param(k) for k in _CREATE_MEMBERS})
    _store_tags(b, job.arn, self._get_param("tags"))
    return ActionResult(_compact({"jobArn": job.arn, "jobId": job.job_id,
                                  "description": job.echo.get("description")}))


@aws_errors
def describe_job(self):
    job = jobs.get_job(self.iot_backend, self._get_param("jobId"))
    return ActionResult(_compact({"documentSource": job.echo.get("documentSource"), "job": job_dict(job)}))


@aws_errors
def get_job_document(self):
    job = jobs.get_job(self.iot_backend, self._get_param("jobId"))
    return ActionResult({"document": job.document or ""})


def _group_filter(b, name: str | None, group_id: str | None) -> tuple[str | None, str | None]:
    """ListJobs thingGroupName / thingGroupId -> (group ARN, group id)."""
    if name is None and group_id is None:
        return None, None
    for group in b.thing_groups.values():
        if group.thing_group_name == name or group.thing_group_id == group_id:
            return group.arn, group.thing_group_id
    raise jobs.not_found(f"Thing group {name or group_id} does not exist.")


@aws_errors
def list_jobs(self):
    """ListJobs: filters status, targetSelection, thingGroupName / thingGroupId
    (jobs that target that group); creation order."""
    b = self.iot_backend
    status, selection = self._get_param("status"), self._get_param("targetSelection")
    group_arn, group_id = _group_filter(b, self._get_param("thingGroupName"), self._get_param("thingGroupId"))
    listed = [job_summary(j, group_id) for j in jobs.store(b).values()
              if (status is None or j.status == status)
              and (selection is None or j.target_selection == selection)
              and (group_arn is None or group_arn in j.targets)]
    return _paged(self, listed, "jobs")


@aws_errors
def list_job_executions_for_job(self):
    """ListJobExecutionsForJob: status filter, maxResults 1..250, nextToken."""
    job = jobs.get_job(self.iot_backend, self._get_param("jobId"))
    status = self._get_param("status")
    listed = [{"thingArn": e.thing_arn, "jobExecutionSummary": execution_summary(e)}
              for e in job.executions.values() if status is None or e.status == status]
    return _paged(self, listed, "executionSummaries")


@aws_errors
def list_job_executions_for_thing(self):
    """ListJobExecutionsForThing: status and jobId filters, maxResults, nextToken."""
    b, name = self.iot_backend, self._get_param("thingName")
    b.describe_thing(name)  # ResourceNotFoundException for an unknown thing
    status, job_id = self._get_param("status"), self._get_param("jobId")
    listed = [{"jobId": j.job_id, "jobExecutionSummary": execution_summary(j.executions[name])}
              for j in jobs.live_jobs(b) if name in j.executions
              and (status is None or j.executions[name].status == status)
              and (job_id is None or j.job_id == job_id)]
    return _paged(self, listed, "executionSummaries")


@aws_errors
def describe_job_execution(self):
    _, execution = jobs.execution_of(self.iot_backend, self._get_param("jobId"), self._get_param("thingName"),
                                     self._get_param("executionNumber"))
    return ActionResult({"execution": execution_dict(execution)})


@aws_errors
def cancel_job(self):
    """CancelJob: reasonCode, comment, force (query string)."""
    job = jobs.cancel_job(self.iot_backend, self._get_param("jobId"), self._get_bool_param("force", False),
                          self._get_param("reasonCode"), self._get_param("comment"))
    return ActionResult(_compact({"jobArn": job.arn, "jobId": job.job_id,
                                  "description": job.echo.get("description")}))


@aws_errors
def cancel_job_execution(self):
    jobs.cancel_execution(self.iot_backend, self._get_param("jobId"), self._get_param("thingName"),
                          self._get_bool_param("force", False), self._get_param("expectedVersion"),
                          self._get_param("statusDetails"))
    return EmptyResult()


@aws_errors
def delete_job(self):
    """DeleteJob (force in the query string); the job's tags go with it."""
    b, job_id = self.iot_backend, self._get_param("jobId")
    arn = jobs.get_job(b, job_id).arn
    jobs.delete_job(b, job_id, self._get_bool_param("force", False))
    _tags(b).pop(arn, None)
    return EmptyResult()


@aws_errors
def delete_job_execution(self):
    jobs.delete_execution(self.iot_backend, self._get_param("jobId"), self._get_param("thingName"),
                          self._get_param("executionNumber"), self._get_bool_param("force", False))
    return EmptyResult()


def apply() -> None:
    # after patches_iot.apply(): its call_action settles detachments, this one
    # also catches the job store up with the clock before every IoT request
    settled_call_action = IoTResponse.call_action

    def call_action(self):
        jobs.settle(self.iot_backend)
        return settled_call_action(self)

    IoTResponse.call_action = call_action
    for fn in (create_job, describe_job, get_job_document, list_jobs, list_job_executions_for_job,
               list_job_executions_for_thing, describe_job_execution, cancel_job, cancel_job_execution,
               delete_job, delete_job_execution):
        setattr(IoTResponse, fn.__name__, fn)
