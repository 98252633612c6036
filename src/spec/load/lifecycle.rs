//! The `lifecycle` and `rate_limits` sections.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Loader, Text};
use crate::aws_op::AwsOp;
use crate::spec::Lifecycle;
use crate::spec::model::{LifecycleFile, Sp};

impl Loader {
    pub(super) fn lifecycle(&mut self, f: &Path, l: &LifecycleFile) -> Lifecycle {
        let defaults = Lifecycle::default();
        let on_removal = l
            .on_removal
            .as_ref()
            .and_then(|t| self.named(f, t))
            .unwrap_or(defaults.on_removal);
        let retire = l
            .retire
            .as_ref()
            .and_then(|t| self.named(f, t))
            .unwrap_or(defaults.retire);
        let rotation_overlap = l
            .rotation_overlap
            .as_ref()
            .and_then(|t| self.duration(f, t))
            .unwrap_or(defaults.rotation_overlap);
        let delete_certificates = l.delete_certificates.as_ref().is_some_and(|d| d.value);
        if let Some(delete) = &l.delete_certificates
            && delete.value
            && on_removal == crate::spec::OnRemoval::Keep
        {
            self.error(
                f,
                delete.loc,
                "`delete_certificates: true` with `on_removal: keep`",
                "IoT deletes only certificates that are not ACTIVE: use `on_removal: revoke` or `deactivate`, or do not delete certificates",
            );
        }
        Lifecycle {
            on_removal,
            delete_things: l.delete_things.unwrap_or(defaults.delete_things),
            delete_certificates,
            rotation_overlap,
            retire,
            max_destructive_changes: l
                .max_destructive_changes
                .unwrap_or(defaults.max_destructive_changes),
        }
    }

    /// Each key an [`AwsOp`], each rate above 0 and at most AWS's default
    /// quota: the spec is written by pull-request authors, and a rate above
    /// the quota would let one pull request spend the account's whole shared
    /// quota. The pipeline's owner may go higher with `--rate-limit`.
    pub(super) fn rate_limits(
        &mut self,
        f: &Path,
        limits: &BTreeMap<Text, Sp<f64>>,
    ) -> BTreeMap<AwsOp, f64> {
        let mut out = BTreeMap::new();
        for (name, rate) in limits {
            let op = match name.value.parse::<AwsOp>() {
                Ok(op) => Some(op),
                Err(unknown) => {
                    self.error(
                        f,
                        name.loc,
                        format!(
                            "`{}` is not an AWS operation fleetcert calls",
                            unknown.given
                        ),
                        unknown.hint(),
                    );
                    None
                }
            };
            if !(rate.value.is_finite() && rate.value > 0.0) {
                self.error(
                    f,
                    rate.loc,
                    format!(
                        "rate limit for `{}` must be a number of requests per second above 0",
                        name.value
                    ),
                    "e.g. `iot:RegisterCertificate: 5`",
                );
                continue;
            }
            let Some(op) = op else { continue };
            if rate.value > op.default_quota() {
                self.error(
                    f,
                    rate.loc,
                    format!(
                        "rate_limits may not exceed AWS's default quota of {}/s for {op}",
                        op.default_quota()
                    ),
                    "the pipeline's owner can set a higher rate with --rate-limit",
                );
                continue;
            }
            out.insert(op, rate.value);
        }
        out
    }
}
