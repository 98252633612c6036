//! Shared by the scale and crash tests: a generated fleet, a recorder of
//! PCA issuances between fleetcert and the emulator, and the invariants a
//! converged fleet must hold, checked through the AWS APIs and the files.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use fleetcert::pki::cert;
use fleetcert::pki::keys::DeviceKey;

use crate::harness::Account;

use fleetcert::testkit::FleetBuilder;

pub const FLEET: &str = "scale";

/// `fleet.yaml` with `devices` generated-key devices (`dev-000`...) sharing
/// one policy, and `rate_limits` for fleetcert's own pacing.
pub fn write_fleet(dir: &Path, devices: usize, rate_limits: &[(&str, f64)]) -> Vec<String> {
    let mut fleet = FleetBuilder::new(FLEET)
        .region("ap-northeast-1")
        .validity("365d", "30d")
        .default("policies: [telemetry]")
        .policy("telemetry", CONNECT_ANYWHERE);
    for (op, rate) in rate_limits {
        fleet = fleet.rate_limit(op, *rate);
    }
    let names: Vec<String> = (0..devices).map(|i| format!("dev-{i:03}")).collect();
    for name in &names {
        fleet = fleet.device(name);
    }
    fleet.write(dir);
    names
}

/// The scale fleets' policy: connect as any client id (what load tests need).
const CONNECT_ANYWHERE: &str = "[{Effect: Allow, Action: [\"iot:Connect\"], Resource: \"*\"}]";

/// A loopback proxy in front of the emulator that records every
/// IssueCertificate request's idempotency token and template, and the
/// certificate ARN answered: PCA cannot list what it issued, so this is how
/// a test counts issuances (the emulator answers a repeated token with the
/// same ARN, as AWS does, so distinct ARNs are distinct certificates).
pub struct IssueRecorder {
    pub port: u16,
    /// (template ARN, idempotency token, certificate ARN).
    pub issued: Arc<Mutex<Vec<(String, String, String)>>>,
}

fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while data.len() < end + 4 + length {
                let n = stream.read(&mut buf).ok()?;
                if n == 0 {
                    return None;
                }
                data.extend_from_slice(&buf[..n]);
            }
            return Some(data);
        }
    }
}

fn json_field(body: &str, field: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v[field].as_str().map(str::to_string))
        .unwrap_or_default()
}

impl IssueRecorder {
    pub fn start(upstream: u16) -> IssueRecorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let issued = Arc::new(Mutex::new(Vec::new()));
        let record = issued.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                let record = record.clone();
                std::thread::spawn(move || {
                    let Some(request) = read_request(&mut client) else {
                        return;
                    };
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    if server.write_all(&request).is_err() {
                        return;
                    }
                    // The emulator closes every connection after one answer.
                    let mut response = Vec::new();
                    let _ = server.read_to_end(&mut response);
                    let text = String::from_utf8_lossy(&request);
                    if text.contains("ACMPrivateCA.IssueCertificate") {
                        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
                        let answer = String::from_utf8_lossy(&response);
                        let answer = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
                        let arn = json_field(answer, "CertificateArn");
                        if !arn.is_empty() {
                            record.lock().unwrap().push((
                                json_field(body, "TemplateArn"),
                                json_field(body, "IdempotencyToken"),
                                arn,
                            ));
                        }
                    }
                    let _ = client.write_all(&response);
                });
            }
        });
        IssueRecorder { port, issued }
    }

    /// Distinct device certificates PCA issued (client-auth template).
    pub fn device_certificates(&self) -> BTreeSet<String> {
        self.issued
            .lock()
            .unwrap()
            .iter()
            .filter(|(template, _, _)| template.contains("EndEntityClientAuthCertificate"))
            .map(|(_, _, arn)| arn.clone())
            .collect()
    }
}

/// One registered certificate, as AWS says.
#[derive(Debug)]
pub struct Registered {
    pub id: String,
    pub status: String,
    pub info: cert::CertInfo,
    pub things: BTreeSet<String>,
    pub policies: BTreeSet<String>,
}

/// Every certificate registered under the account's (only) CA.
pub async fn registered(account: &Account<'_>) -> Vec<Registered> {
    let iot = account.iot().await;
    let cas = iot.list_ca_certificates().send().await.unwrap();
    let mut out = Vec::new();
    for ca in cas.certificates() {
        let mut marker = None;
        loop {
            let page = iot
                .list_certificates_by_ca()
                .ca_certificate_id(ca.certificate_id().unwrap())
                .set_marker(marker)
                .page_size(250)
                .send()
                .await
                .unwrap();
            for c in page.certificates() {
                let id = c.certificate_id().unwrap().to_string();
                let arn = c.certificate_arn().unwrap();
                let described = iot
                    .describe_certificate()
                    .certificate_id(&id)
                    .send()
                    .await
                    .unwrap();
                let description = described.certificate_description().unwrap();
                let info = cert::parse_pem(description.certificate_pem().unwrap()).unwrap();
                let things = iot
                    .list_principal_things()
                    .principal(arn)
                    .send()
                    .await
                    .unwrap()
                    .things()
                    .iter()
                    .cloned()
                    .collect();
                let policies = iot
                    .list_attached_policies()
                    .target(arn)
                    .send()
                    .await
                    .unwrap()
                    .policies()
                    .iter()
                    .filter_map(|p| p.policy_name().map(str::to_string))
                    .collect();
                out.push(Registered {
                    id,
                    status: description.status().unwrap().as_str().to_string(),
                    info,
                    things,
                    policies,
                });
            }
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
    }
    out
}

/// The invariants of a converged fleet of fresh devices: every device has
/// its thing and exactly one ACTIVE certificate (no rotation happened, so no
/// overlap), attached to its thing and policy, whose key is the one in
/// out/<device>/private-key.pem; no other certificate is registered and no
/// other thing carries the fleet's marker. Returns the problems found.
pub async fn check_converged(account: &Account<'_>, dir: &Path, devices: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let iot = account.iot().await;
    let mut things = BTreeMap::new();
    let mut token = None;
    loop {
        let page = iot
            .list_things()
            .set_next_token(token)
            .max_results(250)
            .send()
            .await
            .unwrap();
        for thing in page.things() {
            let marker = thing
                .attributes()
                .and_then(|a| a.get("fleetcert"))
                .cloned()
                .unwrap_or_default();
            things.insert(thing.thing_name().unwrap().to_string(), marker);
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let wanted: BTreeSet<&String> = devices.iter().collect();
    for (name, marker) in &things {
        // The apply lock (another feature) is a thing of its own.
        if name.starts_with("fleetcert-lock-") {
            continue;
        }
        if !marker.starts_with(FLEET) {
            problems.push(format!("thing {name} lacks the fleet marker: {marker:?}"));
        }
        if !wanted.contains(name) {
            problems.push(format!("unmanaged leftover thing {name}"));
        }
    }
    let certs = registered(account).await;
    for device in devices {
        if !things.contains_key(device) {
            problems.push(format!("{device}: no thing"));
        }
        let mine: Vec<&Registered> = certs
            .iter()
            .filter(|c| c.info.subject_cn.as_deref() == Some(device.as_str()))
            .collect();
        let active: Vec<&&Registered> = mine.iter().filter(|c| c.status == "ACTIVE").collect();
        if active.len() != 1 {
            problems.push(format!("{device}: {} ACTIVE certificates", active.len()));
            continue;
        }
        let current = active[0];
        if !current.things.contains(device) {
            problems.push(format!("{device}: certificate not attached to its thing"));
        }
        if !current.policies.contains("telemetry") {
            problems.push(format!("{device}: policy telemetry not attached"));
        }
        let out = dir.join("out").join(device);
        match DeviceKey::read(&out.join("private-key.pem")) {
            Ok(key) if key.public_key_sha256() == current.info.public_key_sha256 => {}
            Ok(_) => problems.push(format!(
                "{device}: private-key.pem does not match the registered certificate"
            )),
            Err(e) => problems.push(format!("{device}: private-key.pem: {e}")),
        }
        match std::fs::read_to_string(out.join("certificate.pem")) {
            Ok(pem)
                if cert::parse_pem(&pem).map(|i| i.der_sha256).ok().as_deref()
                    == Some(&current.id) => {}
            _ => problems.push(format!(
                "{device}: certificate.pem is not the registered certificate"
            )),
        }
    }
    for c in &certs {
        let cn = c.info.subject_cn.clone().unwrap_or_default();
        if !wanted.contains(&cn) {
            problems.push(format!("unmanaged leftover certificate {} (CN {cn})", c.id));
        }
    }
    if certs.len() != devices.len() {
        problems.push(format!(
            "{} certificates registered for {} devices",
            certs.len(),
            devices.len()
        ));
    }
    problems
}

/// `plan` flags for `--refresh full` with its one-by-one reads unpaced, so
/// a test can verify every certificate quickly.
pub const FULL_REFRESH_UNPACED: [&str; 8] = [
    "--refresh",
    "full",
    "--rate-limit",
    "iot:DescribeCertificate=500",
    "--rate-limit",
    "iot:ListPrincipalThings=500",
    "--rate-limit",
    "iot:ListAttachedPolicies=500",
];

/// `plan --detailed-exitcode` in a read mode: 0 when nothing is left to do.
pub fn plan_exit(account: &Account<'_>, dir: &Path, extra: &[&str]) -> Option<i32> {
    account
        .fleetcert(dir)
        .args(["plan", "--detailed-exitcode"])
        .args(extra)
        .output()
        .unwrap()
        .status
        .code()
}
