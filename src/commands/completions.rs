//! `fleetcert completions SHELL` and `fleetcert man`: the command line's own
//! description (cli.rs) as a shell completion script (clap_complete) and as
//! a manual page in roff (clap_mangen), on stdout.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::exit::ExitStatus;
use crate::printer::Printer;

const BIN: &str = "fleetcert";

pub fn completions(shell: clap_complete::Shell, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    printer.out(&String::from_utf8(script)?);
    Ok(ExitStatus::Success)
}

/// fleetcert(1), then a page per command (fleetcert-plan(1), ...), in one
/// roff stream: `fleetcert man | man -l -`.
pub fn man(printer: &Printer) -> anyhow::Result<ExitStatus> {
    let mut command = Cli::command();
    // Propagates the global flags and version, and names each command's page.
    command.build();
    let mut roff = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut roff)?;
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        clap_mangen::Man::new(sub.clone()).render(&mut roff)?;
    }
    printer.out(&String::from_utf8(roff)?);
    Ok(ExitStatus::Success)
}
