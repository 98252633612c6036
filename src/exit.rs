//! Exit status as a type, so every command says what it means and the mapping
//! to numbers lives in one place (DESIGN.md section 2).

/// What a command's outcome means to a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success, or nothing to change.
    Success,
    /// An error: bad spec, bad flags, AWS error, stale plan, refused by a guard.
    Failure,
    /// `plan --detailed-exitcode` found changes, or `drift` found drift.
    Changes,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::from(0),
            ExitStatus::Failure => Self::from(1),
            ExitStatus::Changes => Self::from(2),
        }
    }
}
