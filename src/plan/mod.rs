//! The planner: pure. `diff(&Spec, &LiveState, &PlanOptions) -> Plan`.
//!
//! A plan is data: an ordered list of changes, each about one resource, with
//! an action from a small closed set, a reason that reads as a sentence, and
//! the exact operations `apply` will carry out, in order. The planner makes
//! every decision; apply only executes.

mod diff;
mod index;
pub mod marker;
#[cfg(test)]
mod tests;
pub mod token;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use diff::{PlanError, PlanOptions, diff};

/// What a change does to its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `+` a new resource.
    Create,
    /// `~` changed in place (attributes, a policy's default version, attachments).
    Update,
    /// `+/-` a new certificate first; the old one is retired later.
    CreateThenRetire,
    /// `-/+` the old certificate is retired first, then a new one issued.
    RetireThenCreate,
    /// `-` revoked (PCA and IoT).
    Revoke,
    /// `-` set INACTIVE in IoT.
    Deactivate,
    /// `-` deleted.
    Delete,
    /// `=` marked as the fleet's; nothing else changes.
    Adopt,
}

impl Action {
    /// Terraform-style symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::CreateThenRetire => "+/-",
            Action::RetireThenCreate => "-/+",
            Action::Revoke | Action::Deactivate | Action::Delete => "-",
            Action::Adopt => "=",
        }
    }

    /// The action as a list of primitive actions (the JSON contract).
    pub fn as_list(self) -> &'static [&'static str] {
        match self {
            Action::Create => &["create"],
            Action::Update => &["update"],
            Action::CreateThenRetire => &["create", "retire"],
            Action::RetireThenCreate => &["retire", "create"],
            Action::Revoke => &["revoke"],
            Action::Deactivate => &["deactivate"],
            Action::Delete => &["delete"],
            Action::Adopt => &["adopt"],
        }
    }

    /// Does this change take something away (counted by the blast-radius guard)?
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            Action::Revoke | Action::Deactivate | Action::Delete | Action::RetireThenCreate
        )
    }
}

/// Apply runs phases in order; within a phase, changes of different devices
/// run in parallel and changes of one device in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Ca,
    CaRegistration,
    Policies,
    Devices,
    Retire,
    Cleanup,
}

/// Why a change is planned: a snake_case code for machines, a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub text: String,
}

impl Reason {
    pub fn new(code: &str, text: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            text: text.into(),
        }
    }
}

/// A before/after detail shown with a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Detail {
    /// A named field or attribute; `None` means absent.
    Field {
        name: String,
        before: Option<String>,
        after: Option<String>,
    },
    /// A policy document (canonical JSON), diffed line by line when shown.
    PolicyDocument {
        before: Option<String>,
        after: String,
    },
}

/// The certificate an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CertRef {
    /// A certificate that exists now.
    Existing { id: String, arn: String },
    /// The certificate issued earlier in the same change.
    Issued,
}

/// Where an issued certificate's key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeySource {
    /// The CSR in the spec (public; the device holds the key).
    Csr { path: String, sha256: String },
    /// The key written by the `GenerateKey` operation before it.
    Generated,
}

/// One AWS (or local) step. The CA's ARN and certificate are taken from the
/// fleet's CA (known, or created in the CA phase of the same plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Operation {
    /// PCA CreateCertificateAuthority (root), tagged as the fleet's.
    CreateCa {
        subject: std::collections::BTreeMap<String, String>,
        key_algorithm: String,
        signing_algorithm: String,
        idempotency_token: String,
    },
    /// Get the CA's CSR, issue its certificate with `RootCACertificate/V1`, import it.
    ActivateRootCa {
        validity_type: String,
        validity_value: u32,
        signing_algorithm: String,
    },
    /// Tag an existing CA as the fleet's.
    TagCa {
        arn: String,
    },
    /// Register the CA in IoT (DEFAULT: with a verification certificate for
    /// the registration code, issued by the CA itself).
    RegisterCa {
        sni_only: bool,
        active: bool,
        auto_registration: bool,
    },
    UpdateCaRegistration {
        certificate_id: String,
        active: Option<bool>,
        auto_registration: Option<bool>,
    },
    CreateThingType {
        name: String,
        description: Option<String>,
        searchable_attributes: Vec<String>,
    },
    CreatePolicy {
        name: String,
        document: String,
    },
    TagPolicy {
        name: String,
        arn: String,
    },
    DeletePolicyVersion {
        name: String,
        version_id: String,
    },
    CreatePolicyVersion {
        name: String,
        document: String,
    },
    DeletePolicy {
        name: String,
    },
    CreateThing {
        name: String,
        thing_type: Option<String>,
        attributes: std::collections::BTreeMap<String, String>,
    },
    /// Merge attributes (empty value removes), optionally change the thing type.
    UpdateThing {
        name: String,
        thing_type: Option<Option<String>>,
        attributes: std::collections::BTreeMap<String, String>,
        expected_version: i64,
    },
    DeleteThing {
        name: String,
    },
    /// Ensure a P-256 key for `device` under the output directory, reusing a
    /// pending one unless its public key is in `avoid` (keys of existing certificates).
    GenerateKey {
        device: String,
        avoid: BTreeSet<String>,
    },
    IssueCertificate {
        device: String,
        key: KeySource,
        validity_type: String,
        validity_value: u32,
        /// The certificate this one replaces, part of the idempotency token.
        replaces: Option<String>,
    },
    /// RegisterCertificate with the CA's PEM, ACTIVE.
    RegisterCertificate {
        device: String,
    },
    AttachThing {
        thing: String,
        cert: CertRef,
    },
    DetachThing {
        thing: String,
        cert: CertRef,
    },
    AttachPolicy {
        policy: String,
        cert: CertRef,
    },
    DetachPolicy {
        policy: String,
        cert: CertRef,
    },
    SetCertificateStatus {
        cert: CertRef,
        status: String,
    },
    /// PCA RevokeCertificate by serial, with an RFC 5280 reason.
    RevokeInPca {
        serial: String,
        reason: String,
    },
    DeleteCertificate {
        cert: CertRef,
    },
    /// Take a registered certificate as this change's own (its PEM read
    /// with DescribeCertificate), so WriteDeviceFiles writes it: the files of
    /// a certificate an interrupted apply registered but never wrote out.
    LoadCertificate {
        id: String,
        arn: String,
    },
    /// Write certificate.pem, chain.pem, connection details (and promote the key).
    WriteDeviceFiles {
        device: String,
    },
    /// Record on the thing the facts of its certificates (its `fleetcert`
    /// attribute, see marker.rs), so later plans need no call per certificate.
    RecordFacts(marker::Record),
}

/// One planned change to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `ca`, `ca.iot`, `policy.<name>`, `thing_type.<name>`, `device.<name>.thing`,
    /// `device.<name>.certificate`, `certificate.<id prefix>`.
    pub address: String,
    /// The device this change belongs to, if any (apply keeps one device's
    /// changes in order).
    pub device: Option<String>,
    pub action: Action,
    pub phase: Phase,
    pub reason: Reason,
    pub details: Vec<Detail>,
    pub operations: Vec<Operation>,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub fleet: String,
    /// The moment planned for (unix seconds).
    pub at: i64,
    /// Changes in execution order.
    pub changes: Vec<Change>,
    /// Things worth knowing that change nothing (e.g. a certificate that
    /// cannot be renewed automatically).
    pub warnings: Vec<String>,
    /// The blast-radius guard's limit (`lifecycle.max_destructive_changes`).
    pub max_destructive_changes: u32,
    /// Why apply must refuse this plan without `--allow-destructive` (empty
    /// when it need not).
    pub guard: Vec<String>,
}

/// Counts for the closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub revoke: usize,
    pub delete: usize,
    pub adopt: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for change in &self.changes {
            match change.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::CreateThenRetire | Action::RetireThenCreate => s.replace += 1,
                Action::Revoke | Action::Deactivate => s.revoke += 1,
                Action::Delete => s.delete += 1,
                Action::Adopt => s.adopt += 1,
            }
        }
        s
    }

    /// Changes that revoke, deactivate or delete (the guard counts these).
    pub fn destructive_count(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action.is_destructive())
            .count()
    }

    /// Whether apply must refuse this plan without `--allow-destructive`.
    pub fn exceeds_guard(&self) -> bool {
        !self.guard.is_empty()
    }
}
