//! The closed set of AWS operations (`fleetcert::aws_op::AwsOp`): the
//! emulator throttles exactly those operations at the same default quotas,
//! and `--rate-limit` refuses a name or rate that is wrong before anything
//! is read from AWS, while it may exceed the default quota (unlike the
//! spec's `rate_limits`, which the corpus covers).

use std::collections::BTreeMap;

use fleetcert::aws_op::AwsOp;

use crate::fleet_dir::{FleetDir, run};
use crate::harness::{Account, Emulator, shared};

#[test]
fn the_emulators_quota_table_is_fleetcerts() {
    // Its own emulator: `--quotas aws` loads the table at launch, and the
    // control endpoint shows it (quotas.py AWS_DEFAULTS).
    let emulator = Emulator::start(&["--quotas", "aws"]);
    let config = emulator.control("GET", "config", None);
    let emulated: BTreeMap<String, f64> = config["quotas"]
        .as_object()
        .expect("quotas in the emulator's config")
        .iter()
        .map(|(op, rate)| (op.clone(), rate.as_f64().expect("a rate")))
        .collect();
    let ours: BTreeMap<String, f64> = AwsOp::ALL
        .iter()
        .map(|op| (op.name().to_string(), op.default_quota()))
        .collect();
    let only_emulated: Vec<&String> = emulated.keys().filter(|k| !ours.contains_key(*k)).collect();
    let only_ours: Vec<&String> = ours.keys().filter(|k| !emulated.contains_key(*k)).collect();
    let different: Vec<(&String, f64, f64)> = ours
        .iter()
        .filter_map(|(op, rate)| {
            let theirs = *emulated.get(op)?;
            (theirs != *rate).then_some((op, *rate, theirs))
        })
        .collect();
    assert!(
        only_emulated.is_empty() && only_ours.is_empty() && different.is_empty(),
        "the emulator's quotas (tests/emulator/fleetcert_emulator/quotas.py) and \
         AwsOp::default_quota (src/aws_op.rs) disagree:\n\
         only in the emulator: {only_emulated:?}\nonly in fleetcert: {only_ours:?}\n\
         (operation, fleetcert, emulator): {different:?}"
    );
}

/// `plan` with `flag` in a fleet of the root example, on a fresh account:
/// (exit code, stderr, the account's request counters afterwards).
fn plan_with(flag: &str) -> (i32, String, BTreeMap<String, u64>) {
    let account = Account::new(shared());
    let fleet = FleetDir::root_example();
    let out = run(account
        .fleetcert(fleet.path())
        .args(["plan", "--rate-limit", flag]));
    (out.code, out.stderr, account.counters())
}

#[test]
fn rate_limit_flag_refuses_an_unknown_operation_with_the_closest_name() {
    let (code, stderr, counters) = plan_with("iot:RegisterCertficate=5");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "`iot:RegisterCertficate` is not an AWS operation fleetcert calls \
             (did you mean `iot:RegisterCertificate`?)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--rate-limit"), "{stderr}");
    assert!(counters.is_empty(), "AWS was called: {counters:?}");

    let (code, stderr, counters) = plan_with("s3:PutObject=5");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("`s3:PutObject` is not an AWS operation fleetcert calls"),
        "{stderr}"
    );
    assert!(!stderr.contains("did you mean"), "{stderr}");
    assert!(counters.is_empty(), "AWS was called: {counters:?}");
}

#[test]
fn rate_limit_flag_refuses_a_rate_that_is_not_above_zero() {
    for (flag, value) in [
        ("iot:RegisterCertificate=0", "`0`"),
        ("iot:RegisterCertificate=-3", "`-3`"),
        ("iot:RegisterCertificate=fast", "`fast`"),
        ("iot:RegisterCertificate=inf", "`inf`"),
    ] {
        let (code, stderr, counters) = plan_with(flag);
        assert_eq!(code, 1, "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{value} is not a number of requests per second above 0"
            )),
            "{flag}: {stderr}"
        );
        assert!(counters.is_empty(), "{flag}: AWS was called: {counters:?}");
    }
    let (code, stderr, counters) = plan_with("iot:RegisterCertificate");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("`iot:RegisterCertificate` is not OPERATION=RATE"),
        "{stderr}"
    );
    assert!(counters.is_empty(), "AWS was called: {counters:?}");
}

#[test]
fn rate_limit_flag_may_exceed_the_default_quota() {
    // 40/s against RegisterCertificate's 10/s: the pipeline owner's call
    // (a raised account quota), unlike the spec's rate_limits.
    let (code, stderr, counters) = plan_with("iot:RegisterCertificate=40");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        counters.get("iot:ListThings").copied().unwrap_or(0) > 0,
        "plan did not read the live state: {counters:?}"
    );
}
