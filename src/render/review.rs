//! Policy reviews (what a policy grants, its findings, the devices it
//! reaches) for the text plan, the Markdown comment and `validate`.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::analysis::{Finding, Review, ReviewedFinding, Severity};
use crate::plan::Plan;
use crate::plan::review::PolicyReview;

use super::text::paint;

/// How many device names a list shows before "and N more".
const NAMES_SHOWN: usize = 10;

fn severity_style(severity: Severity) -> Style {
    match severity {
        Severity::Critical | Severity::High => AnsiColor::Red.on_default().bold(),
        Severity::Medium => AnsiColor::Yellow.on_default().bold(),
        Severity::Low => Style::new().bold(),
    }
}

/// `a, b, c and 7 more`, or `none`.
pub fn names(list: &[String]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    let shown: Vec<&str> = list.iter().take(NAMES_SHOWN).map(String::as_str).collect();
    let mut text = shown.join(", ");
    if list.len() > NAMES_SHOWN {
        let _ = write!(text, " and {} more", list.len() - NAMES_SHOWN);
    }
    text
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `critical WILDCARD_RESOURCE (statement 2): …`
pub fn finding_line(finding: &Finding) -> String {
    format!(
        "{} {} (statement {}): {}",
        finding.severity, finding.code, finding.statement, finding.message
    )
}

fn reviewed_line(color: bool, f: &ReviewedFinding) -> String {
    let head = format!("{} {}", f.finding.severity, f.finding.code);
    if f.accepted {
        format!(
            "accepted {head} (statement {}): {}",
            f.finding.statement, f.finding.message
        )
    } else {
        format!(
            "{} (statement {}): {}",
            paint(color, severity_style(f.finding.severity), &head),
            f.finding.statement,
            f.finding.message
        )
    }
}

/// The statements and findings of one policy, each line indented by `indent`.
pub fn review_lines(out: &mut String, review: &Review, color: bool, indent: &str) {
    for (n, words) in review.statements.iter().enumerate() {
        let _ = writeln!(out, "{indent}{}. {words}", n + 1);
    }
    if review.findings.is_empty() && !review.statements.is_empty() {
        let _ = writeln!(out, "{indent}no findings");
    }
    for finding in &review.findings {
        let _ = writeln!(out, "{indent}{}", reviewed_line(color, finding));
    }
    for code in &review.unused_acceptances {
        let _ = writeln!(
            out,
            "{indent}allow_findings accepts {code}, which the policy does not have: remove it"
        );
    }
}

/// `policy.telemetry: updated; carried by 5 devices; gains it: a; loses it: none`
fn heading(review: &PolicyReview) -> String {
    let what = match review.action {
        Some(action) => super::verb(action)
            .trim_start_matches("will be ")
            .to_string(),
        None => "unchanged document, attachments change".to_string(),
    };
    format!(
        "policy.{}: {what}; carried by {}; gains it: {}; loses it: {}",
        review.policy,
        plural(review.carried_by, "device", "devices"),
        names(&review.gains),
        names(&review.loses)
    )
}

/// The "Policy review" section of the text plan (empty when nothing to review).
pub fn plan_text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    if plan.policy_reviews.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "\n{}",
        paint(color, Style::new().bold(), "Policy review:")
    );
    for review in &plan.policy_reviews {
        let _ = writeln!(out, "\n  # {}", heading(review));
        review_lines(&mut out, &review.review, color, "      ");
    }
    out
}

/// Text for a Markdown line or table cell: no pipes or newlines, and `<`,
/// `>`, `&` escaped outside code spans (GitHub would take `<thing name>` for
/// an HTML tag and drop it).
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '|' => out.push_str("\\|"),
            '\n' => out.push(' '),
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '&' if !in_code => out.push_str("&amp;"),
            _ => out.push(c),
        }
    }
    out
}

/// The warning block at the top of the Markdown comment: every finding the
/// spec does not accept (empty when there is none).
pub fn markdown_warning(plan: &Plan) -> String {
    let open: Vec<(&str, &Finding)> = plan
        .policy_reviews
        .iter()
        .flat_map(|r| r.review.unaccepted().map(move |f| (r.policy.as_str(), f)))
        .collect();
    if open.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "> [!WARNING]\n> **{} in the policies this plan changes.** Review them before merging, or accept a reviewed one with `allow_findings`.\n>\n",
        plural(open.len(), "policy finding", "policy findings")
    );
    for (policy, f) in open {
        let _ = writeln!(
            out,
            "> - `{policy}` statement {}: **{}** `{}`: {}",
            f.statement,
            f.severity,
            f.code,
            cell(&f.message)
        );
    }
    out.push('\n');
    out
}

/// Statements as a numbered list, then findings as bullets.
fn markdown_review(out: &mut String, review: &Review) {
    if !review.statements.is_empty() {
        out.push('\n');
    }
    for (n, words) in review.statements.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", n + 1, cell(words));
    }
    out.push('\n');
    if review.findings.is_empty() && !review.statements.is_empty() {
        out.push_str("- no findings\n");
    }
    for f in &review.findings {
        let mark = if f.accepted { "✅ accepted" } else { "⚠️" };
        let _ = writeln!(
            out,
            "- {mark} **{}** `{}` (statement {}): {}",
            f.finding.severity,
            f.finding.code,
            f.finding.statement,
            cell(&f.finding.message)
        );
    }
    for code in &review.unused_acceptances {
        let _ = writeln!(
            out,
            "- `allow_findings` accepts `{code}`, which the policy does not have: remove it"
        );
    }
}

/// The Markdown section of policy reviews (devices reached, grants, findings).
pub fn markdown_section(plan: &Plan) -> Option<String> {
    if plan.policy_reviews.is_empty() {
        return None;
    }
    let mut out = String::from("\n<details><summary>🛡️ Policy review</summary>\n");
    for review in &plan.policy_reviews {
        let _ = writeln!(out, "\n**`policy.{}`**\n", review.policy);
        out.push_str("| carried by | gains it | loses it |\n|---:|---|---|\n");
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            plural(review.carried_by, "device", "devices"),
            cell(&names(&review.gains)),
            cell(&names(&review.loses))
        );
        markdown_review(&mut out, &review.review);
    }
    out.push_str("\n</details>\n");
    Some(out)
}
