//! One typed AWS operation at a time, in fleetcert's terms.

mod certificates;
mod jobs;
mod pca;
mod policies;
mod registration;
mod secrets;
mod ssm;
mod things;

use aws_sdk_iot::config::http::HttpResponse;
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};

pub use jobs::JobRequest;
pub use secrets::{CERTIFICATE_TAG, PENDING_STAGE, PENDING_TAG, StoredSecret};

use super::{Cloud, CloudError, failed};
use crate::aws_op::AwsOp;

/// A certificate PCA issued, as fetched back.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub arn: String,
    pub pem: String,
}

/// A certificate as registered in IoT.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub arn: String,
}

impl Cloud {
    /// One call ([`Cloud::call`]) whose failure with AWS error code `done`
    /// means its effect is already there (e.g. ResourceNotFoundException on
    /// a delete): that answer counts as `Ok(())`. Any other failure is
    /// reported as `operation` on `resource`.
    pub(super) async fn call_done_if<T, E, F, Fut>(
        &self,
        operation: AwsOp,
        resource: impl Into<String>,
        done: &str,
        send: F,
    ) -> Result<(), CloudError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    {
        let resource = resource.into();
        match self.call(operation, &resource, send).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(done) => Ok(()),
            Err(e) => Err(failed(operation, resource, e)),
        }
    }
}
