//! `--verbose`: one line on stderr for every attempt of every AWS call
//! (operation, resource, HTTP status, AWS error code, attempt, duration),
//! through `tracing`. The resource is the name, id or ARN fleetcert passes
//! with the call; request and response bodies (PEMs, CSRs, keys, policy
//! documents, secret values) are never logged, nor are credentials.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use aws_sdk_iot::config::http::HttpResponse;
use aws_sdk_iot::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_iot::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_iot::error::{BoxError, ProvideErrorMetadata, SdkError};

use super::failure::causes;
use crate::aws_op::AwsOp;

tokio::task_local! {
    /// The HTTP status of the attempt in flight on this task (0: none yet).
    static STATUS: Arc<AtomicU16>;
}

/// Records each response's HTTP status for [`attempt`]'s log line. The SDK
/// runs interceptors inside the request's future, so on the calling task.
#[derive(Debug, Default)]
pub struct RecordStatus;

impl Intercept for RecordStatus {
    fn name(&self) -> &'static str {
        "fleetcert::RecordStatus"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let status = context.response().status().as_u16();
        let _ = STATUS.try_with(|slot| slot.store(status, Ordering::Relaxed));
        Ok(())
    }
}

/// What one attempt did, for its log line.
pub struct Attempt<'a> {
    pub operation: AwsOp,
    pub resource: &'a str,
    pub number: u32,
    pub duration: Duration,
}

/// Run `send` once, recording the HTTP status it got, and log the attempt.
pub async fn attempt<T, E, Fut>(
    operation: AwsOp,
    resource: &str,
    number: u32,
    send: Fut,
) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let status = Arc::new(AtomicU16::new(0));
    let started = tokio::time::Instant::now();
    let result = STATUS.scope(status.clone(), send).await;
    let attempt = Attempt {
        operation,
        resource,
        number,
        duration: started.elapsed(),
    };
    log(
        &attempt,
        status.load(Ordering::Relaxed),
        result.as_ref().err(),
    );
    result
}

fn log<E>(attempt: &Attempt<'_>, status: u16, error: Option<&SdkError<E, HttpResponse>>)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = if status == 0 {
        "-".to_string()
    } else {
        status.to_string()
    };
    let duration_ms = attempt.duration.as_millis() as u64;
    let resource = if attempt.resource.is_empty() {
        "-"
    } else {
        attempt.resource
    };
    match error {
        None => tracing::info!(
            operation = %attempt.operation, resource = %resource, status = %status,
            attempt = attempt.number, duration_ms, "aws call"
        ),
        Some(error) => tracing::info!(
            operation = %attempt.operation, resource = %resource, status = %status,
            code = %error.code().unwrap_or("-"), attempt = attempt.number, duration_ms,
            detail = %one_line(&causes(error).join(": ")), "aws call failed"
        ),
    }
}

/// `text` on one line: runs of whitespace (the SDK's multi-line credential
/// chain report) become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
