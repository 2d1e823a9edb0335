# shellcheck shell=bash
# Scenarios against OpenIKED (iked, Debian 12's openiked 7.2) instead of strongSwan:
# ternd in moon, iked in sun, the same topology, PSK and IKE proposal as the demo
# configuration (AES-GCM-16 128, PRF SHA2-256, X25519). ESP is AES-128-CBC with
# HMAC-SHA1-96: through PF_KEY this iked installs neither AES-GCM nor HMAC-SHA2 (see
# docs/INTEROP.md, OpenIKED).
#
# Sourced by tests/interop/run.

# The demo connection's proposals in iked.conf's words.
IKED_DEMO_IKESA="enc aes-128-gcm prf hmac-sha2-256 group curve25519"
IKED_DEMO_CHILDSA="enc aes-128 auth hmac-sha1 noesn"
# ... and ternd's ESP proposal to match (conf/ternd.toml's esp_proposals replaced).
TERN_OPENIKED_ESP='["aes128-sha1"]'

# start_ternd_for_openiked [CHILD_LINE...]: ternd in moon with the demo configuration,
# its ESP proposal replaced by TERN_OPENIKED_ESP and CHILD_LINEs (e.g. "rekey_time = 10")
# added to the child `net`.
start_ternd_for_openiked() {
    local conf="$W/moon-ternd.toml"
    TERN_CHILD_LINES=$(printf '%s\n' "$@") awk -v esp="$TERN_OPENIKED_ESP" '
        /^esp_proposals[[:space:]]*=/ { print "esp_proposals = " esp; done = 1; next }
        { print }
        /^\[connections\.demo\.children\.net\][[:space:]]*$/ { print ENVIRON["TERN_CHILD_LINES"] }
        END { exit !done }' "$TERN_ROOT/conf/ternd.toml" >"$conf" ||
        fail "conf/ternd.toml has no esp_proposals line to replace"
    start_ternd moon --config "$conf"
}

# start_iked MODE [OPTIONS]: iked in sun, the peer of ternd's demo connection, with the
# demo PSK (load_demo_psk first). MODE: passive (it waits) or active (it initiates at
# once and again whenever its SA is gone). OPTIONS: more policy words ("lifetime 10").
start_iked() {
    local mode=$1 opts=${2:-} dir="$R/sun-iked"
    mkdir -p "$dir"
    iked_write_conf "$dir" "$mode" "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" sun.tern.example moon.tern.example \
        "$TOPO_SUN_NET" "$TOPO_MOON_NET" "$PSK" "$IKED_DEMO_IKESA" "$IKED_DEMO_CHILDSA" "$opts"
    # The configuration as it was, for the report (the PSK of a test is no secret).
    cp "$dir/iked.conf" "$W/sun-iked.conf"
    step "starting iked ($mode) in sun"
    iked_start sun "$dir" "$W/sun-iked.log" || fail "iked did not start in sun: $LAST_WARNING"
}

expect_iked_alive() {
    iked_running "$R/sun-iked" ||
        fail "iked died (last log lines: $(tail -n 3 "$W/sun-iked.log" | tr '\n' ' '))"
}

# iked_show_sa: `ikectl show sa`, also saved (the last one) for the report.
iked_show_sa() { ikectl_in "$R/sun-iked" show sa 2>&1 | tee "$W/sun-ikectl-show-sa.txt"; }

# iked_child_established: iked lists an ESTABLISHED IKE SA ("iked_sas: ... ESTABLISHED")
# with its CHILD SA, one ESP SA each way ("  sa_childsas: ... ESP 0x055805cc in ...").
iked_child_established() {
    local out
    out=$(iked_show_sa) || return 1
    grep -qE '^iked_sas: .* ESTABLISHED ' <<<"$out" &&
        grep -qE '^ +sa_childsas: .* ESP 0x[0-9a-f]+ in ' <<<"$out" &&
        grep -qE '^ +sa_childsas: .* ESP 0x[0-9a-f]+ out ' <<<"$out"
}

# iked_has_no_sa: `ikectl show sa` answers and lists no IKE SA.
iked_has_no_sa() {
    local out
    out=$(iked_show_sa) || return 1
    ! grep -q '^iked_sas: ' <<<"$out"
}

# The SPIs of both kernels' SAs must be the same pair, and those ternctl reports.
check_spis_match_kernels() {
    local moon_to_sun moon_from_sun sun_to_moon sun_from_moon tern_in tern_out
    moon_to_sun=$(xfrm_esp_spi_to moon "$TOPO_SUN_WAN")
    moon_from_sun=$(xfrm_esp_spi_to moon "$TOPO_MOON_WAN")
    sun_to_moon=$(xfrm_esp_spi_to sun "$TOPO_MOON_WAN")
    sun_from_moon=$(xfrm_esp_spi_to sun "$TOPO_SUN_WAN")
    read -r tern_in tern_out <<<"$(tern_child_spis "$R/moon-ternd")"
    step "SPIs: moon kernel to-sun=$moon_to_sun from-sun=$moon_from_sun; sun kernel to-moon=$sun_to_moon from-moon=$sun_from_moon; ternctl in=$tern_in out=$tern_out"
    [[ "$(xfrm_esp_spis moon | wc -l)" == 2 ]] ||
        fail "moon's kernel has $(xfrm_esp_spis moon | wc -l) ESP SAs, expected 2: $(xfrm_esp_spis moon | tr '\n' ' ')"
    [[ "$(xfrm_esp_spis sun | wc -l)" == 2 ]] ||
        fail "sun's kernel has $(xfrm_esp_spis sun | wc -l) ESP SAs, expected 2: $(xfrm_esp_spis sun | tr '\n' ' ')"
    [[ -n $moon_to_sun && $moon_to_sun == "$sun_from_moon" && -n $moon_from_sun && $moon_from_sun == "$sun_to_moon" ]] ||
        fail "the kernels disagree: moon sends with ${moon_to_sun:-none} and receives with ${moon_from_sun:-none}, sun receives with ${sun_from_moon:-none} and sends with ${sun_to_moon:-none}"
    [[ $tern_in == "$moon_from_sun" && $tern_out == "$moon_to_sun" ]] ||
        fail "ternctl list-sas reports SPIs in=$tern_in out=$tern_out, moon's kernel has in=$moon_from_sun out=$moon_to_sun"
    grep -qi "$moon_to_sun" "$W/sun-ikectl-show-sa.txt" && grep -qi "$moon_from_sun" "$W/sun-ikectl-show-sa.txt" ||
        fail "ikectl show sa does not list the CHILD SA's SPIs $moon_to_sun and $moon_from_sun"
}

# iked installs in and out policies through PF_KEY (and fwd: checked, not assumed).
check_iked_policies() {
    local dirs
    dirs=$(xfrm_policy_dirs sun "$TOPO_MOON_NET" "$TOPO_SUN_NET")
    [[ " $dirs " == *" in "* && " $dirs " == *" out "* ]] ||
        fail "sun's XFRM policies for $TOPO_MOON_NET<->$TOPO_SUN_NET: '${dirs:-none}', expected in and out at least"
    note "iked's XFRM policies (sun): $dirs"
}

# Both sides of a tern<->iked tunnel up: IKE + CHILD SA on both, kernels agree, ping.
check_iked_tunnel_up() {
    expect_ternd_alive
    expect_iked_alive
    expect_within 10 "ternctl list-sas shows demo ESTABLISHED with CHILD SA net INSTALLED" tern_child_installed "$R/moon-ternd"
    expect_within 10 "ikectl show sa lists an ESTABLISHED IKE SA with its CHILD SA" iked_child_established
    tern_sas_json "$R/moon-ternd" >"$W/moon-ternctl-list-sas.json" 2>&1
    cp "$W/sun-ikectl-show-sa.txt" "$W/sun-ikectl-show-sa-established.txt"
    check_spis_match_kernels
    check_policies moon
    check_iked_policies
    check_ping_through_esp
}

# ternd initiates, iked (passive) responds; ternd deletes: nothing left anywhere.
scenario_tern-initiates-openiked() {
    load_demo_psk
    start_ternd_for_openiked
    start_iked passive
    tern_initiate
    check_iked_tunnel_up
    tern_terminate
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "sun's kernel has no SA and no policy left" xfrm_is_empty sun
    expect_within 10 "ikectl show sa lists no SA" iked_has_no_sa
    expect_within 10 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    expect "ternd is still running" ternd_running "$R/moon-ternd"
    expect_iked_alive
    check_ike_ports
}

# iked (active) initiates as soon as it is up; ternd responds. ternd then deletes the
# IKE SA: iked must drop that CHILD SA's SAs too (as an active policy it may start a new
# one, so only the old SPIs must go).
scenario_openiked-initiates() {
    load_demo_psk
    start_ternd_for_openiked
    start_iked active
    check_iked_tunnel_up
    local old_out old_in
    old_out=$(xfrm_esp_spi_to sun "$TOPO_MOON_WAN")
    old_in=$(xfrm_esp_spi_to sun "$TOPO_SUN_WAN")
    tern_terminate
    expect_within 10 "sun's kernel no longer has the deleted CHILD SA ($old_in/$old_out)" \
        _sun_lacks_spis "$old_in" "$old_out"
    expect_within 10 "moon's kernel has no SA of the deleted CHILD SA" _moon_lacks_spis "$old_in" "$old_out"
    expect "ternd is still running" ternd_running "$R/moon-ternd"
    expect_iked_alive
    check_ike_ports
}

_sun_lacks_spis() { ! xfrm_esp_spis sun | grep -qE "^($1|$2)$"; }
_moon_lacks_spis() { ! xfrm_esp_spis moon | grep -qE "^($1|$2)$"; }

# --- CHILD SA rekeys with OpenIKED, a continuous ping through them all (the zero-loss
# rule of the strongSwan rekey scenarios: ping_start/ping_finish in run).

# _all_agree_on_one_child: both kernels hold the same single CHILD SA (2 ESP SAs), ternctl
# lists it INSTALLED with those SPIs, ikectl lists both SPIs under an ESTABLISHED IKE
# SA. Sets AGREED to the pair.
AGREED=
_all_agree_on_one_child() {
    local to_sun from_sun tern_in tern_out out
    _kernels_settled || return 1
    to_sun=$(xfrm_esp_spi_to moon "$TOPO_SUN_WAN")
    from_sun=$(xfrm_esp_spi_to moon "$TOPO_MOON_WAN")
    tern_child_installed "$R/moon-ternd" || return 1
    read -r tern_in tern_out <<<"$(tern_child_spis "$R/moon-ternd")"
    [[ $tern_in == "$from_sun" && $tern_out == "$to_sun" ]] || return 1
    out=$(iked_show_sa) || return 1
    iked_child_established || return 1
    grep -q "ESP 0x$to_sun in " <<<"$out" && grep -q "ESP 0x$from_sun out " <<<"$out" || return 1
    _kernels_settled || return 1
    AGREED="moon->sun $to_sun, sun->moon $from_sun"
}

# run_iked_rekeys SECS: run_peer_rekeys (in run) with iked as the peer. Sets
# REKEYS_BY_TERN and REKEYS_BY_IKED (CREATE_CHILD_SA requests sent, from the logs) and
# SEEN_SPIS (outbound SPIs moon used).
#
# A ping lost at a CHILD SA handover is excused (once per new CHILD SA, within
# HANDOVER_WINDOW_MS of ternd installing it) when iked answered the rekey: iked as
# responder installs its new SAs and sends on the new outbound one right after its
# CREATE_CHILD_SA answer ("send CREATE_CHILD_SA res", then "pfkey_sa_add"), so a reply
# that overtakes the answer reaches ternd before ternd can have the inbound SA (its keys
# come from the answer's nonce). Seen: moon sent icmp_seq 109 on the old SPI at
# .755811, iked answered on the new one at .755866, ternd installed it at .756893.
REKEYS_BY_IKED=0
run_iked_rekeys() {
    HANDOVER_LOSS_OK=1
    HANDOVER_LOG_PATTERN='CHILD SA installed'
    HANDOVER_WHY="ternd installing a rekeyed CHILD SA (one at most each): iked, answering the rekey, sends on its new SA right after its answer, before ternd has the answer's keys"
    run_peer_rekeys "$1" expect_iked_alive _all_agree_on_one_child "ternd, iked and both kernels agree on one CHILD SA"
    REKEYS_BY_IKED=$(grep -c 'send CREATE_CHILD_SA req' "$W/sun-iked.log")
    note "rekeys: ternd logged $REKEYS_BY_TERN 'rekeying CHILD SA', iked sent $REKEYS_BY_IKED CREATE_CHILD_SA requests; moon sent with $SEEN_SPIS different outbound SPIs: $SEEN_SPI_LIST"
}

# ternd rekeys the CHILD SA every 10 s; iked (lifetime 3 h) only answers.
scenario_tern-rekeys-child-openiked() {
    load_demo_psk
    start_ternd_for_openiked "rekey_time = 10" "rand_time = 0" "life_time = 30"
    start_iked passive
    tern_initiate
    check_iked_tunnel_up
    run_iked_rekeys 42
    ((REKEYS_BY_TERN >= 3)) || fail "ternd rekeyed the CHILD SA $REKEYS_BY_TERN times, expected at least 3 (rekey_time 10 s, 42 s)"
    ((SEEN_SPIS >= 4)) || fail "moon sent with $SEEN_SPIS different outbound SPIs, expected at least 4 (3 rekeys)"
}

# iked rekeys the CHILD SA (its lifetime IKED_REKEY_LIFETIME); ternd (1 h) only answers.
IKED_REKEY_LIFETIME=15
scenario_openiked-rekeys-child() {
    load_demo_psk
    start_ternd_for_openiked
    start_iked passive "lifetime $IKED_REKEY_LIFETIME"
    tern_initiate
    check_iked_tunnel_up
    run_iked_rekeys 50
    ((REKEYS_BY_IKED >= 2)) || fail "iked sent $REKEYS_BY_IKED CREATE_CHILD_SA requests, expected at least 2 (lifetime ${IKED_REKEY_LIFETIME} s, 50 s)"
    ((SEEN_SPIS >= 3)) || fail "moon sent with $SEEN_SPIS different outbound SPIs, expected at least 3 (2 rekeys)"
    ((REKEYS_BY_TERN == 0)) || fail "ternd rekeyed $REKEYS_BY_TERN times although its rekey_time is 1 h"
}
