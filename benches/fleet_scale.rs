//! Fleet-scale benchmarks (docs/scale.md, "Benchmarks"). Run with
//!
//!     cargo bench --bench fleet_scale
//!
//! Against a dedicated emulator with AWS's default quotas and 20 ms added
//! latency:
//!   1. a steady-state `plan` of a 10,000-device fleet with 2 policies, in an
//!      account that also holds 50,000 things of other systems: API calls
//!      (emulator counters, checked against (2 + P) x N / 250 + 20 and no
//!      per-device call) and wall time; then `drift`'s calls (checked against
//!      N + (2 + P) x N / 250 + 20), and `--refresh=full`'s when
//!      `FLEETCERT_BENCH_FULL=1`. `FLEETCERT_BENCH_POLICIES` and
//!      `FLEETCERT_BENCH_OTHER_THINGS` change P and the other things;
//!   2. an `apply` creating 1,000 devices: wall time, and its ratio to the
//!      quota-bound ideal (the largest, over all operations, of the calls made
//!      divided by the rate fleetcert is configured to keep to);
//!   4. a `plan` during a 1,000-device rotation delivered by IoT job: its API
//!      calls (checked: none per device);
//!
//! and in memory:
//!   3. the pure planner on 100,000 devices: time and peak memory.
//!
//! `FLEETCERT_BENCH_DEVICES`, `FLEETCERT_BENCH_APPLY_DEVICES` and
//! `FLEETCERT_BENCH_PLANNER_DEVICES` change the sizes; `FLEETCERT_BENCH_ONLY`
//! (`plan`, `apply`, `rotation` or `planner`) runs one part;
//! `FLEETCERT_BENCH_ROTATION_DEVICES` sizes part 4.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fleetcert::aws_op::AwsOp;
use fleetcert::cloud::{DEFAULT_SHARE, default_rate};
use fleetcert::live::LiveState;
use fleetcert::plan::{PlanOptions, diff};
use fleetcert::testkit::{DAY, FleetBuilder, LiveBuilder, write_device_lists};

// ---- peak memory: a counting allocator ------------------------------------

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---- the emulator: the integration tests' harness --------------------------

// Not every helper of the harness is used here.
#[allow(dead_code)]
#[path = "../tests/it/harness.rs"]
mod harness;

use harness::{Account, Emulator};

fn run(mut command: Command, what: &str) -> (Duration, String) {
    let started = Instant::now();
    let out = command.output().expect("run fleetcert");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        stdout.lines().rev().take(20).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    (elapsed, stdout)
}

/// A fleet of `devices` generated-key devices, each carrying the fleet's
/// `policies` policies (`policy-0`...).
fn write_fleet(dir: &Path, fleet: &str, devices: usize, policies: usize) {
    std::fs::create_dir_all(dir).expect("dir");
    let names: Vec<String> = (0..policies).map(|i| format!("policy-{i}")).collect();
    let mut builder = FleetBuilder::new(fleet)
        .region("ap-northeast-1")
        .validity("365d", "30d")
        .default(&format!("policies: [{}]", names.join(", ")))
        .lifecycle("max_destructive_changes: 10")
        .include("devices/*.yaml");
    for name in &names {
        builder = builder.policy(
            name,
            "[{Effect: Allow, Action: [\"iot:Connect\"], Resource: \"*\"}]",
        );
    }
    builder.write(dir);
    // Large fleets split their device lists over include files.
    let names: Vec<String> = (0..devices).map(|i| format!("dev-{i:06}")).collect();
    write_device_lists(dir, &names, 5000);
}

/// Flags that lift fleetcert's own pacing (for building a fleet fast while
/// the emulator has no quotas).
fn unpaced() -> Vec<String> {
    AwsOp::ALL
        .iter()
        .flat_map(|op| ["--rate-limit".to_string(), format!("{op}=5000")])
        .collect()
}

// ---- 1. steady-state plan --------------------------------------------------

fn bench_plan(devices: usize) {
    let policies = env_usize("FLEETCERT_BENCH_POLICIES", 2);
    let others = env_usize("FLEETCERT_BENCH_OTHER_THINGS", 50_000);
    let emulator = Emulator::start(&["--quotas", "off"]);
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().expect("tempdir");
    write_fleet(dir.path(), "bench-plan", devices, policies);
    println!("building a {devices}-device fleet (quotas off, pacing lifted)...");
    let mut apply = account.fleetcert(dir.path());
    apply
        .args(["apply", "--auto-approve", "--quiet", "--concurrency", "64"])
        .args(unpaced());
    let (built, _) = run(apply, "building the fleet");
    println!("  built in {:.1}s", built.as_secs_f64());
    // Other systems' things in the same account: a plan must not pay for them.
    emulator.control(
        "POST",
        "iot/seed-things",
        Some(serde_json::json!({
            "account": account.id, "region": account.region,
            "count": others, "attributes": {"owner": "erp"},
        })),
    );

    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"quotas": "aws", "latency_ms": 20})),
    );
    let bulk = (2 + policies) * devices / 250;
    let recorded = steady_plan(&emulator, &account, dir.path(), &["plan"]);
    let budget = bulk + 20;
    print_calls(
        &format!(
            "[1] steady-state plan, {devices} devices, {policies} policies, {others} other things, \
             default read mode"
        ),
        &recorded,
        budget,
    );
    let per_device: Vec<_> = recorded
        .calls
        .iter()
        .filter(|(_, n)| **n as usize >= devices / 2)
        .collect();
    assert!(per_device.is_empty(), "per-device calls: {per_device:?}");
    assert!(recorded.total <= budget as u64, "over the call budget");

    // drift reads each fleet thing's principals: N calls at fleetcert's
    // ListThingPrincipals rate would take over half an hour, so its calls
    // are counted with quotas off and pacing lifted.
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"quotas": "off", "latency_ms": 0})),
    );
    let mut drift_args = vec!["drift".to_string()];
    drift_args.extend(unpaced());
    let drift_args: Vec<&str> = drift_args.iter().map(String::as_str).collect();
    let drift = steady_plan(&emulator, &account, dir.path(), &drift_args);
    let budget = devices + bulk + 20;
    print_calls(
        &format!("[1] drift, {devices} devices, {policies} policies (quotas off)"),
        &drift,
        budget,
    );
    assert!(drift.total <= budget as u64, "over the call budget");
    // The full mode costs what drift costs (FLEETCERT_BENCH_FULL=1).
    if std::env::var("FLEETCERT_BENCH_FULL").is_ok_and(|v| v == "1") {
        let mut args = vec!["plan".to_string(), "--refresh".into(), "full".into()];
        args.extend(unpaced());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let full = steady_plan(&emulator, &account, dir.path(), &args);
        print_calls("[1] plan --refresh=full (quotas off)", &full, budget);
    }
}

/// One read-only run's API calls and wall time.
struct Calls {
    total: u64,
    calls: std::collections::BTreeMap<String, u64>,
    wall: Duration,
    throttled: u64,
}

/// Run `args` (a steady-state plan or drift: exit 0) and count its calls.
fn steady_plan(emulator: &Emulator, account: &Account, dir: &Path, args: &[&str]) -> Calls {
    emulator.control("POST", "counters/reset", None);
    let mut command = account.fleetcert(dir);
    command.args(args);
    if args[0] == "plan" {
        command.arg("--detailed-exitcode");
    }
    let started = Instant::now();
    let out = command.output().expect("fleetcert");
    let wall = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?} shows changes or failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = account.counters();
    Calls {
        total: calls.values().sum(),
        calls,
        wall,
        throttled: account.throttled(),
    }
}

fn print_calls(what: &str, calls: &Calls, budget: usize) {
    println!(
        "{what}: {} API calls (target <= {budget}), {:.2}s wall, {} throttled",
        calls.total,
        calls.wall.as_secs_f64(),
        calls.throttled
    );
    let mut top: Vec<_> = calls.calls.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = top
        .iter()
        .take(8)
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    println!("    {}", top.join(", "));
}

// ---- 2. apply creating devices ---------------------------------------------

fn bench_apply(devices: usize) {
    let emulator = Emulator::start(&["--quotas", "aws", "--latency-ms", "20"]);
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().expect("tempdir");
    write_fleet(dir.path(), "bench-apply", devices, 1);
    let mut apply = account.fleetcert(dir.path());
    apply.args(["apply", "--auto-approve", "--quiet"]);
    let (elapsed, _) = run(apply, "apply");
    let counts = account.counters();
    let (bound_op, ideal) = counts
        .iter()
        .filter_map(|(op, n)| Some((op.parse::<AwsOp>().ok()?, *n as f64)))
        .map(|(op, n)| (op, n / default_rate(op)))
        .fold((AwsOp::IssueCertificate, 0.0), |best, (op, secs)| {
            if secs > best.1 { (op, secs) } else { best }
        });
    println!(
        "[2] apply creating {devices} devices: {:.1}s wall; quota-bound ideal {:.1}s ({} calls of {bound_op} at {}/s, \
         {DEFAULT_SHARE} of AWS's default quota); ratio {:.3} (target <= 1.2); {} calls, {} throttled",
        elapsed.as_secs_f64(),
        ideal,
        counts.get(bound_op.name()).copied().unwrap_or(0),
        default_rate(bound_op),
        elapsed.as_secs_f64() / ideal,
        counts.values().sum::<u64>(),
        account.throttled()
    );
}

// ---- 4. a plan during a rotation delivered by IoT job ------------------------

/// Build `devices` devices, rotate them all under `delivery: job` (an apply
/// planned 340 days ahead, within `renew_before`), then count one plan's
/// calls with AWS's quotas: progress is read per job, never per device.
fn bench_rotation(devices: usize) {
    let emulator = Emulator::start(&["--quotas", "off"]);
    let account = Account::new(&emulator);
    let dir = tempfile::tempdir().expect("tempdir");
    write_fleet(dir.path(), "bench-rotation", devices, 1);
    let spec = dir.path().join("fleet.yaml");
    let text = std::fs::read_to_string(&spec).expect("spec");
    let text = text.replace(
        "lifecycle:\n",
        "output:\n  secrets_manager: {}\nlifecycle:\n  rotation: {delivery: job}\n",
    );
    std::fs::write(&spec, text).expect("spec");
    println!("building a {devices}-device fleet for rotation (quotas off, pacing lifted)...");
    let mut apply = account.fleetcert(dir.path());
    apply
        .args(["apply", "--auto-approve", "--quiet", "--concurrency", "64"])
        .args(["--allow-undeliverable"])
        .args(unpaced());
    run(apply, "building the fleet");
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(340 * 24))
        .expect("a time")
        .to_string();
    let saved = dir.path().join("rotation.plan");
    let mut plan = account.fleetcert(dir.path());
    plan.args([
        "plan",
        "--quiet",
        "--allow-undeliverable",
        "--at",
        &later,
        "--out",
    ])
    .arg(&saved)
    .args(unpaced());
    run(plan, "planning the rotation");
    let mut apply = account.fleetcert(dir.path());
    apply
        .args(["apply", "--auto-approve", "--quiet", "--concurrency", "64"])
        .args(["--allow-undeliverable"])
        .arg(&saved)
        .args(unpaced());
    let (rotated, _) = run(apply, "rotating the fleet");
    println!("  rotated in {:.1}s", rotated.as_secs_f64());
    emulator.control(
        "POST",
        "config",
        Some(serde_json::json!({"quotas": "aws", "latency_ms": 20})),
    );
    emulator.control("POST", "counters/reset", None);
    let mut progress = account.fleetcert(dir.path());
    progress.args([
        "plan",
        "--format",
        "json",
        "--allow-undeliverable",
        "--at",
        &later,
    ]);
    let (wall, out) = run(progress, "planning during the rotation");
    let calls = account.counters();
    let plan: serde_json::Value = serde_json::from_str(&out).expect("a JSON plan");
    let jobs = calls.get("iot:GetJobDocument").copied().unwrap_or(0);
    let total: u64 = calls.values().sum();
    println!(
        "[4] plan during a {devices}-device rotation by job: {total} API calls, {:.2}s wall, {jobs} jobs read, {} devices in rotation",
        wall.as_secs_f64(),
        plan["rotation"]["summary"]["devices"]
    );
    let mut top: Vec<_> = calls.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1));
    let top: Vec<String> = top.iter().map(|(op, n)| format!("{op} {n}")).collect();
    println!("    {}", top.join(", "));
    let per_device: Vec<_> = calls
        .iter()
        .filter(|(_, n)| **n as usize >= devices / 2)
        .collect();
    assert!(per_device.is_empty(), "per-device calls: {per_device:?}");
}

// ---- 3. the pure planner ---------------------------------------------------

fn bench_planner(devices: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_fleet(dir.path(), "bench-planner", devices, 1);
    let spec = fleetcert::spec::load(&dir.path().join("fleet.yaml"))
        .unwrap_or_else(|e| panic!("spec: {}", e.render(false)));
    let now = jiff::Timestamp::now().as_second();
    // Every device applied a day ago (testkit: thing, one ACTIVE
    // certificate of the spec's 365d validity with its policies, its record).
    let live = LiveBuilder::steady(&spec, now - DAY);
    let options = PlanOptions {
        now,
        ..PlanOptions::default()
    };
    let baseline = CURRENT.load(Ordering::Relaxed);
    let steady = time_plans(&spec, &live, &options, 7);
    assert_eq!(steady.changes, 0, "steady state plans no change");
    // A plan that changes every device: each one's certificate expires.
    let expiring = PlanOptions {
        now: now + 340 * DAY,
        ..PlanOptions::default()
    };
    let rotating = time_plans(&spec, &live, &expiring, 5);
    println!(
        "[3] pure planner, {devices} devices (targets < 1 s, < 500 MB):\n    \
         steady state (no change): median {:.3}s, best {:.3}s over {} runs, {:.1} MiB peak above the inputs\n    \
         every device rotating ({} changes): median {:.3}s, best {:.3}s over {} runs, {:.1} MiB peak above the inputs\n    \
         inputs (spec and live state) {:.1} MiB; process VmHWM {:.1} MiB",
        steady.median,
        steady.best,
        steady.runs,
        mib(steady.peak),
        rotating.changes,
        rotating.median,
        rotating.best,
        rotating.runs,
        mib(rotating.peak),
        mib(baseline),
        vm_hwm_kib().unwrap_or(0) as f64 / 1024.0
    );
}

struct PlanTimes {
    runs: usize,
    median: f64,
    best: f64,
    /// Bytes allocated at the peak, above what was live before planning.
    peak: usize,
    changes: usize,
}

/// Plan `runs` times: the machine's noise (a shared VM) moves single runs
/// by a third, so report the median and the best.
fn time_plans(
    spec: &fleetcert::spec::Spec,
    live: &LiveState,
    options: &PlanOptions,
    runs: usize,
) -> PlanTimes {
    let mut times = Vec::new();
    let mut peak = 0;
    let mut changes = 0;
    for _ in 0..runs {
        let baseline = CURRENT.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        let started = Instant::now();
        let plan = diff(spec, live, options).expect("plan");
        times.push(started.elapsed().as_secs_f64());
        peak = peak.max(PEAK.load(Ordering::Relaxed) - baseline);
        changes = plan.changes.len();
    }
    times.sort_by(f64::total_cmp);
    PlanTimes {
        runs,
        median: times[runs / 2],
        best: times[0],
        peak,
        changes,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken from the command line.
    let only = std::env::var("FLEETCERT_BENCH_ONLY").unwrap_or_default();
    let wants = |part: &str| only.is_empty() || only == part;
    println!(
        "fleet_scale: emulator with --quotas aws --latency-ms 20; fleetcert paces at {DEFAULT_SHARE} of AWS's default quotas"
    );
    if wants("planner") {
        bench_planner(env_usize("FLEETCERT_BENCH_PLANNER_DEVICES", 100_000));
    }
    if wants("apply") {
        bench_apply(env_usize("FLEETCERT_BENCH_APPLY_DEVICES", 1_000));
    }
    if wants("plan") {
        bench_plan(env_usize("FLEETCERT_BENCH_DEVICES", 10_000));
    }
    if wants("rotation") {
        bench_rotation(env_usize("FLEETCERT_BENCH_ROTATION_DEVICES", 1_000));
    }
}
