# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_ternctl_global_optspecs
    string join \n socket= json exact h/help V/version
end

function __fish_ternctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_ternctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_ternctl_using_subcommand
    set -l cmd (__fish_ternctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c ternctl -n "__fish_ternctl_needs_command" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_needs_command" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_needs_command" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_needs_command" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_needs_command" -s V -l version -d 'Print version'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "list-sas" -d 'List the IKE SAs and their CHILD SAs, then how recent SAs ended (rekeys left out)'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "history" -d 'How each connection\'s recent SAs ended and why, newest first (`--json`: all of them, oldest first)'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "list-conns" -d 'List the configured connections'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "initiate" -d 'Bring a connection up and wait until its SAs are established or have failed'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "terminate" -d 'Delete a connection\'s SAs and wait for the peer\'s answer'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "rekey" -d 'Rekey a connection\'s CHILD SAs (or, with --ike, its IKE SAs) now, whatever their lifetimes, and wait for the new ones'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "reload" -d 'Read the configuration file again and apply it: unchanged connections keep their SAs; a file with errors changes nothing'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "version" -d 'Show the versions of ternctl and ternd'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "watch" -d 'Print events as they happen, one line each: SAs established, rekeyed and ended (with the cause), failures and end actions. Runs until interrupted'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "stats" -d 'Show the daemon\'s counters: SAs up, datagrams in and out, drops by reason, rekeys, retransmissions, dead peers, uptime'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "leases" -d 'List the virtual IPs leased from address pools: pool, address, the peer identity it is leased to, and whether an IKE SA holds it now (else it is kept for that peer\'s return)'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "completions" -d 'Print a shell completion script (e.g. `ternctl completions bash > /etc/bash_completion.d/ternctl`). Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "man" -d 'Print ternctl\'s man page (roff). Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "decode" -d 'Print the IKE messages in a capture (pcap or pcapng, UDP 500 and 4500) or a hex file (one message per block of lines); does not need the daemon'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "import" -d 'Convert another IKE daemon\'s configuration into tern\'s TOML (stdout), and say on stderr, line by line, what could not be converted and why. Exit status 1 if tern would not load the result as it is. Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "diagnose" -d 'Say why a connection\'s tunnel dropped or is in trouble, from what the running ternd saw (its SAs\' ends, the peer\'s rekey rhythm, what tern adapted): one sentence per problem with the evidence and the setting to change, or "healthy" with one line of evidence. Exit status 1 if there are problems. With --config FILE, check a configuration file instead (no daemon needed) for settings that load but will hurt; exit status 2 if the file does not load. With --pcap FILE, judge a capture (pcap or pcapng) between any two IKEv2 peers instead: each IKE SA and ESP SA rebuilt from what is in clear, then the same verdicts per pair of addresses; exit status 1 if there are problems or the capture is unreadable or cut short'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "simulate" -d 'Run a scenario (TOML: both sides\' configurations, the network, events) with two tern engines in virtual time and report what the tunnel went through: rekeys, collisions, hard expiries, outages. A side may be given as strongSwan\'s swanctl.conf (docs/SCENARIOS.md). Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ternctl -n "__fish_ternctl_using_subcommand list-sas" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand list-sas" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand list-sas" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand list-sas" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand history" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand history" -l all -d 'Show routine ends (SAs replaced by their rekey) too'
complete -c ternctl -n "__fish_ternctl_using_subcommand history" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand history" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand history" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand list-conns" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand list-conns" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand list-conns" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand list-conns" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand initiate" -l timeout -d 'Give up waiting after this many seconds' -r
complete -c ternctl -n "__fish_ternctl_using_subcommand initiate" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand initiate" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand initiate" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand initiate" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand terminate" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand terminate" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand terminate" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand terminate" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand rekey" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand rekey" -l ike -d 'Rekey the IKE SAs instead; their CHILD SAs move to the new ones'
complete -c ternctl -n "__fish_ternctl_using_subcommand rekey" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand rekey" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand rekey" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand reload" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand reload" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand reload" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand reload" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand version" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand version" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand version" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand version" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand watch" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand watch" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand watch" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand watch" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand stats" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand stats" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand stats" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand stats" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand leases" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand leases" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand leases" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand leases" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand completions" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand completions" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand completions" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand man" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand man" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand man" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand man" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand decode" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand decode" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand decode" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand decode" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and not __fish_seen_subcommand_from swanctl ipsec-conf help" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and not __fish_seen_subcommand_from swanctl ipsec-conf help" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and not __fish_seen_subcommand_from swanctl ipsec-conf help" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and not __fish_seen_subcommand_from swanctl ipsec-conf help" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and not __fish_seen_subcommand_from swanctl ipsec-conf help" -f -a "swanctl" -d 'strongSwan\'s swanctl.conf: connections, children, proposals, lifetimes, DPD, the first authentication round, and the IKE secrets'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and not __fish_seen_subcommand_from swanctl ipsec-conf help" -f -a "ipsec-conf" -d 'strongSwan\'s older ipsec.conf: each loaded conn (after also= and conn %default) as a connection with one child; PSKs from the ipsec.secrets beside it, certificates from ipsec.d/certs/'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and not __fish_seen_subcommand_from swanctl ipsec-conf help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from swanctl" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from swanctl" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from swanctl" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from swanctl" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from ipsec-conf" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from ipsec-conf" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from ipsec-conf" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from ipsec-conf" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "swanctl" -d 'strongSwan\'s swanctl.conf: connections, children, proposals, lifetimes, DPD, the first authentication round, and the IKE secrets'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "ipsec-conf" -d 'strongSwan\'s older ipsec.conf: each loaded conn (after also= and conn %default) as a connection with one child; PSKs from the ipsec.secrets beside it, certificates from ipsec.d/certs/'
complete -c ternctl -n "__fish_ternctl_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ternctl -n "__fish_ternctl_using_subcommand diagnose" -l config -d 'The configuration file to check, without asking the daemon' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand diagnose" -l pcap -d 'A capture to judge, without asking the daemon (`-` reads stdin)' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand diagnose" -l keys -d 'With --pcap: IKE SA keys in Wireshark\'s ikev2_decryption_table format (SPIs, SK_ei, SK_er, encryption, SK_ai, SK_ar, integrity; one SA a line), to open the encrypted payloads too (notifies, deletes)' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand diagnose" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand diagnose" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand diagnose" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand diagnose" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand simulate" -l socket -d 'The daemon\'s control socket' -r -F
complete -c ternctl -n "__fish_ternctl_using_subcommand simulate" -l json -d 'Print the answer as JSON instead of text (watch: one JSON object per line), and a failure as `{"error": ..., "exit_status": ...}` on stderr. Not for completions and man, whose output is a script or a page'
complete -c ternctl -n "__fish_ternctl_using_subcommand simulate" -l exact -d 'Show times exactly: durations in seconds rather than rounded (`3725s`, not `62m`), timestamps to the millisecond. JSON is always exact'
complete -c ternctl -n "__fish_ternctl_using_subcommand simulate" -s h -l help -d 'Print help'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "list-sas" -d 'List the IKE SAs and their CHILD SAs, then how recent SAs ended (rekeys left out)'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "history" -d 'How each connection\'s recent SAs ended and why, newest first (`--json`: all of them, oldest first)'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "list-conns" -d 'List the configured connections'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "initiate" -d 'Bring a connection up and wait until its SAs are established or have failed'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "terminate" -d 'Delete a connection\'s SAs and wait for the peer\'s answer'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "rekey" -d 'Rekey a connection\'s CHILD SAs (or, with --ike, its IKE SAs) now, whatever their lifetimes, and wait for the new ones'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "reload" -d 'Read the configuration file again and apply it: unchanged connections keep their SAs; a file with errors changes nothing'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "version" -d 'Show the versions of ternctl and ternd'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "watch" -d 'Print events as they happen, one line each: SAs established, rekeyed and ended (with the cause), failures and end actions. Runs until interrupted'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "stats" -d 'Show the daemon\'s counters: SAs up, datagrams in and out, drops by reason, rekeys, retransmissions, dead peers, uptime'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "leases" -d 'List the virtual IPs leased from address pools: pool, address, the peer identity it is leased to, and whether an IKE SA holds it now (else it is kept for that peer\'s return)'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "completions" -d 'Print a shell completion script (e.g. `ternctl completions bash > /etc/bash_completion.d/ternctl`). Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "man" -d 'Print ternctl\'s man page (roff). Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "decode" -d 'Print the IKE messages in a capture (pcap or pcapng, UDP 500 and 4500) or a hex file (one message per block of lines); does not need the daemon'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "import" -d 'Convert another IKE daemon\'s configuration into tern\'s TOML (stdout), and say on stderr, line by line, what could not be converted and why. Exit status 1 if tern would not load the result as it is. Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "diagnose" -d 'Say why a connection\'s tunnel dropped or is in trouble, from what the running ternd saw (its SAs\' ends, the peer\'s rekey rhythm, what tern adapted): one sentence per problem with the evidence and the setting to change, or "healthy" with one line of evidence. Exit status 1 if there are problems. With --config FILE, check a configuration file instead (no daemon needed) for settings that load but will hurt; exit status 2 if the file does not load. With --pcap FILE, judge a capture (pcap or pcapng) between any two IKEv2 peers instead: each IKE SA and ESP SA rebuilt from what is in clear, then the same verdicts per pair of addresses; exit status 1 if there are problems or the capture is unreadable or cut short'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "simulate" -d 'Run a scenario (TOML: both sides\' configurations, the network, events) with two tern engines in virtual time and report what the tunnel went through: rekeys, collisions, hard expiries, outages. A side may be given as strongSwan\'s swanctl.conf (docs/SCENARIOS.md). Does not need the daemon'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and not __fish_seen_subcommand_from list-sas history list-conns initiate terminate rekey reload version watch stats leases completions man decode import diagnose simulate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "swanctl" -d 'strongSwan\'s swanctl.conf: connections, children, proposals, lifetimes, DPD, the first authentication round, and the IKE secrets'
complete -c ternctl -n "__fish_ternctl_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "ipsec-conf" -d 'strongSwan\'s older ipsec.conf: each loaded conn (after also= and conn %default) as a connection with one child; PSKs from the ipsec.secrets beside it, certificates from ipsec.d/certs/'
