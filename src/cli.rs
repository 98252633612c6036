//! The command line (DESIGN.md section 2). Parsing only; no behaviour here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::aws_op::{AwsOp, UnknownAwsOp};

#[derive(Debug, Parser)]
#[command(
    name = "fleetcert",
    about = "Declarative AWS IoT device certificates from an ACM Private CA (ECDSA P-256)",
    version = VERSION,
    long_version = LONG_VERSION,
    long_about = "fleetcert reads fleet.yaml (the CA, its IoT registration, devices, policies), \
                  compares it with what exists in ACM PCA and AWS IoT Core, shows the difference \
                  as a plan, and applies it.\n\n\
                  AWS credentials, region and endpoint come from the standard AWS chain \
                  (environment, profiles, SSO, instance roles); AWS_ENDPOINT_URL or \
                  --endpoint-url points fleetcert at a local emulator.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print only results and errors, no progress.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Log every AWS call to stderr (operation, resource, HTTP status, AWS
    /// error code, attempt, duration; never a secret or a certificate body).
    /// `-vv` adds the AWS SDK's own debug messages.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to colour output (stdout and stderr): `auto` on a terminal unless
    /// NO_COLOR is set, `always` (even when NO_COLOR is set), or `never`.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

/// `-V`: the version and the commit it was built from (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("FLEETCERT_GIT_COMMIT"),
    ")"
);

/// `--version`: also the AWS SDK crates it was built with, from Cargo.lock.
const LONG_VERSION: &str = include_str!(concat!(env!("OUT_DIR"), "/long-version.txt"));

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec and every file it names; touches no AWS API.
    Validate(ValidateArgs),
    /// Print the JSON Schema of fleet.yaml.
    Schema,
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make AWS match the spec, or carry out a saved plan.
    Apply(ApplyArgs),
    /// Show a plan saved by `plan --out` as `plan` showed it.
    ///
    /// Reads only the plan file: no spec, no AWS credentials. A damaged,
    /// edited or other-version file is refused as `apply PLAN` refuses it;
    /// whether the plan still holds against the spec and AWS is for
    /// `apply PLAN` to check.
    Show(ShowArgs),
    /// Report what differs between the spec and AWS; read-only. Exit 0 in
    /// sync, 2 drift, 1 error.
    Drift(DriftArgs),
    /// Print the least-privilege IAM policy a pipeline role needs for this spec.
    IamPolicy(IamPolicyArgs),
    /// Release the fleet's apply lock held by a run that died.
    ForceUnlock(ForceUnlockArgs),
    /// Write one device's bundle from the secret store as files (the key 0600
    /// in a 0700 directory), for a provisioning station.
    Export(ExportArgs),
    /// Write a fleet.yaml (and policy files) for an existing IoT set-up whose
    /// CA is an ACM PCA CA; its first plan only adopts.
    Import(ImportArgs),
    /// Write a starter fleet that validates; never overwrites a file.
    ///
    /// fleet.yaml (a CA to create, one device whose key fleetcert makes, a
    /// CSR device as a commented example), policies/device.json (connect as
    /// the thing's name, MQTT only under topics named after it), a
    /// .gitignore for the output directory, and schema/fleet.schema.json for
    /// editors.
    Init(InitArgs),
    /// Print a shell completion script.
    ///
    /// e.g. `fleetcert completions bash > /etc/bash_completion.d/fleetcert`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) of fleetcert and all its commands.
    ///
    /// One page per command in one stream: `fleetcert man | man -l -`.
    Man,
}

#[derive(Debug, Args, Clone)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// `github`: also print each error as a GitHub Actions workflow command
    /// (an annotation on the file and line), as when GITHUB_ACTIONS=true.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
    /// Exit 1 when a policy has a finding (see the policy review) that its
    /// `allow_findings` does not accept, as the spec's `strict: true` does.
    #[arg(long)]
    pub strict: bool,
    /// Under `lifecycle.rotation.delivery: job`, warn about devices whose
    /// policies do not let them take their jobs instead of refusing the spec.
    #[arg(long)]
    pub allow_undeliverable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ValidateFormat {
    #[default]
    Text,
    Github,
}

#[derive(Debug, Args, Clone)]
pub struct ShowArgs {
    /// A plan file written by `fleetcert plan --out`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// How to show the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args, Clone)]
pub struct InitArgs {
    /// Where to write fleet.yaml, policies/device.json, .gitignore and
    /// schema/fleet.schema.json (created if missing).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,
    /// The fleet's name.
    #[arg(long, default_value = "my-fleet", value_name = "NAME")]
    pub fleet: String,
    /// The AWS region the fleet lives in [default: none written; the AWS chain's].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The name of the fleet to create (marks everything fleetcert will manage).
    #[arg(long, value_name = "NAME")]
    pub fleet: String,
    /// The ACM PCA CA whose certificates IoT knows.
    #[arg(long, value_name = "ARN")]
    pub ca_arn: String,
    /// Where to write fleet.yaml and policies/.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Overwrite an existing fleet.yaml there.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args, Clone)]
pub struct SpecArgs {
    /// The fleet spec.
    #[arg(
        short = 'f',
        long = "file",
        default_value = "fleet.yaml",
        value_name = "FLEET_YAML"
    )]
    pub file: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct AwsArgs {
    /// Send AWS requests to this endpoint (a local emulator) instead of AWS's own.
    #[arg(long, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Accept an endpoint over plain http to a host that is not loopback
    /// (127.0.0.0/8, ::1, localhost); refused without it, since requests and
    /// their signatures would cross the network unencrypted.
    #[arg(long)]
    pub allow_insecure_endpoint: bool,
    /// The AWS region; overrides the spec's `region` and the AWS chain's.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Requests per second for one AWS operation, e.g.
    /// `iot:RegisterCertificate=20` (an account with raised quotas);
    /// repeatable; overrides the spec's `rate_limits`, and unlike them may
    /// exceed AWS's default quota. The default is half of AWS's default quota.
    #[arg(long = "rate-limit", value_name = "OPERATION=RATE", value_parser = parse_rate_limit)]
    pub rate_limits: Vec<(AwsOp, f64)>,
}

/// `iot:RegisterCertificate=20` -> (operation, rate). No cap: the flag is
/// the pipeline owner's, who knows the account's quotas.
fn parse_rate_limit(text: &str) -> Result<(AwsOp, f64), String> {
    let (operation, rate) = text.split_once('=').ok_or_else(|| {
        format!("`{text}` is not OPERATION=RATE (e.g. iot:RegisterCertificate=20)")
    })?;
    let operation: AwsOp = operation.parse().map_err(|e: UnknownAwsOp| e.to_string())?;
    match rate.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok((operation, rate)),
        _ => Err(format!(
            "`{rate}` is not a number of requests per second above 0"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

/// How live state is read (see `cloud::Refresh`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Cheap: lists plus the facts fleetcert recorded on each thing; trusts
    /// attachments to be what fleetcert left (pull-request plans).
    #[default]
    Recorded,
    /// Every certificate read one by one: sees attachments changed by hand
    /// (what `drift` reports), at one call per certificate and attachment.
    Full,
}

impl ReadMode {
    pub fn refresh(self) -> crate::cloud::Refresh {
        match self {
            Self::Recorded => crate::cloud::Refresh::Recorded,
            Self::Full => crate::cloud::Refresh::Full,
        }
    }
}

/// How `plan` shows the plan: a [`Format`], or `github`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PlanFormat {
    #[default]
    Text,
    Json,
    Markdown,
    /// The text plan; spec errors also as GitHub Actions workflow commands
    /// (annotations), as when GITHUB_ACTIONS=true.
    Github,
}

#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How to show the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 2 when there are changes, 0 when there are none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan as of this moment (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Also save the plan to this file, for `fleetcert apply PLAN`.
    #[arg(long, value_name = "PLAN")]
    pub out: Option<PathBuf>,
    /// How to read live state.
    #[arg(long, value_enum, default_value_t = ReadMode::Recorded)]
    pub refresh: ReadMode,
    /// Under `lifecycle.rotation.delivery: job`, warn about devices whose
    /// policies do not let them take their jobs instead of refusing the spec.
    #[arg(long)]
    pub allow_undeliverable: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// A plan saved by `fleetcert plan --out`: apply exactly that, or refuse
    /// when AWS or the spec changed since.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// The fleet spec [default: fleet.yaml, or the spec a saved plan names].
    #[arg(short = 'f', long = "file", value_name = "FLEET_YAML")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Apply without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Apply even when the plan revokes, deactivates or deletes more than
    /// `lifecycle.max_destructive_changes`.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Reissue this device's certificate now (e.g. a leaked key); repeatable.
    #[arg(long, value_name = "DEVICE")]
    pub replace: Vec<String>,
    /// How many devices to work on at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// How to read live state (a saved plan is re-read the way it was made).
    #[arg(long, value_enum, default_value_t = ReadMode::Recorded)]
    pub refresh: ReadMode,
    /// How long to wait for the fleet's lock held by another apply (e.g. `0s`, `5m`).
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: crate::spec::SpecDuration,
    /// Under `lifecycle.rotation.delivery: job`, warn about devices whose
    /// policies do not let them take their jobs instead of refusing the spec.
    #[arg(long)]
    pub allow_undeliverable: bool,
}

#[derive(Debug, Args, Clone)]
pub struct DriftArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How to show the report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Check as of this moment (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// What the pipeline role will run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum IamMode {
    /// `plan` and `drift` only: read-only.
    #[default]
    Plan,
    /// `apply` too (includes everything `plan` needs).
    Apply,
}

#[derive(Debug, Args, Clone)]
pub struct IamPolicyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Read-only (plan, drift) or read-write (apply).
    #[arg(long, value_enum, default_value_t = IamMode::Plan)]
    pub mode: IamMode,
    /// The AWS account id the ARNs name (`*` when not given).
    #[arg(long, value_name = "ACCOUNT_ID")]
    pub account: Option<String>,
    /// The region the ARNs name [default: the spec's region, else `*`].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The device whose bundle to write.
    #[arg(long, value_name = "NAME")]
    pub device: String,
    /// The directory to write it to (made 0700; it must not be a symlink).
    #[arg(long, value_name = "DIR")]
    pub to: std::path::PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct ForceUnlockArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Release the lock only if this is its holder (as the lock error printed it).
    #[arg(long, value_name = "HOLDER")]
    pub holder: Option<String>,
}
