//! What an apply shares while it runs: the fleet CA's values (from the plan,
//! or produced by its CA phase), the account's data endpoint (read once),
//! and what one change has produced so far.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::OnceCell;

use super::{ApplyError, Progress};
use crate::cloud::Cloud;
use crate::pki::keys::DeviceKey;
use crate::plan::{CertRef, Plan};

/// The fleet CA's values as they become known.
#[derive(Debug, Clone, Default)]
pub(super) struct CaValues {
    pub(super) arn: Option<String>,
    pub(super) pem: Option<String>,
}

pub(super) struct Context<'a> {
    pub(super) cloud: &'a Cloud,
    pub(super) progress: &'a dyn Progress,
    pub(super) fleet: &'a str,
    pub(super) ca: Mutex<CaValues>,
    pub(super) endpoint: OnceCell<String>,
    /// Certificates the devices phase registered for delivery, by device:
    /// (id, PEM), for the delivery phase's jobs.
    pub(super) staged: Mutex<BTreeMap<String, (String, String)>>,
}

/// What one change has produced so far (the placeholders it fills).
#[derive(Default)]
pub(super) struct ChangeState {
    pub(super) key: Option<DeviceKey>,
    pub(super) issued_pem: Option<String>,
    pub(super) registered: Option<(String, String)>,
}

impl<'a> Context<'a> {
    pub(super) fn new(plan: &'a Plan, cloud: &'a Cloud, progress: &'a dyn Progress) -> Self {
        let ca = CaValues {
            arn: plan.ca.arn.known().map(str::to_string),
            pem: plan.ca.certificate.known().map(str::to_string),
        };
        Self {
            cloud,
            progress,
            fleet: &plan.fleet,
            ca: Mutex::new(ca),
            endpoint: OnceCell::new(),
            staged: Mutex::new(BTreeMap::new()),
        }
    }

    pub(super) fn ca_arn(&self) -> Result<String, ApplyError> {
        let arn = self.ca.lock().expect("CA state").arn.clone();
        arn.ok_or_else(|| ApplyError::invariant("ca", "NoCa", "the fleet CA does not exist yet"))
    }

    pub(super) fn ca_pem(&self) -> Result<String, ApplyError> {
        let pem = self.ca.lock().expect("CA state").pem.clone();
        pem.ok_or_else(|| {
            ApplyError::invariant(
                "ca",
                "NoCaCertificate",
                "the fleet CA has no certificate yet",
            )
        })
    }

    pub(super) async fn endpoint(&self) -> Result<String, ApplyError> {
        Ok(self
            .endpoint
            .get_or_try_init(|| self.cloud.data_endpoint())
            .await
            .cloned()?)
    }
}

impl ChangeState {
    /// The certificate `cert` names: an existing one, or the one this change
    /// registered (or loaded) earlier.
    pub(super) fn resolve<'s>(
        &'s self,
        cert: &'s CertRef,
    ) -> Result<(&'s str, &'s str), ApplyError> {
        match cert {
            CertRef::Existing { id, arn } => Ok((id, arn)),
            CertRef::Issued => self
                .registered
                .as_ref()
                .map(|(id, arn)| (id.as_str(), arn.as_str()))
                .ok_or_else(|| {
                    ApplyError::invariant(
                        "certificate",
                        "NotRegistered",
                        "the new certificate is not registered yet",
                    )
                }),
        }
    }

    pub(super) fn issued_pem(&self, resource: &str) -> Result<&str, ApplyError> {
        self.issued_pem.as_deref().ok_or_else(|| {
            ApplyError::invariant(resource, "NotIssued", "no certificate was issued")
        })
    }
}
