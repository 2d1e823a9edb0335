//! Shell completions and the man page, generated from the clap definitions in
//! [`crate::cli`] so they cannot drift from the commands.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ternctl", &mut out);
    out
}

/// The man page, ternctl(1), in roff.
pub fn man() -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}
