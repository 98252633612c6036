//! The `lifecycle` and `rate_limits` sections.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Loader, Text};
use crate::spec::Lifecycle;
use crate::spec::model::{LifecycleFile, Sp};
use crate::spec::types;

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

    pub(super) fn rate_limits(
        &mut self,
        f: &Path,
        limits: &BTreeMap<Text, Sp<f64>>,
    ) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (op, rate) in limits {
            let mut ok = true;
            if !types::is_rate_limit_op(&op.value) {
                self.error(
                    f,
                    op.loc,
                    format!("`{}` is not an AWS operation", op.value),
                    "name an operation as `acm-pca:<Operation>` or `iot:<Operation>`, e.g. `iot:RegisterCertificate`",
                );
                ok = false;
            }
            if !(rate.value.is_finite() && rate.value > 0.0) {
                self.error(
                    f,
                    rate.loc,
                    format!(
                        "rate limit for `{}` must be a number of requests per second above 0",
                        op.value
                    ),
                    "e.g. `iot:RegisterCertificate: 5`",
                );
                ok = false;
            }
            if ok {
                out.insert(op.value.clone(), rate.value);
            }
        }
        out
    }
}
