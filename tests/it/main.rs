//! fleetcert's integration tests: one binary, with the AWS emulator as part
//! of the suite (see harness.rs).

mod aws_check;
mod emulator_flow;
mod fleet_dir;
mod harness;
mod lifecycle;
mod mqtt;
mod reconcile;
mod spec_changes;
