//! fleetcert: a declarative reconciler for AWS IoT device certificates issued
//! by an ACM Private CA with ECDSA P-256 keys.
//!
//! Functional core, imperative shell: `spec`, `plan` and `render` are pure;
//! `cloud` is the only module that talks to AWS, and `commands` wires them up.

pub mod analysis;
pub mod apply;
pub mod aws_op;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod dates;
pub mod drift;
pub mod exit;
pub mod import;
pub mod init;
pub mod live;
pub mod lock;
pub mod marker;
pub mod pki;
pub mod plan;
pub mod planfile;
pub mod printer;
pub mod progress;
pub mod render;
pub mod rotation_job;
pub mod safe_fs;
pub mod spec;
#[doc(hidden)]
pub mod testkit;

/// The whole program: parse the command line, run one command, map the
/// outcome to an exit code. `main.rs` calls only this.
pub fn main() -> std::process::ExitCode {
    commands::run(std::env::args_os()).into()
}
