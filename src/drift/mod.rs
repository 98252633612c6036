//! Drift: pure. Compares the spec, the live state and what fleetcert would do
//! about it (the plan `plan::diff` makes), and tells apart:
//!
//! - what changed in AWS behind fleetcert's back (a policy version set by
//!   hand, a certificate deactivated, a policy detached, a thing edited or
//!   deleted, a certificate from the fleet's CA registered outside the spec),
//! - certificates IoT auto-registered from the fleet's CA (JITR/JITP leave
//!   them PENDING_ACTIVATION),
//! - what the spec asks that was never applied (a new device, an edit not yet
//!   applied, a renewal that is due).
//!
//! Telling "changed in AWS" from "never applied" needs evidence, since
//! fleetcert keeps no state file. It uses three kinds:
//! 1. states fleetcert never produces (an INACTIVE current certificate, a
//!    thing gone while its certificate remains, a certificate from the fleet
//!    CA for no device of the spec);
//! 2. history AWS keeps (a policy's versions: the spec's document is still
//!    there, but another version is the default);
//! 3. the digest of the spec fleetcert last applied in full, recorded on the
//!    fleet's lock thing: when it equals today's spec, every difference
//!    happened in AWS. When the spec changed since, a difference with no
//!    other evidence is reported as not applied, and says it may be either.

mod bundles;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::dates::day as date;
use crate::live::{CertStatus, LiveCertificate, LiveState};
use crate::plan::{Address, Change, Detail, Plan, ReasonCode, short_id as short};
use crate::spec::Spec;

/// Which side moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// AWS was changed behind fleetcert's back.
    ChangedOutside,
    /// IoT registered a certificate from the fleet's CA by itself (JITR/JITP).
    AutoRegistered,
    /// The spec asks for something not applied yet.
    NotApplied,
}

impl DriftKind {
    pub fn title(self) -> &'static str {
        match self {
            DriftKind::ChangedOutside => "Changed in AWS outside fleetcert",
            DriftKind::AutoRegistered => "Auto-registered by AWS IoT",
            DriftKind::NotApplied => "In the spec but not applied",
        }
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftItem {
    pub kind: DriftKind,
    /// snake_case, e.g. `certificate_deactivated`.
    pub code: String,
    /// The resource, as in plans (`device.sensor-001.certificate`).
    pub address: Address,
    /// A sentence for people.
    pub text: String,
    /// What `apply` would do about it (`["update"]`), empty if nothing.
    pub apply_would: Vec<String>,
    pub details: Vec<Detail>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    pub fleet: String,
    /// The moment checked (unix seconds).
    pub at: i64,
    /// Sorted by kind, then address.
    pub items: Vec<DriftItem>,
    /// Worth knowing, not drift (certificates expiring within renew_before).
    pub warnings: Vec<String>,
    /// Whether the spec is the one fleetcert last applied in full (`None`: no
    /// apply recorded).
    pub spec_last_applied: Option<bool>,
}

impl DriftReport {
    pub fn in_sync(&self) -> bool {
        self.items.is_empty()
    }

    pub fn count(&self, kind: DriftKind) -> usize {
        self.items.iter().filter(|i| i.kind == kind).count()
    }
}

/// What AWS remembers that the live state does not hold.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The digest of the spec fleetcert last applied in full, if recorded.
    pub applied_digest: Option<String>,
    /// For policies whose document differs from the spec: every version's
    /// canonical document, by version id.
    pub policy_versions: BTreeMap<String, BTreeMap<String, String>>,
}

/// The certificate ids a change acts on.
fn change_cert_ids(change: &Change) -> BTreeSet<&str> {
    change
        .operations
        .iter()
        .filter_map(|op| op.existing_certificate())
        .collect()
}

/// Classify every difference between `spec` and `live`; `plan` is
/// `plan::diff(spec, live, now)`.
pub fn classify(
    spec: &Spec,
    live: &LiveState,
    plan: &Plan,
    evidence: &Evidence,
    now: i64,
) -> DriftReport {
    let applied = evidence
        .applied_digest
        .as_ref()
        .map(|digest| *digest == spec.digest);
    let mut items = Vec::new();

    // Certificates from the fleet CA that no spec device explains.
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for cert in live.certificates.values() {
        if cert.status == CertStatus::PendingActivation {
            reported.insert(&cert.id);
            items.push(auto_registered(cert));
            continue;
        }
        if cert.status == CertStatus::Revoked {
            continue;
        }
        let cn = cert.subject_cn.as_deref();
        let in_spec = cert.belongs_to(|cn| spec.devices.contains_key(cn));
        // A device that left the spec keeps its thing (marked as the fleet's)
        // until apply removes it: that is a removal not yet applied.
        let departed_device = cn.is_some_and(|cn| {
            live.things
                .get(cn)
                .is_some_and(|t| t.owner.as_deref() == Some(spec.fleet.as_str()))
        }) || cert.things.iter().any(|t| {
            live.things
                .get(t)
                .is_some_and(|t| t.owner.as_deref() == Some(spec.fleet.as_str()))
        });
        if !in_spec && !departed_device {
            reported.insert(&cert.id);
            items.push(DriftItem {
                kind: DriftKind::ChangedOutside,
                code: "certificate_registered_outside".into(),
                address: Address::foreign_certificate(&cert.id),
                text: format!(
                    "certificate {} (CN {}, serial {}, {}) was issued by the fleet's CA and registered in IoT \
                     outside the spec",
                    short(&cert.id),
                    cn.unwrap_or("(none)"),
                    cert.serial,
                    cert.status
                ),
                apply_would: planned_for(plan, &cert.id),
                details: vec![],
            });
        }
    }

    for change in &plan.changes {
        if change_cert_ids(change)
            .iter()
            .any(|id| reported.contains(id))
        {
            continue;
        }
        items.push(classify_change(change, spec, live, evidence, applied));
    }

    items.extend(bundles::bundle_drift(spec, live, plan));
    items.extend(stalled_rotations(plan));
    items.sort_by(|a, b| (a.kind, &a.address, &a.code).cmp(&(b.kind, &b.address, &b.code)));
    DriftReport {
        fleet: spec.fleet.clone(),
        at: now,
        items,
        warnings: expiring(spec, live, now),
        spec_last_applied: applied,
    }
}

/// Rotations a device has not finished: its execution failed, or it has
/// not answered within `max_wait` (the old certificate is still in use).
fn stalled_rotations(plan: &Plan) -> Vec<DriftItem> {
    use crate::plan::Stage;
    plan.rotation
        .iter()
        .filter(|(_, r)| matches!(r.stage, Stage::Failed | Stage::TimedOut))
        .map(|(device, r)| {
            let status = r
                .execution
                .map_or("no answer".to_string(), |e| e.to_string());
            let address = Address::Certificate(device.clone());
            DriftItem {
                kind: DriftKind::NotApplied,
                code: "rotation_stalled".into(),
                text: format!(
                    "{address}: the rotation to certificate {} has stalled (job {}: {status})",
                    r.certificate_id.as_deref().map_or("(new)", short),
                    r.job_id.as_deref().unwrap_or("none"),
                ),
                address,
                apply_would: Vec::new(),
                details: vec![],
            }
        })
        .collect()
}

fn planned_for(plan: &Plan, cert_id: &str) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| change_cert_ids(c).contains(cert_id))
        .flat_map(|c| c.action.as_list().iter().map(|a| a.to_string()))
        .collect()
}

fn auto_registered(cert: &LiveCertificate) -> DriftItem {
    DriftItem {
        kind: DriftKind::AutoRegistered,
        code: "certificate_auto_registered".into(),
        address: Address::foreign_certificate(&cert.id),
        text: format!(
            "certificate {} (CN {}, serial {}) was registered by AWS IoT from the fleet's CA \
             (just-in-time registration) and is PENDING_ACTIVATION; fleetcert does not manage it: \
             add the device to the spec, or activate or delete the certificate",
            short(&cert.id),
            cert.subject_cn.as_deref().unwrap_or("(none)"),
            cert.serial
        ),
        apply_would: vec![],
        details: vec![],
    }
}

fn item(change: &Change, kind: DriftKind, code: &str, text: String) -> DriftItem {
    DriftItem {
        kind,
        code: code.to_string(),
        address: change.address.clone(),
        text,
        apply_would: change
            .action
            .as_list()
            .iter()
            .map(|a| a.to_string())
            .collect(),
        details: change.details.clone(),
    }
}

/// What the details of an attachment change say, as phrases.
fn attachment_phrases(change: &Change) -> Vec<String> {
    change
        .details
        .iter()
        .filter_map(|d| match d {
            Detail::Field {
                name,
                before,
                after,
            } => {
                let what = name
                    .strip_prefix("policies.")
                    .map(|p| format!("policy {p}"))
                    .unwrap_or_else(|| format!("{name} {}", after.as_deref().unwrap_or("")));
                Some(match (before, after) {
                    (None, Some(_)) => format!("{} is not attached", what.trim_end()),
                    (Some(_), None) => format!("{what} is attached but not in the spec"),
                    _ => format!("{name} differs"),
                })
            }
            Detail::PolicyDocument { .. } => None,
        })
        .collect()
}

/// One change of the plan, and what drift knows beside it.
#[derive(Clone, Copy)]
struct Classifier<'a> {
    change: &'a Change,
    spec: &'a Spec,
    live: &'a LiveState,
    evidence: &'a Evidence,
    applied: Option<bool>,
}

fn classify_change(
    change: &Change,
    spec: &Spec,
    live: &LiveState,
    evidence: &Evidence,
    applied: Option<bool>,
) -> DriftItem {
    use DriftKind::NotApplied;
    use ReasonCode as R;
    let classifier = Classifier {
        change,
        spec,
        live,
        evidence,
        applied,
    };
    let reason = &change.reason.text;
    let fallback =
        |outside: &str, pending: &str, what: &str| classifier.fallback(outside, pending, what);
    match change.reason.code {
        R::CertificateInactive
        | R::ThingMissing
        | R::CertificateMissing
        | R::AttachmentsDiffer
        | R::ThingAttributesDiffer
        | R::CertificateExpiring
        | R::CertificateSuperseded => classifier.device_change(),
        R::PolicyDocumentChanged | R::PolicyMissing => classifier.policy_change(),
        R::DeviceRemoved | R::PolicyRemoved => item(
            change,
            NotApplied,
            "removal_not_applied",
            format!("{}: {reason}", change.address),
        ),
        R::RotationConfirmed
        | R::RotationTimedOut
        | R::CertificateUndelivered
        | R::RotationJobFinished => item(
            change,
            NotApplied,
            "rotation_pending",
            format!("{}: {reason}", change.address),
        ),
        R::CsrChanged | R::DeviceRevoked | R::ReplaceRequested | R::CaMissing => item(
            change,
            NotApplied,
            "spec_change_not_applied",
            format!("{}: {reason}", change.address),
        ),
        // Evidence-free differences: AWS moved, or the spec did.
        R::CaNotActivated
        | R::CaAdopted
        | R::CaNotRegistered
        | R::CaRegistrationDiffers
        | R::ThingTypeMissing
        | R::PolicyAdopted
        | R::ThingAdopted
        | R::CertificateUnusable
        | R::FilesNotWritten
        | R::RecordOutdated => fallback(
            "changed_outside",
            "not_applied",
            &change.address.to_string(),
        ),
    }
}

impl Classifier<'_> {
    /// Without other evidence: when the spec is the one last applied, AWS moved.
    fn fallback(&self, outside_code: &str, pending_code: &str, what: &str) -> DriftItem {
        let reason = &self.change.reason.text;
        if self.applied == Some(true) {
            item(
                self.change,
                DriftKind::ChangedOutside,
                outside_code,
                format!("{what}: changed in AWS after fleetcert applied this spec ({reason})"),
            )
        } else {
            item(
                self.change,
                DriftKind::NotApplied,
                pending_code,
                format!(
                    "{what}: not applied yet ({reason}); the spec changed since the last recorded apply, \
                     so this may also be a change made in AWS"
                ),
            )
        }
    }

    /// A device's thing or certificate differs.
    fn device_change(&self) -> DriftItem {
        use DriftKind::{ChangedOutside, NotApplied};
        use ReasonCode as R;
        let Classifier {
            change,
            live,
            applied,
            ..
        } = *self;
        let reason = &change.reason.text;
        let device = change.device.as_deref().unwrap_or("");
        let had_certificates = live.certificates_of(device).next().is_some();
        let fallback =
            |outside: &str, pending: &str, what: &str| self.fallback(outside, pending, what);
        match change.reason.code {
            R::CertificateInactive => item(
                change,
                ChangedOutside,
                "certificate_deactivated",
                format!("{reason}: it was deactivated outside fleetcert"),
            ),
            R::ThingMissing if had_certificates || applied == Some(true) => item(
                change,
                ChangedOutside,
                "thing_deleted",
                format!(
                    "thing {device} was deleted outside fleetcert (its certificate is still registered)"
                ),
            ),
            R::ThingMissing => item(
                change,
                NotApplied,
                "device_not_applied",
                format!("device {device} is in the spec but was never applied: {reason}"),
            ),
            R::CertificateMissing if had_certificates => item(
                change,
                ChangedOutside,
                "certificate_retired_outside",
                format!(
                    "device {device}'s certificates were revoked or removed outside fleetcert: {reason}"
                ),
            ),
            R::CertificateMissing if applied == Some(true) => item(
                change,
                ChangedOutside,
                "certificate_removed_outside",
                format!("device {device} was applied but its certificate is gone: {reason}"),
            ),
            R::CertificateMissing => item(
                change,
                NotApplied,
                "device_not_applied",
                format!("device {device} is in the spec but was never applied: {reason}"),
            ),
            R::AttachmentsDiffer => {
                let phrases = attachment_phrases(change).join(", ");
                if applied == Some(true) {
                    item(
                        change,
                        ChangedOutside,
                        "attachments_changed_outside",
                        format!(
                            "device {device}'s certificate attachments were changed outside fleetcert: {phrases} \
                             (plans trust attachments by default: repair with `fleetcert apply --refresh full`)"
                        ),
                    )
                } else {
                    fallback(
                        "attachments_changed_outside",
                        "attachments_not_applied",
                        &format!("device {device}: {phrases}"),
                    )
                }
            }
            R::ThingAttributesDiffer => fallback(
                "thing_edited",
                "thing_attributes_not_applied",
                &format!("thing {device}'s attributes or type"),
            ),
            R::CertificateExpiring => item(
                change,
                NotApplied,
                "renewal_due",
                format!("device {device}: renewal due: {reason}"),
            ),
            R::CertificateSuperseded => item(
                change,
                NotApplied,
                "retirement_due",
                format!("device {device}: {reason}"),
            ),
            _ => fallback(
                "changed_outside",
                "not_applied",
                &change.address.to_string(),
            ),
        }
    }

    /// A policy differs.
    fn policy_change(&self) -> DriftItem {
        use DriftKind::ChangedOutside;
        use ReasonCode as R;
        let Classifier {
            change,
            spec,
            live,
            evidence,
            ..
        } = *self;
        let fallback =
            |outside: &str, pending: &str, what: &str| self.fallback(outside, pending, what);
        match change.reason.code {
            R::PolicyDocumentChanged => {
                let name = policy_name(&change.address);
                let wanted = spec.policies.get(name).map(|p| p.canonical.as_str());
                let versions = evidence.policy_versions.get(name);
                let live_policy = live.policies.get(name);
                let spec_version = versions.and_then(|v| {
                    v.iter()
                        .find(|(id, doc)| {
                            Some(doc.as_str()) == wanted
                                && live_policy.is_some_and(|p| p.default_version != **id)
                        })
                        .map(|(id, _)| id.clone())
                });
                match (spec_version, live_policy) {
                    (Some(version), Some(policy)) => item(
                        change,
                        ChangedOutside,
                        "policy_version_changed",
                        format!(
                            "policy {name}'s default version is {}, set outside fleetcert; the spec's document is \
                             version {version}",
                            policy.default_version
                        ),
                    ),
                    _ => fallback(
                        "policy_document_changed_outside",
                        "policy_document_not_applied",
                        &format!("policy {name}"),
                    ),
                }
            }
            R::PolicyMissing => fallback(
                "policy_deleted",
                "policy_not_applied",
                &format!("policy {}", policy_name(&change.address)),
            ),
            _ => fallback(
                "changed_outside",
                "not_applied",
                &change.address.to_string(),
            ),
        }
    }
}

/// The policy a policy change is about.
fn policy_name(address: &Address) -> &str {
    match address {
        Address::Policy(name) => name,
        _ => "",
    }
}

/// Certificates of spec devices that expire within their renew_before.
fn expiring(spec: &Spec, live: &LiveState, now: i64) -> Vec<String> {
    let mut warnings = Vec::new();
    for device in spec.devices.values() {
        for cert in live.certificates_of(&device.name) {
            if cert.status != CertStatus::Active {
                continue;
            }
            let renew_at = device.renew_at(cert.not_after);
            if renew_at <= now {
                let state = if cert.not_after <= now {
                    "expired"
                } else {
                    "expires"
                };
                warnings.push(format!(
                    "device {}: certificate {} {state} {} (within renew_before {})",
                    device.name,
                    short(&cert.id),
                    date(cert.not_after),
                    device.renew_before
                ));
            }
        }
    }
    warnings
}
