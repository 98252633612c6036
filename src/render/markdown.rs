//! Plans and drift reports as a pull-request comment (GitHub-flavoured
//! Markdown): a summary table up top, then one collapsible `<details>`
//! section per resource group, policy documents as `diff` code blocks.
//!
//! GitHub refuses comments over 65,536 characters, so the output is cut
//! cleanly between sections (never inside a code block or a `<details>`) and
//! ends with a note saying how much was left out.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use super::verb;
use crate::drift::{DriftKind, DriftReport};
use crate::plan::{Action, Change, Detail, Plan};

/// GitHub's limit on a comment body, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// What we allow ourselves: the limit less room for the truncation note and
/// for anything a workflow adds around the comment (a header, a link).
const BUDGET: usize = GITHUB_COMMENT_LIMIT - 2_048;

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text for a table cell or a line: no pipes or newlines that would break it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A code fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn emoji(action: Action) -> &'static str {
    match action {
        Action::Create => "🟢",
        Action::Update | Action::Adopt => "🟡",
        Action::CreateThenRetire | Action::RetireThenCreate => "🟣",
        Action::Revoke | Action::Deactivate | Action::Delete => "🔴",
    }
}

fn diff_block(out: &mut String, before: &str, after: &str) {
    let mut body = String::new();
    for change in TextDiff::from_lines(before, after).iter_all_changes() {
        let sign = match change.tag() {
            ChangeTag::Delete => '-',
            ChangeTag::Insert => '+',
            ChangeTag::Equal => ' ',
        };
        let _ = writeln!(body, "{sign} {}", change.value().trim_end_matches('\n'));
    }
    let fence = fence(&body);
    let _ = write!(out, "\n{fence}diff\n{body}{fence}\n");
}

fn change_section(out: &mut String, change: &Change) {
    let _ = writeln!(
        out,
        "\n{} **`{}`** {}  \n_because {}_",
        emoji(change.action),
        change.address,
        verb(change.action),
        cell(&change.reason.text)
    );
    let fields: Vec<_> = change
        .details
        .iter()
        .filter_map(|d| match d {
            Detail::Field {
                name,
                before,
                after,
            } => Some((name, before, after)),
            Detail::PolicyDocument { .. } => None,
        })
        .collect();
    if !fields.is_empty() {
        out.push_str("\n| field | before | after |\n|---|---|---|\n");
        for (name, before, after) in fields {
            let show = |v: &Option<String>| match v {
                Some(v) => format!("`{}`", cell(v)),
                None => "—".to_string(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(name),
                show(before),
                show(after)
            );
        }
    }
    for detail in &change.details {
        if let Detail::PolicyDocument { before, after } = detail {
            diff_block(out, before.as_deref().unwrap_or(""), after);
        }
    }
}

/// The resource group a change belongs to: its device, or its own address.
fn group_key(change: &Change) -> String {
    match &change.device {
        Some(device) => format!("device.{device}"),
        None => change.address.to_string(),
    }
}

/// Append `sections` while they fit in `budget` characters (counting what
/// `out` holds already), then a note on what was left out.
fn fill(out: &mut String, sections: Vec<(String, usize)>, unit: &str) {
    let mut used = out.chars().count();
    let total = sections.len();
    let mut shown = 0;
    let mut left_items = 0;
    let mut left_chars = 0;
    let mut full = false;
    for (text, items) in sections {
        let len = text.chars().count();
        full = full || used + len > BUDGET;
        if !full {
            out.push_str(&text);
            used += len;
            shown += 1;
        } else {
            left_chars += len;
            left_items += items;
        }
    }
    if shown < total {
        let _ = write!(
            out,
            "\n> [!NOTE]\n> Truncated to stay under GitHub's {GITHUB_COMMENT_LIMIT}-character comment limit: \
             {} of {total} {unit} ({left_items} changes, {left_chars} characters) are not shown. \
             Run `fleetcert plan` locally, or use `--format json`, to see all of them.\n",
            total - shown
        );
    }
}

/// The plan as a pull-request comment.
pub fn plan(plan: &Plan) -> String {
    let mut out = format!("## fleetcert plan: `{}`\n\n", plan.fleet);
    out.push_str(&super::review::markdown_warning(plan));
    if plan.is_empty() {
        out.push_str("**No changes.** The fleet matches the spec.\n");
    } else {
        let s = plan.summary();
        let _ = writeln!(out, "**{}**\n", crate::render::text::summary_line(plan));
        out.push_str("| action | resources |\n|---|---:|\n");
        for (label, n) in [
            ("🟢 add", s.add),
            ("🟡 change", s.change),
            ("🟣 replace", s.replace),
            ("🔴 revoke", s.revoke),
            ("🔴 delete", s.delete),
            ("🟡 adopt", s.adopt),
        ] {
            if n > 0 {
                let _ = writeln!(out, "| {label} | {n} |");
            }
        }
        if plan.exceeds_guard() {
            out.push_str("\n> [!CAUTION]\n> `fleetcert apply` refuses this plan without `--allow-destructive`:\n");
            for reason in &plan.guard {
                let _ = writeln!(out, "> - {}", cell(reason));
            }
        }
    }
    let mut sections = Vec::new();
    if !plan.warnings.is_empty() {
        let mut text = format!(
            "\n<details><summary>⚠️ {} warning(s)</summary>\n\n",
            plan.warnings.len()
        );
        for warning in &plan.warnings {
            let _ = writeln!(text, "- {}", cell(warning));
        }
        text.push_str("\n</details>\n");
        sections.push((text, 0));
    }
    if let Some(section) = super::review::markdown_section(plan) {
        sections.push((section, 0));
    }
    if let Some(section) = super::rotation::markdown(plan) {
        sections.push((section, 0));
    }
    // Groups in the order their first change runs.
    let mut groups: Vec<(String, Vec<&Change>)> = Vec::new();
    let mut index = std::collections::BTreeMap::new();
    for change in &plan.changes {
        let key = group_key(change);
        let at = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(change);
    }
    for (key, changes) in groups {
        let actions: std::collections::BTreeSet<&str> = changes
            .iter()
            .flat_map(|c| c.action.as_list().iter().copied())
            .collect();
        let mut text = format!(
            "\n<details><summary>{} <code>{}</code>: {} change{} ({})</summary>\n",
            emoji(changes[0].action),
            escape_html(&key),
            changes.len(),
            if changes.len() == 1 { "" } else { "s" },
            actions.into_iter().collect::<Vec<_>>().join(", ")
        );
        for change in &changes {
            change_section(&mut text, change);
        }
        text.push_str("\n</details>\n");
        sections.push((text, changes.len()));
    }
    fill(&mut out, sections, "sections");
    out
}

/// The drift report as an issue or pull-request comment.
pub fn drift(report: &DriftReport) -> String {
    let mut out = format!("## fleetcert drift: `{}`\n\n", report.fleet);
    let _ = writeln!(out, "**{}**\n", crate::drift::text::summary_line(report));
    if !report.in_sync() {
        out.push_str("| kind | resources |\n|---|---:|\n");
        for kind in [
            DriftKind::ChangedOutside,
            DriftKind::AutoRegistered,
            DriftKind::NotApplied,
        ] {
            let _ = writeln!(out, "| {} | {} |", kind.title(), report.count(kind));
        }
    }
    let mut sections = Vec::new();
    if !report.warnings.is_empty() {
        let mut text = format!(
            "\n<details><summary>⚠️ {} warning(s)</summary>\n\n",
            report.warnings.len()
        );
        for warning in &report.warnings {
            let _ = writeln!(text, "- {}", cell(warning));
        }
        text.push_str("\n</details>\n");
        sections.push((text, 0));
    }
    for item in &report.items {
        let mut text = format!(
            "\n<details><summary><code>{}</code>: {} (<code>{}</code>)</summary>\n\n{}\n",
            escape_html(&item.address.to_string()),
            item.kind.title(),
            item.code,
            cell(&item.text)
        );
        if !item.apply_would.is_empty() {
            let _ = writeln!(
                text,
                "\n`fleetcert apply` would: {}",
                item.apply_would.join(", ")
            );
        }
        for detail in &item.details {
            if let Detail::PolicyDocument { before, after } = detail {
                diff_block(&mut text, before.as_deref().unwrap_or(""), after);
            }
        }
        text.push_str("\n</details>\n");
        sections.push((text, 1));
    }
    fill(&mut out, sections, "sections");
    out
}
