//! fleetcert's integration tests: one binary, with the AWS emulator as part
//! of the suite (see harness.rs).

mod emulator_flow;
mod harness;
