//! Rotation by IoT job as a process: each rotating device's stage and one
//! summary line ("rotation: 940 of 1,000 confirmed, 12 failed, 48 waiting"),
//! in text, Markdown and JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::plan::{DeviceRotation, Plan, Stage, short_id};

/// The most devices listed one by one; the summary counts them all.
const LISTED: usize = 50;

/// Devices by stage.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub devices: usize,
    pub issued: usize,
    pub delivered: usize,
    pub confirmed: usize,
    pub failed: usize,
    pub timed_out: usize,
}

pub fn counts(rotation: &BTreeMap<String, DeviceRotation>) -> Counts {
    let mut c = Counts {
        devices: rotation.len(),
        ..Counts::default()
    };
    for r in rotation.values() {
        *match r.stage {
            Stage::Issued => &mut c.issued,
            Stage::Delivered => &mut c.delivered,
            Stage::Confirmed => &mut c.confirmed,
            Stage::Failed => &mut c.failed,
            Stage::TimedOut => &mut c.timed_out,
        } += 1;
    }
    c
}

/// `1,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `rotation: 940 of 1,000 confirmed, 12 failed, 48 waiting`; `None`
/// without rotations.
pub fn summary(plan: &Plan) -> Option<String> {
    if plan.rotation.is_empty() {
        return None;
    }
    let c = counts(&plan.rotation);
    let mut text = format!(
        "rotation: {} of {} confirmed",
        thousands(c.confirmed),
        thousands(c.devices)
    );
    for (n, what) in [
        (c.failed, "failed"),
        (c.timed_out, "timed out"),
        (c.issued + c.delivered, "waiting"),
    ] {
        if n > 0 {
            let _ = write!(text, ", {} {what}", thousands(n));
        }
    }
    Some(text)
}

fn stage_word(stage: Stage) -> &'static str {
    match stage {
        Stage::Issued => "issued",
        Stage::Delivered => "delivered",
        Stage::Confirmed => "confirmed",
        Stage::Failed => "failed",
        Stage::TimedOut => "timed out",
    }
}

fn row(r: &DeviceRotation) -> [String; 4] {
    [
        stage_word(r.stage).to_string(),
        r.certificate_id
            .as_deref()
            .map_or("(issued by this plan)".into(), |id| {
                short_id(id).to_string()
            }),
        r.job_id.clone().unwrap_or_else(|| "(new job)".into()),
        r.execution.map_or("-".into(), |e| e.to_string()),
    ]
}

/// The text plan's section: the summary, then a line per device.
pub fn text(plan: &Plan) -> String {
    let Some(summary) = summary(plan) else {
        return String::new();
    };
    let mut out = format!("\nRotation by IoT job ({summary}):\n");
    for (device, r) in plan.rotation.iter().take(LISTED) {
        let [stage, cert, job, execution] = row(r);
        let _ = writeln!(
            out,
            "  {device}: {stage}, certificate {cert}, job {job}, execution {execution}"
        );
    }
    if plan.rotation.len() > LISTED {
        let _ = writeln!(
            out,
            "  ... and {} more devices",
            plan.rotation.len() - LISTED
        );
    }
    out
}

/// The Markdown comment's section: a table.
pub fn markdown(plan: &Plan) -> Option<String> {
    let summary = summary(plan)?;
    let mut out = format!(
        "\n<details><summary>🔁 {summary}</summary>\n\n| device | stage | certificate | job | execution |\n|---|---|---|---|---|\n"
    );
    for (device, r) in plan.rotation.iter().take(LISTED) {
        let [stage, cert, job, execution] = row(r);
        let _ = writeln!(
            out,
            "| `{device}` | {stage} | `{cert}` | `{job}` | {execution} |"
        );
    }
    if plan.rotation.len() > LISTED {
        let _ = writeln!(
            out,
            "\n… and {} more devices.",
            plan.rotation.len() - LISTED
        );
    }
    out.push_str("\n</details>\n");
    Some(out)
}

/// The JSON plan's `rotation` (since 1.2).
#[derive(Serialize)]
pub struct Json<'a> {
    pub summary: Counts,
    pub devices: &'a BTreeMap<String, DeviceRotation>,
}

pub fn json(plan: &Plan) -> Option<Json<'_>> {
    (!plan.rotation.is_empty()).then(|| Json {
        summary: counts(&plan.rotation),
        devices: &plan.rotation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::ExecutionStatus;

    fn rotation(stages: &[(Stage, usize)]) -> BTreeMap<String, DeviceRotation> {
        let mut out = BTreeMap::new();
        for (stage, n) in stages {
            for _ in 0..*n {
                out.insert(
                    format!("d{:05}", out.len()),
                    DeviceRotation {
                        stage: *stage,
                        certificate_id: Some("c".repeat(64)),
                        job_id: Some("fleetcert-x-y".into()),
                        execution: Some(ExecutionStatus::Queued),
                    },
                );
            }
        }
        out
    }

    #[test]
    fn the_summary_reads_as_the_issue_asks() {
        let mut plan = Plan {
            fleet: "f".into(),
            at: 0,
            ca: crate::plan::PlanCa {
                arn: crate::plan::Slot::Produced,
                certificate: crate::plan::Slot::Produced,
            },
            changes: vec![],
            warnings: vec![],
            max_destructive_changes: 10,
            guard: vec![],
            policy_reviews: vec![],
            rotation: BTreeMap::new(),
        };
        plan.rotation = rotation(&[
            (Stage::Confirmed, 940),
            (Stage::Failed, 12),
            (Stage::Delivered, 40),
            (Stage::Issued, 8),
        ]);
        assert_eq!(
            summary(&plan).unwrap(),
            "rotation: 940 of 1,000 confirmed, 12 failed, 48 waiting"
        );
        let text = text(&plan);
        assert!(text.contains("... and 950 more devices"), "{text}");
        assert!(
            markdown(&plan)
                .unwrap()
                .contains("| `d00000` | confirmed | `cccccccccc` | `fleetcert-x-y` | QUEUED |")
        );
        plan.rotation.clear();
        assert_eq!(summary(&plan), None);
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
