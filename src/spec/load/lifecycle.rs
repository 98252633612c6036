//! The `lifecycle` and `rate_limits` sections.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Loader, Text};
use crate::aws_op::AwsOp;
use crate::spec::model::{LifecycleFile, RotationFile, Sp};
use crate::spec::{Lifecycle, Rotation, SpecDuration};

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
            rotation: l
                .rotation
                .as_ref()
                .map(|r| self.rotation(f, &r.value))
                .unwrap_or_default(),
        }
    }

    /// `lifecycle.rotation`, each number within what CreateJob accepts (IoT
    /// API reference, CreateJob: `maximumPerMinute` 1 to 1000,
    /// `thresholdPercentage` at most 100, `minNumberOfExecutedThings` at
    /// least 1, `inProgressTimeoutInMinutes` 1 to 10080 minutes).
    fn rotation(&mut self, f: &Path, r: &RotationFile) -> Rotation {
        let d = Rotation::default();
        let in_progress_timeout = r
            .in_progress_timeout
            .as_ref()
            .and_then(|t| Some((t, self.duration(f, t)?)))
            .and_then(|(t, v)| {
                let ok = (60..=10_080 * 60).contains(&v.as_secs()) && v.as_secs() % 60 == 0;
                self.check(
                    f,
                    t.loc,
                    ok,
                    "in_progress_timeout",
                    "whole minutes from 1m to 7d",
                )
                .then_some(v)
            })
            .unwrap_or(d.in_progress_timeout);
        let maximum_per_minute = self
            .ranged(f, &r.maximum_per_minute, 1..=1000, "maximum_per_minute")
            .unwrap_or(d.maximum_per_minute);
        let abort_min_executed = self
            .ranged(f, &r.abort_min_executed, 1..=u32::MAX, "abort_min_executed")
            .unwrap_or(d.abort_min_executed);
        let abort_failed_percent = match &r.abort_failed_percent {
            Some(p) => {
                let ok = p.value.is_finite() && p.value > 0.0 && p.value <= 100.0;
                let what = "abort_failed_percent";
                if self.check(f, p.loc, ok, what, "a percentage above 0 and at most 100") {
                    p.value
                } else {
                    d.abort_failed_percent
                }
            }
            None => d.abort_failed_percent,
        };
        let duration = |this: &mut Self, t: &Option<Text>, default: SpecDuration| {
            t.as_ref()
                .and_then(|t| this.duration(f, t))
                .unwrap_or(default)
        };
        Rotation {
            delivery: r
                .delivery
                .as_ref()
                .and_then(|t| self.named(f, t))
                .unwrap_or(d.delivery),
            max_wait: duration(self, &r.max_wait, d.max_wait),
            on_timeout: r
                .on_timeout
                .as_ref()
                .and_then(|t| self.named(f, t))
                .unwrap_or(d.on_timeout),
            maximum_per_minute,
            abort_failed_percent,
            abort_min_executed,
            in_progress_timeout,
        }
    }

    fn ranged(
        &mut self,
        f: &Path,
        value: &Option<Sp<u32>>,
        range: std::ops::RangeInclusive<u32>,
        what: &str,
    ) -> Option<u32> {
        let v = value.as_ref()?;
        let expected = format!("a whole number from {} to {}", range.start(), range.end());
        self.check(f, v.loc, range.contains(&v.value), what, &expected)
            .then_some(v.value)
    }

    /// Report `what` at `loc` unless `ok`; returns `ok`.
    fn check(
        &mut self,
        f: &Path,
        loc: crate::spec::model::Loc,
        ok: bool,
        what: &str,
        expected: &str,
    ) -> bool {
        if !ok {
            self.error(
                f,
                loc,
                format!("`{what}` is out of range"),
                format!("expected {expected}"),
            );
        }
        ok
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
