//! The command line (DESIGN.md section 2). Parsing only; no behaviour here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "fleetcert",
    version,
    about = "Declarative AWS IoT device certificates from an ACM Private CA (ECDSA P-256)",
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec and every file it names; touches no AWS API.
    Validate(SpecArgs),
    /// Print the JSON Schema of fleet.yaml.
    Schema,
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make AWS match the spec, or carry out a saved plan.
    Apply(ApplyArgs),
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
    /// The AWS region; overrides the spec's `region` and the AWS chain's.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// How to show the plan.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Exit 2 when there are changes, 0 when there are none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan as of this moment (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
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
}
