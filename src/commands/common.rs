//! Steps several commands share: load the spec, reach AWS, read live state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cli::{AwsArgs, Format};
use crate::cloud::{CaLookup, Cloud, CloudSettings};
use crate::live::LiveState;
use crate::printer::Printer;
use crate::spec::{CaSpec, DeviceKey, Spec, SpecErrors};

/// A failure already shown to the user; the command exits 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub &'static str);

/// Load and validate the spec; on errors, print them all and fail.
pub fn load_spec(path: &Path, printer: &Printer) -> anyhow::Result<Spec> {
    match crate::spec::load(path) {
        Ok(spec) => Ok(spec),
        Err(errors) => {
            report_spec_errors(&errors, printer);
            Err(Reported("invalid spec").into())
        }
    }
}

/// The spec for `plan` and `apply`: loaded, and refused in strict mode
/// (`strict: true`) while a policy has a finding the spec does not accept.
pub fn load_reviewed_spec(path: &Path, printer: &Printer) -> anyhow::Result<Spec> {
    let spec = load_spec(path, printer)?;
    if spec.strict {
        let reviews = super::policy_review::reviews(&spec);
        if let Some(refusal) = super::policy_review::strict_refusal(&reviews) {
            printer.error(&refusal);
            return Err(Reported("strict spec with policy findings").into());
        }
    }
    Ok(spec)
}

/// Devices under job delivery that cannot take their jobs: refused, or
/// with `--allow-undeliverable` a warning.
pub fn check_delivery(spec: &Spec, allow: bool, printer: &Printer) -> anyhow::Result<()> {
    let devices = crate::spec::delivery::undeliverable(spec);
    if devices.is_empty() {
        return Ok(());
    }
    let text = crate::spec::delivery::describe(&devices);
    if allow {
        printer.error(&format!("warning: {text}"));
        return Ok(());
    }
    printer.error(&format!("error: {text}"));
    Err(Reported("devices cannot take their rotation jobs").into())
}

/// Where annotated paths are relative to: (the working directory, the
/// repository's root: `GITHUB_WORKSPACE`, else the working directory).
fn annotation_roots() -> (PathBuf, PathBuf) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let workspace = std::env::var_os("GITHUB_WORKSPACE")
        .filter(|w| !w.is_empty())
        .map_or_else(|| cwd.clone(), PathBuf::from);
    (cwd, workspace)
}

/// Every spec error for people on stderr and, when the printer annotates,
/// as GitHub workflow commands on stdout, with paths relative to the
/// repository (`GITHUB_WORKSPACE`, else the working directory).
pub fn report_spec_errors(errors: &SpecErrors, printer: &Printer) {
    printer.error(&errors.render(printer.color_stderr()));
    if printer.annotations() {
        let (cwd, workspace) = annotation_roots();
        printer.out(&crate::spec::annotations::github(errors, &cwd, &workspace));
    }
}

/// The unaccepted findings of `reviews` (policy name and review) as GitHub
/// workflow commands on stdout, when the printer annotates.
pub fn annotate_findings<'a>(
    spec: &Spec,
    reviews: impl IntoIterator<Item = (&'a str, &'a crate::analysis::Review)>,
    error: bool,
    printer: &Printer,
) {
    if !printer.annotations() {
        return;
    }
    let (cwd, workspace) = annotation_roots();
    let mut out = String::new();
    for (name, review) in reviews {
        let file = spec
            .policies
            .get(name)
            .and_then(|p| p.source.clone())
            .unwrap_or_else(|| spec.path.clone());
        for finding in review.unaccepted() {
            out.push_str(&crate::spec::annotations::policy_finding(
                error, &file, name, finding, &cwd, &workspace,
            ));
        }
    }
    printer.out(&out);
}

/// The plan as `plan` and `show` print it, in `format`.
pub fn shown_plan(plan: &crate::plan::Plan, format: Format, printer: &Printer) -> String {
    match format {
        Format::Text => crate::render::text::plan(plan, printer.color_stdout()),
        Format::Json => crate::render::json::plan(plan),
        Format::Markdown => crate::render::markdown::plan(plan),
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub async fn connect(aws: &AwsArgs, spec: &Spec) -> anyhow::Result<Cloud> {
    check_endpoints(aws, std::env::vars())?;
    let settings = CloudSettings {
        region: aws.region.clone().or_else(|| spec.region.clone()),
        endpoint_url: aws.endpoint_url.clone(),
    };
    // Rate limits: the defaults (cloud/pacing.rs), then the spec's, then the flags'.
    let mut limits = spec.rate_limits.clone();
    limits.extend(aws.rate_limits.iter().copied());
    let cloud = Cloud::connect(&settings).await?;
    // The SDK may also have found an endpoint in the AWS profile.
    if let Some(url) = cloud.endpoint_url()
        && !aws.allow_insecure_endpoint
        && is_insecure(url)
    {
        return Err(InsecureEndpoint {
            url: url.to_owned(),
            from: "the AWS profile's endpoint_url".to_owned(),
        }
        .into());
    }
    Ok(cloud.with_rate_limits(&limits))
}

pub async fn read_live(cloud: &Cloud, spec: &Spec) -> anyhow::Result<LiveState> {
    let lookup = match &spec.ca {
        CaSpec::Adopt { arn, .. } => CaLookup::Arn(arn.clone()),
        CaSpec::Create { .. } => CaLookup::Tagged,
    };
    let policies: BTreeSet<String> = spec.policies.keys().cloned().collect();
    let things: BTreeSet<String> = spec.devices.keys().cloned().collect();
    let thing_types: BTreeSet<String> = spec.thing_types.keys().cloned().collect();
    let mut live = cloud
        .read_live(&spec.fleet, &lookup, &policies, &things, &thing_types)
        .await?;
    live.bundles = cloud.read_bundles(&spec.fleet, &spec.output).await?;
    if spec.lifecycle.rotation.delivery == crate::spec::Delivery::Job {
        (live.jobs, live.active_jobs) = cloud.read_rotation_jobs(&spec.fleet).await?;
    }
    Ok(live)
}

/// The generated keys an interrupted apply left pending (see
/// `PlanOptions::pending_keys`): in the device directories, after checking
/// that none is a symlink or another user's, or, with a secret store, as the
/// bundles' tags in `live` say.
pub fn pending_keys(
    spec: &Spec,
    live: &LiveState,
) -> Result<BTreeMap<String, String>, crate::pki::keys::KeyError> {
    let Some(dir) = spec.output.dir() else {
        return Ok(spec
            .devices
            .values()
            .filter(|d| matches!(d.key, DeviceKey::Generated))
            .filter_map(|d| {
                let sha = live.bundles.get(&d.name)?.pending_key_sha256.clone()?;
                Some((d.name.clone(), sha))
            })
            .collect());
    };
    let devices = spec
        .devices
        .values()
        .map(|d| (d.name.as_str(), matches!(d.key, DeviceKey::Generated)));
    crate::apply::files::pending_keys(dir, devices)
}

/// Refuse a planted key or device directory before anything reaches AWS.
pub fn check_output(spec: &Spec) -> Result<(), crate::pki::keys::KeyError> {
    pending_keys(spec, &LiveState::default()).map(|_| ())
}

/// An AWS endpoint refused because it is plain http to a host that is not
/// loopback.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing the AWS endpoint `{url}` (from {from}): it is plain http to a host that is not loopback, \
     so requests, credentials' signatures and responses would cross the network unencrypted; \
     use https, or pass --allow-insecure-endpoint if this network is trusted"
)]
pub struct InsecureEndpoint {
    pub url: String,
    /// The flag or environment variable that named it.
    pub from: String,
}

/// Refuses every plain-http endpoint to a host that is not loopback, unless
/// `--allow-insecure-endpoint`: the flag's (or `AWS_ENDPOINT_URL`'s), and the
/// service-specific `AWS_ENDPOINT_URL_<SERVICE>` variables the SDK also
/// honours (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
pub fn check_endpoints(
    aws: &AwsArgs,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), InsecureEndpoint> {
    if aws.allow_insecure_endpoint {
        return Ok(());
    }
    let named = aws
        .endpoint_url
        .iter()
        .map(|url| ("--endpoint-url or AWS_ENDPOINT_URL".to_owned(), url.clone()));
    let services = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("AWS_ENDPOINT_URL_"));
    for (from, url) in named.chain(services) {
        if is_insecure(&url) {
            return Err(InsecureEndpoint { url, from });
        }
    }
    Ok(())
}

/// Whether `url` is `http://` to a host other than 127.0.0.0/8, ::1 or localhost.
fn is_insecure(url: &str) -> bool {
    let url = url.trim();
    let Some(rest) = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &url[7..])
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// `--at TIME` (RFC 3339) or now, as unix seconds.
pub fn planning_time(at: Option<&str>) -> anyhow::Result<i64> {
    match at {
        None => Ok(jiff::Timestamp::now().as_second()),
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .map_err(|e| {
                anyhow::anyhow!(
                    "--at {text:?} is not an RFC 3339 time (e.g. 2027-01-03T00:00:00Z): {e}"
                )
            }),
    }
}

/// Print plan errors (each names the resource) and fail.
pub fn plan_errors(errors: Vec<crate::plan::PlanError>, printer: &Printer) -> anyhow::Error {
    for error in &errors {
        printer.error(&format!("error: {error}"));
    }
    Reported("the plan has errors").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>, allow: bool) -> AwsArgs {
        AwsArgs {
            endpoint_url: url.map(str::to_owned),
            allow_insecure_endpoint: allow,
            region: None,
            rate_limits: Vec::new(),
        }
    }

    #[test]
    fn plain_http_is_refused_unless_loopback_or_allowed() {
        for url in [
            "https://iot.example.com",
            "http://127.0.0.1:5000",
            "http://127.8.9.10/",
            "http://[::1]:5000",
            "HTTP://LocalHost:4566",
        ] {
            assert_eq!(
                check_endpoints(&args(Some(url), false), []),
                Ok(()),
                "{url}"
            );
        }
        for url in [
            "http://10.0.0.5:5000",
            "http://evil.example.com",
            "http://127.0.0.1.evil.example.com",
            "http://localhost@evil.example.com/",
        ] {
            let error = check_endpoints(&args(Some(url), false), []).unwrap_err();
            assert_eq!(error.url, url);
            assert_eq!(check_endpoints(&args(Some(url), true), []), Ok(()));
        }
        let env = [(
            "AWS_ENDPOINT_URL_IOT".to_owned(),
            "http://10.1.1.1".to_owned(),
        )];
        let error = check_endpoints(&args(None, false), env).unwrap_err();
        assert_eq!(error.from, "AWS_ENDPOINT_URL_IOT");
    }
}
