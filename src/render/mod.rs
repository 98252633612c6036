//! Showing plans and reports. Rendering is separate from the data: each
//! format is a function of a `Plan` (or `ApplyReport`) and nothing else.

pub mod json;
pub mod markdown;
pub mod text;
