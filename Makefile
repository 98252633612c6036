# The two commands a fresh machine needs (see README.md):
#   make demo   plan and apply the example fleet.yaml against the local AWS emulator
#   make test   install what the tests need and run every test (Rust and emulator)

.PHONY: demo test setup emulator-setup build lint bench

setup: emulator-setup
	scripts/system-deps.sh

emulator-setup:
	tests/emulator/setup.sh

# The dev profile optimises dependencies (Cargo.toml), so the demo and the
# tests share one build.
build:
	cargo build --locked

demo: emulator-setup build
	scripts/demo.sh

# `cargo test` runs the unit, integration and doc tests; benchmarks (harness =
# false) are built by `cargo bench`, never run here. The reference device
# agent (examples/device-agent, a workspace member outside the default) has
# its own run: mosquitto and the emulator, as above.
test: setup
	tests/emulator/run_tests.sh
	cargo test --locked
	cargo test --locked -p device-agent

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy -p device-agent --all-targets --locked -- -D warnings
