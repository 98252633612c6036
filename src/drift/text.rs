//! The drift report for people (terminal text).

use std::fmt::Write;

use super::{DriftKind, DriftReport};

const KINDS: [DriftKind; 3] = [
    DriftKind::ChangedOutside,
    DriftKind::AutoRegistered,
    DriftKind::NotApplied,
];

/// One line: `Drift: 2 changed outside fleetcert, 0 auto-registered, 1 not applied.`
pub fn summary_line(report: &DriftReport) -> String {
    if report.in_sync() {
        return "No drift. AWS matches the spec.".to_string();
    }
    format!(
        "Drift: {} changed outside fleetcert, {} auto-registered, {} not applied.",
        report.count(DriftKind::ChangedOutside),
        report.count(DriftKind::AutoRegistered),
        report.count(DriftKind::NotApplied)
    )
}

pub fn render(report: &DriftReport) -> String {
    let mut out = String::new();
    for kind in KINDS {
        let items: Vec<_> = report.items.iter().filter(|i| i.kind == kind).collect();
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}:", kind.title());
        for item in items {
            let _ = writeln!(out, "  {} [{}]", item.address, item.code);
            let _ = writeln!(out, "      {}", item.text);
            if !item.apply_would.is_empty() {
                let _ = writeln!(out, "      apply would: {}", item.apply_would.join(", "));
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "{}", summary_line(report));
    for warning in &report.warnings {
        let _ = writeln!(out, "Warning: {warning}");
    }
    out
}
