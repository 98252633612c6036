//! `fleetcert validate`: check the spec and every file it names; touches no
//! AWS API. Exit 0 with a one-line summary and what each policy grants, or 1
//! with every error (and, with `--strict` or `strict: true`, every policy
//! finding the spec does not accept).

use crate::cli::ValidateArgs;
use crate::exit::ExitStatus;
use crate::printer::Printer;
use crate::spec::{self, CaSpec, DeviceKey, Spec};

use super::policy_review;

pub fn validate(args: &ValidateArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    match spec::load(&args.spec.file) {
        Ok(spec) => {
            let reviews = policy_review::reviews(&spec);
            printer.out(&format!(
                "{}\n{}",
                summary(&spec),
                policy_review::text(&spec, &reviews, printer.color_stdout())
            ));
            let strict = args.strict || spec.strict;
            super::common::annotate_findings(
                &spec,
                reviews.iter().map(|(name, review)| (*name, review)),
                strict,
                printer,
            );
            if strict && let Some(refusal) = policy_review::strict_refusal(&reviews) {
                printer.error(&refusal);
                return Ok(ExitStatus::Failure);
            }
            if super::common::check_delivery(&spec, args.allow_undeliverable, printer).is_err() {
                return Ok(ExitStatus::Failure);
            }
            Ok(ExitStatus::Success)
        }
        Err(errors) => {
            super::common::report_spec_errors(&errors, printer);
            Ok(ExitStatus::Failure)
        }
    }
}
/// `fleet.yaml: fleet factory-a is valid: 5 devices (2 CSRs, 3 generated keys), 2 policies, CA to create`
pub fn summary(spec: &Spec) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let count = |f: fn(&DeviceKey) -> bool| spec.devices.values().filter(|d| f(&d.key)).count();
    let csrs = count(|k| matches!(k, DeviceKey::Csr(_)));
    let generated = count(|k| matches!(k, DeviceKey::Generated));
    let external = count(|k| matches!(k, DeviceKey::External { .. }));
    let mut kinds = Vec::new();
    if csrs > 0 {
        kinds.push(plural(csrs, "CSR", "CSRs"));
    }
    if generated > 0 {
        kinds.push(plural(generated, "generated key", "generated keys"));
    }
    if external > 0 {
        kinds.push(plural(
            external,
            "existing certificate",
            "existing certificates",
        ));
    }
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    let ca = match &spec.ca {
        CaSpec::Adopt { .. } => "CA to adopt",
        CaSpec::Create { .. } => "CA to create",
    };
    format!(
        "{}: fleet {} is valid: {}{kinds}, {}, {ca}",
        spec::display_path(&spec.path),
        spec.fleet,
        plural(spec.devices.len(), "device", "devices"),
        plural(spec.policies.len(), "policy", "policies"),
    )
}
