//! All output goes through one printer: stdout for results, stderr for
//! messages. Colour as `--color` says (commands/mod.rs sets anstream's
//! global choice): with `auto`, only when the stream is a terminal and
//! `NO_COLOR` is unset (anstream does both checks).

use std::io::Write;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
    annotations: bool,
}

impl Printer {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            annotations: false,
        }
    }

    /// Also print spec errors as GitHub workflow commands on stdout.
    #[must_use]
    pub fn with_annotations(mut self, on: bool) -> Self {
        self.annotations = on;
        self
    }

    /// Whether spec errors are also GitHub workflow commands.
    pub fn annotations(&self) -> bool {
        self.annotations
    }

    /// Whether progress and status messages are suppressed (`--quiet`).
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Whether stdout will show colour (`--color`, or a terminal and no `NO_COLOR`).
    pub fn color_stdout(&self) -> bool {
        anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
    }

    /// Whether stderr will show colour.
    pub fn color_stderr(&self) -> bool {
        anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
    }

    /// The command's result (plans, reports, schemas). Never suppressed.
    pub fn out(&self, text: &str) {
        let mut stdout = anstream::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    /// A progress or status message for people, on stderr.
    pub fn info(&self, text: &str) {
        if !self.quiet {
            let mut stderr = anstream::stderr().lock();
            let _ = writeln!(stderr, "{text}");
        }
    }

    /// An error or warning, on stderr, even when quiet.
    pub fn error(&self, text: &str) {
        let mut stderr = anstream::stderr().lock();
        let _ = writeln!(stderr, "{text}");
    }
}

/// `--verbose`: send `tracing` events to stderr, one line each, without
/// timestamps (so runs compare). `-v`: fleetcert's own (every AWS call,
/// cloud/trace.rs); `-vv`: also the AWS SDK's debug messages (retries,
/// credential and endpoint resolution; never request bodies, which it logs
/// at trace level only, and never the request signer's, which shows the
/// session token). Plain text, never coloured.
pub fn init_logging(verbose: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    if verbose == 0 {
        return;
    }
    let mut targets = Targets::new().with_target("fleetcert", LevelFilter::DEBUG);
    if verbose > 1 {
        targets = targets
            .with_target("aws_smithy_runtime", LevelFilter::DEBUG)
            .with_target("aws_config", LevelFilter::DEBUG);
    }
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_ansi(false);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(targets)
        .try_init();
}
