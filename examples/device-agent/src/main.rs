//! `device-agent`: take this device's next fleetcert rotation job and carry it out.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use device_agent::agent::{Outcome, rotate_once};
use device_agent::https::{Endpoint, HttpJobs, HttpJobsConfig};
use device_agent::jobs::Status;
use device_agent::mqtt::{BrokerConfig, MqttJobs, MqttProbe};
use device_agent::sigv4::Credentials;
use device_agent::store::Store;
use device_agent::tls::ServerRoots;

const USAGE: &str = "\
usage: device-agent --thing NAME --cert-dir DIR --broker HOST:PORT --ca FILE
                    (--mqtt-jobs | --jobs-endpoint URL [--region REGION] [--jobs-ca FILE])
                    [--wait-seconds N] [--timeout-seconds N]

  --thing            the AWS IoT thing name (also the MQTT client id)
  --cert-dir         the device's certificate directory (see README.md)
  --broker           the MQTT broker, e.g. <prefix>-ats.iot.<region>.amazonaws.com:8883
  --ca               the CA file the broker's certificate chains to (AmazonRootCA1.pem)
  --mqtt-jobs        take the job over the Jobs device MQTT API
  --jobs-endpoint    take it over the Jobs device HTTP API (https://<prefix>.jobs.iot.<region>.amazonaws.com),
                     SigV4-signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY [/ AWS_SESSION_TOKEN]
  --region           the SigV4 region (default: AWS_REGION)
  --jobs-ca          the CA file for the jobs endpoint (default: the system roots)
  --wait-seconds     with --mqtt-jobs, wait this long for notify-next when nothing is pending (default 0)
  --timeout-seconds  per connection or request (default 10)

exit status: 0 SUCCEEDED or no job, 3 the job was reported FAILED or REJECTED, 1 error";

#[derive(Default)]
struct Args {
    thing: Option<String>,
    cert_dir: Option<PathBuf>,
    broker: Option<String>,
    ca: Option<PathBuf>,
    mqtt_jobs: bool,
    jobs_endpoint: Option<String>,
    region: Option<String>,
    jobs_ca: Option<PathBuf>,
    wait_seconds: u64,
    timeout_seconds: u64,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        timeout_seconds: 10,
        ..Args::default()
    };
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--thing" => a.thing = Some(value()?),
            "--cert-dir" => a.cert_dir = Some(value()?.into()),
            "--broker" => a.broker = Some(value()?),
            "--ca" => a.ca = Some(value()?.into()),
            "--mqtt-jobs" => a.mqtt_jobs = true,
            "--jobs-endpoint" => a.jobs_endpoint = Some(value()?),
            "--region" => a.region = Some(value()?),
            "--jobs-ca" => a.jobs_ca = Some(value()?.into()),
            "--wait-seconds" => {
                a.wait_seconds = value()?.parse().map_err(|_| "--wait-seconds: a number")?
            }
            "--timeout-seconds" => {
                a.timeout_seconds = value()?
                    .parse()
                    .map_err(|_| "--timeout-seconds: a number")?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.mqtt_jobs == a.jobs_endpoint.is_some() {
        return Err("give exactly one of --mqtt-jobs and --jobs-endpoint".into());
    }
    Ok(a)
}

fn required<T>(v: Option<T>, flag: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("{flag} is required"))
}

fn run(a: Args) -> Result<Outcome, String> {
    let thing = required(a.thing, "--thing")?;
    let store = Store::open(&required(a.cert_dir, "--cert-dir")?)?;
    let broker = required(a.broker, "--broker")?;
    let (host, port) = broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or("--broker: HOST:PORT")?;
    let timeout = Duration::from_secs(a.timeout_seconds.max(1));
    let cfg = BrokerConfig {
        host,
        port,
        roots: ServerRoots::File(required(a.ca, "--ca")?),
        client_id: thing.clone(),
        timeout,
    };
    let probe = MqttProbe(cfg.clone());
    if a.mqtt_jobs {
        let mut jobs = MqttJobs::connect(cfg, &thing, &store.current()?)?;
        let deadline = Instant::now() + Duration::from_secs(a.wait_seconds);
        loop {
            match rotate_once(&thing, &store, &mut jobs, &probe)? {
                Outcome::NoJob if Instant::now() < deadline => {
                    jobs.wait_for_notify_next()?;
                }
                outcome => return Ok(outcome),
            }
        }
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let credentials = Credentials {
        access_key_id: env("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?,
        secret_access_key: env("AWS_SECRET_ACCESS_KEY")
            .ok_or("AWS_SECRET_ACCESS_KEY is not set")?,
        session_token: env("AWS_SESSION_TOKEN"),
    };
    let region = a
        .region
        .or_else(|| env("AWS_REGION"))
        .ok_or("--region or AWS_REGION is required with --jobs-endpoint")?;
    let mut jobs = HttpJobs::new(
        HttpJobsConfig {
            endpoint: Endpoint::parse(&required(a.jobs_endpoint, "--jobs-endpoint")?)?,
            roots: a.jobs_ca.map_or(ServerRoots::System, ServerRoots::File),
            region,
            credentials,
            timeout,
        },
        &thing,
    )?;
    rotate_once(&thing, &store, &mut jobs, &probe)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("device-agent: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 1 });
        }
    };
    match run(args) {
        Ok(Outcome::NoJob) => {
            println!("no pending job");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Reported {
            job_id,
            status,
            details,
        }) => {
            let details = serde_json::to_string(&details).unwrap_or_default();
            println!("job {job_id}: reported {} {details}", status.as_str());
            if status == Status::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            }
        }
        Err(e) => {
            eprintln!("device-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
