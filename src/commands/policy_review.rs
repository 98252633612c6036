//! The policy analysis of a whole spec, for `validate` and for the
//! `strict` refusal of `validate --strict`, `plan` and `apply`.

use std::fmt::Write;

use crate::analysis::{self, Review};
use crate::render::review::{finding_line, review_lines};
use crate::spec::Spec;

/// Every policy of the spec, reviewed, by name.
pub fn reviews(spec: &Spec) -> Vec<(&str, Review)> {
    spec.policies
        .iter()
        .map(|(name, p)| {
            (
                name.as_str(),
                analysis::review(&p.document, &p.allow_findings),
            )
        })
        .collect()
}

/// The policies in plain words with their findings, as `validate` shows them.
pub fn text(spec: &Spec, reviews: &[(&str, Review)], color: bool) -> String {
    let mut out = String::new();
    for (name, review) in reviews {
        let carried = spec
            .devices
            .values()
            .filter(|d| d.policies.contains(*name))
            .count();
        let _ = writeln!(
            out,
            "\npolicy {name} (carried by {carried} device{}):",
            if carried == 1 { "" } else { "s" }
        );
        review_lines(&mut out, review, color, "  ");
    }
    out
}

/// Why strict mode refuses the spec, or `None` when every finding is accepted.
pub fn strict_refusal(reviews: &[(&str, Review)]) -> Option<String> {
    let open: Vec<(&str, &analysis::Finding)> = reviews
        .iter()
        .flat_map(|(name, r)| r.unaccepted().map(move |f| (*name, f)))
        .collect();
    if open.is_empty() {
        return None;
    }
    let mut text = format!(
        "error: strict mode refuses {} policy finding{} not accepted by `allow_findings`:\n",
        open.len(),
        if open.len() == 1 { "" } else { "s" }
    );
    for (name, finding) in open {
        let _ = writeln!(text, "  policy {name}: {}", finding_line(finding));
    }
    text.push_str(
        "  = hint: bind the policy to ${iot:Connection.Thing.ThingName}, or, once a finding is reviewed, \
         accept it with `allow_findings: [CODE]` on the policy",
    );
    Some(text)
}
