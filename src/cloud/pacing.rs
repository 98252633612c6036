//! Pacing and retries for every AWS call fleetcert makes.
//!
//! AWS request-rate quotas are per account and region, and shared with the
//! production traffic of that account (devices connecting, other tools). So
//! fleetcert does not lean on the SDK's few retries: it paces each operation
//! itself with a token bucket at a safe share of AWS's default quota
//! ([`DEFAULT_SHARE`]), configurable per fleet (`rate_limits` in fleet.yaml)
//! and per run (`--rate-limit`), and retries what is safe to retry
//! (throttling, 5xx answers, dropped connections, timeouts) with backoff and
//! jitter. A throttled operation also slows down for everyone (the bucket's
//! rate is halved, then recovers step by step), so a burst of throttling
//! does not become a storm of retries.
//!
//! Every operation that changes something is safe to repeat (idempotency
//! tokens, "already exists"/"not found" taken as done), so retrying after a
//! 5xx that AWS may already have carried out is sound; `Failed::attempts`
//! lets callers tell a first answer from one to a retry.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_iot::config::http::HttpResponse;
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use tokio::time::Instant;

use super::failure::{self, AwsFailure, UNREACHABLE_ATTEMPTS};
use crate::aws_op::AwsOp;

/// The share of AWS's default quota fleetcert uses when nothing says
/// otherwise: half, leaving the other half to the account's other traffic.
pub const DEFAULT_SHARE: f64 = 0.5;

/// How often one call is tried before its error is reported.
const MAX_ATTEMPTS: u32 = 10;

/// The rate fleetcert uses for `operation` by default: [`DEFAULT_SHARE`] of
/// AWS's default quota ([`AwsOp::default_quota`]).
pub fn default_rate(operation: AwsOp) -> f64 {
    operation.default_quota() * DEFAULT_SHARE
}

/// One operation's bucket. Generic cell rate: each call reserves the next
/// free slot, so waiting callers are served in order and none starves.
#[derive(Debug)]
struct Bucket {
    /// The configured rate (requests per second).
    rate: f64,
    /// The rate in force: lowered on throttling, recovering on success.
    current: f64,
    /// When the next call may start.
    next: Instant,
}

/// Per-operation rate limits, shared by every task of one fleetcert run.
#[derive(Debug)]
pub struct Pacer {
    overrides: BTreeMap<AwsOp, f64>,
    buckets: Mutex<HashMap<AwsOp, Bucket>>,
    seed: AtomicU64,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(&BTreeMap::new())
    }
}

impl Pacer {
    /// `overrides`: operation → requests per second.
    pub fn new(overrides: &BTreeMap<AwsOp, f64>) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
        Self {
            overrides: overrides.clone(),
            buckets: Mutex::new(HashMap::new()),
            seed: AtomicU64::new(seed),
        }
    }

    /// The configured rate of `operation`.
    pub fn rate(&self, operation: AwsOp) -> f64 {
        self.overrides
            .get(&operation)
            .copied()
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or_else(|| default_rate(operation))
    }

    /// The rate in force for every operation.
    pub fn rates(&self) -> BTreeMap<AwsOp, f64> {
        AwsOp::ALL.iter().map(|op| (*op, self.rate(*op))).collect()
    }

    /// Wait for `operation`'s next slot.
    pub async fn acquire(&self, operation: AwsOp) {
        let slot = {
            let mut buckets = self.buckets.lock().expect("pacer");
            let now = Instant::now();
            let bucket = buckets.entry(operation).or_insert_with(|| {
                let rate = self.rate(operation);
                Bucket {
                    rate,
                    current: rate,
                    next: now,
                }
            });
            let slot = bucket.next.max(now);
            bucket.next = slot + Duration::from_secs_f64(1.0 / bucket.current);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// AWS said slow down: halve the rate (down to a tenth of the
    /// configured one) and push the next slot back.
    fn throttled(&self, operation: AwsOp) {
        let mut buckets = self.buckets.lock().expect("pacer");
        if let Some(bucket) = buckets.get_mut(&operation) {
            bucket.current = (bucket.current * 0.5).max(bucket.rate * 0.1);
            let pause = Instant::now() + Duration::from_secs_f64(1.0 / bucket.current);
            bucket.next = bucket.next.max(pause);
        }
    }

    /// A call went through: recover towards the configured rate.
    fn succeeded(&self, operation: AwsOp) {
        let mut buckets = self.buckets.lock().expect("pacer");
        if let Some(bucket) = buckets.get_mut(&operation)
            && bucket.current < bucket.rate
        {
            bucket.current = (bucket.current + bucket.rate * 0.05).min(bucket.rate);
        }
    }

    /// Full jitter: a uniform wait in [0, cap) (AWS Architecture Blog,
    /// "Exponential Backoff And Jitter").
    fn jitter(&self, cap: Duration) -> Duration {
        // xorshift64*: jitter needs spread, not cryptographic quality.
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed.store(x, Ordering::Relaxed);
        let unit = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        cap.mul_f64(unit)
    }
}

/// Why a failed call may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// ThrottlingException and friends: slow down, then retry.
    Throttled,
    /// 5xx, dropped connection, timeout: AWS may or may not have carried the
    /// request out; retry (every fleetcert operation is safe to repeat).
    Transient,
    /// No connection could be made (refused, no route, no such host): a
    /// blip is retried a few times, quickly; anything longer is reported.
    Unreachable,
}

impl Retry {
    /// How many attempts this kind of failure gets in all.
    fn max_attempts(self) -> u32 {
        match self {
            Retry::Unreachable => UNREACHABLE_ATTEMPTS,
            Retry::Throttled | Retry::Transient => MAX_ATTEMPTS,
        }
    }

    /// The longest wait before attempt `attempts + 1` (full jitter below it).
    fn backoff_cap(self, attempts: u32) -> Duration {
        let exponent = (attempts - 1).min(8);
        match self {
            Retry::Throttled => Duration::from_millis(250 << exponent).min(Duration::from_secs(10)),
            Retry::Transient | Retry::Unreachable => {
                Duration::from_millis(50 << exponent).min(Duration::from_secs(5))
            }
        }
    }
}

/// Whether AWS documents `code` as "busy, try again" for `operation`.
/// ACM PCA: ConcurrentModificationException, "A previous update to your
/// private CA is still ongoing"; RequestInProgressException on
/// RevokeCertificate, "Your request is already in progress" (a retry then
/// answers RequestAlreadyProcessedException, which counts as done)
/// (https://docs.aws.amazon.com/privateca/latest/APIReference/API_RevokeCertificate.html).
fn busy(operation: AwsOp, code: &str) -> bool {
    code == "ConcurrentModificationException"
        || (operation == AwsOp::RevokeCertificate && code == "RequestInProgressException")
}

/// Is `error` worth another attempt, and why?
pub fn classify<E: ProvideErrorMetadata>(
    operation: AwsOp,
    error: &SdkError<E, HttpResponse>,
) -> Option<Retry> {
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let status = service.raw().status().as_u16();
            if matches!(
                code,
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "SlowDown"
            ) || status == 429
            {
                Some(Retry::Throttled)
            } else if status >= 500
                || matches!(
                    code,
                    "InternalFailure"
                        | "InternalFailureException"
                        | "InternalServerException"
                        | "ServiceUnavailableException"
                        | "ServiceUnavailable"
                )
                || busy(operation, code)
            {
                Some(Retry::Transient)
            } else {
                None
            }
        }
        SdkError::DispatchFailure(_) => match failure::before_answer(error, "", 0) {
            // Credentials do not appear by waiting.
            Some(found) if found.is_credentials() => None,
            Some(AwsFailure::Unreachable { .. }) => Some(Retry::Unreachable),
            _ => Some(Retry::Transient),
        },
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Some(Retry::Transient),
        _ => None,
    }
}

/// A call that failed for good: the last error, and how many attempts were
/// made (more than one means an earlier attempt may have been carried out).
#[derive(Debug)]
pub struct Failed<E> {
    pub error: SdkError<E, HttpResponse>,
    pub attempts: u32,
    /// What it means in fleetcert's words, when it is one of the failures
    /// fleetcert explains itself (`Cloud::call` fills it in).
    pub failure: Option<AwsFailure>,
}

impl<E: ProvideErrorMetadata> Failed<E> {
    /// AWS's error code, if AWS answered.
    pub fn code(&self) -> Option<&str> {
        self.error.code()
    }

    /// An earlier attempt may have been carried out by AWS.
    pub fn retried(&self) -> bool {
        self.attempts > 1
    }
}

/// Run one AWS call about `resource` (a name, id or ARN; never a body):
/// paced, retried on throttling and transient failures, and each attempt
/// logged for `--verbose` (trace.rs). `send` builds and sends the request
/// afresh on every attempt.
pub async fn call<T, E, F, Fut>(
    pacer: &Pacer,
    operation: AwsOp,
    resource: &str,
    mut send: F,
) -> Result<T, Failed<E>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        pacer.acquire(operation).await;
        match super::trace::attempt(operation, resource, attempts, send()).await {
            Ok(value) => {
                pacer.succeeded(operation);
                return Ok(value);
            }
            Err(error) => {
                let retry = match classify(operation, &error) {
                    Some(retry) if attempts < retry.max_attempts() => retry,
                    _ => {
                        return Err(Failed {
                            error,
                            attempts,
                            failure: None,
                        });
                    }
                };
                if retry == Retry::Throttled {
                    pacer.throttled(operation);
                }
                tokio::time::sleep(pacer.jitter(retry.backoff_cap(attempts))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_share_of_the_aws_quota_and_overrides_win() {
        let mut overrides = BTreeMap::new();
        overrides.insert(AwsOp::RegisterCertificate, 40.0);
        let pacer = Pacer::new(&overrides);
        assert_eq!(pacer.rate(AwsOp::RegisterCertificate), 40.0);
        assert_eq!(pacer.rate(AwsOp::IssueCertificate), 25.0 * DEFAULT_SHARE);
        let rates = pacer.rates();
        assert_eq!(rates.len(), AwsOp::ALL.len());
        assert_eq!(rates[&AwsOp::RegisterCertificate], 40.0);
        assert_eq!(rates[&AwsOp::DescribeThing], 350.0 * DEFAULT_SHARE);
    }

    #[tokio::test]
    async fn calls_are_spaced_at_the_configured_rate() {
        let mut overrides = BTreeMap::new();
        overrides.insert(AwsOp::ListThings, 50.0);
        let pacer = Pacer::new(&overrides);
        let start = Instant::now();
        for _ in 0..11 {
            pacer.acquire(AwsOp::ListThings).await;
        }
        // 11 calls at 50/s: the last starts 200 ms after the first.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(195) && elapsed <= Duration::from_millis(400),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn throttling_slows_the_operation_down_then_it_recovers() {
        let pacer = Pacer::new(&BTreeMap::new());
        pacer.acquire(AwsOp::ListThings).await;
        let before = pacer.buckets.lock().unwrap()[&AwsOp::ListThings].current;
        pacer.throttled(AwsOp::ListThings);
        let after = pacer.buckets.lock().unwrap()[&AwsOp::ListThings].current;
        assert_eq!(after, before / 2.0);
        for _ in 0..100 {
            pacer.succeeded(AwsOp::ListThings);
        }
        assert_eq!(
            pacer.buckets.lock().unwrap()[&AwsOp::ListThings].current,
            before
        );
    }
}
