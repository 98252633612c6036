//! Test harness: one emulator (moto + fleetcert's fidelity and fault layer)
//! per test binary, started on a free loopback port the first time a test
//! asks for it, and isolated per test by AWS account (the emulator maps a
//! 12-digit access key id to that account). The emulator exits when its stdin
//! closes, so it never outlives the test process, even though the static
//! holding it is never dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_iot::config::{Credentials, Region};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running emulator process.
pub struct Emulator {
    pub port: u16,
    // Held open for the emulator's lifetime: closing it tells it to exit.
    _stdin: Mutex<ChildStdin>,
    child: Mutex<Child>,
}

impl Emulator {
    /// Start a new emulator with extra launcher flags (e.g. `--quotas aws`),
    /// with AWS's asynchrony on (`--asynchrony realistic`).
    /// Tests that change global emulator settings (quotas, faults, clocks)
    /// start their own rather than disturb the shared one.
    pub fn start(flags: &[&str]) -> Emulator {
        let root = repo_root();
        let python = root.join("tests/emulator/.venv/bin/python");
        assert!(
            python.exists(),
            "the AWS emulator is not installed ({} is missing): run `make test` \
             (or `tests/emulator/setup.sh`) to install it",
            python.display()
        );
        let started = Instant::now();
        let mut child = Command::new(&python)
            .args([
                "-m",
                "fleetcert_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .arg("--exit-on-stdin-eof")
            // AWS's asynchrony (detachments that propagate later, a CA that
            // is CREATING, certificates not ready at once, busy revocations)
            // with small delays, as every test must meet it; `flags` may
            // override it.
            .args(["--asynchrony", "realistic"])
            .args(flags)
            .current_dir(root.join("tests/emulator"))
            .env("PYTHONPATH", root.join("tests/emulator"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the emulator");
        let stdin = child.stdin.take().expect("emulator stdin");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("the emulator exited before it was ready (see its stderr above)")
                .expect("read the emulator's stdout");
            if let Some(rest) = line.strip_prefix("FLEETCERT_EMULATOR_READY port=") {
                break rest.trim().parse::<u16>().expect("emulator port");
            }
        };
        // Keep draining stdout so the emulator never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let emulator = Emulator {
            port,
            _stdin: Mutex::new(stdin),
            child: Mutex::new(child),
        };
        emulator.control("GET", "health", None);
        eprintln!(
            "emulator on port {port} ready in {:.2}s",
            started.elapsed().as_secs_f64()
        );
        emulator
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Call the emulator's control endpoint (`/_fleetcert/<path>`); returns the JSON answer.
    pub fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to emulator");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "{method} /_fleetcert/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write control request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read control response");
        let (head, payload) = response.split_once("\r\n\r\n").expect("HTTP response");
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "control {method} {path} failed: {head}\n{payload}"
        );
        serde_json::from_str(payload).unwrap_or(serde_json::Value::Null)
    }

    /// Per-operation request counts for one account (all regions summed).
    pub fn counters(&self, account: &str) -> std::collections::BTreeMap<String, u64> {
        let all = self.control("GET", "counters", None);
        let mut counts = std::collections::BTreeMap::new();
        let Some(map) = all.as_object() else {
            return counts;
        };
        for (scope, ops) in map {
            if !scope.starts_with(&format!("{account}/")) {
                continue;
            }
            for (op, n) in ops.as_object().into_iter().flatten() {
                *counts.entry(op.clone()).or_insert(0) += n.as_u64().unwrap_or(0);
            }
        }
        counts
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The emulator shared by every test of this binary.
pub fn shared() -> &'static Emulator {
    static SHARED: OnceLock<Emulator> = OnceLock::new();
    SHARED.get_or_init(|| Emulator::start(&[]))
}

/// A fresh AWS account in an emulator: nothing any other test did is visible.
pub struct Account<'e> {
    pub emulator: &'e Emulator,
    pub id: String,
    pub region: String,
}

impl<'e> Account<'e> {
    pub fn new(emulator: &'e Emulator) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Distinct per process too, in case two test binaries share an emulator.
        let id = format!("{:04}{:08}", std::process::id() % 10_000, n);
        Account {
            emulator,
            id,
            region: "ap-northeast-1".to_string(),
        }
    }

    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .endpoint_url(self.emulator.endpoint())
            .credentials_provider(Credentials::new(
                &self.id,
                "emulator-secret",
                None,
                None,
                "test",
            ))
            .load()
            .await
    }

    pub async fn pca(&self) -> aws_sdk_acmpca::Client {
        aws_sdk_acmpca::Client::new(&self.sdk_config().await)
    }

    pub async fn iot(&self) -> aws_sdk_iot::Client {
        aws_sdk_iot::Client::new(&self.sdk_config().await)
    }

    /// The fleetcert binary, pointed at this account, run from `dir`.
    pub fn fleetcert(&self, dir: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fleetcert"));
        command
            .current_dir(dir)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_ACCESS_KEY_ID", &self.id)
            .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
            .env("AWS_REGION", &self.region)
            .env("AWS_ENDPOINT_URL", self.emulator.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            // Inside a GitHub Actions job, spec errors would also be
            // workflow commands on stdout; tests ask for them explicitly.
            .env_remove("GITHUB_ACTIONS");
        command
    }

    pub fn counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.emulator.counters(&self.id)
    }

    /// The faults the emulator injected into this account's requests, by
    /// kind (`5xx`, `5xx_after`, `drop`), summed over operations.
    pub fn faults(&self) -> std::collections::BTreeMap<String, u64> {
        let all = self.emulator.control("GET", "counters", None);
        let mut faults = std::collections::BTreeMap::new();
        for (scope, kinds) in all["faults"].as_object().into_iter().flatten() {
            if !scope.starts_with(&format!("{}/", self.id)) {
                continue;
            }
            for (kind, ops) in kinds.as_object().into_iter().flatten() {
                let n: u64 = ops
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, n)| n.as_u64())
                    .sum();
                *faults.entry(kind.clone()).or_insert(0) += n;
            }
        }
        faults
    }

    /// This account's mutating requests, in arrival order: (operation, path).
    pub fn writes(&self) -> Vec<(String, String)> {
        let all = self.emulator.control("GET", "writes", None);
        all.as_array()
            .into_iter()
            .flatten()
            .filter(|w| w["account"] == self.id.as_str())
            .map(|w| {
                (
                    w["operation"].as_str().unwrap_or_default().to_string(),
                    w["path"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// How many of this account's requests the emulator throttled.
    pub fn throttled(&self) -> u64 {
        let all = self.emulator.control("GET", "counters", None);
        all["throttled"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(scope, _)| scope.starts_with(&format!("{}/", self.id)))
            .flat_map(|(_, ops)| ops.as_object().into_iter().flatten())
            .filter_map(|(_, n)| n.as_u64())
            .sum()
    }
}

/// How long the emulator's realistic mode (`--asynchrony realistic`) takes to
/// propagate a detachment: 1 s for a thing, 2 s for a policy. A test that
/// reads AWS right after a detach waits this long, as a real client must.
pub fn wait_for_detachments() {
    std::thread::sleep(std::time::Duration::from_millis(2300));
}
