//! The fleet's apply lock, kept in AWS itself so that every pipeline and
//! laptop sees the same one: an IoT thing `fleetcert-lock-<fleet>` whose
//! attributes hold the holder and the lease's expiry (unix seconds). Every
//! change is a compare-and-swap on the thing's version (UpdateThing
//! `expectedVersion`), so two runs can never both believe they hold it.
//! A heartbeat extends the lease during long applies; a holder that died
//! stops extending it, and the lock frees itself when the lease runs out
//! (or at once with `fleetcert force-unlock`).
//!
//! The thing also records the digest of the spec last applied in full
//! (`applied`), which `drift` uses to tell "changed in AWS" from "never
//! applied". Things allow three attributes without a thing type; these are
//! the three. The lock thing is no device: `read_live` skips it, so it is in
//! no fingerprint, plan or drift report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, watch};

use crate::cloud::{Cloud, CloudError};

pub const HOLDER: &str = "holder";
pub const EXPIRES: &str = "expires";
pub const APPLIED: &str = "applied";

/// How long a lease lasts without a heartbeat.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the heartbeat extends it (well inside the lease, so a few
/// failed heartbeats in a row are survivable).
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// How often a waiting run looks again.
const POLL: Duration = Duration::from_secs(2);

/// The lock thing's name for `fleet`.
pub fn thing_name(fleet: &str) -> String {
    format!("fleetcert-lock-{fleet}")
}

/// What the lock thing says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockState {
    pub holder: Option<String>,
    pub expires: Option<i64>,
    pub applied: Option<String>,
    pub version: i64,
}

impl LockState {
    pub fn from_attributes(version: i64, attributes: &BTreeMap<String, String>) -> Self {
        let get = |k: &str| attributes.get(k).filter(|v| !v.is_empty()).cloned();
        Self {
            holder: get(HOLDER),
            expires: get(EXPIRES).and_then(|v| v.parse().ok()),
            applied: get(APPLIED),
            version,
        }
    }

    /// Held by someone whose lease has not run out at `now`.
    pub fn held_at(&self, now: i64) -> bool {
        self.holder.is_some() && self.expires.is_none_or(|e| e > now)
    }
}

/// Why the lock could not be taken or kept.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "fleet {fleet} is locked by {holder} until {until} (lock thing {thing}); another apply is running. \
         Wait for it (--lock-timeout 5m waits up to five minutes), or, if that run died, release the lock \
         with `fleetcert force-unlock --holder {holder}`"
    )]
    Held {
        fleet: String,
        thing: String,
        holder: String,
        until: String,
    },
    #[error(
        "fleet {fleet}'s lock was taken over while this apply ran (now held by {holder}); \
         stopped to avoid two applies at once"
    )]
    Lost { fleet: String, holder: String },
    #[error("fleet {fleet}'s lock is held by {holder}, not {wanted}; nothing released")]
    NotHolder {
        fleet: String,
        holder: String,
        wanted: String,
    },
    #[error(transparent)]
    Cloud(#[from] CloudError),
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// Who this run is, as a thing attribute value (`[a-zA-Z0-9_.,@/:#=\[\]-]`):
/// user@host, the CI run if any, process id and start time, so that a lock
/// error says whom to ask and force-unlock can name exactly one holder.
pub fn holder_id() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_else(|| "unknown".into());
    let mut id = format!("{}@{}", user.trim(), host.trim());
    if let Ok(run) = std::env::var("GITHUB_RUN_ID") {
        id.push_str(&format!(":gh-run-{run}"));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    id.push_str(&format!(":{}:{}.{nanos:09}", std::process::id(), now()));
    sanitize(&id)
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect()
}

async fn read(cloud: &Cloud, thing: &str) -> Result<Option<LockState>, CloudError> {
    Ok(cloud
        .describe_lock_thing(thing)
        .await?
        .map(|t| LockState::from_attributes(t.version, &t.attributes)))
}

/// The lock, held. Release it with [`Lease::release`]; if the run dies
/// instead, the lease runs out by itself.
pub struct Lease {
    cloud: Cloud,
    fleet: String,
    thing: String,
    holder: String,
    /// The thing's version after our last write: the next write's expectation.
    version: Arc<Mutex<i64>>,
    heartbeat: tokio::task::JoinHandle<()>,
    lost: watch::Receiver<Option<String>>,
}

/// Take the fleet's lock, waiting up to `timeout` while another run holds
/// it. `on_wait` is told once who holds it.
pub async fn acquire(
    cloud: &Cloud,
    fleet: &str,
    timeout: Duration,
    on_wait: impl Fn(&str),
) -> Result<Lease, LockError> {
    let thing = thing_name(fleet);
    let holder = holder_id();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut told = false;
    loop {
        let Some(state) = read(cloud, &thing).await? else {
            cloud.create_lock_thing(&thing).await?;
            continue;
        };
        let now = now();
        if state.holder.as_deref() == Some(holder.as_str()) {
            // Our swap was carried out but its answer was lost (a retried
            // attempt then met a version conflict): the lock is ours.
            return Ok(start(cloud, fleet, thing, holder, state.version));
        }
        if !state.held_at(now) {
            let attributes = BTreeMap::from([
                (HOLDER.to_string(), holder.clone()),
                (
                    EXPIRES.to_string(),
                    (now + LEASE.as_secs() as i64).to_string(),
                ),
            ]);
            if cloud
                .swap_lock_thing(&thing, &attributes, state.version)
                .await?
            {
                // Read back: the version to expect next, and proof it is ours.
                if let Some(mine) = read(cloud, &thing).await?
                    && mine.holder.as_deref() == Some(holder.as_str())
                {
                    return Ok(start(cloud, fleet, thing, holder, mine.version));
                }
            }
            // Someone else got there first: look again.
            continue;
        }
        let other = state.holder.clone().unwrap_or_default();
        if tokio::time::Instant::now() >= deadline {
            return Err(LockError::Held {
                fleet: fleet.to_string(),
                thing,
                holder: other,
                until: state.expires.map(date).unwrap_or_else(|| "?".into()),
            });
        }
        if !told {
            on_wait(&format!(
                "Waiting for fleet {fleet}'s lock, held by {other} (lease until {})...",
                state.expires.map(date).unwrap_or_else(|| "?".into())
            ));
            told = true;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        tokio::time::sleep(left.min(POLL)).await;
    }
}

fn start(cloud: &Cloud, fleet: &str, thing: String, holder: String, version: i64) -> Lease {
    let version = Arc::new(Mutex::new(version));
    let (tell, lost) = watch::channel(None);
    let heartbeat = {
        let (cloud, thing, holder, version) = (
            cloud.clone(),
            thing.clone(),
            holder.clone(),
            version.clone(),
        );
        tokio::spawn(async move {
            let mut last_ok = now();
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                match extend(&cloud, &thing, &holder, &version).await {
                    Ok(None) => last_ok = now(),
                    Ok(Some(other)) => {
                        let _ = tell.send(Some(other));
                        return;
                    }
                    // A failed heartbeat is retried at the next beat; only a
                    // lease that ran out without one is lost.
                    Err(_) if now() < last_ok + LEASE.as_secs() as i64 => {}
                    Err(e) => {
                        let _ = tell.send(Some(format!("(unknown: heartbeat failed: {e})")));
                        return;
                    }
                }
            }
        })
    };
    Lease {
        cloud: cloud.clone(),
        fleet: fleet.to_string(),
        thing,
        holder,
        version,
        heartbeat,
        lost,
    }
}

/// Extend the lease; `Ok(Some(holder))` when someone else holds it now.
async fn extend(
    cloud: &Cloud,
    thing: &str,
    holder: &str,
    version: &Mutex<i64>,
) -> Result<Option<String>, CloudError> {
    let mut version = version.lock().await;
    let attributes = BTreeMap::from([(
        EXPIRES.to_string(),
        (now() + LEASE.as_secs() as i64).to_string(),
    )]);
    let swapped = cloud.swap_lock_thing(thing, &attributes, *version).await?;
    let state = read(cloud, thing).await?.unwrap_or_default();
    if state.holder.as_deref() != Some(holder) {
        return Ok(Some(state.holder.unwrap_or_else(|| "nobody".into())));
    }
    if swapped || state.version > *version {
        *version = state.version;
    }
    Ok(None)
}

impl Lease {
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Resolves when the lock was lost (someone force-unlocked it and took
    /// it, or the heartbeat could not reach AWS for a whole lease).
    pub async fn lost(&self) -> LockError {
        let mut lost = self.lost.clone();
        let holder = loop {
            if let Some(holder) = lost.borrow().clone() {
                break holder;
            }
            if lost.changed().await.is_err() {
                // The heartbeat ended without a loss: never resolve.
                std::future::pending::<()>().await;
            }
        };
        LockError::Lost {
            fleet: self.fleet.clone(),
            holder,
        }
    }

    /// Release the lock; with `applied`, record that digest as the spec
    /// last applied in full.
    pub async fn release(self, applied: Option<&str>) -> Result<(), LockError> {
        self.heartbeat.abort();
        let version = *self.version.lock().await;
        let mut attributes = BTreeMap::from([
            (HOLDER.to_string(), String::new()),
            (EXPIRES.to_string(), String::new()),
        ]);
        if let Some(digest) = applied {
            attributes.insert(APPLIED.to_string(), digest.to_string());
        }
        if self
            .cloud
            .swap_lock_thing(&self.thing, &attributes, version)
            .await?
        {
            return Ok(());
        }
        let state = read(&self.cloud, &self.thing).await?.unwrap_or_default();
        let recorded = applied.is_none_or(|digest| state.applied.as_deref() == Some(digest));
        if state.holder.is_none() && recorded {
            // Our release was carried out but its answer was lost (a retried
            // attempt then met a version conflict): released as asked.
            return Ok(());
        }
        if state.holder.as_deref() == Some(self.holder.as_str()) {
            // Our own heartbeat moved the version: try once more.
            if self
                .cloud
                .swap_lock_thing(&self.thing, &attributes, state.version)
                .await?
            {
                return Ok(());
            }
        }
        Err(LockError::Lost {
            fleet: self.fleet,
            holder: state.holder.unwrap_or_else(|| "nobody".into()),
        })
    }
}

/// Release the lock whoever holds it (only `holder`, when given). Returns
/// the holder it released, `None` if it was free.
pub async fn force_unlock(
    cloud: &Cloud,
    fleet: &str,
    holder: Option<&str>,
) -> Result<Option<String>, LockError> {
    let thing = thing_name(fleet);
    loop {
        let Some(state) = read(cloud, &thing).await? else {
            return Ok(None);
        };
        let Some(current) = state.holder.clone() else {
            return Ok(None);
        };
        if let Some(wanted) = holder
            && wanted != current
        {
            return Err(LockError::NotHolder {
                fleet: fleet.to_string(),
                holder: current,
                wanted: wanted.to_string(),
            });
        }
        let attributes = BTreeMap::from([
            (HOLDER.to_string(), String::new()),
            (EXPIRES.to_string(), String::new()),
        ]);
        if cloud
            .swap_lock_thing(&thing, &attributes, state.version)
            .await?
        {
            return Ok(Some(current));
        }
    }
}

/// What the lock thing says now (`None`: no lock thing yet).
pub async fn state(cloud: &Cloud, fleet: &str) -> Result<Option<LockState>, CloudError> {
    read(cloud, &thing_name(fleet)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_ids_are_valid_attribute_values() {
        let id = holder_id();
        assert!(!id.is_empty() && id.len() <= 800);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.,@/:#=[]-".contains(c)),
            "{id}"
        );
        assert_eq!(sanitize("a b\"c"), "a_b_c");
    }

    #[test]
    fn a_lease_is_held_until_it_expires() {
        let attrs = BTreeMap::from([
            (HOLDER.to_string(), "me".to_string()),
            (EXPIRES.to_string(), "100".to_string()),
        ]);
        let state = LockState::from_attributes(3, &attrs);
        assert!(state.held_at(99));
        assert!(!state.held_at(100));
        let free =
            LockState::from_attributes(4, &BTreeMap::from([(HOLDER.to_string(), String::new())]));
        assert!(!free.held_at(0));
    }
}
