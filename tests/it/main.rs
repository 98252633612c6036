//! fleetcert's integration tests: one binary, with the AWS emulator as part
//! of the suite (see harness.rs).

/// The suite's one snapshot macro: `insta::assert_snapshot!` with the
/// filters every snapshot needs (this build's version, temporary
/// directories), plus any the test adds: `snapshot!(name, text)` or
/// `snapshot!(name, text, [(regex, replacement), ...])`.
macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        snapshot!($name, $text, [])
    };
    ($name:expr, $text:expr, [$(($pattern:expr, $replacement:expr)),* $(,)?]) => {{
        #[allow(unused_mut)]
        let mut filters: Vec<(&str, &str)> = vec![
            (r#""fleetcert_version": "[^"]+""#, r#""fleetcert_version": "[version]""#),
            (r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]"),
        ];
        $(filters.push(($pattern, $replacement));)*
        insta::with_settings!({filters => filters}, {
            insta::assert_snapshot!($name, $text);
        });
    }};
}

mod action;
mod action_runner;
mod attacks;
mod aws_async;
mod aws_check;
mod aws_errors;
mod aws_ops;
mod ca_modes;
mod cli_extras;
mod crash_kill;
mod emulator_flow;
mod fleet_dir;
mod gitops_drift;
mod gitops_iam;
mod gitops_lock;
mod gitops_planfile;
mod gitops_render;
mod harness;
mod import;
mod lifecycle;
mod mqtt;
mod policy_corpus;
mod policy_review;
mod reconcile;
mod rotation_delivery;
mod scale_common;
mod scale_faults;
mod spec_changes;
mod spec_corpus;
mod spec_examples;
mod spec_fixtures;
mod spec_props;
mod stores;
