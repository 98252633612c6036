//! MQTT over mutual TLS (rumqttc on rustls): proving an identity against the
//! broker, and the Jobs device MQTT API.
//!
//! Topics, from "Jobs device MQTT API operations"
//! (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html):
//! a device publishes StartNextPendingJobExecution to
//! `$aws/things/<thing>/jobs/start-next` and UpdateJobExecution to
//! `$aws/things/<thing>/jobs/<jobId>/update`; the answers come on the same
//! topic plus `/accepted` or `/rejected`, carrying the request's
//! `clientToken`. "Your client must also confirm that the thingName in the
//! incoming message topic applies to the client's thing name before the
//! client acts on the message": replies are matched by full topic and token.
//! `notify-next` announces the next pending execution.

use std::time::{Duration, Instant};

use rumqttc::{
    Client, ConnectReturnCode, Connection, Event, MqttOptions, Packet, QoS, RecvTimeoutError,
    SubscribeReasonCode, TlsConfiguration, Transport,
};
use serde_json::{Value, json};

use crate::jobs::{BrokerProbe, Execution, JobsChannel, Proof, Status, StatusDetails};
use crate::store::Identity;
use crate::tls::{ServerRoots, client_config};

/// Above AWS IoT Core's 128 KB message size quota ("AWS IoT Core endpoints
/// and quotas"); rumqttc's default (10 KiB) would refuse a job document that
/// names several devices.
const MAX_PACKET: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub host: String,
    pub port: u16,
    pub roots: ServerRoots,
    /// The MQTT client id (the thing name, as AWS IoT policies expect).
    pub client_id: String,
    /// How long a connect, subscribe or request may take.
    pub timeout: Duration,
}

/// One MQTT connection, driven by hand.
pub struct Session {
    client: Client,
    connection: Connection,
    timeout: Duration,
    /// Publishes that arrived while waiting for something else.
    inbox: Vec<rumqttc::Publish>,
}

impl Session {
    /// Connect as `identity` and wait for a successful CONNACK.
    pub fn connect(cfg: &BrokerConfig, identity: &Identity) -> Result<Session, String> {
        let tls = client_config(&cfg.roots, identity)?;
        let mut options = MqttOptions::new(&cfg.client_id, &cfg.host, cfg.port);
        options
            .set_transport(Transport::Tls(TlsConfiguration::Rustls(
                std::sync::Arc::new(tls),
            )))
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET);
        let (client, connection) = Client::new(options, 16);
        let mut session = Session {
            client,
            connection,
            timeout: cfg.timeout,
            inbox: Vec::new(),
        };
        session.wait_for(|p| match p {
            Packet::ConnAck(ack) if ack.code == ConnectReturnCode::Success => Some(Ok(())),
            Packet::ConnAck(ack) => Some(Err(format!("the broker refused: {:?}", ack.code))),
            _ => None,
        })??;
        Ok(session)
    }

    /// Poll until `pick` takes an incoming packet; publishes it does not take
    /// are kept for [`Session::next_publish`].
    fn wait_for<T>(&mut self, mut pick: impl FnMut(&Packet) -> Option<T>) -> Result<T, String> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no answer from the broker within {:?}",
                    self.timeout
                ));
            }
            match self.connection.recv_timeout(left) {
                Ok(Ok(Event::Incoming(packet))) => {
                    if let Some(found) = pick(&packet) {
                        return Ok(found);
                    }
                    if let Packet::Publish(p) = packet {
                        self.inbox.push(p);
                    }
                }
                Ok(Ok(Event::Outgoing(_))) => {}
                Ok(Err(e)) => return Err(format!("the connection failed: {e}")),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err("the client stopped".into()),
            }
        }
    }

    pub fn subscribe(&mut self, filters: &[String]) -> Result<(), String> {
        for filter in filters {
            self.client
                .subscribe(filter.as_str(), QoS::AtLeastOnce)
                .map_err(|e| e.to_string())?;
            let codes = self.wait_for(|p| match p {
                Packet::SubAck(ack) => Some(ack.return_codes.clone()),
                _ => None,
            })?;
            if codes.contains(&SubscribeReasonCode::Failure) {
                return Err(format!("the broker refused the subscription to {filter}"));
            }
        }
        Ok(())
    }

    pub fn publish(&mut self, topic: &str, payload: &Value) -> Result<(), String> {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_string())
            .map_err(|e| e.to_string())?;
        self.wait_for(|p| matches!(p, Packet::PubAck(_)).then_some(()))
    }

    /// The next message whose topic satisfies `want`, until the timeout.
    pub fn next_publish(
        &mut self,
        want: impl Fn(&str) -> bool,
    ) -> Result<rumqttc::Publish, String> {
        if let Some(i) = self.inbox.iter().position(|p| want(&p.topic)) {
            return Ok(self.inbox.remove(i));
        }
        self.wait_for(|p| match p {
            Packet::Publish(p) if want(&p.topic) => Some(p.clone()),
            _ => None,
        })
    }

    /// Send DISCONNECT and let the connection close.
    pub fn disconnect(mut self) {
        if self.client.disconnect().is_ok() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                match self.connection.recv_timeout(Duration::from_millis(200)) {
                    Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) => break,
                    Err(RecvTimeoutError::Disconnected) => break,
                    _ => {}
                }
            }
        }
    }
}

/// Connect with the identity, then disconnect: the broker accepted it.
///
/// It uses the thing name as client id, as the device's own connection does,
/// so on AWS IoT it takes that connection's place: "when another device
/// connects using the same client ID, it knocks the previous one off the
/// connection" (AWS IoT Device Defender, "Conflicting MQTT client IDs",
/// https://docs.aws.amazon.com/iot-device-defender/latest/devguide/audit-chk-conflicting-client-ids.html).
/// Firmware should reconnect its main connection instead of probing beside it.
pub struct MqttProbe(pub BrokerConfig);

impl BrokerProbe for MqttProbe {
    fn connect(&self, identity: &Identity) -> Result<(), String> {
        Session::connect(&self.0, identity)?.disconnect();
        Ok(())
    }
}

/// The Jobs device MQTT API over one session, reconnected on identity change.
pub struct MqttJobs {
    cfg: BrokerConfig,
    thing: String,
    session: Option<Session>,
    tokens: u64,
}

impl MqttJobs {
    pub fn connect(
        cfg: BrokerConfig,
        thing: &str,
        identity: &Identity,
    ) -> Result<MqttJobs, String> {
        let mut jobs = MqttJobs {
            cfg,
            thing: thing.to_string(),
            session: None,
            tokens: 0,
        };
        jobs.open(identity)?;
        Ok(jobs)
    }

    fn topic(&self, rest: &str) -> String {
        format!("$aws/things/{}/jobs/{rest}", self.thing)
    }

    fn open(&mut self, identity: &Identity) -> Result<(), String> {
        if let Some(old) = self.session.take() {
            old.disconnect();
        }
        let mut session = Session::connect(&self.cfg, identity)?;
        // AWS IoT delivers the answers to the requester even unsubscribed;
        // other brokers (and the tests' mosquitto) need the subscriptions.
        session.subscribe(&[
            self.topic("start-next/+"),
            self.topic("+/update/+"),
            self.topic("notify-next"),
        ])?;
        self.session = Some(session);
        Ok(())
    }

    fn session(&mut self) -> Result<&mut Session, String> {
        self.session
            .as_mut()
            .ok_or_else(|| "not connected".to_string())
    }

    fn token(&mut self) -> String {
        self.tokens += 1;
        format!("{}-{}-{}", self.thing, std::process::id(), self.tokens)
    }

    /// Publish `payload` (with a clientToken) to `request`, wait for the
    /// `/accepted` or `/rejected` answer carrying that token.
    fn request(&mut self, request: &str, mut payload: Value) -> Result<Value, String> {
        let token = self.token();
        payload["clientToken"] = json!(token);
        let accepted = format!("{request}/accepted");
        let rejected = format!("{request}/rejected");
        let session = self.session()?;
        session.publish(request, &payload)?;
        loop {
            let message = session.next_publish(|t| t == accepted || t == rejected)?;
            let body: Value = serde_json::from_slice(&message.payload)
                .map_err(|e| format!("{}: not JSON: {e}", message.topic))?;
            if body.get("clientToken").and_then(Value::as_str) != Some(token.as_str()) {
                continue; // an answer to another request
            }
            if message.topic == rejected {
                // ErrorResponse: code, message, executionState (MQTT API page).
                return Err(format!(
                    "{request} was rejected: {} {}",
                    body.get("code").and_then(Value::as_str).unwrap_or("?"),
                    body.get("message").and_then(Value::as_str).unwrap_or("")
                ));
            }
            return Ok(body);
        }
    }

    /// Wait (up to the timeout) for a `notify-next` that names an execution.
    pub fn wait_for_notify_next(&mut self) -> Result<bool, String> {
        let topic = self.topic("notify-next");
        let message = match self.session()?.next_publish(|t| t == topic) {
            Ok(m) => m,
            Err(e) if e.starts_with("no answer") => return Ok(false),
            Err(e) => return Err(e),
        };
        let body: Value = serde_json::from_slice(&message.payload).unwrap_or(Value::Null);
        Ok(body.get("execution").is_some_and(Value::is_object))
    }
}

impl JobsChannel for MqttJobs {
    fn start_next(&mut self) -> Result<Option<Execution>, String> {
        let topic = self.topic("start-next");
        let answer = self.request(&topic, json!({}))?;
        // Nothing pending: the accepted answer has no `execution`.
        match answer.get("execution") {
            Some(e) if e.is_object() => Execution::from_json(e).map(Some),
            _ => Ok(None),
        }
    }

    fn update(
        &mut self,
        execution: &Execution,
        status: Status,
        details: &StatusDetails,
    ) -> Result<(), String> {
        let topic = self.topic(&format!("{}/update", execution.job_id));
        self.request(&topic, execution.update_body(status, details))
            .map(|_| ())
    }

    fn switch_identity(&mut self, identity: &Identity) -> Result<Proof, String> {
        self.open(identity)?;
        Ok(Proof::BrokerAccepted)
    }
}

impl Drop for MqttJobs {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            session.disconnect();
        }
    }
}
