//! Why one operation failed: AWS said no, the local disk did, or the plan
//! asked for something its own earlier operations did not provide.

use crate::cloud::CloudError;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Aws(#[from] CloudError),
    /// A local file (a key, a device's files) could not be read or written.
    #[error("{resource}: {kind}: {message}")]
    Local {
        resource: String,
        kind: &'static str,
        message: String,
    },
    /// The plan, or the world, is not what the operation needs: a
    /// placeholder no earlier operation filled, a pending key that changed.
    #[error("{resource}: {kind}: {message}")]
    Invariant {
        resource: String,
        kind: &'static str,
        message: String,
    },
}

impl ApplyError {
    pub fn local(resource: &str, kind: &'static str, message: impl ToString) -> Self {
        Self::Local {
            resource: resource.to_string(),
            kind,
            message: message.to_string(),
        }
    }

    pub fn invariant(resource: &str, kind: &'static str, message: impl ToString) -> Self {
        Self::Invariant {
            resource: resource.to_string(),
            kind,
            message: message.to_string(),
        }
    }

    /// (operation, code, message) as the apply report shows them.
    pub fn parts(&self) -> (String, String, String) {
        match self {
            Self::Aws(e) => (
                e.operation.to_string(),
                e.code.clone(),
                format!("{}: {}", e.resource, e.message),
            ),
            Self::Local {
                resource,
                kind,
                message,
            } => (
                "local".to_string(),
                kind.to_string(),
                format!("{resource}: {message}"),
            ),
            Self::Invariant {
                resource,
                kind,
                message,
            } => (
                "apply".to_string(),
                kind.to_string(),
                format!("{resource}: {message}"),
            ),
        }
    }
}
