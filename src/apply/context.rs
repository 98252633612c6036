//! What an apply shares while it runs: the fleet CA as it becomes known,
//! the account's data endpoint (read once), and what one change has
//! produced so far.

use std::path::PathBuf;
use std::sync::Mutex;

use tokio::sync::OnceCell;

use super::ChangeReport;
use crate::cloud::{Cloud, CloudError};
use crate::pki::keys::DeviceKey;
use crate::spec::Spec;

/// The fleet CA as apply needs it: known from the live state, or created
/// and activated by the plan's CA phase.
#[derive(Debug, Clone, Default)]
pub(super) struct CaState {
    pub(super) arn: Option<String>,
    pub(super) pem: Option<String>,
    pub(super) signing_algorithm: String,
}

pub(super) struct Context<'a> {
    pub(super) cloud: &'a Cloud,
    pub(super) spec: &'a Spec,
    pub(super) ca: Mutex<CaState>,
    pub(super) endpoint: OnceCell<String>,
    pub(super) on_done: &'a (dyn Fn(&ChangeReport) + Sync),
}

/// What one change has produced so far.
#[derive(Default)]
pub(super) struct ChangeState {
    pub(super) key: Option<DeviceKey>,
    pub(super) issued_pem: Option<String>,
    pub(super) registered: Option<(String, String)>,
}

pub(super) fn local_error(
    operation: &'static str,
    resource: &str,
    code: &str,
    message: impl Into<String>,
) -> CloudError {
    CloudError::local(operation, resource, code, message)
}

impl Context<'_> {
    pub(super) fn ca_arn(&self) -> Result<String, CloudError> {
        self.ca
            .lock()
            .expect("CA state")
            .arn
            .clone()
            .ok_or_else(|| local_error("apply", "ca", "NoCa", "the fleet CA does not exist yet"))
    }

    pub(super) fn ca_pem(&self) -> Result<String, CloudError> {
        self.ca
            .lock()
            .expect("CA state")
            .pem
            .clone()
            .ok_or_else(|| {
                local_error(
                    "apply",
                    "ca",
                    "NoCaCertificate",
                    "the fleet CA has no certificate yet",
                )
            })
    }

    pub(super) fn signing_algorithm(&self) -> &'static str {
        match self.ca.lock().expect("CA state").signing_algorithm.as_str() {
            "SHA384WITHECDSA" => "SHA384WITHECDSA",
            "SHA512WITHECDSA" => "SHA512WITHECDSA",
            "SHA256WITHRSA" => "SHA256WITHRSA",
            "SHA384WITHRSA" => "SHA384WITHRSA",
            "SHA512WITHRSA" => "SHA512WITHRSA",
            _ => "SHA256WITHECDSA",
        }
    }

    pub(super) fn output_dir(&self) -> PathBuf {
        self.spec.output_dir.clone()
    }

    pub(super) async fn endpoint(&self) -> Result<String, CloudError> {
        self.endpoint
            .get_or_try_init(|| self.cloud.data_endpoint())
            .await
            .cloned()
    }
}
