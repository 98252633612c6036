//! The only module that talks to AWS (and the only one that imports
//! `aws_sdk_*`). It reads [`LiveState`](crate::live::LiveState) and performs
//! one typed operation at a time, in fleetcert's own terms; no SDK type leaves
//! it. Paging, pacing, retries and error mapping live here: every AWS call
//! goes through [`Cloud::call`] (see `pacing.rs`).

mod lock;
mod names;
mod ops;
pub mod pacing;
mod read;

pub use ops::{
    CERTIFICATE_TAG, IssuedCertificate, PENDING_STAGE, PENDING_TAG, Registration, StoredSecret,
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
/// message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} {resource}: {code}: {message}")]
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
}

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
        }
    }
}

/// Map an SDK error to a [`CloudError`], keeping AWS's code and message.
fn aws_error<E, R>(
    operation: AwsOp,
    resource: impl Into<String>,
    error: aws_sdk_iot::error::SdkError<E, R>,
) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_iot::error::SdkError;
    let (code, message) = match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            (
                err.code().unwrap_or("UnknownError").to_string(),
                err.message()
                    .map(str::to_string)
                    .unwrap_or_else(|| err.to_string()),
            )
        }
        SdkError::TimeoutError(_) => ("Timeout".to_string(), "the request timed out".to_string()),
        SdkError::DispatchFailure(failure) => (
            "DispatchFailure".to_string(),
            format!("{}", aws_sdk_iot::error::DisplayErrorContext(&error))
                .chars()
                .take(400)
                .collect::<String>()
                + if failure.is_io() { " (I/O)" } else { "" },
        ),
        SdkError::ResponseError(_) => (
            "ResponseError".to_string(),
            format!("{}", aws_sdk_iot::error::DisplayErrorContext(&error)),
        ),
        _ => (
            "SdkError".to_string(),
            format!("{}", aws_sdk_iot::error::DisplayErrorContext(&error)),
        ),
    };
    CloudError {
        operation: Step::Aws(operation),
        resource: resource.into(),
        code,
        message,
    }
}

/// Map a call that failed for good to a [`CloudError`], saying how many
/// attempts were made when it was retried.
fn failed<E>(operation: AwsOp, resource: impl Into<String>, failed: Failed<E>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let attempts = failed.attempts;
    let mut error = aws_error(operation, resource, failed.error);
    if attempts > 1 {
        error.message = format!("{} (after {attempts} attempts)", error.message);
    }
    error
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
            pca: aws_sdk_acmpca::Client::new(&config),
            iot: aws_sdk_iot::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
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

    /// One AWS call, paced and retried (pacing.rs). `send` builds and sends
    /// the request afresh on every attempt.
    async fn call<T, E, F, Fut>(&self, operation: AwsOp, send: F) -> Result<T, Failed<E>>
    where
        E: ProvideErrorMetadata,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        pacing::call(&self.pacer, operation, send).await
    }
}
