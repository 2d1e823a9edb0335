# shellcheck shell=bash
# docs/INTEROP.md, written by a full run of tests/interop/run (all of ALL_SCENARIOS)
# from the scenarios' results in target/interop/: every scenario with its result and
# time, and the proposal matrix row by row. A run of some scenarios only leaves the
# document alone (it would describe a partial matrix).
#
# Sourced by tests/interop/run.

# One line per scenario for the document: what it shows.
declare -A SCENARIO_SUMMARY=(
    [strongswan-mobike]="MOBIKE: strongSwan (mobike = yes) in moon loses the address its tunnel uses while pinging and moves with UPDATE_SA_ADDRESSES; tern moves its IKE SA, ESP SAs and policies to the other address, same IKE and ESP SPIs on both sides, at most one ping lost, ternd logs the move"
    [strongswan-eap-mschapv2]="tern as a gateway with remote_auth = eap-mschapv2: strongSwan (auth = eap-mschapv2) checks moon's PSK, logs in as a user of a 0600 users_file, gets a pool address, ping through ESP"
    [strongswan-eap-mschapv2-wrong-password]="the same with a wrong EAP password: EAP-Failure and AUTHENTICATION_FAILED, strongSwan refuses, ternd's log names the user and the reason (never the password), history eap_failed, diagnose finding, no SA, no lease"
    [strongswan-eap-radius]="tern as a gateway with remote_auth = eap-radius: strongSwan's EAP-MSCHAPv2 login relayed to FreeRADIUS in moon (started with its own configuration), MSK from its MS-MPPE keys, pool address, ping through ESP; then a wrong password (Access-Reject, eap_failed) and FreeRADIUS stopped (radius_unreachable) refused, user and reason logged, nothing left"
    [strongswan-eap-radius-accounting]="EAP-RADIUS with what the Access-Accept grants: FreeRADIUS gives the user Framed-IP-Address, Session-Timeout and Class; strongSwan gets that address (no pool lease) and AUTH_LIFETIME, ping through ESP; accounting Start, Interim-Update (interim_interval 60) and Stop (User-Request) in FreeRADIUS's detail file with one Acct-Session-Id, the address and the Class, the Interim-Update and Stop counting at least 20 pings of 1000 bytes each way (Acct-Input/Output-Octets and -Packets); ternd stopping sends its session's Stop (Admin-Reset) before it exits"
    [strongswan-virtual-ip]="tern as a gateway with an address pool: strongSwan (vips) gets the address it asks for and a DNS server, CHILD SA narrowed to it, ping both ways from it through ESP, the lease kept and given back when it returns"
    [charon-selftest]="charon against charon: the harness, the kernel's ESP, no tern"
    [tern-initiates]="tern initiates, tunnel checked on both sides and both kernels, ping, tern deletes"
    [strongswan-initiates]="strongSwan initiates, checked, ping, strongSwan deletes"
    [tern-initiates-sun-terminates]="tern initiates, strongSwan deletes the IKE SA"
    [strongswan-initiates-tern-terminates]="strongSwan initiates, tern deletes the IKE SA"
    [wrong-psk]="different PSKs, each side initiating: no SA anywhere, tern names the cause; ternctl diagnose names psk"
    [tern-rekeys-child]="tern rekeys the CHILD SA every 10 s (strongSwan 1 h): at least 5 rekeys, ping without loss"
    [ternctl-rekey]="ternctl rekey: new SPIs on both sides within 1 s, ping without loss"
    [strongswan-rekeys-child]="strongSwan rekeys the CHILD SA every 10 s (tern 1 h): at least 5 rekeys, ping without loss"
    [simultaneous-rekeys]="equal CHILD lifetimes without jitter, 50 ms each way: colliding CHILD rekeys, ping without loss"
    [strongswan-rekey-7s]="strongSwan with CHILD rekey_time 7 s and no life_time (its life: 7 s) lets each SA expire: after two, tern rekeys first; no more expiries, ping without loss"
    [simultaneous-rekeys-ten]="ten colliding CHILD rekeys in a row (equal lifetimes of 12 s, no jitter, 50 ms each way): one CHILD SA after each, ping without loss"
    [nat-tern-behind]="tern behind a NAT initiates: IKE floats to 4500, ESP in UDP, NAT-keepalives"
    [nat-strongswan-behind]="strongSwan behind a NAT initiates: tern follows it to 4500, ESP in UDP to the mapped port"
    [nat-mapping-changes]="the NAT maps strongSwan to a new address mid-tunnel and back: tern's IKE SA, ESP SAs and policies follow it, same SPIs; list-sas counts 2 mapping changes and diagnose says nat_mapping_changes (nat_keepalive)"
    [tern-rekeys-on-bytes]="tern rekeys when the kernel says rekey_bytes is reached"
    [proposals]="the proposal matrix below: every row initiated by each side"
    [tern-rekeys-ike]="tern rekeys the IKE SA every 10 s: the CHILD SA moves over unchanged, ping without loss"
    [strongswan-rekeys-ike]="strongSwan rekeys the IKE SA every 10 s: the CHILD SA moves over unchanged, ping without loss"
    [lifetimes-strongswan-short]="strongSwan IKE and CHILD rekey_time 20 s, tern 4 h / 1 h: strongSwan does every rekey, ping without loss"
    [lifetimes-tern-short]="tern IKE and CHILD rekey_time 20 s, strongSwan 4 h / 1 h: tern does every rekey, ping without loss"
    [strongswan-rekey-off]="strongSwan with CHILD rekeying off and a 12 s life lets each SA expire: after two, tern rekeys first (rekey_adapt); no more expiries, ping without loss"
    [strongswan-rekey-equals-life]="strongSwan rekey_time 9 s and no life_time (its default life rounds down to 9 s): after two expiries tern rekeys first; no more expiries, ping without loss"
    [strongswan-pfs-on-rekeys]="strongSwan wants PFS on CHILD rekeys, tern does not: each rekey is refused, and tern reauthenticates instead (IKE_AUTH's CHILD SA needs no key exchange); no SA expires, ping without loss but at a handover"
    [diagnose-strongswan-pfs]="strongSwan wants PFS (x25519) on CHILD rekeys, tern does not: ternctl diagnose says PFS is wanted by the peer only and names esp_proposals (exit 1)"
    [diagnose-strongswan-pfs-tern-rekeys]="strongSwan wants PFS (x25519), tern does not and rekeys first (15 s): strongSwan refuses; ternctl diagnose says PFS is wanted by the peer only and names esp_proposals (exit 1)"
    [diagnose-no-proposal]="no IKE proposal in common (tern AES-GCM/X25519, strongSwan AES-CBC/MODP-2048): initiate fails, ternctl diagnose names proposals and lists ours (exit 1)"
    [diagnose-strongswan-rekey-off]="strongSwan with CHILD rekeying off and a 12 s life: ternctl diagnose says the peer lets its SAs expire, that tern adapted, and suggests a rekey_time below 12 s (exit 1)"
    [diagnose-esp-filtered]="the tunnel up, then strongSwan's ESP dropped on the path (IKE passes): 15 pings go out unanswered, and ternctl diagnose says ESP does not arrive from the kernel's counters, naming IP protocol 50 (exit 1)"
    [tern-pfs-on-rekeys]="tern wants PFS on CHILD rekeys, strongSwan does not: tern's rekey is refused, and it reauthenticates at once; no SA expires, ping without loss but at a handover"
    [lossy-ike-rekeys]="20 % of IKE datagrams lost each way, CHILD rekey_time 20 s on both sides: the longest run of unanswered pings stays within what one exchange's retransmissions explain"
    [simultaneous-ike-rekeys]="equal IKE lifetimes without jitter, 50 ms each way: colliding IKE rekeys, ping without loss"
    [dpd-clear]="strongSwan killed: tern's DPD finds it dead and (dpd_action = clear) removes everything; ternctl diagnose says dead peer"
    [dpd-restart]="strongSwan killed, back 12 s later: tern's DPD clears and (dpd_action = restart) brings the tunnel back"
    [strongswan-restarts]="strongSwan restarts at once, state lost, tern keeps its SAs: the tunnel returns (DPD, restart)"
    [ternd-killed]="ternd killed (SIGKILL) under a ping and started again: the old SAs and policies removed, the tunnel back (time printed), strongSwan keeps one IKE SA"
    [flood-during-rekeys]="an IKE_SA_INIT flood from 40 addresses in another namespace while strongSwan connects and rekeys every 10 s: the tunnel comes up, no ping lost"
    [transport-mode]="host-to-host transport mode from each side; IKE keeps flowing beside the ESP policies"
    [ipv6]="IPv6 in IPv6, IPv4 in IPv6, IPv6 in IPv4, each from both sides, ping through ESP"
    [ts-narrowing]="traffic selectors narrowed by either side (/16 to /24, all protocols to ICMP); both kernels' policies"
    [several-children]="two CHILD SAs on one IKE SA made by each side; strongSwan deletes one, the other goes on"
    [tern-initiates-openiked]="OpenIKED 7.2 (iked) responds: tern initiates, both kernels agree, ikectl lists the SA, ping through ESP, tern deletes, nothing left"
    [openiked-initiates]="OpenIKED 7.2 (iked, active policy) initiates: tern responds, checked on both sides, ping through ESP; tern's delete removes iked's SAs"
    [tern-rekeys-child-openiked]="tern rekeys the CHILD SA every 10 s against OpenIKED: at least 3 rekeys, ping without loss (one excused per handover, see below), all four views agree"
    [openiked-rekeys-child]="OpenIKED rekeys the CHILD SA (lifetime 15 s; tern 1 h): at least 2 rekeys, ping without loss (one excused per handover), all four views agree"
    [tern-initiates-libreswan]="Libreswan 4.10 (pluto) responds: tern initiates, both kernels, ternctl and whack --status agree on the SPIs, ping each way through ESP (whack --trafficstatus counts it), tern deletes, nothing left"
    [libreswan-initiates]="Libreswan 4.10 (pluto) initiates (whack --initiate): tern responds, checked on both sides, ping each way; pluto deletes, nothing left"
    [tern-rekeys-child-libreswan]="tern rekeys the CHILD SA every 10 s against Libreswan: at least 3 rekeys, ping without loss (one excused per handover, see Libreswan below), ternd, whack and both kernels agree"
    [libreswan-rekeys-child]="Libreswan rekeys the CHILD SA every 10 s (salifetime 20 s, rekeymargin 10 s; tern 1 h): at least 3 rekeys, ping without loss, all four views agree"
    [tern-rekeys-ike-libreswan]="tern rekeys the IKE SA every 10 s against Libreswan: at least 3 rekeys, the CHILD SA moves over unchanged, ping without loss, one IKE SA left on each side"
    [libreswan-rekeys-ike]="Libreswan rekeys the IKE SA every 10 s (ikelifetime 20 s, rekeymargin 10 s; tern 4 h): at least 3 rekeys, the CHILD SA moves over unchanged, ping without loss"
    [libreswan-cert-rsa]="RSA-2048 certificates against Libreswan (its key and CA in its NSS database), both directions: both sides name the other's certificate and signature, pings each way, nothing left"
    [libreswan-cert-p256-libreswan-initiates]="ECDSA P-256 certificates against Libreswan, pluto initiating: pluto signs with ecdsa-with-SHA512 on its P-256 key (RFC 7427), ternd verifies it, pings each way"
    [libreswan-cert-p256]="ECDSA P-256 certificates against Libreswan, tern initiating: pluto and ternd verify each other's signature, pings each way, nothing left"
    [libreswan-proposals]="the proposal matrix against Libreswan: 8 rows (AES-GCM, AES-CBC+SHA2, ChaCha20-Poly1305; X25519, ECP-256/384, MODP-2048), each initiated by both sides, algorithms checked in ternctl and both kernels, PFS rekeys by the initiator on 4 rows"
    [libreswan-dpd-restart]="pluto killed: tern's DPD finds it dead, clears, restarts the connection until pluto is back, then the tunnel is up again, checked on all sides"
    [libreswan-restarts]="pluto killed and started again at once: tern's DPD finds the old IKE SA dead and sets up a new one; outage reported, tunnel checked on all sides"
    [libreswan-nat-tern-behind]="tern behind a NAT initiates to Libreswan: IKE on 4500, ESP in UDP in both kernels, NAT-keepalives, pings each way"
    [libreswan-nat-libreswan-behind]="Libreswan behind a NAT initiates to tern: tern answers on 4500 with ESP in UDP, ping through"
    [libreswan-transport-mode]="transport mode with Libreswan, each side initiating once: ESP SAs in transport mode in both kernels, ping between the hosts through ESP"
    [libreswan-ipv6]="IPv6 in IPv6 with Libreswan, each side initiating once: ping fd01::1 -> fd02::1 through ESP"
    [libreswan-lifetimes-libreswan-short]="Libreswan's IKE and CHILD SAs live 30 s (rekeymargin 10 s, fuzz 100 %), tern's 4 h / 1 h: pluto does every rekey, ping without loss"
    [libreswan-lifetimes-tern-short]="tern's IKE and CHILD SAs rekeyed after 20 s, Libreswan's 8 h: tern does every rekey, ping without loss (one excused per CHILD handover)"
    [libreswan-simultaneous-ike-rekeys]="IKE rekeys without jitter timed to collide against Libreswan (tern 19 s, pluto 25 s less half its 10 s margin), 600 ms each way: colliding IKE rekeys, one IKE SA left each time, the CHILD SA kept, ping without loss"
    [libreswan-simultaneous-child-rekeys]="CHILD rekeys without jitter timed to collide against Libreswan (as above), 600 ms each way: colliding CHILD rekeys, one CHILD SA agreed at the end, ping without loss (one excused per handover)"
    [openiked-cert-rsa]="RSA-2048 certificates against OpenIKED (PEM files in its /etc/iked), both directions: iked validates moon's certificate and signature, ternd sun's; ping through ESP"
    [openiked-cert-p256]="ECDSA P-256 certificates against OpenIKED, both directions: iked validates moon's certificate and signature, ternd sun's; ping through ESP"
    [openiked-proposals]="the proposal matrix against OpenIKED: 6 IKE rows (AES-GCM, AES-CBC+SHA2; X25519, ECP-256/384, MODP-2048) with AES-CBC+SHA1 ESP, each initiated by both sides, algorithms checked in ternctl and both kernels, PFS rekeys on 4 rows"
    [openiked-dpd-restart]="iked killed: tern's DPD finds it dead, clears, restarts the connection until iked is back, then the tunnel is up again, checked on all sides"
    [openiked-restarts]="iked killed and started again at once: tern's DPD finds the old IKE SA dead and sets up a new one; outage reported, tunnel checked on all sides"
    [openiked-nat-tern-behind]="tern behind a NAT initiates to OpenIKED: IKE on 4500, ESP in UDP in both kernels, NAT-keepalives, ping through"
    [openiked-nat-openiked-behind]="OpenIKED behind a NAT initiates to tern: tern answers on 4500 with ESP in UDP in both kernels, ping through"
    [openiked-transport-mode]="transport mode with OpenIKED, each side initiating once: ESP SAs in transport mode in both kernels, ping between the hosts through ESP"
    [openiked-ipv6]="IPv6 in IPv6 with OpenIKED, each side initiating once: ping fd01::1 -> fd02::1 through ESP"
    [tern-rekeys-ike-openiked]="tern rekeys the IKE SA every 10 s against OpenIKED: at least 3 rekeys, the CHILD SA moves over unchanged, ping without loss, one IKE SA left on each side"
    [openiked-rekeys-ike]="OpenIKED rekeys the IKE SA every 10 s (ikelifetime 10; tern 4 h): at least 3 rekeys, the CHILD SA moves over unchanged, ping without loss"
    [openiked-lifetimes-openiked-short]="OpenIKED's IKE and CHILD SAs rekeyed after 20 s, tern's 4 h / 1 h: iked does every rekey, ping without loss (one excused per CHILD handover, see OpenIKED below)"
    [openiked-lifetimes-tern-short]="tern's IKE and CHILD SAs rekeyed after 20 s, OpenIKED's defaults: tern does every rekey, ping without loss (one excused per CHILD handover)"
    [openiked-simultaneous-ike-rekeys]="IKE rekeys without jitter timed to collide against OpenIKED (tern 11 s, iked at 80 % of ikelifetime 15), 600 ms each way: colliding IKE rekeys, one IKE SA left each time, ping without loss"
    [libreswan-rekey-off]="Libreswan #405: a responder with rekey=no and salifetime 15 s deletes each CHILD SA and sets none up; tern (1 h) sets it up again, then rekeys before pluto's life ends: no expiry, ping without loss over three lifetimes"
    [imported-swanctl]="moon's swanctl.conf converted by ternctl import swanctl, run by ternd against charon with the original: tunnel up, ping through ESP, nothing left out"
    [tern-keyingtries]="ternd starts the tunnel while strongSwan is not running: unanswered attempts are tried again (keyingtries = 0) until strongSwan starts, then the tunnel comes up"
    [dpd-trap]="strongSwan killed: tern's DPD finds it dead and (dpd_action = trap) leaves the trap, not a restart; strongSwan back, a ping brings the tunnel up"
    [tern-trap]="start_action = trap: policies only until a ping from tern's side brings the tunnel up; strongSwan deletes the CHILD SA, the trap stays and the next ping brings it back; ternctl terminate removes the trap"
    [strongswan-reauthenticates]="strongSwan reauthenticates every 20 s, make-before-break: a new IKE SA and CHILD SA each time, ping without loss"
    [tern-reauthenticates]="tern reauthenticates every 20 s (reauth_time), make-before-break: three new IKE SAs and CHILD SAs, no INITIAL_CONTACT, ping without loss"
    [cert-p256-tern-initiates]="ECDSA P-256 certificates, tern initiates, ping through ESP"
    [cert-p256-strongswan-initiates]="ECDSA P-256 certificates, strongSwan initiates, ping through ESP"
    [cert-rsa2048-tern-initiates]="RSA-2048 certificates, tern initiates, ping through ESP"
    [cert-rsa2048-strongswan-initiates]="RSA-2048 certificates, strongSwan initiates, ping through ESP"
    [cert-rsa4096-chain-tern-initiates]="RSA-4096 root, intermediate and leaf: IKE_AUTH fragmented both ways, tern initiates"
    [cert-rsa4096-chain-strongswan-initiates]="RSA-4096 root, intermediate and leaf: IKE_AUTH fragmented both ways, strongSwan initiates"
    [cert-ed25519-tern-initiates]="Ed25519 certificates (RFC 8420), tern initiates, ping through ESP"
    [cert-ed25519-strongswan-initiates]="Ed25519 certificates (RFC 8420), strongSwan initiates, ping through ESP"
    [cert-untrusted-ca]="a peer certificate from a CA tern does not trust: tern refuses it whichever side initiates, no SA anywhere"
    [cert-dn-identities]="DN identities (the certificates' subjects) on both sides, tern initiates"
    [strongswan-tfc-padding]="strongSwan pads its ESP to the MTU (tfc_padding = mtu): tern accepts it, ping without loss"
    [cert-chosen-by-certreq]="tern holds an ECDSA and an RSA certificate (ECDSA first), strongSwan trusts only the RSA CA: its CERTREQ makes tern show the RSA one, both ways"
    [cert-revoked]="sun's certificate revoked by its CA's CRL, which tern holds (crls): refused whoever initiates, ternd names serial and date"
)

# The results of this run: target/interop/results.tsv, or, in one of several guests at
# once (parallel.sh), the guest's own, which the host merges into that one.
INTEROP_RESULTS="${TERN_INTEROP_GUEST_DIR:-$TERN_ROOT/target/interop}/results.tsv"

# record_result NAME PASS|FAIL SECS REASON: one line of INTEROP_RESULTS.
record_result() {
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//$'\t'/ }" >>"$INTEROP_RESULTS"
}

# write_interop_doc TOTAL_SECS [KERNEL_RELEASE KERNEL_KIND GUESTS]: docs/INTEROP.md from
# results.tsv and the proposal rows. The kernel is this one unless the run was in
# guests the host merged (parallel.sh), which say theirs.
write_interop_doc() {
    local total=$1 doc="$TERN_ROOT/docs/INTEROP.md" results="$TERN_ROOT/target/interop/results.tsv"
    local release=${2:-$(uname -r)} kind=${3:-${TERN_TEST_KERNEL:-}} guests=${4:-1}
    local rows="$TERN_ROOT/target/interop/proposals/rows.tsv"
    local version passed failed name result secs reason
    version=$("$CHARON" --version 2>/dev/null | awk '{ print $NF; exit }')
    local iked_version pluto_version
    iked_version=$(dpkg-query -W -f '${Version}' openiked 2>/dev/null | sed 's/-.*//')
    pluto_version=$(find "$TERN_ROOT/target/libreswan" -name 'libreswan_*.deb' 2>/dev/null |
        sed -n 's/.*libreswan_\([^-_]*\).*/\1/p' | head -n1)
    : "${iked_version:=?}" "${pluto_version:=?}"
    passed=$(awk -F'\t' '$2 == "PASS"' "$results" | wc -l)
    failed=$(awk -F'\t' '$2 != "PASS"' "$results" | wc -l)
    {
        echo "# Interoperability with strongSwan, OpenIKED and Libreswan"
        echo
        echo "Written by \`tests/interop/run\` (all scenarios) on $(date -u +%Y-%m-%d): ternd against"
        echo "Debian's strongSwan $version, OpenIKED $iked_version and Libreswan $pluto_version, each in"
        echo "its own network namespace of a Linux $release kernel ($kind), with ESP SAs in the kernel"
        echo "and traffic through them."
        echo "$passed passed, $failed failed, $total s in all$( ((guests > 1)) && echo " ($guests guests at once)"). Logs, both kernels' XFRM state and a"
        echo "capture of every scenario are kept in \`target/interop/SCENARIO/\`."
        echo
        echo "## Scenarios"
        echo
        echo "| scenario | what it shows | result | time |"
        echo "|---|---|---|---|"
        while IFS=$'\t' read -r name result secs reason; do
            [[ $result == PASS ]] || result="FAIL: $reason"
            echo "| \`$name\` | ${SCENARIO_SUMMARY[$name]:-} | ${result//|/\\|} | ${secs} s |"
        done <"$results"
        if [[ ${#NOT_IN_SUITE[@]} -gt 0 ]]; then
            echo
            echo "Not in the suite yet:"
            echo
            for name in "${!NOT_IN_SUITE[@]}"; do echo "- \`$name\`: ${NOT_IN_SUITE[$name]}"; done
        fi
        if [[ -s $rows ]]; then
            echo
            echo "## Proposals"
            echo
            echo "strongSwan configured with the row's proposals only, tern with all rows' (so"
            echo "each side picks the row out of the other's offer); the algorithms in use checked in"
            echo "\`ternctl list-sas\`, \`swanctl --list-sas\` and both kernels' ESP SAs; a ping through"
            echo "the tunnel; rows with a key exchange in the ESP proposal rekeyed once (PFS). What tern"
            echo "negotiated is as \`ternctl list-sas\` shows it."
            echo
            proposal_rows_table "$rows" strongswan strongSwan
        fi
        local peer label
        for peer in libreswan openiked; do
            rows="$TERN_ROOT/target/interop/$peer-proposals/rows.tsv"
            [[ -s $rows ]] || continue
            label=Libreswan
            [[ $peer == openiked ]] && label=OpenIKED
            echo
            echo "## Proposals against $label"
            echo
            echo "\`$peer-proposals\`: $label restarted with the row's proposals only, tern with all"
            echo "rows' (the row's ESP proposal first, so that a rekey's key exchange is the row's);"
            echo "checked in \`ternctl list-sas\` and both kernels' ESP SAs, a ping through the tunnel,"
            echo "and rows with a key exchange in the ESP proposal rekeyed once with PFS."
            echo
            proposal_rows_table "$rows" "$peer" "$label"
        done
        echo
        echo "## What strongSwan does that tern adapts to"
        echo
        echo "- strongSwan moves to port 4500 for IKE_AUTH even without a NAT; tern answers every"
        echo "  request where it came from (RFC 7296 §2.11), which every scenario checks in its capture."
        echo "- strongSwan's IKE_AUTH carries the CHILD SA's proposal without its key exchange; the"
        echo "  key exchange (PFS) comes with the first rekey."
        echo "- A replaced CHILD SA stays listed by strongSwan (DELETED) for a while; only INSTALLED"
        echo "  ones count when both sides are compared."
        echo "- charon exempts its IKE sockets from IPsec policies; tern does the same, or a CHILD SA"
        echo "  covering the peer's address (transport mode) swallows the IKE messages (found by"
        echo "  \`transport-mode\`). tern's ESP policies include a fwd policy in transport mode,"
        echo "  strongSwan's do not (harmless: transport-mode traffic is never forwarded)."
        echo "- \`swanctl --initiate --ike\` brings up every child of a connection; so does"
        echo "  \`ternctl initiate\` now (found by \`several-children\`)."
        echo "- A charon that restarts does not know the old IKE SA and does not answer it: tern's"
        echo "  DPD (with dpd_action = restart) is what brings the tunnel back."
        interop_doc_openiked
        interop_doc_libreswan
    } >"$doc"
    info "wrote ${doc#"$TERN_ROOT"/}"
}

# proposal_rows_table ROWS PEER LABEL: a proposal matrix's rows.tsv (IKE, ESP, who
# initiated: tern or PEER, PASS/FAIL, seconds, "IKE|ESP" negotiated or the reason) as
# a Markdown table, one line per row.
proposal_rows_table() {
    echo "| IKE proposal | ESP proposal | tern initiates | $3 initiates | negotiated (IKE; ESP) |"
    echo "|---|---|---|---|---|"
    awk -F'\t' -v peer="$2" '
        { key = $1 "\t" $2; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
          cell = ($4 == "PASS") ? "PASS (" $5 " s)" : "FAIL: " $6
          res[key, $3] = cell
          if ($4 == "PASS") { split($6, p, "|"); got[key] = p[1] "; " p[2] } }
        END { for (i = 1; i <= n; i++) { split(order[i], k, "\t")
              printf "| `%s` | `%s` | %s | %s | %s |\n", k[1], k[2], res[order[i], "tern"], res[order[i], peer], got[order[i]] } }' "$1"
}

# The OpenIKED section of docs/INTEROP.md: how iked runs and what it does that the
# scenarios had to allow for. Its scenarios' results are in the table above.
interop_doc_openiked() {
    cat <<'DOC'

## OpenIKED

Debian 12's OpenIKED 7.2 (package `openiked`, installed beside strongSwan) runs in sun
instead of charon in the scenarios named `*openiked*` (tests/interop/openiked.sh), with
ternd in moon as always:

- `iked_start` (tests/interop/lib.sh) starts `iked -d -vv` in sun's network namespace and
  a private mount namespace with `/etc/iked.conf`, `/etc/iked` and `/run` bound from the
  scenario's directory, so its control socket is its own (`ikectl -s DIR/run/iked.sock`).
  The harness writes iked.conf: one policy `demo`, `passive` when tern initiates and
  `active` when iked does (an active policy initiates as soon as iked has loaded it), PSK,
  the moon/sun addresses, IDs and subnets.
- iked refuses to start without a private key even for PSK (`config_setkeys: failed to
  open private key`): the harness makes a throwaway P-256 key per run.
- iked programs the kernel through PF_KEY, so the guest loads `af_key`.
- An IKE_SA_INIT that reaches iked before it has all its configuration is dropped by its
  configuration reset (`sa_free: reload`): `iked_start` waits for `config_getstatic:` in
  iked's log and for `ikectl show sa` to answer.
- IKE: AES-GCM-16-128, PRF HMAC-SHA2-256, X25519 (the demo's). ESP: AES-128-CBC with
  HMAC-SHA1-96, no ESN. Through PF_KEY on Linux this iked installs neither HMAC-SHA2-256
  (`pfkey_sa: unsupported integrity algorithm HMAC_SHA2_256_128`, logged after it had
  already answered IKE_AUTH, so the peer believes in a CHILD SA iked never installed)
  nor AES-GCM (answered with NO_PROPOSAL_CHOSEN). An ESP proposal without an ESN
  transform must be written `noesn` in iked.conf, or iked sends none (RFC 7296 wants it).
- As the responder of a CHILD SA rekey, iked installs its new SAs and sends on the new
  outbound one right after its CREATE_CHILD_SA answer. A packet it sends then may reach
  ternd before the answer does, and ternd cannot have that inbound SA yet (its keys come
  from the answer's nonce). Seen once: moon sent icmp_seq 109 on the old SPI at
  .755811, iked replied on the new SPI at .755866, ternd installed it at .756893. The
  rekey scenarios therefore excuse one lost ping per new CHILD SA, within 200 ms of
  ternd installing it, and name each one in their notes; any other loss fails them.
- More scenarios in tests/interop/openiked2.sh. Certificates: iked's CA in
  `/etc/iked/ca/ca.crt`, its certificate in `/etc/iked/certs/` (named after its ID), its
  key as `/etc/iked/private/local.key`, and no `psk` in the policy, so that iked picks
  the signature from its key (RFC 7427 with RSA and P-256 both ways; its log says
  `ca_validate_cert: ... ok` and `ikev2_msg_authverify: authentication successful`).
- Proposals: iked.conf has ChaCha20-Poly1305 for ESP only, and ESP is AES-CBC with
  HMAC-SHA1-96 only (above), so the matrix varies the IKE SA's algorithms and the ESP
  key size and PFS group; iked's `childsa ... group G` makes it demand PFS on rekeys.
- A restarted iked answers an IKE_SA_INIT that arrives while it is still loading its
  configuration with a half-loaded policy: seen in `openiked-dpd-restart` on 7 Dec,
  ternd's retry reached iked between its first `config_getsocket` and its
  `config_getstatic`; iked answered IKE_AUTH with empty TSi and TSr
  (`ikev2_pld_tss: count 0`) yet installed the CHILD SA and its flows, and ternd,
  refusing the CHILD SA (the peer's traffic selectors are not within ours), kept a
  childless IKE SA that DPD found alive. The restart scenarios now drop UDP to sun until
  iked has its configuration (`iked_restart`).
- iked does not rekey its IKE SA unless `ikelifetime` is set (0 by default), and then
  at 80 % of it, whichever side made the SA (every 12.0-12.1 s with `ikelifetime 15`);
  `openiked-simultaneous-ike-rekeys` gives ternd `rekey_time = 11` against that, with
  600 ms each way on the wire: iked has the SA a one-way delay before ternd, so with
  equal times its request arrived just as ternd's timer fired and never crossed it.
- As the initiator of a CHILD SA rekey, iked removes the old SA's inbound half as it
  sends its DELETE, not once the DELETE is answered: in `openiked-lifetimes-openiked-short`
  (7 Dec) iked's DELETE left sun at 33.861976, moon sent icmp_seq 800 on the old SPI at
  33.862971 and it was dropped; ternd took the DELETE at 33.874. That scenario excuses one
  lost ping per new CHILD SA within 200 ms of ternd installing it, like the others.
- iked.conf(5) has no reauthentication, so there is no scenario for it.
- An IKE SA iked initiated and ternd rekeyed stays CLOSING in iked, which leaves ternd's
  DELETE of it unanswered (`openiked-lifetimes-tern-short`, 7 Dec: `sa_state: ESTABLISHED
  -> CLOSING`, then `recv INFORMATIONAL req 3` and no response, still listed 30 s
  later); the IKE SAs iked responded for answer the DELETE and are freed. The IKE rekey
  scenarios therefore want one ESTABLISHED IKE SA in `ikectl show sa` and allow one
  CLOSING beside it.
DOC
}

# The Libreswan section of docs/INTEROP.md: how pluto runs from an unpacked package and
# what it does that the scenarios had to allow for. Its scenarios' results are in the
# table above.
interop_doc_libreswan() {
    cat <<'DOC'

## Libreswan

Debian 12's Libreswan 4.10 (package `libreswan`) runs in sun instead of charon in the
scenarios named `*libreswan*` (tests/interop/libreswan.sh), with ternd in moon as always.
The package conflicts with strongswan-charon, so it is not installed:

- `tests/interop/run` (on the host, where there is a network) calls
  `ensure_libreswan_unpacked` (tests/interop/lib.sh) when the run includes a Libreswan
  scenario: if `target/libreswan/root/usr/libexec/ipsec/pluto` is missing, it runs
  `apt-get update`, `apt-get download libreswan` into `target/libreswan/download` and
  `dpkg-deb -x` into `target/libreswan/root`. Its library dependencies that the test
  machines lack (`libldns3`, `libevent-pthreads-2.1-7`, plus `libnss3-tools` for
  `certutil`) are ordinary Debian packages in `TERN_DEBIAN_PACKAGES`.
- `pluto_start` (tests/interop/lib.sh) makes an empty NSS database
  (`certutil -N -d sql:DIR/nss --empty-password`) and starts
  `pluto --nofork --config DIR/ipsec.conf --secretsfile DIR/ipsec.secrets --ipsecdir DIR/ipsec.d
  --nssdir DIR/nss --rundir /run/pluto --logfile LOG --no-dnssec` in sun's network
  namespace and a private mount namespace with `DIR/run/pluto` bound over `/run/pluto`
  (control socket, pid file) and the package's `usr/libexec` over `/usr/libexec`: pluto
  checks at start-up for `/usr/libexec/ipsec/addconn`, a path compiled in that no option
  changes (without it: `FATAL ERROR: /usr/libexec/ipsec/addconn: missing or not
  executable`). Then `addconn --config DIR/ipsec.conf --ctlsocket ... --autoall` loads
  the connection and `whack --ctlsocket DIR/run/pluto/pluto.ctl` drives it
  (`--initiate`, `--terminate`, `--status`, `--trafficstatus`).
- ipsec.conf: one connection `demo`, `ikev2=insist`, `authby=secret`, the moon/sun
  addresses, FQDN IDs (`@sun.tern.example`) and subnets, `ike=aes_gcm128-sha2_256-dh31`
  and `esp=aes_gcm128` (the demo's proposals), `pfs=no` (the demo's CHILD SA proposal has
  no key exchange), `auto=add`, `leftupdown=%disabled` (the topology has its routes, and
  Libreswan's `_updown` looks for `ipsec` in /usr/sbin).
- `whack --status` prints SPIs without leading zeros (`esp.2320b9@192.0.2.2`): the
  harness pads them before comparing with the kernels'.
- As the responder of a CHILD SA rekey, pluto installs its new SAs and sends on the new
  outbound one even before its CREATE_CHILD_SA answer leaves. ternd cannot have that
  inbound SA yet (its keys come from the answer's nonce). Seen in the capture of
  `tern-rekeys-child-libreswan`: the echo reply to icmp_seq 727 left sun on the new SPI
  c96d9ecf at .605563, pluto's answer at .618330, ternd installed the SA at .619013. That
  scenario excuses one lost ping per new CHILD SA within 200 ms of ternd installing it
  (as for OpenIKED) and names each in its notes; any other loss fails it. When pluto
  starts the rekey, nothing is excused and nothing was lost.
- Libreswan #405, `libreswan-rekey-off`: pluto with `rekey=no` and `salifetime=15s` as
  the responder, ternd with its defaults. pluto deletes each CHILD SA at 15 s
  (`"demo" #2: deleting established Child SA using IKE SA #1`) and, as a responder,
  never sets one up again; IKEv2 does not tell ternd the peer's lifetime. Before 7 Dec
  ternd took that DELETE for a close and only pluto's on-demand policy brought the
  tunnel back, 15.0 s after the second delete (249 of 900 pings lost). Now ternd takes
  a DELETE of the child's last SA for an end of life: it sets the child up again 10 s
  later unless pluto has, and after two ends at the same age it rekeys first
  (rekey_adapt), so from then on pluto lets none expire. The scenario waits for that
  adaptation, then pings through three of pluto's lifetimes: 1 of 900 lost on 7 Dec,
  within 200 ms of a rekeyed CHILD SA's install (the handover above).
- More scenarios in tests/interop/libreswan2.sh. Certificates: sun's certificate and key
  go into pluto's NSS database as PKCS#12 (`pk12util`, nickname `sun`), the CA with
  trust `CT,,` (`certutil -A`); ipsec.conf has `leftcert=sun`, `leftsendcert=always`
  and `authby=rsasig` or `authby=ecdsa`. pluto signs RSA with RSASSA-PSS SHA-512 as
  initiator (RFC 7427), and verifies tern's PKCS#1 v1.5 SHA-256.
- pluto as initiator signs with ECDSA SHA-512 (RFC 7427's ecdsa-with-SHA512) on a P-256
  key (tern announces SHA-256, SHA-384 and SHA-512 in SIGNATURE_HASH_ALGORITHMS; as
  responder pluto signs with SHA-256). RFC 7427 does not tie the hash to the curve;
  tern verifies ECDSA with the hash the AlgorithmIdentifier names on the key's curve
  (until 7 Dec it took only the curve's own hash and answered AUTHENTICATION_FAILED).
  `libreswan-cert-p256-libreswan-initiates` shows it.
- Proposals: `pfs=yes` (Libreswan's default) adds the IKE SA's group to pluto's ESP
  proposal; tern's ESP proposal for the row then carries the same group.
- A connection pluto initiated and the peer deletes, pluto starts again at once
  (`received a Delete/Notify but must remain up per local policy`, EVENT_REVIVE_CONNS):
  in the scenarios where pluto initiates, pluto also deletes.
- pluto rekeys an SA it responded for half its `rekeymargin` before the end of life
  (`REKEY in 8s; REPLACE in 13s` with `ikelifetime=25s`, `rekeymargin=10s`), its own a
  whole margin before. With equal times pluto, which has an SA a one-way delay before
  ternd, rekeyed first and its request arrived just before ternd's timer fired, every
  time. The collision scenarios rekey ternd at 19 s against pluto's 20 s with 600 ms
  each way on the wire, so that the two requests cross.
- Simultaneous IKE rekeys (`libreswan-simultaneous-ike-rekeys`, not in the suite): on
  7 Dec ternd decided by the nonces that its own new IKE SA stays (RFC 7296 §2.8.2) and
  waited for pluto to delete pluto's; pluto logged `EXPECTATION FAILED: ike->sa.st_serialno
  == larval_ike->sa.st_clonedfrom (process_v2_CREATE_CHILD_SA_rekey_ike_response())`,
  kept both new IKE SAs, rekeyed on its own (ternd dropped those requests: `CREATE_CHILD_SA
  request while REKEYED`), then deleted ternd's (`not rekey stale IKE SA #4; as already
  got a newer #3`) and with it the CHILD SA: 545 of 1240 pings lost until pluto set up a
  new IKE SA. ternd could stay within the RFC and keep the tunnel: answer requests on the
  losing IKE SA until the peer deletes it, and when the peer deletes the winner while the
  loser lives, move the CHILD SAs to the loser instead of deleting them.
- Simultaneous CHILD SA rekeys (`libreswan-simultaneous-child-rekeys`): until 7 Dec
  out of the suite: after a collision that ternd's own new SA lost (lowest nonce), ternd
  kept sending on that SA until its DELETE was answered while pluto had dropped it (23
  of 1240 pings lost at 600 ms each way). ternd now removes the outbound SA of a CHILD
  SA as its DELETE leaves whenever another SA of the child carries the traffic
  (crates/engine/tests/outbound.rs); 0 of 1240 lost in two runs since.
- Not covered yet: pluto's reauthentication (whack has a `--reauth` connection option;
  ipsec.conf(5) of 4.10 documents none).
DOC
}
