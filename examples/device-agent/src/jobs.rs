//! What the agent needs of AWS IoT Jobs, whichever way it reaches them:
//! StartNextPendingJobExecution and UpdateJobExecution, over MQTT
//! ([`crate::mqtt::MqttJobs`]) or HTTPS ([`crate::https::HttpJobs`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::store::Identity;

/// The statuses a device reports. "The new status for the job execution
/// (IN_PROGRESS, FAILED, SUCCESS, or REJECTED). This must be specified on
/// every update." (API Reference, iot-jobs-data UpdateJobExecution; the wire
/// value is SUCCEEDED, the JobExecutionStatus enum,
/// https://docs.aws.amazon.com/iot/latest/apireference/API_iot-jobs-data_UpdateJobExecution.html)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Rejected => "REJECTED",
        }
    }
}

pub type StatusDetails = BTreeMap<String, String>;

/// "The maximum length of the value in the name/value pair is 1,024
/// characters." (API Reference, UpdateJobExecution, statusDetails)
pub const MAX_DETAIL_CHARS: usize = 1024;

/// A statusDetails value: control characters (outside the model's value
/// pattern `[^\p{C}]+`) made spaces, cut to at most [`MAX_DETAIL_CHARS`]
/// characters (not bytes).
pub fn detail_value(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() <= MAX_DETAIL_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_DETAIL_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// A job execution this device started.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub job_id: String,
    pub thing_name: String,
    pub status: String,
    /// Sent back as `expectedVersion`: "If the version of the job execution
    /// stored in Jobs does not match, the update is rejected with a
    /// VersionMismatch error" (UpdateJobExecution).
    pub version_number: i64,
    pub execution_number: Option<i64>,
    /// An object (MQTT API) or the document's JSON text (HTTP API).
    pub job_document: Value,
}

impl Execution {
    /// Read the `execution` member of a StartNextPendingJobExecution answer
    /// (the same JobExecution shape in the MQTT and HTTP APIs).
    pub fn from_json(execution: &Value) -> Result<Execution, String> {
        let text = |field: &str| {
            execution
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("the execution has no {field}"))
        };
        Ok(Execution {
            job_id: text("jobId")?,
            thing_name: text("thingName")?,
            status: text("status")?,
            version_number: execution
                .get("versionNumber")
                .and_then(Value::as_i64)
                .ok_or("the execution has no versionNumber")?,
            execution_number: execution.get("executionNumber").and_then(Value::as_i64),
            job_document: execution.get("jobDocument").cloned().unwrap_or(Value::Null),
        })
    }

    /// The UpdateJobExecution request body (HTTP) / payload (MQTT, which adds
    /// a clientToken).
    pub fn update_body(&self, status: Status, details: &StatusDetails) -> Value {
        let mut body = json!({
            "status": status.as_str(),
            "statusDetails": details,
            "expectedVersion": self.version_number,
        });
        if let Some(n) = self.execution_number {
            body["executionNumber"] = json!(n);
        }
        body
    }
}

/// Whether switching identity already proved that the broker accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// The channel is an MQTT connection: it reconnected with the identity.
    BrokerAccepted,
    /// The channel does not talk to the broker (SigV4 over HTTPS).
    NotChecked,
}

pub trait JobsChannel {
    /// StartNextPendingJobExecution: the execution now IN_PROGRESS, or none pending.
    fn start_next(&mut self) -> Result<Option<Execution>, String>;
    /// UpdateJobExecution with `expectedVersion` from `execution`.
    fn update(
        &mut self,
        execution: &Execution,
        status: Status,
        details: &StatusDetails,
    ) -> Result<(), String>;
    /// Use `identity` from now on.
    fn switch_identity(&mut self, identity: &Identity) -> Result<Proof, String>;
}

/// Proves that the MQTT broker accepts an identity (mutual TLS and CONNACK).
pub trait BrokerProbe {
    fn connect(&self, identity: &Identity) -> Result<(), String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_update_carries_the_expected_version_and_details() {
        let e = Execution::from_json(&json!({
            "jobId": "rotate-1", "thingName": "sensor-1", "status": "IN_PROGRESS",
            "versionNumber": 2, "executionNumber": 1, "jobDocument": {"a": 1}
        }))
        .unwrap();
        let details = StatusDetails::from([("certificateId".into(), "abc".into())]);
        assert_eq!(
            e.update_body(Status::Succeeded, &details),
            json!({"status": "SUCCEEDED", "statusDetails": {"certificateId": "abc"},
                   "expectedVersion": 2, "executionNumber": 1})
        );
        assert!(Execution::from_json(&json!({"jobId": "x"})).is_err());
    }

    #[test]
    fn detail_values_are_cut_to_1024_characters() {
        assert_eq!(detail_value("short"), "short");
        assert_eq!(detail_value("two\nlines\t"), "two lines ");
        let long = "é".repeat(2000);
        let cut = detail_value(&long);
        assert_eq!(cut.chars().count(), 1024);
        assert!(cut.ends_with('…'));
    }
}
