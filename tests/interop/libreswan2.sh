# shellcheck shell=bash
# More scenarios against Libreswan (pluto 4.10, see libreswan.sh and lib.sh):
#
#   libreswan-cert-rsa   certificates (RSA-2048) made with openssl (certs.sh), both
#       directions: ternd initiates and deletes, then pluto initiates and deletes.
#       pluto's certificate, key and CA live in its NSS database.
#   libreswan-cert-p256  the same with ECDSA P-256, ternd initiating
#   libreswan-cert-p256-libreswan-initiates  ECDSA P-256, pluto initiating: pluto signs
#       its AUTH with ecdsa-with-SHA512 (RFC 7427) on its P-256 key
#   libreswan-proposals  the proposal matrix, PFS rekeys
#   libreswan-dpd-restart, libreswan-restarts  pluto killed; pluto restarting at once
#   libreswan-nat-tern-behind, libreswan-nat-libreswan-behind  NAT, ESP in UDP
#   libreswan-transport-mode, libreswan-ipv6  other tunnel shapes, both directions
#   libreswan-lifetimes-libreswan-short, libreswan-lifetimes-tern-short  mismatched
#   libreswan-simultaneous-ike-rekeys, libreswan-simultaneous-child-rekeys  collisions
#
# Sourced by tests/interop/run, after libreswan.sh, certs.sh, nat.sh, topologies.sh,
# resilience.sh and lifetimes.sh, whose helpers it uses.

# pluto_nss_import KIND: sun's certificate and key (as PKCS#12, nickname "sun") and the
# CA (trusted to issue peer certificates, "CT,,") into pluto's NSS database.
pluto_nss_import() {
    local dir="$R/sun-pluto" pki="$W/pki" out
    mkdir -p "$dir/nss"
    out=$({
        certutil -N -d "sql:$dir/nss" --empty-password &&
            certutil -A -d "sql:$dir/nss" -n ca -t "CT,," -i "$pki/ca.pem" &&
            openssl pkcs12 -export -in "$pki/sun.pem" -inkey "$pki/sun.key" -name sun \
                -passout pass: -out "$pki/sun.p12" &&
            pk12util -i "$pki/sun.p12" -d "sql:$dir/nss" -W ""
    } 2>&1) || fail "could not fill pluto's NSS database: $(tr '\n' ' ' <<<"$out")"
    step "pluto's NSS database: $(certutil -L -d "sql:$dir/nss" | awk 'NR > 4 { print $1 }' | tr '\n' ' ')"
}

# start_pluto_cert KIND: pluto in sun authenticating with sun's certificate (authby
# rsasig for RSA, ecdsa for P-256), expecting moon by its host name, which moon's
# certificate holds as subjectAltName.
start_pluto_cert() {
    local kind=$1 dir="$R/sun-pluto" authby=rsasig
    [[ $kind == p256 ]] && authby=ecdsa
    pluto_nss_import "$kind"
    pluto_write_conf "$dir" "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" sun.tern.example moon.tern.example \
        "$TOPO_SUN_NET" "$TOPO_MOON_NET" "$PSK" "$PLUTO_DEMO_IKE" "$PLUTO_DEMO_ESP" \
        "$(printf '%s\n' pfs=no leftcert=sun leftsendcert=always)"
    sed -i "s/^    authby=secret$/    authby=$authby/" "$dir/ipsec.conf"
    grep -q "authby=$authby" "$dir/ipsec.conf" || fail "pluto_write_conf wrote no authby=secret line to replace"
    cp "$dir/ipsec.conf" "$W/sun-ipsec.conf"
    step "starting pluto (Libreswan $(libreswan_version)) in sun, authby=$authby"
    pluto_start sun "$dir" "$W/sun-pluto.log" || fail "pluto did not start in sun: $LAST_WARNING"
}

# pluto_check_cert_auth KIND WHAT N: both sides say the other proved itself with a
# certificate's key, for the Nth time in their logs (N: the tunnels so far): pluto names
# moon's certificate and its signature, ternd the kind of signature of sun's.
pluto_check_cert_auth() {
    local kind=$1 what=$2 n=$3 sig=RSA lines tern_lines
    [[ $kind == p256 ]] && sig=ECDSA
    lines=$(grep -E "authenticated peer .*$sig.* using peer certificate '@moon.tern.example'" "$W/sun-pluto.log")
    (($(grep -c . <<<"$lines") >= n)) ||
        fail "pluto's log shows $(grep -c . <<<"$lines") peers authenticated with $sig by moon's certificate, expected $n ($what): $(grep -iE 'authenticat' "$W/sun-pluto.log" | tail -n 2 | tr '\n' ' ')"
    tern_lines=$(grep -E "peer authenticated: .*with certificate \"O=tern interop, CN=sun.tern.example\"" "$W/moon-ternd.log" | grep -i "$sig")
    (($(grep -c . <<<"$tern_lines") >= n)) ||
        fail "ternd's log shows $(grep -c . <<<"$tern_lines") $sig signatures of sun's certificate, expected $n ($what)"
    note "$what: pluto: $(tail -n 1 <<<"$lines" | sed 's/.*"demo" #[0-9]*: //'); ternd: $(tail -n 1 <<<"$tern_lines" | grep -oE 'peer authenticated: .* intermediate\(s\) sent\)')"
}

# libreswan_cert KIND WHO: WHO (both, tern or libreswan) initiates and deletes.
libreswan_cert() {
    local kind=$1 who=$2 conf out
    load_demo_psk
    certs_make_pki "$kind"
    conf=$(certs_tern_config) || exit 1
    start_ternd moon --config "$conf"
    start_pluto_cert "$kind"
    if [[ $who != libreswan ]]; then
        tern_initiate
        check_pluto_tunnel_up
        pluto_check_cert_auth "$kind" "ternd initiating" 1
        tern_terminate
        check_pluto_all_gone
    fi
    [[ $who == tern ]] && return 0
    pluto_initiate
    check_pluto_tunnel_up
    pluto_check_cert_auth "$kind" "pluto initiating" "$([[ $who == both ]] && echo 2 || echo 1)"
    out=$(whack_in "$R/sun-pluto" --terminate --name demo 2>&1) ||
        fail "whack --terminate failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    check_pluto_all_gone
}

scenario_libreswan-cert-rsa() { libreswan_cert rsa2048 both; }
scenario_libreswan-cert-p256() { libreswan_cert p256 tern; }
scenario_libreswan-cert-p256-libreswan-initiates() { libreswan_cert p256 libreswan; }

# --- The proposal matrix against Libreswan (libreswan-proposals): for each row, pluto
# configured with that row only (restarted), ternd with the union of all rows, the row's
# ESP proposal first (so a rekey's key exchange is the row's); a tunnel from each side,
# the algorithms checked in ternctl and both kernels, pings both ways, and for rows with
# pfs=yes (pluto then adds the IKE SA's group to its ESP proposal) a CHILD SA rekey with
# PFS started by the side that initiated (ternctl rekey, whack --rekey-ipsec). pluto
# deletes.
#
# One row per line: tern's IKE | pluto's ike= | tern's ESP | pluto's esp= | pluto's pfs=.
PLUTO_PROPOSAL_ROWS=(
    "aes128gcm16-prfsha256-x25519|aes_gcm128-sha2_256-dh31|aes128gcm16|aes_gcm128|no"
    "aes256gcm16-prfsha384-ecp256|aes_gcm256-sha2_384-dh19|aes256gcm16-ecp256|aes_gcm256|yes"
    "aes256gcm16-prfsha512-ecp384|aes_gcm256-sha2_512-dh20|chacha20poly1305-ecp384|chacha20_poly1305|yes"
    "chacha20poly1305-prfsha256-modp2048|chacha20_poly1305-sha2_256-dh14|aes128-sha256-modp2048|aes128-sha2_256|yes"
    "aes128-sha256-prfsha256-x25519|aes128-sha2_256-dh31|aes256-sha512|aes256-sha2_512|no"
    "aes256-sha384-prfsha384-ecp256|aes256-sha2_384-dh19|aes256-sha384-ecp256|aes256-sha2_384|yes"
    "aes256-sha512-prfsha512-ecp384|aes256-sha2_512-dh20|chacha20poly1305|chacha20_poly1305|no"
    "aes128gcm16-prfsha256-modp2048|aes_gcm128-sha2_256-dh14|aes256gcm16|aes_gcm256|no"
)

# pluto_row WHO IKE PLUTO_IKE ESP PLUTO_ESP PFS: one row, WHO (tern or libreswan)
# initiating. Runs in a subshell; writes "TERN_IKE|TERN_ESP" to $R/negotiated.
pluto_row() {
    local who=$1 ike=$2 pluto_ike=$3 esp=$4 pluto_esp=$5 pfs=$6 json t_ike t_esp want ns before out
    note() { step "note: $*"; }
    local ikes=() esps=() row a b c d e
    for row in "${PLUTO_PROPOSAL_ROWS[@]}"; do
        IFS='|' read -r a b c d e <<<"$row"
        ikes+=("$a") esps+=("$c")
    done
    ternd_stop "$R/moon-ternd"
    start_ternd moon --config "$(tern_conf ike="$(toml_list "${ikes[@]}")" esp="$(toml_list "$esp" "${esps[@]}")")"
    pluto_stop "$R/sun-pluto"
    rm -rf "$R/sun-pluto"
    local PLUTO_DEMO_IKE=$pluto_ike PLUTO_DEMO_ESP=$pluto_esp PLUTO_PFS=$pfs
    start_pluto
    if [[ $who == tern ]]; then tern_initiate; else pluto_initiate; fi
    check_pluto_tunnel_up
    json=$(tern_sas_json "$R/moon-ternd")
    t_ike=$(jq -r '.[0].proposal' <<<"$json")
    t_esp=$(jq -r '[.[0].children[] | select(.state == "INSTALLED")] | last | .proposal' <<<"$json")
    step "negotiated: ternctl $t_ike / $t_esp; pluto: $(grep -oE 'established (IKE|Child) SA.*\{[^}]*\}' "$W/sun-pluto.log" | tail -n2 | sed 's/.*{/{/' | tr '\n' ' ')"
    want=$(suite_name "$ike")
    [[ $t_ike == "$want" ]] || fail "ternctl lists the IKE SA's proposal as $t_ike, expected $want ($ike)"
    want=$(suite_name "$esp" esp-established)
    [[ $t_esp == "$want" ]] || fail "ternctl lists the CHILD SA's proposal as $t_esp, expected $want ($esp)"
    want=$(esp_kernel_algs "$esp")
    for ns in moon sun; do
        [[ "$(xfrm_algs "$ns")" == "$want" ]] ||
            fail "$ns's ESP SAs use '$(xfrm_algs "$ns" | tr '\n' ';')', expected '$(tr '\n' ';' <<<"$want")' for $esp"
    done
    if [[ $pfs == yes ]]; then
        before=$(tern_child_spis "$R/moon-ternd")
        if [[ $who == tern ]]; then
            out=$(timeout 30 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" rekey demo 2>&1) ||
                fail "ternctl rekey demo failed: $out"
        else
            out=$(whack_in "$R/sun-pluto" --rekey-ipsec --name demo 2>&1) ||
                fail "whack --rekey-ipsec failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
        fi
        step "$who rekeyed the CHILD SA: $(tail -n 1 <<<"$out")"
        DISAGREED=
        wait_until 15 "a new CHILD SA" _pluto_rekeyed_from "$before" ||
            fail "one new CHILD SA (not $before) agreed by ternd, pluto and both kernels (not within 15s)${DISAGREED:+; last look: $DISAGREED}"
        t_esp=$(tern_sas_json "$R/moon-ternd" | jq -r '[.[0].children[] | select(.state == "INSTALLED")] | last | .proposal')
        want=$(suite_name "$esp" esp)
        [[ $t_esp == "$want" ]] || fail "after the PFS rekey ternctl lists the CHILD SA's proposal as $t_esp, expected $want"
        step "PFS rekey: ternctl $t_esp; pluto: $(grep -oE 'established Child SA.*\{[^}]*\}' "$W/sun-pluto.log" | tail -n1 | sed 's/.*{/{/')"
        check_ping_through_esp
        check_ping_from_sun
    fi
    printf '%s|%s\n' "$t_ike" "$t_esp" >"$R/negotiated"
    # pluto deletes either way: a connection pluto initiated that the peer deletes, it
    # starts again at once ("received a Delete/Notify but must remain up per local
    # policy", EVENT_REVIVE_CONNS).
    out=$(whack_in "$R/sun-pluto" --terminate --name demo 2>&1) ||
        fail "whack --terminate failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    check_pluto_all_gone
}

_pluto_rekeyed_from() {
    _pluto_agrees_on_one_child && [[ "$(tern_child_spis "$R/moon-ternd")" != "$1" ]]
}

scenario_libreswan-proposals() {
    load_demo_psk
    local row ike pluto_ike esp pluto_esp pfs who failed=() t0 rc reason negotiated n=0 ns
    : >"$W/rows.tsv"
    for row in "${PLUTO_PROPOSAL_ROWS[@]}"; do
        IFS='|' read -r ike pluto_ike esp pluto_esp pfs <<<"$row"
        for who in tern libreswan; do
            step "--- row: IKE $ike, ESP $esp (pfs=$pfs), $who initiates"
            t0=$(now_ms)
            rm -f "$W/reason" "$R/negotiated"
            (pluto_row "$who" "$ike" "$pluto_ike" "$esp" "$pluto_esp" "$pfs")
            rc=$?
            n=$((n + 1))
            reason=ok negotiated=
            [[ -f "$R/negotiated" ]] && negotiated=$(cat "$R/negotiated")
            if ((rc != 0)); then
                reason=$(cat "$W/reason" 2>/dev/null || echo "exit $rc")
                failed+=("$ike/$esp by $who: $reason")
                rm -f "$W/reason"
                pluto_stop "$R/sun-pluto"
                timeout 20 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" terminate demo >/dev/null 2>&1
                for ns in moon sun; do ip -n "$ns" xfrm state flush && ip -n "$ns" xfrm policy flush; done
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$ike" "$esp" "$who" "$(((rc == 0)) && echo PASS || echo FAIL)" \
                "$(awk -v ms="$(($(now_ms) - t0))" 'BEGIN { printf "%.1f", ms / 1000 }')" "${negotiated:-$reason}" >>"$W/rows.tsv"
        done
    done
    note "$((n - ${#failed[@]})) of $n tunnels up and checked against pluto (${#PLUTO_PROPOSAL_ROWS[@]} rows, each initiated by both sides, PFS rekeys by the initiator); rows in rows.tsv"
    ((${#failed[@]} == 0)) || fail "${#failed[@]} rows failed: ${failed[0]}$( ((${#failed[@]} > 1)) && echo " (and $((${#failed[@]} - 1)) more, see rows.tsv)")"
}

# --- pluto killed (libreswan-dpd-restart) and pluto restarting at once
# (libreswan-restarts): ternd's DPD (resilience.sh's short timers) finds it dead, and
# dpd_action = restart brings the tunnel back once pluto answers again.

# pluto_kill: SIGKILL, as a crash or power loss (pluto sends nothing), and sun's kernel
# state flushed, as after a reboot. Sets KILLED_AT.
pluto_kill() {
    local dir="$R/sun-pluto" pid
    pid=$(cat "$dir/pluto.pid") || fail "pluto in sun was not running"
    kill -KILL "$pid" 2>/dev/null || fail "pluto in sun was not running"
    wait_until 5 "pluto to die" _pid_gone "$pid"
    rm -f "$dir/pluto.pid" "$dir/run/pluto/"*
    ip -n sun xfrm state flush && ip -n sun xfrm policy flush
    _now && KILLED_AT=$NOW_MS
    step "killed pluto in sun (SIGKILL) and flushed sun's XFRM state"
}

# pluto_restart: pluto again, same configuration and NSS database, no memory of SAs.
pluto_restart() {
    local dir="$R/sun-pluto"
    mv "$W/sun-pluto.log" "$W/sun-pluto-before-restart.log" 2>/dev/null
    step "starting pluto in sun again"
    pluto_start sun "$dir" "$W/sun-pluto.log" || fail "pluto did not start again in sun: $LAST_WARNING"
}

# pluto_dpd_setup: ternd with DPD (dpd_action = restart), pluto passive; tunnel up
# from ternd and checked.
pluto_dpd_setup() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf conn="$DPD_CONN" child='dpd_action = "restart"' retransmit="$DPD_RETRANSMIT")"
    start_pluto
    tern_initiate
    check_pluto_tunnel_up
    tern_ike_spis >"$R/ike-before"
}

# pluto killed; ternd declares it dead, clears, and keeps initiating until pluto is back
# (12 s after the kill); then the tunnel is up again, checked on all sides.
scenario_libreswan-dpd-restart() {
    pluto_dpd_setup
    pluto_kill
    expect_within 20 "ternd to log 'dead peer (DPD timeout)'" tern_declared_dead
    note "ternd found pluto dead $(ms_since_kill) ms after it was killed (dpd_delay 2 s, then 3 retransmits at 1 s x1.5)"
    expect_within 5 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "ternd to restart the connection (log: 'restarting connection')" \
        grep -q 'restarting connection' "$W/moon-ternd.log"
    while (($(ms_since_kill) < 12000)); do sleep 0.5; done
    pluto_restart
    local t0
    t0=$(now_ms)
    expect_within 40 "ternd to bring the tunnel up again" tern_child_installed "$R/moon-ternd"
    note "tunnel up again $(($(now_ms) - t0)) ms after pluto restarted ($(grep -c 'restarting connection' "$W/moon-ternd.log") restart attempts logged)"
    check_pluto_tunnel_up
}

# pluto killed and started again at once, with a continuous ping: ternd's DPD finds the
# old IKE SA dead (the new pluto knows nothing of it) and sets up a new one; the outage
# is reported, and the tunnel checked on all sides afterwards.
scenario_libreswan-restarts() {
    pluto_dpd_setup
    ping_start 40
    sleep 2
    pluto_kill
    pluto_restart
    local t0 pid summary
    t0=$(now_ms)
    expect_within 40 "ternd to replace its IKE SA (the old one is dead)" ike_sa_replaced
    expect_within 10 "ternctl list-sas shows the CHILD SA INSTALLED again" tern_child_installed "$R/moon-ternd"
    note "a new IKE SA $(($(now_ms) - t0)) ms after pluto restarted"
    check_pluto_tunnel_up
    pid=$(cat "$R/ping.pid")
    wait_until 60 "the continuous ping to end" _pid_gone "$pid" || fail "the continuous ping did not end"
    rm -f "$R/ping.pid"
    summary=$(grep 'packets transmitted' "$W/ping.txt")
    note "continuous ping ($PING_PER_SEC per second): $summary"
    grep -qE ', [1-9][0-9]* received' <<<"$summary" || fail "no ping reply at all: $summary"
    expect_ternd_alive
}

# --- NAT (nat.sh's topology: moon 192.168.1.2 behind a NAT that shows it as 192.0.2.1).

# ternd behind the NAT initiates to pluto: IKE floats to 4500, ESP in UDP both ways,
# ternd sends NAT-keepalives, pluto sees moon at the NAT's address; ternd deletes.
scenario_libreswan-nat-tern-behind() {
    stop_capture
    local topo_err conf n
    topo_err=$(nat_topology_up 2>&1) || fail "could not create the NAT topology: $topo_err"
    start_capture
    load_demo_psk
    conf=$(nat_tern_config 2s) || exit 1
    start_ternd moon --config "$conf"
    start_pluto
    tern_initiate
    expect_within 10 "ternctl list-sas shows demo ESTABLISHED with CHILD SA net INSTALLED" tern_child_installed "$R/moon-ternd"
    expect_within 10 "whack --status lists demo's IKE SA and CHILD SA established" pluto_child_established
    check_tern_floated
    check_moon_esp_in_udp
    n=$(ip -n sun xfrm state | grep -c "encap type espinudp sport 4500 dport 4500")
    ((n == 2)) || fail "sun's kernel (pluto) has $n ESP-in-UDP SAs, expected 2: $(ip -n sun xfrm state | grep encap | tr '\n' ' ')"
    # whack --status names the SAs of a NATed peer after its port ("#1: "demo":4500 ...").
    grep -qE '#[0-9]+: "demo":4500 STATE_V2_ESTABLISHED_IKE_SA' "$W/sun-whack-status.txt" ||
        fail "whack --status does not show demo's IKE SA on port 4500: $(grep -m2 '#[0-9]*: "demo"' "$W/sun-whack-status.txt" | tr '\n' ' ')"
    check_ping_through_esp
    check_ping_from_sun
    _nap 5
    stop_capture
    n=$(keepalives_seen)
    step "NAT-keepalives from moon in the capture: $n"
    ((n >= 2)) || fail "moon sent $n NAT-keepalives in 5 idle seconds with nat_keepalive = 2s"
    note "ternd behind the NAT: IKE on 4500, ESP in UDP in both kernels, pings both ways, $n keepalives in 5 s idle"
    mv "$W/capture.pcap" "$W/capture-setup.pcap"
    start_capture
    tern_terminate
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "sun's kernel has no SA and no policy left" xfrm_is_empty sun
    expect_within 10 "whack --status lists no SA of demo" pluto_has_no_sa
}

# pluto behind the NAT (in moon) initiates to ternd (in sun, the demo's mirror): ternd
# as responder sees the NAT, follows pluto to 4500 and installs ESP in UDP.
scenario_libreswan-nat-libreswan-behind() {
    stop_capture
    local topo_err dir="$R/moon-pluto" out encaps
    topo_err=$(nat_topology_up 2>&1) || fail "could not create the NAT topology: $topo_err"
    start_capture
    load_demo_psk
    start_ternd sun --config "$TERN_ROOT/conf/examples/demo-sun.toml"
    mkdir -p "$dir"
    pluto_write_conf "$dir" "$NAT_MOON_WAN" "$TOPO_SUN_WAN" moon.tern.example sun.tern.example \
        "$TOPO_MOON_NET" "$TOPO_SUN_NET" "$PSK" "$PLUTO_DEMO_IKE" "$PLUTO_DEMO_ESP" "pfs=no"
    cp "$dir/ipsec.conf" "$W/moon-ipsec.conf"
    pluto_start moon "$dir" "$W/moon-pluto.log" || fail "pluto did not start in moon: $LAST_WARNING"
    out=$(timeout 60 "$WHACK" --ctlsocket "$dir/run/pluto/pluto.ctl" --initiate --name demo 2>&1) ||
        fail "whack --initiate in moon failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    step "whack --initiate in moon: $(tail -n 1 <<<"$out")"
    expect_within 10 "ternctl list-sas in sun shows CHILD SA net INSTALLED" tern_child_installed "$R/sun-ternd"
    encaps=$(ip -n sun xfrm state | grep -c 'encap type espinudp')
    ((encaps == 2)) || fail "sun's kernel (tern) has $encaps ESP-in-UDP SAs, expected 2: $(ip -n sun xfrm state | tr '\n' ' ')"
    tern_sas_json "$R/sun-ternd" | jq -e --arg a "$TOPO_MOON_WAN:4500" '.[0].remote_addr == $a' >/dev/null ||
        fail "ternd does not see moon at $TOPO_MOON_WAN:4500: $(tern_sas_json "$R/sun-ternd" | jq -c '.[0] | [.local_addr, .remote_addr]')"
    out=$(ip netns exec moon ping -c 3 -i 0.2 -W 2 -I "$TOPO_MOON_LAN" "$TOPO_SUN_LAN" 2>&1) ||
        fail "ping through the NATed tunnel failed: $(grep -E 'packets transmitted' <<<"$out")"
    step "ping: $(grep -E 'packets transmitted' <<<"$out")"
    note "pluto behind the NAT: ternd answered on 4500 with ESP in UDP; ping 3/3"
    out=$(timeout 30 "$WHACK" --ctlsocket "$dir/run/pluto/pluto.ctl" --terminate --name demo 2>&1) ||
        fail "whack --terminate in moon failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    expect_within 10 "sun's kernel (tern) has no SA and no policy left" xfrm_is_empty sun
    expect_within 10 "ternctl list-sas in sun is empty" tern_has_no_sa "$R/sun-ternd"
    pluto_stop "$dir"
}

# --- Transport mode and IPv6, each side initiating once; pluto deletes.

# pluto_shape_case WHO MODE LWAN RWAN LNET RNET SRC DST: ternd (re)started with this
# shape, pluto (re)started with its mirror, WHO initiates, both sides and kernels agree,
# a ping SRC -> DST through ESP, pluto deletes.
pluto_shape_case() {
    local who=$1 mode=$2 lwan=$3 rwan=$4 lnet=$5 rnet=$6 src=$7 dst=$8 dir="$R/sun-pluto" ns n out states
    step "--- case $mode $lnet <-> $rnet over $lwan <-> $rwan, $who initiates"
    ternd_stop "$R/moon-ternd"
    start_ternd moon --config "$(tern_conf mode="$mode" local_addrs="[\"$lwan\"]" remote_addrs="[\"$rwan\"]" \
        local_ts="[\"$lnet\"]" remote_ts="[\"$rnet\"]")"
    pluto_stop "$dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    pluto_write_conf "$dir" "$rwan" "$lwan" sun.tern.example moon.tern.example \
        "$rnet" "$lnet" "$PSK" "$PLUTO_DEMO_IKE" "$PLUTO_DEMO_ESP" "pfs=no"
    if [[ $mode == transport ]]; then
        sed -i -e 's/^    type=tunnel$/    type=transport/' -e '/^    leftsubnet=/d' -e '/^    rightsubnet=/d' "$dir/ipsec.conf"
    fi
    cp "$dir/ipsec.conf" "$W/sun-ipsec-$mode-$who.conf"
    pluto_start sun "$dir" "$W/sun-pluto.log" || fail "pluto did not start in sun: $LAST_WARNING"
    if [[ $who == tern ]]; then tern_initiate; else pluto_initiate; fi
    expect_within 10 "ternctl list-sas shows demo ESTABLISHED with CHILD SA net INSTALLED" tern_child_installed "$R/moon-ternd"
    expect_within 10 "whack --status lists demo's IKE SA and CHILD SA established" pluto_child_established
    for ns in moon sun; do
        n=$(ip -n "$ns" xfrm state | grep -c "mode $mode")
        ((n == 2)) || fail "$ns's kernel has $n ESP SAs in $mode mode, expected 2: $(ip -n "$ns" xfrm state | grep -E '^src|mode' | tr '\n' ';')"
        states=$(ip -n "$ns" xfrm state)
        grep -q "^src $lwan dst $rwan" <<<"$states" && grep -q "^src $rwan dst $lwan" <<<"$states" ||
            fail "$ns's kernel has no ESP SA each way between $lwan and $rwan: $(grep '^src' <<<"$states" | tr '\n' ';')"
    done
    [[ $(xfrm_esp_spis moon | sort | tr '\n' ' ') == "$(xfrm_esp_spis sun | sort | tr '\n' ' ')" ]] ||
        fail "the kernels disagree: moon $(xfrm_esp_spis moon | tr '\n' ' '), sun $(xfrm_esp_spis sun | tr '\n' ' ')"
    local spis before=() after=() i
    mapfile -t spis < <(xfrm_esp_spis moon)
    for i in "${!spis[@]}"; do before[i]=$(xfrm_esp_bytes moon "${spis[i]}"); done
    out=$(ip netns exec moon ping -c 3 -i 0.2 -W 2 -I "$src" "$dst" 2>&1) ||
        fail "ping $src -> $dst through ESP failed: $(grep -E 'packets transmitted' <<<"$out")"
    for i in "${!spis[@]}"; do
        after[i]=$(xfrm_esp_bytes moon "${spis[i]}")
        ((${after[i]:-0} > ${before[i]:-0})) ||
            fail "moon's ESP SA ${spis[i]} did not count the ping $src -> $dst (${before[i]} -> ${after[i]} bytes)"
    done
    step "ping $src -> $dst: 3/3, both of moon's ESP SAs counted it"
    # pluto deletes (what it initiated and ternd deleted, it would start again).
    out=$(whack_in "$dir" --terminate --name demo 2>&1) || fail "whack --terminate failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    check_pluto_all_gone
}

scenario_libreswan-transport-mode() {
    load_demo_psk
    local who
    for who in tern libreswan; do
        pluto_shape_case "$who" transport "$TOPO_MOON_WAN" "$TOPO_SUN_WAN" "$TOPO_MOON_WAN/32" "$TOPO_SUN_WAN/32" \
            "$TOPO_MOON_WAN" "$TOPO_SUN_WAN"
    done
    note "transport mode: up from each side, ESP SAs in transport mode in both kernels, ping between the hosts through ESP"
}

scenario_libreswan-ipv6() {
    topology_add_ipv6
    load_demo_psk
    local who
    for who in tern libreswan; do
        pluto_shape_case "$who" tunnel "$V6_MOON_WAN" "$V6_SUN_WAN" "$V6_MOON_NET" "$V6_SUN_NET" "$V6_MOON_LAN" "$V6_SUN_LAN"
    done
    note "IPv6 in IPv6: up from each side, ping fd01::1 -> fd02::1 through ESP"
}

# --- Lifetimes against Libreswan, under the continuous ping (run_pluto_ike_rekeys:
# no loss but the handovers of CHILD SA rekeys ternd starts, which pluto answers).
# pluto's rekeymargin is how long before the end of life it rekeys, rekeyfuzz a random
# part of it more (default 100 %).

# pluto_lifetime_counts: REKEYS_BY_TERN and IKE_REKEYS_BY_TERN from ternd's log.
pluto_lifetime_counts() {
    REKEYS_BY_TERN=$(grep -c 'rekeying CHILD SA' "$W/moon-ternd.log")
    IKE_REKEYS_BY_TERN=$(grep -c 'rekeying IKE SA' "$W/moon-ternd.log")
    note "rekeys: ternd started $IKE_REKEYS_BY_TERN IKE and $REKEYS_BY_TERN CHILD rekeys, pluto sent $IKE_REKEYS_BY_PLUTO CREATE_CHILD_SA requests; ternd listed $SEEN_IKE_SAS IKE SAs, moon sent with $SEEN_SPIS outbound SPIs"
}

# pluto's IKE and CHILD SAs live 30 s and are rekeyed 10-20 s before (rekeymargin 10 s,
# rekeyfuzz 100 %); ternd has its defaults (4 h, 1 h) and only answers.
scenario_libreswan-lifetimes-libreswan-short() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf)"
    start_pluto "ikelifetime=30s" "salifetime=30s" "rekeymargin=10s"
    tern_initiate
    pluto_rekey_tunnel_ready
    run_pluto_ike_rekeys 66
    pluto_lifetime_counts
    at_least 4 "$IKE_REKEYS_BY_PLUTO" "CREATE_CHILD_SA requests from pluto (IKE and CHILD SAs rekeyed every 10-20 s, 66 s)"
    at_least 3 "$SEEN_IKE_SAS" "different IKE SAs ternd listed"
    at_least 3 "$SEEN_SPIS" "outbound SPIs moon used"
    exactly 0 "$((IKE_REKEYS_BY_TERN + REKEYS_BY_TERN))" "rekeys started by ternd (4 h, 1 h)"
}

# The reverse: ternd's IKE and CHILD SAs rekeyed after 20 s (its default jitter), pluto
# with its defaults (8 h) initiates and only answers.
scenario_libreswan-lifetimes-tern-short() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf conn="rekey_time = 20" child="rekey_time = 20")"
    start_pluto
    pluto_initiate
    pluto_rekey_tunnel_ready
    run_pluto_ike_rekeys 66 pluto-answers
    pluto_lifetime_counts
    at_least 2 "$IKE_REKEYS_BY_TERN" "IKE rekeys started by ternd (rekey_time 20 s, 66 s)"
    at_least 2 "$REKEYS_BY_TERN" "CHILD rekeys started by ternd (rekey_time 20 s, 66 s)"
    exactly 0 "$IKE_REKEYS_BY_PLUTO" "CREATE_CHILD_SA requests from pluto (8 h lifetimes)"
}

# Equal lifetimes without jitter, so that both sides start their rekeys at once (RFC
# 7296 2.8.1, 2.8.2). pluto rekeys an SA it responded for half its rekeymargin before
# the end of life (whack --status: "REKEY in 8s; REPLACE in 13s" with ikelifetime 25 s
# and rekeymargin 10 s), its own a whole margin before. With both at 20 s, pluto, which
# has the SA a one-way delay before ternd, rekeyed first every time and its request
# reached ternd just before ternd's own timer (7 Dec: pluto at .860, ternd due at .920,
# pluto's request there at .910). So the wire delays 600 ms each way and ternd rekeys
# at 19 s: ternd's request leaves 0.4 s before pluto's and arrives 0.2 s after it left,
# and the two cross. Once pluto's rekey wins, pluto holds the new SA and rekeys at 15 s,
# before ternd; while ternd's wins they collide again. One SA must be left each time,
# and no ping lost.
PLUTO_COLLISION_DELAY_MS=600
#
# pluto_collisions KIND: how many lines on collisions ternd logged (KIND "IKE " or "").
pluto_collisions() { grep -c "simultaneous ${1}rekey" "$W/moon-ternd.log"; }

scenario_libreswan-simultaneous-ike-rekeys() {
    delay_link "$PLUTO_COLLISION_DELAY_MS"
    load_demo_psk
    start_ternd moon --config "$(tern_conf conn=$'rekey_time = 19\nrand_time = 0\nlife_time = 30')"
    start_pluto "ikelifetime=25s" "rekeymargin=10s" "rekeyfuzz=0%"
    tern_initiate
    pluto_rekey_tunnel_ready
    run_pluto_ike_rekeys 62
    pluto_lifetime_counts
    note "collisions: ternd logged $(pluto_collisions "IKE ") lines on simultaneous IKE rekeys, the first: $(grep -m1 -o 'simultaneous IKE rekey: .* ike=' "$W/moon-ternd.log" | sed 's/ ike=$//')"
    at_least 1 "$(pluto_collisions "IKE ")" "simultaneous IKE rekeys ternd logged"
    at_least 3 "$((IKE_REKEYS_BY_TERN + IKE_REKEYS_BY_PLUTO))" "IKE rekeys started (ternd $IKE_REKEYS_BY_TERN, pluto $IKE_REKEYS_BY_PLUTO; 62 s)"
    at_least 3 "$SEEN_IKE_SAS" "different IKE SAs ternd listed"
    exactly 1 "$SEEN_SPIS" "outbound SPIs moon used (an IKE rekey keeps the CHILD SA)"
}

# The same for the CHILD SA: ternd rekeys it 19 s into its life, pluto (salifetime 25 s,
# rekeymargin 10 s) at 20 s while the CHILD SA is ternd's, at 15 s once it is pluto's.
scenario_libreswan-simultaneous-child-rekeys() {
    delay_link "$PLUTO_COLLISION_DELAY_MS"
    load_demo_psk
    start_ternd moon --config "$(tern_config_with_child_keys "rekey_time = 19" "rand_time = 0" "life_time = 30")"
    start_pluto "salifetime=25s" "rekeymargin=10s" "rekeyfuzz=0%"
    tern_initiate
    pluto_rekey_tunnel_ready
    run_pluto_rekeys 62 pluto-answers
    note "collisions: ternd logged $(pluto_collisions "") lines on simultaneous CHILD rekeys, the first: $(grep -m1 -o 'simultaneous rekey: .* ike=' "$W/moon-ternd.log" | sed 's/ ike=$//')"
    at_least 1 "$(pluto_collisions "")" "simultaneous CHILD rekeys ternd logged"
    at_least 3 "$((REKEYS_BY_TERN + REKEYS_BY_PLUTO))" "CHILD rekeys started (ternd $REKEYS_BY_TERN, pluto $REKEYS_BY_PLUTO; 62 s)"
    at_least 4 "$SEEN_SPIS" "outbound SPIs moon used"
}
