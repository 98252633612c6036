//! The agent over the Jobs device MQTT API, against mosquitto requiring
//! client certificates from the fleet CA.

use serde_json::{Value, json};

use crate::jobs_service::JobsService;
use crate::support::{Broker, Ca, Device, agent, agent_command, certificate_id, document, text};

struct Scene {
    tmp: tempfile::TempDir,
    fleet_ca: Ca,
    broker: Broker,
}

fn scene() -> Scene {
    let tmp = tempfile::tempdir().unwrap();
    let fleet_ca = Ca::new("Factory A Root CA");
    let broker = Broker::start(tmp.path(), &fleet_ca);
    Scene {
        tmp,
        fleet_ca,
        broker,
    }
}

#[test]
fn installs_reconnects_with_the_new_certificate_and_reports_succeeded() {
    let s = scene();
    let jobs = JobsService::start(&s.broker, &s.fleet_ca, s.tmp.path());
    let device = Device::new("sensor-1", &s.fleet_ca);
    let other = Device::new("sensor-2", &s.fleet_ca);
    let id = certificate_id("sensor-1 gen2");
    let (entry, new_cert) = device.entry(&s.fleet_ca, &id);
    let (other_entry, _) = other.entry(&s.fleet_ca, &certificate_id("sensor-2 gen2"));
    // One job document for several devices: the agent takes its own entry.
    let doc = document(
        &s.fleet_ca,
        json!({"sensor-2": other_entry, "sensor-1": entry}),
    );
    jobs.queue("sensor-1", "rotate-w1", doc);

    let out = agent(&device, &s.broker, &["--mqtt-jobs"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Reported SUCCEEDED with the new id, on the version it started.
    let updates = jobs.updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    let (thing, job, payload) = &updates[0];
    assert_eq!((thing.as_str(), job.as_str()), ("sensor-1", "rotate-w1"));
    assert_eq!(payload["status"], "SUCCEEDED");
    assert_eq!(payload["statusDetails"], json!({"certificateId": id}));
    assert_eq!(payload["expectedVersion"], 2);
    let execution = jobs.execution("sensor-1", "rotate-w1");
    assert_eq!(execution.status, "SUCCEEDED");

    // The agent connected with the old certificate, then reconnected with the new one.
    assert_eq!(
        s.broker
            .connected_as()
            .into_iter()
            .filter(|u| u.starts_with("sensor-1"))
            .collect::<Vec<_>>(),
        vec!["sensor-1 gen1", "sensor-1 gen2"],
        "{}",
        s.broker.log_text()
    );

    // Installed in its own slot, now current; the old one kept beside it.
    assert_eq!(device.current(), id);
    assert_eq!(
        device.read(&format!("slots/{id}/certificate.pem")),
        new_cert
    );
    assert_eq!(
        device.read(&format!("slots/{id}/private-key.pem")),
        device.next_key.serialize_pem()
    );
    assert_eq!(
        device.read(&format!("slots/{id}/chain.pem")),
        s.fleet_ca.pem
    );
    assert_eq!(device.read("previous").trim(), "initial");
    assert_eq!(
        device.read("slots/initial/certificate.pem"),
        device.old_cert
    );
    assert!(
        !device.path("keys/next.pem").exists(),
        "the pending key moved into the slot"
    );
    assert!(
        !std::fs::read_dir(device.path("slots"))
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains(".tmp") })
    );

    // Nothing left: the next run finds no job and changes nothing.
    let again = agent(&device, &s.broker, &["--mqtt-jobs"], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("no pending job"));
    assert_eq!(device.current(), id);
}

#[test]
fn a_certificate_the_broker_refuses_falls_back_and_reports_failed() {
    let s = scene();
    let jobs = JobsService::start(&s.broker, &s.fleet_ca, s.tmp.path());
    let device = Device::new("sensor-1", &s.fleet_ca);
    // Signed by a CA the broker does not trust.
    let foreign = Ca::new("Some Other CA");
    let id = certificate_id("sensor-1 foreign");
    let (entry, _) = device.entry(&foreign, &id);
    jobs.queue(
        "sensor-1",
        "rotate-w1",
        document(&s.fleet_ca, json!({"sensor-1": entry})),
    );

    let out = agent(&device, &s.broker, &["--mqtt-jobs"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    let updates = jobs.updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    let payload = &updates[0].2;
    assert_eq!(payload["status"], "FAILED");
    assert_eq!(payload["statusDetails"]["certificateId"], id);
    let reason = payload["statusDetails"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("the broker refused the new certificate: ")
            && reason.ends_with("; kept the current certificate initial"),
        "{reason}"
    );
    assert!(reason.chars().count() <= 1024);
    assert_eq!(jobs.execution("sensor-1", "rotate-w1").status, "FAILED");

    // The broker's TLS refused it; the agent came back with the old one and
    // reported over that connection.
    let log = s.broker.log_text();
    assert!(log.contains("certificate verify failed"), "{log}");
    assert_eq!(
        s.broker
            .connected_as()
            .into_iter()
            .filter(|u| u.starts_with("sensor-1"))
            .collect::<Vec<_>>(),
        vec!["sensor-1 gen1", "sensor-1 gen1"],
        "{log}"
    );

    // The old certificate is still current; the refused slot is gone; the
    // device's key is kept for a new delivery.
    assert_eq!(device.current(), "initial");
    assert_eq!(
        device.read("slots/initial/certificate.pem"),
        device.old_cert
    );
    assert!(!device.path(&format!("slots/{id}")).exists());
    assert!(device.path("keys/next.pem").exists());
}

#[test]
fn documents_for_others_are_rejected_and_unknown_keys_fail() {
    let s = scene();
    let jobs = JobsService::start(&s.broker, &s.fleet_ca, s.tmp.path());
    let device = Device::new("sensor-1", &s.fleet_ca);
    let other = Device::new("sensor-2", &s.fleet_ca);
    let (other_entry, _) = other.entry(&s.fleet_ca, &certificate_id("sensor-2"));
    jobs.queue(
        "sensor-1",
        "a-not-for-me",
        document(&s.fleet_ca, json!({"sensor-2": other_entry})),
    );
    let out = agent(&device, &s.broker, &["--mqtt-jobs"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let execution = jobs.execution("sensor-1", "a-not-for-me");
    assert_eq!(execution.status, "REJECTED");
    assert_eq!(
        execution.details["reason"],
        "the document has no entry for thing \"sensor-1\""
    );

    // An entry whose key the device does not hold: FAILED, nothing installed.
    let mut entry: Value = device.entry(&s.fleet_ca, &certificate_id("x")).0;
    entry["key"]["publicKeySha256"] = json!("ab".repeat(32));
    jobs.queue(
        "sensor-1",
        "b-unknown-key",
        document(&s.fleet_ca, json!({"sensor-1": entry})),
    );
    let out = agent(&device, &s.broker, &["--mqtt-jobs"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let execution = jobs.execution("sensor-1", "b-unknown-key");
    assert_eq!(execution.status, "FAILED");
    assert_eq!(execution.details["certificateId"], certificate_id("x"));
    assert!(
        execution.details["reason"].starts_with("none of the 2 private keys this device holds"),
        "{:?}",
        execution.details
    );
    assert_eq!(device.current(), "initial");
}

#[test]
fn with_wait_seconds_it_takes_the_job_announced_by_notify_next() {
    let s = scene();
    let jobs = JobsService::start(&s.broker, &s.fleet_ca, s.tmp.path());
    let device = Device::new("sensor-1", &s.fleet_ca);
    let id = certificate_id("sensor-1 later");
    let (entry, _) = device.entry(&s.fleet_ca, &id);

    let mut command = agent_command(
        &device,
        &s.broker,
        &["--mqtt-jobs", "--wait-seconds", "30"],
        &[],
    );
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Nothing is pending when it first asks; then a job arrives.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while jobs.start_nexts().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never asked start-next"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Long enough for a polling agent to ask again many times.
    std::thread::sleep(std::time::Duration::from_millis(500));
    jobs.queue(
        "sensor-1",
        "rotate-later",
        document(&s.fleet_ca, json!({"sensor-1": entry})),
    );
    jobs.notify_next("sensor-1", "rotate-later");

    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Asked once, waited for notify-next, asked again: no polling.
    assert_eq!(jobs.start_nexts(), vec!["sensor-1", "sensor-1"]);
    assert_eq!(
        jobs.execution("sensor-1", "rotate-later").status,
        "SUCCEEDED"
    );
    assert_eq!(device.current(), id);
}
