//! ternctl's command line, as clap definitions only (no behaviour), so that shell
//! completions and man pages can be generated from it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// What the exit status means; shown by `--help` and in the man page.
pub const EXIT_STATUS: &str = "\
Exit status:
  0  the command did what was asked
  1  it failed: the daemon refused or reported an error, the operation timed out,
     an answer was malformed, watch's stream ended, decode met an undecodable
     message, simulate could not run the scenario, diagnose found problems
  2  usage error: unknown command or option, missing or invalid argument;
     diagnose --config: the file does not load
  3  the daemon is unreachable: no socket at the path, or connecting was refused";

/// Control a running ternd.
#[derive(Parser, Debug, PartialEq, Eq)]
#[command(name = "ternctl", version, about, after_help = EXIT_STATUS)]
pub struct Cli {
    /// The daemon's control socket.
    #[arg(long, global = true, value_name = "PATH", default_value = tern_control::DEFAULT_SOCKET)]
    pub socket: PathBuf,

    /// Print the answer as JSON instead of text (watch: one JSON object per line),
    /// and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for
    /// completions and man, whose output is a script or a page.
    #[arg(long, global = true)]
    pub json: bool,

    /// Show times exactly: durations in seconds rather than rounded (`3725s`, not
    /// `62m`), timestamps to the millisecond. JSON is always exact.
    #[arg(long, global = true)]
    pub exact: bool,

    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Subcommand, Debug, PartialEq, Eq)]
pub enum CliCommand {
    /// List the IKE SAs and their CHILD SAs, then how recent SAs ended (rekeys
    /// left out).
    ListSas {
        /// Only this connection's.
        #[arg(value_name = "CONN")]
        connection: Option<String>,
    },
    /// How each connection's recent SAs ended and why, newest first (`--json`: all
    /// of them, oldest first).
    History {
        /// Only this connection.
        #[arg(value_name = "CONN")]
        connection: Option<String>,
        /// Show routine ends (SAs replaced by their rekey) too.
        #[arg(long)]
        all: bool,
    },
    /// List the configured connections.
    ListConns {
        /// Only this one.
        #[arg(value_name = "CONN")]
        connection: Option<String>,
    },
    /// Bring a connection up and wait until its SAs are established or have failed.
    Initiate {
        /// The connection's name, as in the configuration.
        #[arg(value_name = "CONN")]
        connection: String,
        /// Give up waiting after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
    },
    /// Delete a connection's SAs and wait for the peer's answer.
    Terminate {
        /// The connection's name, as in the configuration.
        #[arg(value_name = "CONN")]
        connection: String,
    },
    /// Rekey a connection's CHILD SAs (or, with --ike, its IKE SAs) now, whatever
    /// their lifetimes, and wait for the new ones.
    Rekey {
        /// The connection's name, as in the configuration.
        #[arg(value_name = "CONN")]
        connection: String,
        /// Rekey the IKE SAs instead; their CHILD SAs move to the new ones.
        #[arg(long)]
        ike: bool,
    },
    /// Read the configuration file again and apply it: unchanged connections keep
    /// their SAs; a file with errors changes nothing.
    Reload,
    /// Show the versions of ternctl and ternd.
    Version,
    /// Print events as they happen, one line each: SAs established, rekeyed and
    /// ended (with the cause), failures and end actions. Runs until interrupted.
    Watch {
        /// Only this connection's events.
        #[arg(value_name = "CONN")]
        connection: Option<String>,
    },
    /// Show the daemon's counters: SAs up, datagrams in and out, drops by reason,
    /// rekeys, retransmissions, dead peers, uptime.
    Stats,
    /// List the virtual IPs leased from address pools: pool, address, the peer
    /// identity it is leased to, and whether an IKE SA holds it now (else it is
    /// kept for that peer's return).
    Leases,
    /// Print a shell completion script (e.g. `ternctl completions bash >
    /// /etc/bash_completion.d/ternctl`). Does not need the daemon.
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print ternctl's man page (roff). Does not need the daemon.
    Man,
    /// Print the IKE messages in a capture (pcap or pcapng, UDP 500 and 4500) or a
    /// hex file (one message per block of lines); does not need the daemon.
    Decode {
        /// The capture or hex file; `-` reads stdin.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Convert another IKE daemon's configuration into tern's TOML (stdout), and
    /// say on stderr, line by line, what could not be converted and why. Exit
    /// status 1 if tern would not load the result as it is. Does not need the daemon.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Say why a connection's tunnel dropped or is in trouble, from what the
    /// running ternd saw (its SAs' ends, the peer's rekey rhythm, what tern
    /// adapted): one sentence per problem with the evidence and the setting to
    /// change, or "healthy" with one line of evidence. Exit status 1 if there are
    /// problems. With --config FILE, check a configuration file instead (no
    /// daemon needed) for settings that load but will hurt; exit status 2 if the
    /// file does not load. With --pcap FILE, judge a capture (pcap or pcapng)
    /// between any two IKEv2 peers instead: each IKE SA and ESP SA rebuilt from
    /// what is in clear, then the same verdicts per pair of addresses; exit
    /// status 1 if there are problems or the capture is unreadable or cut short.
    Diagnose {
        /// Only this connection (default: every configured one).
        #[arg(value_name = "CONN", conflicts_with_all = ["config", "pcap"])]
        connection: Option<String>,
        /// The configuration file to check, without asking the daemon.
        #[arg(long, value_name = "FILE", conflicts_with = "pcap")]
        config: Option<PathBuf>,
        /// A capture to judge, without asking the daemon (`-` reads stdin).
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
        /// With --pcap: IKE SA keys in Wireshark's ikev2_decryption_table format
        /// (SPIs, SK_ei, SK_er, encryption, SK_ai, SK_ar, integrity; one SA a
        /// line), to open the encrypted payloads too (notifies, deletes).
        #[arg(long, value_name = "FILE", requires = "pcap")]
        keys: Option<PathBuf>,
    },
    /// Run a scenario (TOML: both sides' configurations, the network, events) with
    /// two tern engines in virtual time and report what the tunnel went through:
    /// rekeys, collisions, hard expiries, outages. A side may be given as
    /// strongSwan's swanctl.conf (docs/SCENARIOS.md). Does not need the daemon.
    Simulate {
        /// The scenario file.
        #[arg(value_name = "SCENARIO")]
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug, PartialEq, Eq)]
pub enum ImportFrom {
    /// strongSwan's swanctl.conf: connections, children, proposals, lifetimes,
    /// DPD, the first authentication round, and the IKE secrets.
    Swanctl {
        /// The swanctl.conf file (certificates are looked for in x509/ and x509ca/
        /// beside it, as swanctl does).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// strongSwan's older ipsec.conf: each loaded conn (after also= and conn
    /// %default) as a connection with one child; PSKs from the ipsec.secrets
    /// beside it, certificates from ipsec.d/certs/.
    IpsecConf {
        /// The ipsec.conf file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn diagnose_takes_a_config_file() {
        let cli = Cli::try_parse_from(["ternctl", "diagnose", "--config", "/tmp/t.toml"]).unwrap();
        assert_eq!(
            cli.command,
            CliCommand::Diagnose {
                connection: None,
                config: Some(PathBuf::from("/tmp/t.toml")),
                pcap: None,
                keys: None,
            }
        );
        let cli = Cli::try_parse_from(["ternctl", "diagnose"]).unwrap();
        assert_eq!(
            cli.command,
            CliCommand::Diagnose {
                connection: None,
                config: None,
                pcap: None,
                keys: None,
            }
        );
        let cli = Cli::try_parse_from(["ternctl", "diagnose", "gw"]).unwrap();
        assert_eq!(
            cli.command,
            CliCommand::Diagnose {
                connection: Some("gw".into()),
                config: None,
                pcap: None,
                keys: None,
            }
        );
        assert!(
            Cli::try_parse_from(["ternctl", "diagnose", "gw", "--config", "/tmp/t.toml"]).is_err(),
            "a connection of a running ternd, or a file: not both"
        );
    }

    #[test]
    fn global_options_go_anywhere() {
        let cli =
            Cli::try_parse_from(["ternctl", "list-sas", "--json", "--socket", "/tmp/s"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, PathBuf::from("/tmp/s"));
        assert_eq!(cli.command, CliCommand::ListSas { connection: None });
    }

    #[test]
    fn list_sas_and_list_conns_take_a_connection_and_times_may_be_exact() {
        let cli = Cli::try_parse_from(["ternctl", "list-sas", "demo", "--exact"]).unwrap();
        assert!(cli.exact && !cli.json);
        assert_eq!(
            cli.command,
            CliCommand::ListSas {
                connection: Some("demo".into())
            }
        );
        let cli = Cli::try_parse_from(["ternctl", "list-conns", "demo"]).unwrap();
        assert!(!cli.exact);
        assert_eq!(
            cli.command,
            CliCommand::ListConns {
                connection: Some("demo".into())
            }
        );
        assert!(Cli::try_parse_from(["ternctl", "list-conns", "a", "b"]).is_err());
    }

    #[test]
    fn initiate_defaults_to_30_seconds() {
        let cli = Cli::try_parse_from(["ternctl", "initiate", "demo"]).unwrap();
        assert_eq!(
            cli.command,
            CliCommand::Initiate {
                connection: "demo".into(),
                timeout: 30
            }
        );
        assert_eq!(cli.socket, PathBuf::from(tern_control::DEFAULT_SOCKET));
        let cli = Cli::try_parse_from(["ternctl", "initiate", "demo", "--timeout", "5"]).unwrap();
        assert_eq!(
            cli.command,
            CliCommand::Initiate {
                connection: "demo".into(),
                timeout: 5
            }
        );
    }

    #[test]
    fn decode_takes_a_file_or_stdin() {
        let cli = Cli::try_parse_from(["ternctl", "decode", "--json", "-"]).unwrap();
        assert!(cli.json);
        assert_eq!(
            cli.command,
            CliCommand::Decode {
                file: PathBuf::from("-")
            }
        );
        assert!(Cli::try_parse_from(["ternctl", "decode"]).is_err());
    }

    #[test]
    fn watch_stats_completions_man() {
        let cli = Cli::try_parse_from(["ternctl", "watch", "demo", "--json"]).unwrap();
        assert!(cli.json);
        assert_eq!(
            cli.command,
            CliCommand::Watch {
                connection: Some("demo".into())
            }
        );
        let cli = Cli::try_parse_from(["ternctl", "watch"]).unwrap();
        assert_eq!(cli.command, CliCommand::Watch { connection: None });
        let cli = Cli::try_parse_from(["ternctl", "stats"]).unwrap();
        assert_eq!(cli.command, CliCommand::Stats);
        let cli = Cli::try_parse_from(["ternctl", "completions", "zsh"]).unwrap();
        assert_eq!(
            cli.command,
            CliCommand::Completions {
                shell: clap_complete::Shell::Zsh
            }
        );
        assert!(Cli::try_parse_from(["ternctl", "completions", "tcsh"]).is_err());
        assert_eq!(
            Cli::try_parse_from(["ternctl", "man"]).unwrap().command,
            CliCommand::Man
        );
    }

    #[test]
    fn usage_errors() {
        assert!(Cli::try_parse_from(["ternctl"]).is_err());
        assert!(Cli::try_parse_from(["ternctl", "initiate"]).is_err());
        assert!(Cli::try_parse_from(["ternctl", "initiate", "demo", "--timeout", "0"]).is_err());
        assert!(
            Cli::try_parse_from(["ternctl", "rekey"]).is_err(),
            "rekey needs a connection"
        );
        assert!(Cli::try_parse_from(["ternctl", "frobnicate", "demo"]).is_err());
    }
}
