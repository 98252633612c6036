//! fleetcert's integration tests: one binary, with the AWS emulator as part
//! of the suite (see harness.rs).

mod aws_check;
mod aws_ops;
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
mod reconcile;
mod scale_common;
mod scale_faults;
mod spec_changes;
mod spec_corpus;
mod spec_examples;
mod spec_fixtures;
mod spec_props;
