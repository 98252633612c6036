//! The planner: pure. `diff(&Spec, &LiveState, &PlanOptions) -> Plan`.
//!
//! A plan is data: an ordered list of changes, each about one resource, with
//! an action from a small closed set, a reason that reads as a sentence, and
//! the exact operations `apply` will carry out, in order. The planner makes
//! every decision; apply only executes.

mod address;
pub mod check;
#[cfg(test)]
mod converges;
#[cfg(test)]
mod delivery_tests;
mod diff;
mod index;
mod operation;
mod reason;
mod record;
pub mod review;
pub mod simulate;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use address::{Address, BadAddress, SHORT_ID, short_id};
pub use diff::{DeviceRotation, PlanError, PlanOptions, Stage, diff};
pub use operation::{
    CertRef, CertValidity, Delivered, Delivery, Destination, IdempotencyToken, KeyAlgorithm,
    KeyPlan, KeySource, Operation, PlanCa, RevocationReason, RotationJob, SigningAlgorithm, Slot,
    Template, UsageMode, Verification, derive_token,
};
pub use reason::{Reason, ReasonCode};

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
    /// Rotation jobs carry the certificates the devices phase registered.
    Delivery,
    Retire,
    Cleanup,
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

/// One planned change to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
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
    /// The fleet CA every operation that needs it uses.
    pub ca: PlanCa,
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
    /// What the policies the plan touches grant, and to how many devices.
    #[serde(default)]
    pub policy_reviews: Vec<review::PolicyReview>,
    /// Under `delivery: job`: each rotating device's progress, by device.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rotation: std::collections::BTreeMap<String, DeviceRotation>,
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
