//! The plan for people: Terraform-like text, grouped by resource, with a
//! reason per change, policy documents diffed line by line, and a closing
//! summary line. Colour only when asked (a terminal without NO_COLOR).

use std::fmt::Write;

use anstyle::{AnsiColor, Style};
use similar::{ChangeTag, TextDiff};

use super::verb;
use crate::apply::{ApplyReport, Outcome};
use crate::plan::{Action, Detail, Plan};

pub(super) fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

fn action_style(action: Action) -> Style {
    match action {
        Action::Create => AnsiColor::Green.on_default(),
        Action::Update | Action::Adopt => AnsiColor::Yellow.on_default(),
        Action::CreateThenRetire | Action::RetireThenCreate => AnsiColor::Magenta.on_default(),
        Action::Revoke | Action::Deactivate | Action::Delete => AnsiColor::Red.on_default(),
    }
}

/// The closing line, e.g. `Plan: 3 to add, 1 to change, 0 to replace, 0 to revoke, 0 to delete.`
pub fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    let mut line = format!(
        "Plan: {} to add, {} to change, {} to replace, {} to revoke, {} to delete",
        s.add, s.change, s.replace, s.revoke, s.delete
    );
    if s.adopt > 0 {
        let _ = write!(line, ", {} to adopt", s.adopt);
    }
    line.push('.');
    line
}

/// Policy documents as a unified, line-by-line diff.
fn document_diff(out: &mut String, color: bool, before: &str, after: &str) {
    let diff = TextDiff::from_lines(before, after);
    for change in diff.iter_all_changes() {
        let line = change.value().trim_end_matches('\n');
        let (sign, style) = match change.tag() {
            ChangeTag::Delete => ("-", AnsiColor::Red.on_default()),
            ChangeTag::Insert => ("+", AnsiColor::Green.on_default()),
            ChangeTag::Equal => (" ", Style::new()),
        };
        let _ = writeln!(
            out,
            "        {}",
            paint(color, style, &format!("{sign} {line}"))
        );
    }
}

fn quoted(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "(none)".to_string(),
    }
}

/// The whole plan as text.
pub fn plan(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("No changes. The fleet matches the spec.\n");
    } else {
        for reason in &plan.guard {
            let _ = writeln!(
                out,
                "{} apply refuses this plan without --allow-destructive: {reason}.\n",
                paint(color, AnsiColor::Red.on_default().bold(), "Guard:"),
            );
        }
        out.push_str("fleetcert will perform the following actions:\n");
        for change in &plan.changes {
            let style = action_style(change.action);
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "  {} {}",
                paint(color, Style::new().bold(), &format!("# {}", change.address)),
                verb(change.action)
            );
            let _ = writeln!(out, "  # because {}", change.reason.text);
            let _ = writeln!(
                out,
                "{} {}",
                paint(color, style, &format!("{:>3}", change.action.symbol())),
                change.address
            );
            for detail in &change.details {
                match detail {
                    Detail::Field {
                        name,
                        before,
                        after,
                    } => {
                        let (sign, text) = match (before, after) {
                            (None, Some(_)) => ("+", quoted(after)),
                            (Some(_), None) => ("-", quoted(before)),
                            _ => ("~", format!("{} -> {}", quoted(before), quoted(after))),
                        };
                        let _ =
                            writeln!(out, "      {} {name} = {text}", paint(color, style, sign));
                    }
                    Detail::PolicyDocument { before, after } => {
                        let _ = writeln!(out, "      document:");
                        document_diff(&mut out, color, before.as_deref().unwrap_or(""), after);
                    }
                }
            }
        }
        out.push_str(&super::review::plan_text(plan, color));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            paint(color, Style::new().bold(), &summary_line(plan))
        );
    }
    out.push_str(&super::rotation::text(plan));
    for warning in &plan.warnings {
        let _ = writeln!(
            out,
            "{} {warning}",
            paint(color, AnsiColor::Yellow.on_default().bold(), "Warning:")
        );
    }
    out
}

/// One finished change, for the running log of an apply.
pub fn change_done(report: &crate::apply::ChangeReport) -> String {
    match &report.outcome {
        Outcome::Succeeded => format!(
            "{}: done ({})",
            report.address,
            report.action.as_list().join(", ")
        ),
        Outcome::Failed {
            operation,
            code,
            message,
            completed,
        } => format!(
            "{}: FAILED at {operation} after {completed} operation(s): {code}: {message}",
            report.address
        ),
        Outcome::Skipped { because } => format!("{}: skipped because {because}", report.address),
    }
}

/// The closing report of an apply.
pub fn apply_report(report: &ApplyReport) -> String {
    let mut out = String::new();
    let failures: Vec<_> = report
        .changes
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Succeeded))
        .collect();
    if !failures.is_empty() {
        out.push_str("\nNot applied:\n");
        for change in failures {
            let _ = writeln!(out, "  {}", change_done(change));
        }
    }
    let _ = writeln!(
        out,
        "\nApply {}: {} succeeded, {} failed, {} skipped.",
        if report.is_success() {
            "complete"
        } else {
            "incomplete"
        },
        report.succeeded(),
        report.failed(),
        report.skipped()
    );
    out
}
