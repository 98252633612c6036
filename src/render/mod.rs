//! Showing plans and reports. Rendering is separate from the data: each
//! format is a function of a `Plan` (or `ApplyReport`) and nothing else.

pub mod json;
pub mod markdown;
pub mod review;
pub mod rotation;
pub mod text;

use crate::plan::Action;

/// What a change does, as the text and Markdown plans say it.
fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "will be created",
        Action::Update => "will be updated in place",
        Action::CreateThenRetire => "will be replaced (new certificate first)",
        Action::RetireThenCreate => "will be replaced (old certificate retired first)",
        Action::Revoke => "will be revoked",
        Action::Deactivate => "will be deactivated",
        Action::Delete => "will be deleted",
        Action::Adopt => "will be adopted",
    }
}
