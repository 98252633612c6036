//! Waiting out what AWS documents as eventually consistent. A delete that
//! follows a detachment in the same change can be refused until the
//! detachment has propagated; those answers are retried for a bounded,
//! documented time with backoff, and the progress says what apply waits for.

use std::future::Future;
use std::time::{Duration, Instant};

use super::ApplyError;
use super::context::Context;
use crate::cloud::CloudError;

/// Something AWS finishes after it has answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wait {
    /// DetachThingPrincipal: "This call is asynchronous. It might take
    /// several seconds for the detachment to propagate."
    /// (https://docs.aws.amazon.com/iot/latest/apireference/API_DetachThingPrincipal.html)
    /// Until then DeleteThing answers InvalidRequestException "Cannot
    /// delete. Thing … is still attached to one or more principals", and
    /// DeleteCertificate DeleteConflictException.
    ThingDetachment,
    /// DetachPolicy / DeletePolicy: "it can take up to five minutes after a
    /// policy is detached before it's ready to be deleted."
    /// (https://docs.aws.amazon.com/iot/latest/apireference/API_DeletePolicy.html)
    /// Until then DeletePolicy answers DeleteConflictException.
    PolicyDetachment,
}

impl Wait {
    /// How long apply keeps retrying before it gives the change up (a
    /// re-run picks it up).
    pub fn budget(self) -> Duration {
        match self {
            // "several seconds": a minute is ample and keeps a stuck apply short.
            Wait::ThingDetachment => Duration::from_secs(60),
            // "up to five minutes", and a margin.
            Wait::PolicyDetachment => Duration::from_secs(330),
        }
    }

    /// Whether `error` is AWS saying this has not propagated yet.
    pub fn matches(self, error: &CloudError) -> bool {
        match self {
            Wait::ThingDetachment => {
                error.code == "DeleteConflictException"
                    || (error.code == "InvalidRequestException"
                        && error.message.contains("still attached"))
            }
            Wait::PolicyDetachment => error.code == "DeleteConflictException",
        }
    }

    /// What apply waits for, as progress shows it.
    pub fn describe(self) -> &'static str {
        match self {
            Wait::ThingDetachment => {
                "waiting for thing detachments to propagate before deleting (AWS: \"several seconds\")"
            }
            Wait::PolicyDetachment => {
                "waiting for policy detachments to propagate before deleting the policy (AWS: \"up to five minutes\")"
            }
        }
    }
}

/// The first retry comes soon; later ones back off to this.
const MAX_DELAY: Duration = Duration::from_secs(5);
const FIRST_DELAY: Duration = Duration::from_millis(250);

/// Run `attempt`, retrying while AWS answers that `wait` is still under way,
/// for at most `wait.budget()`.
pub(super) async fn settled<T, F, Fut>(
    cx: &Context<'_>,
    wait: Wait,
    mut attempt: F,
) -> Result<T, ApplyError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CloudError>>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut told = false;
    loop {
        match attempt().await {
            Err(error) if wait.matches(&error) => {
                if started.elapsed() + delay > wait.budget() {
                    return Err(gave_up(wait, error));
                }
                if !told {
                    cx.progress.waiting(wait);
                    told = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
            other => return Ok(other?),
        }
    }
}

fn gave_up(wait: Wait, mut error: CloudError) -> ApplyError {
    error.message = format!(
        "{} (still so after {} s of {}; a re-run of apply picks it up)",
        error.message,
        wait.budget().as_secs(),
        wait.describe()
    );
    error.into()
}
