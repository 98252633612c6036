//! The planner's central property: applying a plan converges. For generated
//! specs and live states (things missing, extra or edited; certificates
//! missing, extra, INACTIVE, REVOKED, expiring, expired, unrecorded, with
//! the wrong key or attachments; policies missing, changed or departed;
//! devices that left the spec under each removal policy; pending keys;
//! resources of others), the checker accepts the plan, and planning again on
//! `simulate(live, plan)` plans nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use proptest::prelude::*;

use super::check::check;
use super::simulate::{World, simulate};
use super::{PlanError, PlanOptions, diff};
use crate::live::{CaStatus, CertStatus, CertificateMode, LiveState};
use crate::pki::keys::DeviceKey;
use crate::spec::Spec;
use crate::testkit::{self, DAY, FleetBuilder, LiveBuilder};

const NOW: i64 = 1_800_000_000;
const DEVICES: usize = 6;

/// Two CSRs (two keys) per device name, made once.
fn csr_pool() -> &'static Vec<[(String, String); 2]> {
    static POOL: OnceLock<Vec<[(String, String); 2]>> = OnceLock::new();
    POOL.get_or_init(|| {
        (0..DEVICES)
            .map(|i| {
                let make = || {
                    let key = DeviceKey::generate();
                    (key.csr_pem(&name(i)).unwrap(), key.public_key_sha256())
                };
                [make(), make()]
            })
            .collect()
    })
}

fn name(i: usize) -> String {
    format!("dev-{i}")
}

#[derive(Debug, Clone)]
struct CertCase {
    /// 0, 3: generated keys; 1, 2: the device's two CSR keys.
    key: u8,
    age_days: i64,
    status: CertStatus,
    attached: bool,
    p: bool,
    q: bool,
}

#[derive(Debug, Clone)]
struct DeviceCase {
    in_spec: bool,
    /// 0: generated; 1, 2: CSR of key 1 or 2.
    key: u8,
    q: bool,
    attribute: Option<u8>,
    revoked: bool,
    /// 0 missing, 1 owned, 2 owned with other attributes, 3 unmarked (not the fleet's).
    thing: u8,
    live_attribute: Option<u8>,
    certs: Vec<CertCase>,
    /// 0 none, 1 the key of its first certificate, 2 another key.
    pending: u8,
    stale_record: bool,
}

#[derive(Debug, Clone)]
struct Case {
    devices: Vec<DeviceCase>,
    /// 0 absent, 1 active and registered, 2 active, not registered, 3 pending certificate.
    ca: u8,
    default_mode: bool,
    /// 0 missing, 1 as the spec, 2 another document, 3 another fleet's.
    policy_p: u8,
    departed_policy: bool,
    on_removal: &'static str,
    delete_things: bool,
    delete_certificates: bool,
    retire: &'static str,
    overlap: &'static str,
}

fn cert_case() -> impl Strategy<Value = CertCase> {
    (
        0u8..4,
        0i64..13,
        prop_oneof![
            4 => Just(CertStatus::Active),
            1 => Just(CertStatus::Inactive),
            1 => Just(CertStatus::Revoked),
            1 => Just(CertStatus::PendingActivation),
        ],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(key, age_days, status, attached, p, q)| CertCase {
            key,
            age_days,
            status,
            attached,
            p,
            q,
        })
}

fn device_case() -> impl Strategy<Value = DeviceCase> {
    (
        (prop::bool::weighted(0.8), 0u8..3, any::<bool>()),
        (prop::option::of(0u8..3), prop::bool::weighted(0.1)),
        (
            prop_oneof![8 => Just(0u8), 24 => Just(1), 8 => Just(2), 1 => Just(3)],
            prop::option::of(0u8..3),
        ),
        prop::collection::vec(cert_case(), 0..3),
        (0u8..3, prop::bool::weighted(0.2)),
    )
        .prop_map(
            |(
                (in_spec, key, q),
                (attribute, revoked),
                (thing, live_attribute),
                certs,
                (pending, stale_record),
            )| {
                DeviceCase {
                    in_spec,
                    key,
                    q,
                    attribute,
                    revoked,
                    thing,
                    live_attribute,
                    certs,
                    pending,
                    stale_record,
                }
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(device_case(), 1..=DEVICES),
        (
            prop_oneof![1 => Just(0u8), 6 => Just(1), 1 => Just(2), 1 => Just(3)],
            any::<bool>(),
        ),
        (
            prop_oneof![3 => Just(0u8), 18 => Just(1), 6 => Just(2), 1 => Just(3)],
            any::<bool>(),
        ),
        (
            prop::sample::select(vec!["revoke", "deactivate", "keep"]),
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec!["revoke", "deactivate"]),
            prop::sample::select(vec!["1h", "7d"]),
        ),
    )
        .prop_map(
            |(devices, (ca, default_mode), (policy_p, departed_policy), lifecycle)| Case {
                devices,
                ca,
                default_mode,
                policy_p,
                departed_policy,
                on_removal: lifecycle.0,
                delete_things: lifecycle.1,
                // The loader refuses deleting certificates that stay ACTIVE.
                delete_certificates: lifecycle.2 && lifecycle.0 != "keep",
                retire: lifecycle.3,
                overlap: lifecycle.4,
            },
        )
}

fn spec_of(case: &Case, dir: &std::path::Path) -> Spec {
    let lifecycle = [
        format!("on_removal: {}", case.on_removal),
        format!("delete_things: {}", case.delete_things),
        format!("delete_certificates: {}", case.delete_certificates),
        format!("retire: {}", case.retire),
        format!("rotation_overlap: {}", case.overlap),
        "max_destructive_changes: 1000".to_string(),
    ];
    let mut fleet = FleetBuilder::new("prop")
        .iot_mode(if case.default_mode {
            "default"
        } else {
            "sni_only"
        })
        .default("policies: [p]")
        .policy("p", testkit::CONNECT_STATEMENT)
        .policy(
            "q",
            "[{Effect: Allow, Action: \"iot:Publish\", Resource: \"*\"}]",
        );
    for line in &lifecycle {
        fleet = fleet.lifecycle(line);
    }
    for (i, device) in case.devices.iter().enumerate().filter(|(_, d)| d.in_spec) {
        let mut fields = Vec::new();
        if device.q {
            fields.push("policies: [p, q]".to_string());
        }
        if let Some(a) = device.attribute {
            fields.push(format!("attributes: {{line: l{a}}}"));
        }
        if device.revoked {
            fields.push("revoked: true".to_string());
        }
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        fleet = match device.key {
            0 => fleet.device_with(&name(i), &fields),
            k => fleet.device_with_csr(&name(i), &csr_pool()[i][usize::from(k) - 1].0, &fields),
        };
    }
    fleet.load(dir)
}

fn key_sha(i: usize, key: u8) -> String {
    match key {
        1 | 2 => csr_pool()[i][usize::from(key) - 1].1.clone(),
        k => testkit::sha(&format!("generated key {k} of {}", name(i))),
    }
}

/// The live state and pending keys of `case`.
fn world_of(case: &Case, spec: &Spec) -> World {
    let mode = if case.default_mode {
        CertificateMode::Default
    } else {
        CertificateMode::SniOnly
    };
    let mut builder = LiveBuilder::empty("prop");
    if case.ca != 0 {
        builder = builder.with_ca(NOW - 100 * DAY, mode);
    }
    let other = "{\n  \"Statement\": []\n}";
    builder = match case.policy_p {
        0 => builder,
        1 => builder.with_policy("p", &spec.policies["p"].canonical, Some("prop")),
        2 => builder.with_policy("p", other, Some("prop")),
        _ => builder.with_policy("p", other, Some("another-fleet")),
    };
    builder = builder.with_policy("q", &spec.policies["q"].canonical, Some("prop"));
    if case.departed_policy {
        builder = builder.with_policy("old", other, Some("prop"));
    }
    let mut pending_keys = BTreeMap::new();
    for (i, device) in case.devices.iter().enumerate() {
        let attributes: BTreeMap<String, String> = device
            .live_attribute
            .map(|a| BTreeMap::from([("line".to_string(), format!("l{a}"))]))
            .unwrap_or_default();
        builder = match device.thing {
            0 => builder,
            1 => {
                let wanted = spec.devices.get(&name(i)).map(|d| d.attributes.clone());
                builder.with_thing(&name(i), &wanted.unwrap_or(attributes), Some("prop"))
            }
            2 => builder.with_thing(&name(i), &attributes, Some("prop")),
            _ => builder.with_thing(&name(i), &attributes, None),
        };
        if case.ca == 1 {
            for (n, cert) in device.certs.iter().enumerate() {
                builder = builder.with_certificate(certificate(i, n, cert));
            }
        }
        match device.pending {
            1 if device.key == 0 => {
                let key = device.certs.first().map_or(0, |c| c.key);
                pending_keys.insert(name(i), key_sha(i, key));
            }
            2 if device.key == 0 => {
                pending_keys.insert(name(i), testkit::sha(&format!("pending {i}")));
            }
            _ => {}
        }
    }
    let mut live = builder.recorded().build();
    adjust_ca(case, &mut live);
    for (i, device) in case.devices.iter().enumerate() {
        if device.stale_record && live.markers.contains_key(&name(i)) {
            live.markers.insert(name(i), "prop".to_string());
        }
    }
    World {
        live,
        pending_keys,
        staged: BTreeMap::new(),
    }
}

fn certificate(i: usize, n: usize, case: &CertCase) -> crate::live::LiveCertificate {
    let policies: BTreeSet<String> = [("p", case.p), ("q", case.q)]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(p, _)| p.to_string())
        .collect();
    let issued = NOW - case.age_days * DAY - n as i64;
    let mut cert = testkit::certificate(&name(i), &key_sha(i, case.key), issued, 10, &policies);
    cert.status = case.status;
    if !case.attached || case.status == CertStatus::Revoked {
        cert.things.clear();
    }
    cert
}

fn adjust_ca(case: &Case, live: &mut LiveState) {
    match case.ca {
        2 => live.iot_ca = None,
        3 => {
            live.iot_ca = None;
            if let Some(ca) = live.ca.as_mut() {
                ca.status = CaStatus::PendingCertificate;
                ca.certificate_pem = None;
            }
        }
        _ => {}
    }
}

/// Whether the planner must refuse `case`: a spec device's thing or the
/// spec's policy belongs to someone else.
fn refused(case: &Case) -> bool {
    case.policy_p == 3 || case.devices.iter().any(|d| d.in_spec && d.thing == 3)
}

/// What one case showed.
enum Seen {
    Refused,
    /// The first plan had this many changes; the second had none.
    Converged(usize),
}

fn one_case(case: &Case) -> Result<Seen, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_of(case, dir.path());
    let world = world_of(case, &spec);
    let options = PlanOptions {
        now: NOW,
        pending_keys: world.pending_keys.clone(),
        ..PlanOptions::default()
    };
    let plan = match diff(&spec, &world.live, &options) {
        Ok(plan) => plan,
        Err(errors) => {
            prop_assert!(refused(case), "unexpected plan errors: {errors:?}");
            prop_assert!(
                errors.iter().all(|e| matches!(
                    e,
                    PlanError::UnownedThing { .. } | PlanError::UnownedPolicy { .. }
                )),
                "{errors:?}"
            );
            return Ok(Seen::Refused);
        }
    };
    prop_assert!(
        !refused(case),
        "a plan for a spec that names others' resources"
    );
    if let Err(violations) = check(&plan, &world.live) {
        prop_assert!(false, "the checker refused the plan: {violations:?}");
    }
    let after = simulate(&world, &plan);
    let options = PlanOptions {
        now: NOW,
        pending_keys: after.pending_keys.clone(),
        ..PlanOptions::default()
    };
    let again = diff(&spec, &after.live, &options).expect("the second plan");
    let left: Vec<String> = again.changes.iter().map(describe).collect();
    let first: Vec<String> = plan.changes.iter().map(describe).collect();
    prop_assert!(
        left.is_empty(),
        "planning again after the plan still changes: {left:#?}\nfirst plan: {first:#?}"
    );
    Ok(Seen::Converged(plan.changes.len()))
}

fn describe(change: &super::Change) -> String {
    let ops: Vec<&str> = change.operations.iter().map(|o| o.name()).collect();
    format!(
        "{} {:?} ({}: {}) {ops:?}",
        change.address, change.action, change.reason.code, change.reason.text
    )
}

#[test]
fn applying_a_plan_converges() {
    let config = ProptestConfig {
        cases: 2000,
        // Failures print their minimal case; CI writes no regression files.
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let seen = std::cell::RefCell::new(Vec::new());
    let result = runner.run(&case(), |case| {
        let outcome = one_case(&case)?;
        seen.borrow_mut().push(outcome);
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let seen = seen.into_inner();
    let refused = seen.iter().filter(|s| matches!(s, Seen::Refused)).count();
    let changed = seen
        .iter()
        .filter(|s| matches!(s, Seen::Converged(n) if *n > 0))
        .count();
    // The generator must reach the property: most cases are planned, and
    // most plans change something.
    assert!(seen.len() >= 2000, "{} cases", seen.len());
    assert!(
        refused * 5 < seen.len(),
        "{refused} of {} refused",
        seen.len()
    );
    assert!(
        changed * 2 > seen.len(),
        "only {changed} of {} plans change anything",
        seen.len()
    );
}
