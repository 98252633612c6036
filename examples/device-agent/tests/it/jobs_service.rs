//! A test-side stand-in for AWS IoT Jobs' MQTT side, on mosquitto: it
//! answers `$aws/things/<thing>/jobs/start-next` and
//! `$aws/things/<thing>/jobs/<jobId>/update` on their `/accepted` and
//! `/rejected` topics as "Jobs device MQTT API operations" describes
//! (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html),
//! with the execution's state machine (QUEUED → IN_PROGRESS on start-next,
//! versionNumber counted, expectedVersion checked: VersionMismatch) and the
//! statusDetails limits (at most 10 pairs, values at most 1,024 characters).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use serde_json::{Value, json};

use crate::support::{Broker, Ca, new_key};

#[derive(Debug, Clone)]
pub struct Execution {
    pub document: Value,
    pub status: String,
    pub version: i64,
    pub details: BTreeMap<String, String>,
}

/// Every update a device sent, accepted or not: (thing, job, payload).
pub type Updates = Vec<(String, String, Value)>;

#[derive(Default)]
struct State {
    /// (thing, jobId) → execution, in creation order per thing.
    executions: BTreeMap<(String, String), Execution>,
    updates: Updates,
    /// The things that asked start-next, in order.
    start_nexts: Vec<String>,
}

pub struct JobsService {
    client: Client,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl State {
    fn handle(&mut self, topic: &str, payload: &Value) -> Option<(String, Value)> {
        let parts: Vec<&str> = topic.split('/').collect();
        let token = payload.get("clientToken").cloned().unwrap_or(Value::Null);
        match parts.as_slice() {
            ["$aws", "things", thing, "jobs", "start-next"] => {
                let thing = thing.to_string();
                self.start_nexts.push(thing.clone());
                let mut pending: Vec<_> = self
                    .executions
                    .iter_mut()
                    .filter(|((t, _), e)| {
                        *t == thing && (e.status == "IN_PROGRESS" || e.status == "QUEUED")
                    })
                    .collect();
                // IN_PROGRESS first, then the oldest QUEUED (the HTTP API page says the same).
                pending.sort_by_key(|(_, e)| e.status != "IN_PROGRESS");
                let mut answer = json!({"timestamp": now(), "clientToken": token});
                if let Some(((_, job), e)) = pending.into_iter().next() {
                    if e.status == "QUEUED" {
                        e.status = "IN_PROGRESS".into();
                        e.version += 1;
                    }
                    answer["execution"] = json!({
                        "jobId": job, "thingName": thing, "jobDocument": e.document,
                        "status": e.status, "versionNumber": e.version, "executionNumber": 1,
                        "queuedAt": now(), "startedAt": now(), "lastUpdatedAt": now(),
                    });
                }
                Some((format!("{topic}/accepted"), answer))
            }
            ["$aws", "things", thing, "jobs", job, "update"] => {
                let key = (thing.to_string(), job.to_string());
                self.updates
                    .push((key.0.clone(), key.1.clone(), payload.clone()));
                let reject = |code: &str, message: String| {
                    Some((
                        format!("{topic}/rejected"),
                        json!({"code": code, "message": message, "clientToken": token, "timestamp": now()}),
                    ))
                };
                let Some(e) = self.executions.get_mut(&key) else {
                    return reject(
                        "ResourceNotFound",
                        format!("no execution of {job} for {thing}"),
                    );
                };
                if let Some(expected) = payload.get("expectedVersion").and_then(Value::as_i64)
                    && expected != e.version
                {
                    return reject(
                        "VersionMismatch",
                        format!("expected {expected}, current {}", e.version),
                    );
                }
                if !["IN_PROGRESS", "QUEUED"].contains(&e.status.as_str()) {
                    return reject(
                        "InvalidStateTransition",
                        format!("{} is terminal", e.status),
                    );
                }
                let status = payload.get("status").and_then(Value::as_str).unwrap_or("");
                if !["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"].contains(&status) {
                    return reject("InvalidRequest", format!("status {status:?}"));
                }
                if let Some(details) = payload.get("statusDetails") {
                    let Some(map) = details.as_object() else {
                        return reject("InvalidRequest", "statusDetails is not a map".into());
                    };
                    if map.len() > 10 {
                        return reject("InvalidRequest", "more than 10 statusDetails".into());
                    }
                    let mut out = BTreeMap::new();
                    for (k, v) in map {
                        let Some(v) = v
                            .as_str()
                            .filter(|v| !v.is_empty() && v.chars().count() <= 1024)
                        else {
                            return reject(
                                "InvalidRequest",
                                format!("statusDetails {k}: 1-1024 characters"),
                            );
                        };
                        out.insert(k.clone(), v.to_string());
                    }
                    e.details = out;
                }
                e.status = status.to_string();
                e.version += 1;
                Some((
                    format!("{topic}/accepted"),
                    json!({"timestamp": now(), "clientToken": token}),
                ))
            }
            _ => None,
        }
    }
}

impl JobsService {
    /// Connect to `broker` as `jobs-service` with a certificate from `ca`.
    pub fn start(broker: &Broker, ca: &Ca, dir: &std::path::Path) -> JobsService {
        let key = new_key();
        let cert = ca.issue(&key, "jobs-service", &[]);
        let identity = device_agent::store::Identity {
            name: "jobs-service".into(),
            certificate: dir.join("jobs-service-cert.pem"),
            private_key: dir.join("jobs-service-key.pem"),
        };
        std::fs::write(&identity.certificate, cert.pem()).unwrap();
        std::fs::write(&identity.private_key, key.serialize_pem()).unwrap();
        let tls = device_agent::tls::client_config(
            &device_agent::tls::ServerRoots::File(broker.server_ca.clone()),
            &identity,
        )
        .unwrap();
        let mut options = MqttOptions::new("jobs-service", "localhost", broker.port);
        options
            .set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(tls))))
            .set_max_packet_size(256 * 1024, 256 * 1024);
        let (client, mut connection) = Client::new(options, 64);
        client
            .subscribe("$aws/things/+/jobs/start-next", QoS::AtLeastOnce)
            .unwrap();
        client
            .subscribe("$aws/things/+/jobs/+/update", QoS::AtLeastOnce)
            .unwrap();
        let mut subacks = 0;
        while subacks < 2 {
            match connection.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => subacks += 1,
                Ok(Ok(_)) => {}
                other => panic!("the jobs service could not subscribe: {other:?}"),
            }
        }
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let publisher = client.clone();
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match connection.recv_timeout(Duration::from_millis(100)) {
                        Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                            let payload: Value =
                                serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                            let answer = state.lock().unwrap().handle(&p.topic, &payload);
                            if let Some((topic, body)) = answer {
                                client
                                    .publish(topic, QoS::AtLeastOnce, false, body.to_string())
                                    .unwrap();
                            }
                        }
                        Ok(Err(e)) => panic!("the jobs service lost the broker: {e}"),
                        _ => {}
                    }
                }
                let _ = client.disconnect();
            })
        };
        JobsService {
            client: publisher,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Queue an execution of `job` for `thing` (version 1, as AWS numbers it).
    pub fn queue(&self, thing: &str, job: &str, document: Value) {
        self.state.lock().unwrap().executions.insert(
            (thing.into(), job.into()),
            Execution {
                document,
                status: "QUEUED".into(),
                version: 1,
                details: BTreeMap::new(),
            },
        );
    }

    /// Publish `notify-next` for `thing`'s pending `job`, as AWS IoT Jobs
    /// does when an execution becomes the next pending one: `{"timestamp",
    /// "execution": JobExecutionData}`.
    pub fn notify_next(&self, thing: &str, job: &str) {
        let e = self.execution(thing, job);
        let body = json!({"timestamp": now(), "execution": {
            "jobId": job, "thingName": thing, "jobDocument": e.document, "status": e.status,
            "versionNumber": e.version, "executionNumber": 1, "queuedAt": now(), "lastUpdatedAt": now()}});
        self.client
            .publish(
                format!("$aws/things/{thing}/jobs/notify-next"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .unwrap();
    }

    pub fn start_nexts(&self) -> Vec<String> {
        self.state.lock().unwrap().start_nexts.clone()
    }

    pub fn execution(&self, thing: &str, job: &str) -> Execution {
        self.state.lock().unwrap().executions[&(thing.to_string(), job.to_string())].clone()
    }

    pub fn updates(&self) -> Updates {
        self.state.lock().unwrap().updates.clone()
    }
}

impl Drop for JobsService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
