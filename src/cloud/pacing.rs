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

/// The share of AWS's default quota fleetcert uses when nothing says
/// otherwise: half, leaving the other half to the account's other traffic.
pub const DEFAULT_SHARE: f64 = 0.5;

/// How often one call is tried before its error is reported.
const MAX_ATTEMPTS: u32 = 10;

/// AWS's default request-rate quotas (requests per second, per account and
/// region) for the operations fleetcert calls. DESIGN.md section 5 ("AWS
/// Private CA endpoints and quotas" and "AWS IoT Core API throttling limits",
/// AWS General Reference); AWS adjusts these, so they are approximate.
pub const AWS_DEFAULT_QUOTAS: &[(&str, f64)] = &[
    ("acm-pca:IssueCertificate", 25.0),
    ("acm-pca:GetCertificate", 75.0),
    ("acm-pca:RevokeCertificate", 20.0),
    ("acm-pca:CreateCertificateAuthority", 1.0),
    ("acm-pca:DescribeCertificateAuthority", 20.0),
    ("acm-pca:GetCertificateAuthorityCertificate", 20.0),
    ("acm-pca:GetCertificateAuthorityCsr", 10.0),
    ("acm-pca:ImportCertificateAuthorityCertificate", 10.0),
    ("acm-pca:ListCertificateAuthorities", 20.0),
    ("acm-pca:ListTags", 20.0),
    ("acm-pca:TagCertificateAuthority", 10.0),
    ("iot:RegisterCertificate", 10.0),
    ("iot:DescribeCertificate", 10.0),
    ("iot:ListThings", 10.0),
    ("iot:ListThingPrincipals", 10.0),
    ("iot:GetPolicy", 10.0),
    ("iot:AttachPolicy", 15.0),
    ("iot:AttachThingPrincipal", 100.0),
    ("iot:CreateThing", 100.0),
    ("iot:UpdateThing", 100.0),
    ("iot:DeleteThing", 100.0),
    ("iot:DescribeThing", 350.0),
    ("iot:DetachThingPrincipal", 100.0),
    ("iot:DetachPolicy", 15.0),
    ("iot:ListAttachedPolicies", 15.0),
    ("iot:ListPrincipalThings", 10.0),
    ("iot:ListCertificatesByCA", 10.0),
    ("iot:UpdateCertificate", 10.0),
    ("iot:DeleteCertificate", 10.0),
    ("iot:RegisterCACertificate", 10.0),
    ("iot:DescribeCACertificate", 10.0),
    ("iot:ListCACertificates", 10.0),
    ("iot:UpdateCACertificate", 10.0),
    ("iot:GetRegistrationCode", 10.0),
    ("iot:CreatePolicy", 10.0),
    ("iot:CreatePolicyVersion", 10.0),
    ("iot:DeletePolicy", 10.0),
    ("iot:DeletePolicyVersion", 10.0),
    ("iot:ListPolicies", 10.0),
    ("iot:ListPolicyVersions", 10.0),
    ("iot:DescribeEndpoint", 10.0),
    ("iot:ListThingTypes", 10.0),
    ("iot:CreateThingType", 15.0),
    ("iot:TagResource", 10.0),
    ("iot:ListTagsForResource", 10.0),
];

/// The rate fleetcert uses for `operation` by default: [`DEFAULT_SHARE`] of
/// AWS's default quota; operations not in the table get 5/s.
pub fn default_rate(operation: &str) -> f64 {
    AWS_DEFAULT_QUOTAS
        .iter()
        .find(|(op, _)| *op == operation)
        .map(|(_, quota)| quota * DEFAULT_SHARE)
        .unwrap_or(5.0)
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
    overrides: BTreeMap<String, f64>,
    buckets: Mutex<HashMap<&'static str, Bucket>>,
    seed: AtomicU64,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(&BTreeMap::new())
    }
}

impl Pacer {
    /// `overrides`: operation (`iot:RegisterCertificate`) → requests per second.
    pub fn new(overrides: &BTreeMap<String, f64>) -> Self {
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
    pub fn rate(&self, operation: &str) -> f64 {
        self.overrides
            .get(operation)
            .copied()
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or_else(|| default_rate(operation))
    }

    /// Every configured rate that differs from the default, and the defaults
    /// for the operations in the quota table.
    pub fn rates(&self) -> BTreeMap<String, f64> {
        let mut all: BTreeMap<String, f64> = AWS_DEFAULT_QUOTAS
            .iter()
            .map(|(op, _)| (op.to_string(), self.rate(op)))
            .collect();
        for (op, rate) in &self.overrides {
            all.insert(op.clone(), *rate);
        }
        all
    }

    /// Wait for `operation`'s next slot.
    pub async fn acquire(&self, operation: &'static str) {
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
    fn throttled(&self, operation: &'static str) {
        let mut buckets = self.buckets.lock().expect("pacer");
        if let Some(bucket) = buckets.get_mut(operation) {
            bucket.current = (bucket.current * 0.5).max(bucket.rate * 0.1);
            let pause = Instant::now() + Duration::from_secs_f64(1.0 / bucket.current);
            bucket.next = bucket.next.max(pause);
        }
    }

    /// A call went through: recover towards the configured rate.
    fn succeeded(&self, operation: &'static str) {
        let mut buckets = self.buckets.lock().expect("pacer");
        if let Some(bucket) = buckets.get_mut(operation)
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
}

/// Is `error` worth another attempt, and why?
pub fn classify<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<Retry> {
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
            {
                Some(Retry::Transient)
            } else {
                None
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Some(Retry::Transient)
        }
        _ => None,
    }
}

/// A call that failed for good: the last error, and how many attempts were
/// made (more than one means an earlier attempt may have been carried out).
#[derive(Debug)]
pub struct Failed<E> {
    pub error: SdkError<E, HttpResponse>,
    pub attempts: u32,
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

/// Run one AWS call: paced, and retried on throttling and transient
/// failures. `send` builds and sends the request afresh on every attempt.
pub async fn call<T, E, F, Fut>(
    pacer: &Pacer,
    operation: &'static str,
    mut send: F,
) -> Result<T, Failed<E>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        pacer.acquire(operation).await;
        match send().await {
            Ok(value) => {
                pacer.succeeded(operation);
                return Ok(value);
            }
            Err(error) => {
                let retry = classify(&error);
                if attempts >= MAX_ATTEMPTS || retry.is_none() {
                    return Err(Failed { error, attempts });
                }
                let exponent = (attempts - 1).min(8);
                let cap = match retry {
                    Some(Retry::Throttled) => {
                        pacer.throttled(operation);
                        Duration::from_millis(250 << exponent).min(Duration::from_secs(10))
                    }
                    _ => Duration::from_millis(50 << exponent).min(Duration::from_secs(5)),
                };
                tokio::time::sleep(pacer.jitter(cap)).await;
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
        overrides.insert("iot:RegisterCertificate".to_string(), 40.0);
        let pacer = Pacer::new(&overrides);
        assert_eq!(pacer.rate("iot:RegisterCertificate"), 40.0);
        assert_eq!(pacer.rate("acm-pca:IssueCertificate"), 25.0 * DEFAULT_SHARE);
        assert_eq!(pacer.rate("iot:SomethingNew"), 5.0);
    }

    #[tokio::test]
    async fn calls_are_spaced_at_the_configured_rate() {
        let mut overrides = BTreeMap::new();
        overrides.insert("iot:ListThings".to_string(), 50.0);
        let pacer = Pacer::new(&overrides);
        let start = Instant::now();
        for _ in 0..11 {
            pacer.acquire("iot:ListThings").await;
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
        pacer.acquire("iot:ListThings").await;
        let before = pacer.buckets.lock().unwrap()["iot:ListThings"].current;
        pacer.throttled("iot:ListThings");
        let after = pacer.buckets.lock().unwrap()["iot:ListThings"].current;
        assert_eq!(after, before / 2.0);
        for _ in 0..100 {
            pacer.succeeded("iot:ListThings");
        }
        assert_eq!(
            pacer.buckets.lock().unwrap()["iot:ListThings"].current,
            before
        );
    }
}
