//! Shell completions and the man page, generated from the clap definitions in
//! [`crate::cli`] so they cannot drift from the commands.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, EXIT_STATUS};

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ternctl", &mut out);
    out
}

/// The man page, ternctl(1), in roff: clap_mangen's sections for the program, then
/// every command with its arguments on the same page (clap_mangen alone would point
/// at one page per command), the exit status and the files.
pub fn man() -> Vec<u8> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    let w: &mut dyn Write = &mut out;
    man.render_title(w)
        .and_then(|_| man.render_name_section(w))
        .and_then(|_| man.render_synopsis_section(w))
        .and_then(|_| man.render_description_section(w))
        .and_then(|_| man.render_options_section(w))
        .expect("writing to a Vec cannot fail");
    out.extend_from_slice(commands_section(&cmd).as_bytes());
    out.extend_from_slice(exit_status_section().as_bytes());
    out.extend_from_slice(
        format!(
            ".SH FILES\n.TP\n{}\n{}\n",
            roff(tern_control::DEFAULT_SOCKET),
            roff(
                "ternd's control socket (see --socket); ternctl needs read and write access to it."
            )
        )
        .as_bytes(),
    );
    man.render_version_section(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

fn commands_section(cmd: &clap::Command) -> String {
    let mut s = String::from(".SH COMMANDS\n");
    for sub in cmd.get_subcommands() {
        let mut synopsis = format!("\\fBternctl {}\\fR", roff(sub.get_name()));
        for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
            synopsis.push(' ');
            synopsis.push_str(&arg_synopsis(arg));
        }
        s.push_str(&format!(".TP\n{synopsis}\n"));
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        s.push_str(&roff(&about));
        s.push('\n');
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_help().is_some())
        {
            s.push_str(&format!(
                ".RS\n.TP\n{}\n{}\n.RE\n",
                arg_synopsis(arg),
                roff(&arg.get_help().unwrap().to_string())
            ));
        }
    }
    s
}

/// `[\fICONN\fR]`, `\fB--timeout\fR \fISECS\fR`, ...
fn arg_synopsis(arg: &clap::Arg) -> String {
    let value = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
    let text = match arg.get_long() {
        Some(long) if arg.get_action().takes_values() => {
            format!("\\fB\\-\\-{}\\fR \\fI{}\\fR", roff(long), roff(&value))
        }
        Some(long) => format!("\\fB\\-\\-{}\\fR", roff(long)),
        None => format!("\\fI{}\\fR", roff(&value)),
    };
    if arg.is_required_set() {
        text
    } else {
        format!("[{text}]")
    }
}

fn exit_status_section() -> String {
    let mut s = String::from(".SH EXIT STATUS\n");
    for line in EXIT_STATUS.lines().skip(1) {
        let line = line.trim_start();
        match line.split_once("  ") {
            Some((code, meaning)) if code.chars().all(|c| c.is_ascii_digit()) => {
                s.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff(meaning)));
            }
            _ => {
                s.push_str(&roff(line));
                s.push('\n');
            }
        }
    }
    s
}

/// Text made safe for roff: backslashes and hyphens escaped, no line starting with
/// a control character.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    escaped
        .lines()
        .map(|line| {
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_documents_every_command_and_the_exit_status() {
        let page = String::from_utf8(man()).unwrap();
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name().replace('-', "\\-");
            assert!(
                page.contains(&format!("\\fBternctl {name}\\fR")),
                "{name} missing from the man page"
            );
        }
        assert!(
            page.contains(
                "\\fBternctl initiate\\fR \\fICONN\\fR [\\fB\\-\\-timeout\\fR \\fISECS\\fR]"
            ),
            "{page}"
        );
        assert!(page.contains(".SH EXIT STATUS\n.TP\n\\fB0\\fR\n"), "{page}");
        assert!(
            page.contains(".TP\n\\fB3\\fR\nthe daemon is unreachable"),
            "{page}"
        );
        assert!(
            !page.contains("ternctl\\-watch(1)"),
            "no pointers to pages that do not exist"
        );
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff(".x -y \\z"), "\\&.x \\-y \\ez");
    }

    #[test]
    fn completions_know_the_commands() {
        let bash = String::from_utf8(completions(Shell::Bash)).unwrap();
        for word in [
            "list-sas",
            "watch",
            "stats",
            "completions",
            "--json",
            "--socket",
        ] {
            assert!(bash.contains(word), "{word}");
        }
    }
}
