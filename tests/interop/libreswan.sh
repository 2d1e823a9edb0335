# shellcheck shell=bash
# Scenarios against Libreswan (pluto, Debian 12's libreswan 4.10, unpacked under
# target/libreswan: see lib.sh) instead of strongSwan: ternd in moon, pluto in sun, the
# same topology, PSK and proposals as the demo configuration (IKE AES-GCM-16 128, PRF
# SHA2-256, X25519; ESP AES-GCM-16 128).
#
# Sourced by tests/interop/run.

# The demo connection's proposals in ipsec.conf's words.
PLUTO_DEMO_IKE="aes_gcm128-sha2_256-dh31"
PLUTO_DEMO_ESP="aes_gcm128"

# start_pluto [OPTION_LINE...]: pluto in sun, the peer of ternd's demo connection, with
# the demo PSK (load_demo_psk first). OPTION_LINEs: more keys for the connection
# ("salifetime=20s"). pfs=no (unless PLUTO_PFS says yes): tern's demo CHILD SA proposal
# has no key exchange, so a rekey with one (Libreswan's default) would be refused.
start_pluto() {
    local dir="$R/sun-pluto" opts
    opts=$(printf '%s\n' "pfs=${PLUTO_PFS:-no}" "$@")
    mkdir -p "$dir"
    pluto_write_conf "$dir" "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" sun.tern.example moon.tern.example \
        "$TOPO_SUN_NET" "$TOPO_MOON_NET" "$PSK" "$PLUTO_DEMO_IKE" "$PLUTO_DEMO_ESP" "$opts"
    # The configuration as it was, for the report (the PSK of a test is no secret).
    cp "$dir/ipsec.conf" "$W/sun-ipsec.conf"
    step "starting pluto (Libreswan $(libreswan_version)) in sun"
    pluto_start sun "$dir" "$W/sun-pluto.log" || fail "pluto did not start in sun: $LAST_WARNING"
}

expect_pluto_alive() {
    pluto_running "$R/sun-pluto" ||
        fail "pluto died (last log lines: $(tail -n 3 "$W/sun-pluto.log" | tr '\n' ' '))"
}

# pluto_status: `whack --status`, also saved (the last one) for the report.
pluto_status() { whack_in "$R/sun-pluto" --status 2>&1 | tee "$W/sun-whack-status.txt"; }

# pluto_trafficstatus: `whack --trafficstatus`, also saved.
pluto_trafficstatus() { whack_in "$R/sun-pluto" --trafficstatus 2>&1 | tee "$W/sun-whack-trafficstatus.txt"; }

# pluto_child_established: whack lists an established IKE SA and an established CHILD SA
# of demo, and --trafficstatus shows the CHILD SA (`#2: "demo", type=ESP, ...`).
pluto_child_established() {
    local out
    out=$(pluto_status) || return 1
    grep -qE '"demo".* STATE_V2_ESTABLISHED_IKE_SA' <<<"$out" &&
        grep -qE '"demo".* STATE_V2_ESTABLISHED_CHILD_SA' <<<"$out" &&
        pluto_trafficstatus | grep -qE '"demo", type=ESP'
}

# pluto_has_no_sa: whack answers and lists no SA (no "#N: " state line).
pluto_has_no_sa() {
    local out
    out=$(pluto_status) || return 1
    ! grep -qE '#[0-9]+: "demo"' <<<"$out"
}

# pluto_child_spis: "SPI_TO_MOON SPI_TO_SUN" of pluto's (newest) CHILD SA, as 8 hex
# digits; whack --status names them "esp.SPI@DESTINATION", without leading zeros
# ("esp.2320b9@192.0.2.2").
pluto_child_spis() {
    pluto_status | awk -v moon="$TOPO_MOON_WAN" -v sun="$TOPO_SUN_WAN" '
        { for (i = 1; i <= NF; i++) if ($i ~ /^esp\.[0-9a-f]+@/) {
              split(substr($i, 5), p, "@")
              while (length(p[1]) < 8) p[1] = "0" p[1]
              if (p[2] == moon) to_moon = p[1]; else if (p[2] == sun) to_sun = p[1]
          } }
        END { print to_moon, to_sun }'
}

# The SPIs of both kernels' SAs must be the same pair, and those ternctl and whack report.
check_spis_match_pluto() {
    local moon_to_sun moon_from_sun sun_to_moon sun_from_moon tern_in tern_out pluto_to_moon pluto_to_sun
    moon_to_sun=$(xfrm_esp_spi_to moon "$TOPO_SUN_WAN")
    moon_from_sun=$(xfrm_esp_spi_to moon "$TOPO_MOON_WAN")
    sun_to_moon=$(xfrm_esp_spi_to sun "$TOPO_MOON_WAN")
    sun_from_moon=$(xfrm_esp_spi_to sun "$TOPO_SUN_WAN")
    read -r tern_in tern_out <<<"$(tern_child_spis "$R/moon-ternd")"
    read -r pluto_to_moon pluto_to_sun <<<"$(pluto_child_spis)"
    step "SPIs: moon kernel to-sun=$moon_to_sun from-sun=$moon_from_sun; sun kernel to-moon=$sun_to_moon from-moon=$sun_from_moon; ternctl in=$tern_in out=$tern_out; whack to-moon=$pluto_to_moon to-sun=$pluto_to_sun"
    [[ "$(xfrm_esp_spis moon | wc -l)" == 2 ]] ||
        fail "moon's kernel has $(xfrm_esp_spis moon | wc -l) ESP SAs, expected 2: $(xfrm_esp_spis moon | tr '\n' ' ')"
    [[ "$(xfrm_esp_spis sun | wc -l)" == 2 ]] ||
        fail "sun's kernel has $(xfrm_esp_spis sun | wc -l) ESP SAs, expected 2: $(xfrm_esp_spis sun | tr '\n' ' ')"
    [[ -n $moon_to_sun && $moon_to_sun == "$sun_from_moon" && -n $moon_from_sun && $moon_from_sun == "$sun_to_moon" ]] ||
        fail "the kernels disagree: moon sends with ${moon_to_sun:-none} and receives with ${moon_from_sun:-none}, sun receives with ${sun_from_moon:-none} and sends with ${sun_to_moon:-none}"
    [[ $tern_in == "$moon_from_sun" && $tern_out == "$moon_to_sun" ]] ||
        fail "ternctl list-sas reports SPIs in=$tern_in out=$tern_out, moon's kernel has in=$moon_from_sun out=$moon_to_sun"
    [[ $pluto_to_moon == "$sun_to_moon" && $pluto_to_sun == "$sun_from_moon" ]] ||
        fail "whack --status shows esp.$pluto_to_moon@moon and esp.$pluto_to_sun@sun, sun's kernel has $sun_to_moon (to moon) and $sun_from_moon (from moon)"
}

# check_ping_from_sun: a ping the other way, from sun's LAN address to moon's; both of
# sun's ESP SAs must count it.
check_ping_from_sun() {
    local spis before=() after=() out i
    mapfile -t spis < <(xfrm_esp_spis sun)
    for i in "${!spis[@]}"; do before[i]=$(xfrm_esp_bytes sun "${spis[i]}"); done
    out=$(ip netns exec sun ping -c 3 -i 0.2 -W 2 -I "$TOPO_SUN_LAN" "$TOPO_MOON_LAN" 2>&1)
    local rc=$?
    step "ping from sun: $(grep -E 'packets transmitted' <<<"$out")"
    ((rc == 0)) || fail "ping $TOPO_SUN_LAN -> $TOPO_MOON_LAN through the tunnel failed: $(grep -E 'packets transmitted' <<<"$out")"
    for i in "${!spis[@]}"; do
        after[i]=$(xfrm_esp_bytes sun "${spis[i]}")
        ((${after[i]:-0} > ${before[i]:-0})) ||
            fail "sun's ESP SA ${spis[i]} did not count the ping from sun (bytes ${before[i]} -> ${after[i]})"
    done
    note "ping from sun through ESP: 3/3 replies; sun's ESP byte counters grew on both SAs"
}

# Both sides of a tern<->pluto tunnel up: IKE + CHILD SA on both, kernels agree, pings
# both ways, and --trafficstatus counts them.
check_pluto_tunnel_up() {
    expect_ternd_alive
    expect_pluto_alive
    expect_within 10 "ternctl list-sas shows demo ESTABLISHED with CHILD SA net INSTALLED" tern_child_installed "$R/moon-ternd"
    expect_within 10 "whack --status lists demo's IKE SA and CHILD SA established" pluto_child_established
    tern_sas_json "$R/moon-ternd" >"$W/moon-ternctl-list-sas.json" 2>&1
    check_spis_match_pluto
    check_policies moon
    check_policies sun
    check_ping_through_esp
    check_ping_from_sun
    pluto_trafficstatus >/dev/null
    cp "$W/sun-whack-trafficstatus.txt" "$W/sun-whack-trafficstatus-established.txt"
    grep -qE '"demo", type=ESP.* inBytes=[1-9][0-9]*, outBytes=[1-9]' "$W/sun-whack-trafficstatus.txt" ||
        fail "whack --trafficstatus does not count the pings: $(tr '\n' ' ' <"$W/sun-whack-trafficstatus.txt")"
}

# pluto_initiate: `whack --initiate --name demo` in sun, timed; must succeed.
pluto_initiate() {
    local t0 out rc
    t0=$(now_ms)
    out=$(timeout 60 "$WHACK" --ctlsocket "$R/sun-pluto/run/pluto/pluto.ctl" --initiate --name demo 2>&1)
    rc=$?
    printf '%s\n' "$out" >"$W/sun-whack-initiate.txt"
    step "whack --initiate --name demo -> exit $rc: $(tail -n 1 <<<"$out")"
    ((rc == 0)) || fail "whack --initiate in sun failed (exit $rc): $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    note "whack --initiate: tunnel up after $(($(now_ms) - t0)) ms"
}

# Nothing left anywhere after a delete.
check_pluto_all_gone() {
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "sun's kernel has no SA and no policy left" xfrm_is_empty sun
    expect_within 10 "whack --status lists no SA of demo" pluto_has_no_sa
    expect_within 10 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    expect "ternd is still running" ternd_running "$R/moon-ternd"
    expect_pluto_alive
    check_ike_ports
}

# ternd initiates, pluto responds; ternd deletes: nothing left anywhere.
scenario_tern-initiates-libreswan() {
    load_demo_psk
    start_ternd moon
    start_pluto
    tern_initiate
    check_pluto_tunnel_up
    tern_terminate
    check_pluto_all_gone
}

# pluto initiates, ternd responds; pluto deletes: nothing left anywhere.
scenario_libreswan-initiates() {
    load_demo_psk
    start_ternd moon
    start_pluto
    pluto_initiate
    check_pluto_tunnel_up
    local out
    out=$(whack_in "$R/sun-pluto" --terminate --name demo 2>&1) ||
        fail "whack --terminate failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    step "whack --terminate --name demo: $(tail -n 1 <<<"$out")"
    check_pluto_all_gone
}

# --- CHILD SA rekeys with Libreswan, a continuous ping through them all (the zero-loss
# rule of the strongSwan rekey scenarios: ping_start/ping_finish in run).

# _esp_view NS: "COUNT TO_SUN TO_MOON" of NS's kernel: how many ESP SAs it holds and
# the SPI of (the last) one to each side, in one process pair (the agreement check below
# runs while rekeys go on, and in a busy guest every process started costs 0.1-0.3 s).
_esp_view() {
    ip -n "$1" xfrm state | awk -v moon="$TOPO_MOON_WAN" -v sun="$TOPO_SUN_WAN" '
        $1 == "src" { d = $4 }
        $1 == "proto" && $2 == "esp" && $3 == "spi" { v = $4; sub(/\(.*/, "", v); sub(/^0x/, "", v)
            n++; if (d == sun) s = v; else if (d == moon) m = v }
        END { print n + 0, s, m }'
}

# _pluto_agrees_on_one_child: both kernels hold the same single CHILD SA, ternctl lists
# it INSTALLED with those SPIs, whack --status lists one established CHILD SA of demo,
# with those SPIs; both kernels looked at again last (a rekey may have begun meanwhile).
# Sets AGREED to the pair, or DISAGREED to what differed.
DISAGREED=
_pluto_agrees_on_one_child() {
    local moon sun tern pluto again to_sun to_moon
    moon=$(_esp_view moon) sun=$(_esp_view sun)
    [[ $moon == "$sun" && $moon == "2 "* ]] || {
        DISAGREED="kernels (ESP SAs, SPI to sun, SPI to moon): moon $moon, sun $sun"
        return 1
    }
    # ternd's CHILD SA net, as "SPI_TO_SUN SPI_TO_MOON" if INSTALLED.
    tern=$(tern_sas_json "$R/moon-ternd" | jq -r 'first(.[] | select(.connection == "demo" and .state == "ESTABLISHED")
        | .children[] | select(.name == "net" and .state == "INSTALLED")) | "\(.spi_out) \(.spi_in)"')
    [[ "2 $tern" == "$moon" ]] || {
        DISAGREED="ternctl: ${tern:-no INSTALLED CHILD SA} (out in), moon's kernel (count out in): $moon"
        return 1
    }
    # pluto's established CHILD SAs, and the SPIs of the one, as "COUNT TO_SUN TO_MOON".
    pluto=$(whack_in "$R/sun-pluto" --status 2>&1 | awk -v moon="$TOPO_MOON_WAN" -v sun="$TOPO_SUN_WAN" '
        /"demo".* STATE_V2_ESTABLISHED_CHILD_SA/ { n++ }
        { for (i = 1; i <= NF; i++) if ($i ~ /^esp\.[0-9a-f]+@/) {
              split(substr($i, 5), p, "@")
              while (length(p[1]) < 8) p[1] = "0" p[1]
              if (p[2] == moon) m = p[1]; else if (p[2] == sun) s = p[1]
          } }
        END { print n + 0, s, m }')
    [[ $pluto == "1 ${moon#2 }" ]] || {
        DISAGREED="whack --status (established CHILD SAs, SPI to sun, SPI to moon): $pluto, the kernels: $moon"
        return 1
    }
    again=$(_esp_view moon)
    [[ $again == "$moon" ]] || {
        DISAGREED="moon's kernel changed while looking: $moon, then $again"
        return 1
    }
    read -r _ to_sun to_moon <<<"$moon"
    AGREED="moon->sun $to_sun, sun->moon $to_moon"
    pluto_status >/dev/null
}

# Both daemons have the CHILD SA (no traffic check here: the continuous ping is one, and
# the full check takes longer than the 10 s until the first rekey in a busy guest).
pluto_rekey_tunnel_ready() {
    expect_ternd_alive
    expect_pluto_alive
    expect_within 10 "ternctl list-sas shows demo ESTABLISHED with CHILD SA net INSTALLED" tern_child_installed "$R/moon-ternd"
    expect_within 10 "whack --status lists demo's IKE SA and CHILD SA established" pluto_child_established
}

# run_pluto_rekeys SECS [pluto-answers]: run_peer_rekeys (in run) with pluto as the
# peer. Sets REKEYS_BY_TERN, REKEYS_BY_PLUTO (CREATE_CHILD_SA requests sun sent, in the
# capture), SEEN_SPIS and SEEN_SPI_LIST.
#
# No lost ping is excused, except with `pluto-answers` (ternd starts the rekeys): one
# per new CHILD SA, within HANDOVER_WINDOW_MS of ternd installing it. pluto, answering a
# CREATE_CHILD_SA request, installs its new SAs and sends on the new outbound one even
# before its answer leaves, and ternd cannot have that inbound SA until the answer comes
# (its keys come from the answer's nonce). Seen (tern-rekeys-child-libreswan, capture):
# the echo reply to icmp_seq 727 left sun on the new SPI c96d9ecf at .605563, pluto's
# CREATE_CHILD_SA answer at .618330, ternd installed the SA at .619013.
REKEYS_BY_PLUTO=0
run_pluto_rekeys() {
    HANDOVER_LOSS_OK=0
    if [[ ${2:-} == pluto-answers ]]; then
        HANDOVER_LOSS_OK=1
        HANDOVER_LOG_PATTERN='CHILD SA installed'
        HANDOVER_WHY="ternd installing a rekeyed CHILD SA (one at most each): pluto, answering the rekey, sends on its new SA before its answer leaves, so before ternd can have the answer's keys"
    fi
    # 60 s to find them agreed: with a rekey every 10 s and ternd keeping a replaced
    # inbound SA for its grace period, both kernels hold one CHILD SA for a few seconds
    # of each ten only.
    run_peer_rekeys "$1" expect_pluto_alive _pluto_agrees_on_one_child "ternd, pluto and both kernels agree on one CHILD SA" 60
    REKEYS_BY_PLUTO=$(capture_requests "$W/capture.pcap" child_sa "$TOPO_SUN_WAN")
    note "rekeys: ternd logged $REKEYS_BY_TERN 'rekeying CHILD SA', sun sent $REKEYS_BY_PLUTO CREATE_CHILD_SA requests (capture); moon sent with $SEEN_SPIS different outbound SPIs: $SEEN_SPI_LIST"
}

# ternd rekeys the CHILD SA every 10 s; pluto (salifetime 8 h, its default) only answers.
scenario_tern-rekeys-child-libreswan() {
    load_demo_psk
    start_ternd moon --config "$(tern_config_with_child_keys "rekey_time = 10" "rand_time = 0" "life_time = 30")"
    start_pluto
    tern_initiate
    pluto_rekey_tunnel_ready
    run_pluto_rekeys 42 pluto-answers
    ((REKEYS_BY_TERN >= 3)) || fail "ternd rekeyed the CHILD SA $REKEYS_BY_TERN times, expected at least 3 (rekey_time 10 s, 42 s)"
    ((SEEN_SPIS >= 4)) || fail "moon sent with $SEEN_SPIS different outbound SPIs, expected at least 4 (3 rekeys)"
    ((REKEYS_BY_PLUTO == 0)) || fail "pluto sent $REKEYS_BY_PLUTO CREATE_CHILD_SA requests although its salifetime is 8 h"
}

# pluto rekeys the CHILD SA 10 s into its 20 s life (no fuzz); ternd (1 h) only answers.
scenario_libreswan-rekeys-child() {
    load_demo_psk
    start_ternd moon
    start_pluto "salifetime=20s" "rekeymargin=10s" "rekeyfuzz=0%"
    tern_initiate
    pluto_rekey_tunnel_ready
    run_pluto_rekeys 45
    ((REKEYS_BY_PLUTO >= 3)) || fail "pluto sent $REKEYS_BY_PLUTO CREATE_CHILD_SA requests, expected at least 3 (a rekey every 10 s, 45 s)"
    ((SEEN_SPIS >= 4)) || fail "moon sent with $SEEN_SPIS different outbound SPIs, expected at least 4 (3 rekeys)"
    ((REKEYS_BY_TERN == 0)) || fail "ternd rekeyed $REKEYS_BY_TERN times although its rekey_time is 1 h"
}

# --- IKE SA rekeys with Libreswan: the CHILD SA moves to each new IKE SA unchanged, and
# the continuous ping loses nothing.

# _pluto_one_ike_sa: pluto and ternd each list one IKE SA of demo (the rekeyed ones are
# gone), and they agree on the one CHILD SA.
_pluto_one_ike_sa() {
    _pluto_agrees_on_one_child || return 1
    [[ $(grep -cE '"demo".* STATE_V2_ESTABLISHED_IKE_SA' "$W/sun-whack-status.txt") == 1 ]] || {
        DISAGREED="whack --status lists $(grep -cE '"demo".* STATE_V2_ESTABLISHED_IKE_SA' "$W/sun-whack-status.txt") established IKE SAs"
        return 1
    }
    [[ $(tern_sas_json "$R/moon-ternd" | jq '[.[] | select(.connection == "demo")] | length') == 1 ]] || {
        DISAGREED="ternctl lists more than one IKE SA of demo"
        return 1
    }
}

# run_pluto_ike_rekeys SECS: the continuous ping for SECS seconds (no loss excused: an
# IKE rekey leaves the CHILD SA alone), the IKE SAs and outbound ESP SPIs ternd used
# meanwhile, then one IKE SA and one CHILD SA agreed on all sides. Sets IKE_REKEYS_BY_TERN
# (ternd's log), IKE_REKEYS_BY_PLUTO (CREATE_CHILD_SA requests sun sent, in the capture),
# SEEN_IKE_SAS and SEEN_SPIS.
#
# With `pluto-answers` as the second argument, ternd's CHILD SA rekeys (if any) excuse a
# lost ping each, as in run_pluto_rekeys.
IKE_REKEYS_BY_PLUTO=0 SEEN_IKE_SAS=0
run_pluto_ike_rekeys() {
    local secs=$1 t_end ikes=() spis=() ike spi
    HANDOVER_LOSS_OK=0
    if [[ ${2:-} == pluto-answers ]]; then
        HANDOVER_LOSS_OK=1
        HANDOVER_LOG_PATTERN='CHILD SA installed'
        HANDOVER_WHY="ternd installing a rekeyed CHILD SA (one at most each): pluto, answering the rekey, sends on its new SA before its answer leaves, so before ternd can have the answer's keys"
    fi
    ping_start "$secs"
    _now && t_end=$((NOW_MS + secs * 1000))
    while _now && ((NOW_MS < t_end)); do
        ike=$(tern_ike_spis)
        [[ -z $ike || $ike == null_null || " ${ikes[*]} " == *" $ike "* ]] || ikes+=("$ike")
        spi=$(xfrm_esp_spi_to moon "$TOPO_SUN_WAN" | tail -n1)
        [[ -z $spi || " ${spis[*]} " == *" $spi "* ]] || spis+=("$spi")
        expect_ternd_alive
        expect_pluto_alive
        _nap 0.5
    done
    ping_finish
    DISAGREED=
    wait_until 30 "one IKE SA" _pluto_one_ike_sa ||
        fail "ternd, pluto and both kernels agree on one IKE SA and one CHILD SA (not within 30s)${DISAGREED:+; last look: $DISAGREED}"
    step "agreed: $AGREED"
    stop_capture
    check_ike_ports
    IKE_REKEYS_BY_TERN=$(grep -c 'rekeying IKE SA' "$W/moon-ternd.log")
    IKE_REKEYS_BY_PLUTO=$(capture_requests "$W/capture.pcap" child_sa "$TOPO_SUN_WAN")
    SEEN_IKE_SAS=${#ikes[@]} SEEN_SPIS=${#spis[@]}
    note "IKE rekeys: ternd logged $IKE_REKEYS_BY_TERN 'rekeying IKE SA', sun sent $IKE_REKEYS_BY_PLUTO CREATE_CHILD_SA requests (capture); ternd listed $SEEN_IKE_SAS IKE SAs, moon sent with $SEEN_SPIS outbound SPIs (${spis[*]})"
}

# ternd rekeys the IKE SA every 10 s; pluto (ikelifetime 8 h) only answers.
scenario_tern-rekeys-ike-libreswan() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf conn=$'rekey_time = 10\nrand_time = 0')"
    start_pluto
    tern_initiate
    pluto_rekey_tunnel_ready
    run_pluto_ike_rekeys 42
    at_least 3 "$IKE_REKEYS_BY_TERN" "IKE rekeys started by ternd (rekey_time 10 s, 42 s)"
    at_least 4 "$SEEN_IKE_SAS" "different IKE SAs ternd listed"
    exactly 0 "$IKE_REKEYS_BY_PLUTO" "CREATE_CHILD_SA requests from pluto (8 h lifetimes)"
    exactly 1 "$SEEN_SPIS" "outbound SPIs moon used (an IKE rekey keeps the CHILD SA)"
}

# pluto rekeys the IKE SA 10 s into its 20 s life (no fuzz); ternd (4 h) only answers.
# (rekeymargin is also the CHILD SA's: its 8 h salifetime keeps it out of the way.)
scenario_libreswan-rekeys-ike() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf)"
    start_pluto "ikelifetime=20s" "rekeymargin=10s" "rekeyfuzz=0%"
    tern_initiate
    pluto_rekey_tunnel_ready
    run_pluto_ike_rekeys 45
    at_least 3 "$IKE_REKEYS_BY_PLUTO" "IKE rekeys started by pluto (every 10 s, 45 s)"
    at_least 4 "$SEEN_IKE_SAS" "different IKE SAs ternd listed"
    exactly 0 "$IKE_REKEYS_BY_TERN" "IKE rekeys started by ternd (rekey_time 4 h)"
    exactly 1 "$SEEN_SPIS" "outbound SPIs moon used (an IKE rekey keeps the CHILD SA)"
}

# --- Libreswan #405: a responder with rekeying disabled (rekey=no) and a short CHILD SA
# life. pluto never rekeys and, as a responder (auto=add), never sets a CHILD SA up again
# either: it deletes each one at its life and leaves the rest to us. ternd has its
# defaults (1 h) and no way to learn the peer's lifetime from IKEv2 itself: it takes
# each DELETE of the child's last SA for an end of life, sets the child up again 10 s
# later if pluto has not (its on-demand policy may, on traffic), and after two ends at
# the same age rekeys first (rekey_adapt). From then on: no expiry, no lost ping.
PLUTO_SHORT_LIFE=15
scenario_libreswan-rekey-off() {
    load_demo_psk
    start_ternd moon
    start_pluto "rekey=no" "salifetime=${PLUTO_SHORT_LIFE}s"
    tern_initiate
    pluto_rekey_tunnel_ready
    # Two lives of 15 s and two waits of at most 10 s, with room for the checks.
    expect_within 75 "ternd to say it now rekeys before pluto's SAs expire" \
        grep -q 'the peer lets this CHILD SA expire' "$W/moon-ternd.log"
    step "ternd: $(grep -m1 -o 'the peer lets this CHILD SA expire[^"]*' "$W/moon-ternd.log")"
    # The CHILD SA made after pluto's second expiry is the first one ternd rekeys.
    pluto_rekey_tunnel_ready
    local secs=$((PLUTO_SHORT_LIFE * 3)) t_end expired rekeys_before rekeys
    expired=$(grep -c 'CHILD SA removed: deleted by the peer' "$W/moon-ternd.log")
    rekeys_before=$(grep -c 'rekeying CHILD SA' "$W/moon-ternd.log")
    note "pluto deleted $expired CHILD SAs at its life before ternd adapted"
    at_least 2 "$expired" "CHILD SAs pluto let expire before ternd adapted"
    step "continuous ping for $secs s: three of pluto's CHILD SA lifetimes"
    local HANDOVER_LOSS_OK=1 HANDOVER_LOG_PATTERN='CHILD SA installed'
    local HANDOVER_WHY="ternd installing a rekeyed CHILD SA (one at most each): pluto, answering the rekey, sends on its new SA before its answer leaves, so before ternd can have the answer's keys"
    ping_start "$secs"
    _now && t_end=$((NOW_MS + secs * 1000))
    while _now && ((NOW_MS < t_end)); do
        expect_ternd_alive
        expect_pluto_alive
        _nap 0.5
    done
    ping_finish
    expect_ternd_alive
    expect_pluto_alive
    exactly "$expired" "$(grep -c 'CHILD SA removed: deleted by the peer' "$W/moon-ternd.log")" \
        "CHILD SAs pluto let expire (in all) once ternd rekeys first"
    rekeys=$(($(grep -c 'rekeying CHILD SA' "$W/moon-ternd.log") - rekeys_before))
    at_least 3 "$rekeys" "CHILD rekeys by ternd in the $secs s after it adapted (every 13.5 s)"
    DISAGREED=
    wait_until 10 "one CHILD SA" _pluto_agrees_on_one_child ||
        fail "ternd, pluto and both kernels agree on one CHILD SA (not within 10s)${DISAGREED:+; last look: $DISAGREED}"
    note "after adapting, ternd rekeyed $rekeys times in $secs s and pluto let none expire"
    stop_capture
    check_ike_ports
}
