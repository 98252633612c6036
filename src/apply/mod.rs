//! Apply: carries out exactly the planned operations, phase by phase. Within a
//! phase, devices run in parallel and one device's changes in order. A failure
//! stops only what depends on it; the report says what succeeded, failed and
//! was skipped. Every step is safe to repeat, so a re-run after any crash
//! converges (idempotency tokens, "already exists"/"not found" answers taken
//! as done, keys written before certificates are requested).
//!
//! The executor takes the plan, the AWS client and a progress sink, nothing
//! else: every value comes from the plan's operations (plan/operation.rs).

pub mod bundle;
mod context;
mod error;
pub mod files;
mod ops;
mod run;
mod settle;

pub use error::ApplyError;
pub use run::{ApplyOptions, NoProgress, Progress, execute, execute_with_progress};
pub use settle::Wait;

use serde::Serialize;

use crate::plan::{Action, Address};

/// What happened to one change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed {
        /// The operation that failed, e.g. `iot:RegisterCertificate`.
        operation: String,
        /// AWS's error code (or the local failure's kind).
        code: String,
        message: String,
        /// How many of the change's operations had completed before.
        completed: usize,
    },
    Skipped {
        because: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeReport {
    pub address: Address,
    pub action: Action,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The result of an apply, change by change, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub changes: Vec<ChangeReport>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.outcome == Outcome::Succeeded)
            .count()
    }

    pub fn failed(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed { .. }))
            .count()
    }

    pub fn skipped(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Skipped { .. }))
            .count()
    }

    pub fn is_success(&self) -> bool {
        self.failed() == 0 && self.skipped() == 0
    }
}
