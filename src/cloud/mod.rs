//! The only module that talks to AWS (and the only one that imports
//! `aws_sdk_*`). It reads [`LiveState`](crate::live::LiveState) and performs
//! one typed operation at a time, in fleetcert's own terms; no SDK type leaves
//! it. Paging, pacing, retries and error mapping live here: every AWS call
//! goes through [`Cloud::call`] (see `pacing.rs`).

pub mod failure;
mod lock;
mod names;
mod ops;
pub mod pacing;
mod read;
mod trace;

pub use failure::AwsFailure;
pub use ops::{
    CERTIFICATE_TAG, IssuedCertificate, JobRequest, PENDING_STAGE, PENDING_TAG, Registration,
    StoredSecret,
};
pub use pacing::{DEFAULT_SHARE, Pacer, default_rate};
pub use read::{CaLookup, Refresh};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_iot::config::http::HttpResponse;
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use pacing::Failed;

use crate::aws_op::AwsOp;

/// What a [`CloudError`] is about: an AWS call, or one of fleetcert's own
/// steps around the calls (reading the AWS configuration, checking what an
/// apply produced), named by a short label such as `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Aws(AwsOp),
    Local(&'static str),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Aws(op) => op.fmt(f),
            Step::Local(label) => f.write_str(label),
        }
    }
}

/// An AWS call that failed, with the ids it was about and AWS's own code and
/// message; or, for the failures fleetcert explains itself ([`AwsFailure`]:
/// no credentials, an unreachable endpoint, AccessDenied...), that sentence.
#[derive(Debug, Clone)]
pub struct CloudError {
    /// The AWS operation (shown as `iot:RegisterCertificate`), or the local
    /// step that failed.
    pub operation: Step,
    /// What it was about (a device, a certificate id, a policy name...).
    pub resource: String,
    /// AWS's error code (e.g. `ThrottlingException`), or the kind of
    /// transport failure.
    pub code: String,
    pub message: String,
    /// The failure in fleetcert's words, with a hint ([`AwsFailure::hint`]).
    pub failure: Option<Box<AwsFailure>>,
}

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.failure {
            Some(failure) => failure.fmt(f),
            None => write!(
                f,
                "{} {}: {}: {}",
                self.operation, self.resource, self.code, self.message
            ),
        }
    }
}

impl std::error::Error for CloudError {}

impl CloudError {
    /// A failure in or around the AWS call `operation`: an answer without
    /// what fleetcert needs, or a request that could not be built.
    pub fn new(
        operation: AwsOp,
        resource: impl Into<String>,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation: Step::Aws(operation),
            resource: resource.into(),
            code: code.to_string(),
            message: message.into(),
            failure: None,
        }
    }

    /// One of fleetcert's own steps failed (`step`, e.g. `apply`); no AWS
    /// call is to blame.
    pub fn local(
        step: &'static str,
        resource: impl Into<String>,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation: Step::Local(step),
            resource: resource.into(),
            code: code.to_string(),
            message: message.into(),
            failure: None,
        }
    }
}

/// AWS's code and message for `error`, or the kind of failure when AWS did
/// not answer (the SDK's chain of causes, by `Display`: never `Debug`).
fn code_and_message<E>(error: &SdkError<E, HttpResponse>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let kind = match error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            return (
                err.code().unwrap_or("UnknownError").to_string(),
                err.message()
                    .map(str::to_string)
                    .unwrap_or_else(|| err.to_string()),
            );
        }
        SdkError::TimeoutError(_) => {
            return ("Timeout".to_string(), "the request timed out".to_string());
        }
        SdkError::DispatchFailure(_) => "DispatchFailure",
        SdkError::ResponseError(_) => "ResponseError",
        _ => "SdkError",
    };
    let causes = failure::causes(error).join(": ");
    (kind.to_string(), causes.chars().take(400).collect())
}

/// Map a call that failed for good to a [`CloudError`], saying how many
/// attempts were made when it was retried.
fn failed<E>(operation: AwsOp, resource: impl Into<String>, failed: Failed<E>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (code, mut message) = code_and_message(&failed.error);
    if let Some(failure) = &failed.failure
        && !matches!(failure, AwsFailure::AccessDenied { .. })
    {
        // AWS did not answer: fleetcert's sentence is all there is to say.
        // (AccessDenied keeps AWS's words, which the sentence quotes.)
        message = failure.to_string();
    } else if failed.attempts > 1 {
        message = format!("{message} (after {} attempts)", failed.attempts);
    }
    CloudError {
        operation: Step::Aws(operation),
        resource: resource.into(),
        code,
        message,
        failure: failed.failure.map(Box::new),
    }
}

/// Where to reach AWS. Everything unset comes from the standard AWS chain.
#[derive(Debug, Clone, Default)]
pub struct CloudSettings {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Clients for ACM PCA and AWS IoT in one account and region.
#[derive(Clone)]
pub struct Cloud {
    pca: aws_sdk_acmpca::Client,
    iot: aws_sdk_iot::Client,
    secrets: aws_sdk_secretsmanager::Client,
    ssm: aws_sdk_ssm::Client,
    region: String,
    /// The endpoint the SDK resolved (a flag, `AWS_ENDPOINT_URL`, or a
    /// profile's `endpoint_url`), if any.
    endpoint_url: Option<String>,
    /// Shared by clones: one set of rate limits per run.
    pacer: Arc<Pacer>,
    refresh: Refresh,
}

impl Cloud {
    pub async fn connect(settings: &CloudSettings) -> Result<Self, CloudError> {
        // Retries are fleetcert's own (pacing.rs): the SDK tries each request
        // once, so pacing sees every attempt and counts stay predictable.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| {
                CloudError::local(
                    "configuration",
                    "region",
                    "NoRegion",
                    "no AWS region: set `region` in the spec, AWS_REGION, a profile's region, or --region",
                )
            })?;
        Ok(Self {
            pca: aws_sdk_acmpca::Client::from_conf(
                aws_sdk_acmpca::config::Builder::from(&config)
                    .interceptor(trace::RecordStatus)
                    .build(),
            ),
            iot: aws_sdk_iot::Client::from_conf(
                aws_sdk_iot::config::Builder::from(&config)
                    .interceptor(trace::RecordStatus)
                    .build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(&config)
                    .interceptor(trace::RecordStatus)
                    .build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(&config)
                    .interceptor(trace::RecordStatus)
                    .build(),
            ),
            region,
            endpoint_url: config.endpoint_url().map(str::to_owned),
            pacer: Arc::new(Pacer::default()),
            refresh: Refresh::default(),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint the SDK resolved for every service, if one is set.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// Use these requests-per-second limits (operation → rate, e.g.
    /// `iot:RegisterCertificate` → 5) instead of the defaults (a share of
    /// AWS's default quotas, `pacing.rs`). Later calls win per operation.
    pub fn with_rate_limits(mut self, limits: &BTreeMap<AwsOp, f64>) -> Self {
        let mut merged = self.pacer.rates();
        merged.extend(limits.iter().map(|(op, rate)| (*op, *rate)));
        self.pacer = Arc::new(Pacer::new(&merged));
        self
    }

    /// How `read_live` reads certificates (see [`Refresh`]).
    pub fn with_refresh(mut self, refresh: Refresh) -> Self {
        self.refresh = refresh;
        self
    }

    pub fn refresh(&self) -> Refresh {
        self.refresh
    }

    /// The rate (requests per second) this client keeps `operation` to.
    pub fn rate_limit(&self, operation: AwsOp) -> f64 {
        self.pacer.rate(operation)
    }

    /// One AWS call about `resource` (a name, id or ARN), paced, retried
    /// and logged (pacing.rs); a failure fleetcert explains itself comes
    /// back with its [`AwsFailure`]. `send` builds and sends the request
    /// afresh on every attempt.
    async fn call<T, E, F, Fut>(
        &self,
        operation: AwsOp,
        resource: &str,
        send: F,
    ) -> Result<T, Failed<E>>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        pacing::call(&self.pacer, operation, resource, send)
            .await
            .map_err(|mut failed| {
                failed.failure = self.explain(operation, resource, &failed.error, failed.attempts);
                failed
            })
    }

    /// The failure fleetcert explains itself, if `error` is one.
    fn explain<E: ProvideErrorMetadata>(
        &self,
        operation: AwsOp,
        resource: &str,
        error: &SdkError<E, HttpResponse>,
        attempts: u32,
    ) -> Option<AwsFailure> {
        failure::before_answer(error, &self.service_endpoint(operation), attempts)
            .or_else(|| failure::access_denied(operation, resource, error))
    }

    /// The URL `operation` goes to: the configured endpoint, or the
    /// service's regional one.
    fn service_endpoint(&self, operation: AwsOp) -> String {
        self.endpoint_url.clone().unwrap_or_else(|| {
            let service = operation.service().iam_prefix();
            format!("https://{service}.{}.amazonaws.com", self.region)
        })
    }
}
