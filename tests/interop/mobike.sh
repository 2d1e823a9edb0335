# shellcheck shell=bash
# MOBIKE (RFC 4555): charon in moon is a road warrior with two addresses on its
# link (192.0.2.1 and 192.0.2.3); ternd in sun is its gateway. While moon pings
# through the tunnel, the address in use goes away: charon notices through its
# kernel interface and moves the IKE SA with UPDATE_SA_ADDRESSES, and tern moves
# the IKE SA, the ESP SAs and the policies to the other address, nothing
# renegotiated.
#
# Sourced by tests/interop/run; uses its helpers.

MOBIKE_MOON_OTHER=192.0.2.3

# The IKE SPIs and the ESP SPIs as tern sees them, on one line.
tern_spis() {
    local ike esp
    ike=$(tern_sas_json "$R/sun-ternd" | jq -r '.[0] | "\(.initiator_spi)_i \(.responder_spi)_r"') || return 1
    esp=$(xfrm_esp_spis sun | sort | tr '\n' ' ')
    printf '%s %s' "$ike" "$esp"
}

# charon's IKE SPIs of demo, as swanctl lists them.
charon_ike_spis() {
    swanctl_in "$R/moon-charon" --list-sas 2>/dev/null |
        sed -nE 's/^demo: #[0-9]+, ESTABLISHED, IKEv2, ([0-9a-f]+)_i\*? ([0-9a-f]+)_r.*/\1_i \2_r/p'
}

# tern's IKE SA and both ESP SAs go to ADDR for moon.
tern_sees_moon_from() {
    local remote
    remote=$(tern_sas_json "$R/sun-ternd" | jq -r '.[0].remote_addr') || return 1
    [[ ${remote%:*} == "$1" ]] || return 1
    (($(ip -n sun xfrm state | grep -c "src $1 dst $TOPO_SUN_WAN\|src $TOPO_SUN_WAN dst $1") == 2))
}

scenario_strongswan-mobike() {
    load_demo_psk
    # moon's second address; deleting the first must not take it along.
    ip netns exec moon sysctl -qw net.ipv4.conf.moon0.promote_secondaries=1 &&
        ip -n moon addr add "$MOBIKE_MOON_OTHER/24" dev moon0 ||
        fail "could not give moon a second address"
    # MOBIKE is off unless a connection asks for it.
    sed 's/^\[connections.demo\]$/&\nmobike = true/' "$TERN_ROOT/conf/examples/demo-sun.toml" >"$W/sun-ternd.toml"
    grep -q '^mobike = true$' "$W/sun-ternd.toml" || fail "could not turn MOBIKE on in sun's configuration"
    start_ternd sun --config "$W/sun-ternd.toml"
    local dir="$R/moon-charon"
    mkdir -p "$dir"
    charon_write_config "$dir" "$W/moon-charon.log"
    # mobike = yes is strongSwan's default; %any lets charon take whichever
    # address routes to sun.
    charon_write_conn "$dir" "%any" "$TOPO_SUN_WAN" moon.tern.example sun.tern.example \
        "$TOPO_MOON_NET" "$TOPO_SUN_NET" "$PSK" "" "" "" "mobike = yes"
    cp "$dir/swanctl/swanctl.conf" "$W/moon-swanctl.conf"
    charon_start moon "$dir" || fail "charon did not start in moon: $LAST_WARNING"
    swanctl_initiate moon
    expect_within 10 "ternctl list-sas in sun shows CHILD SA net INSTALLED" tern_child_installed "$R/sun-ternd"
    expect "tern sees moon at $TOPO_MOON_WAN" tern_sees_moon_from "$TOPO_MOON_WAN"
    tern_sas_json "$R/sun-ternd" >"$W/sun-list-sas-before.json"
    expect "ternctl list-sas says MOBIKE is in use" jq -e '.[0].mobike != null' "$W/sun-list-sas-before.json"
    local tern_before charon_before
    tern_before=$(tern_spis) || fail "could not read tern's SPIs"
    charon_before=$(charon_ike_spis)
    [[ -n $charon_before ]] || fail "swanctl --list-sas shows no established IKE SA demo"
    step "before: tern $tern_before; charon $charon_before"

    # Five pings a second: charon takes about 160 ms from losing the address to its
    # first MOBIKE message (its kernel interface waits 100 ms before roaming, then
    # checks the path), and nothing can leave moon meanwhile; at 20 a second that
    # alone costs three pings.
    local PING_INTERVAL=0.2 PING_PER_SEC=5
    ping_start 12
    _nap 3
    step "moon's address $TOPO_MOON_WAN goes away"
    ip -n moon addr del "$TOPO_MOON_WAN/24" dev moon0 || fail "could not delete moon's address"
    # The route to sun's LAN names no source on the link; put it back if it went
    # with the address.
    ip -n moon route replace "$TOPO_SUN_NET" via "$TOPO_SUN_WAN" dev moon0 src "$TOPO_MOON_LAN" ||
        fail "could not route $TOPO_SUN_NET in moon"
    expect_within 10 "tern's IKE SA and ESP SAs follow moon to $MOBIKE_MOON_OTHER" \
        tern_sees_moon_from "$MOBIKE_MOON_OTHER"
    local sent got summary pid
    pid=$(cat "$R/ping.pid")
    wait_until 60 "the continuous ping to end" _pid_gone "$pid" || fail "the continuous ping did not end"
    rm -f "$R/ping.pid"
    summary=$(grep 'packets transmitted' "$W/ping.txt")
    step "continuous ping: $summary"
    read -r sent got <<<"$(sed -nE 's/^([0-9]+) packets transmitted, ([0-9]+) received.*/\1 \2/p' <<<"$summary")"
    [[ -n $sent && -n $got ]] || fail "the continuous ping printed no summary"
    ((sent - got <= 1)) ||
        fail "the continuous ping lost $((sent - got)) of $sent packets across the move (at most 1 allowed): $(ping_losses "$sent")"

    local tern_after charon_after
    tern_after=$(tern_spis) || fail "could not read tern's SPIs"
    charon_after=$(charon_ike_spis)
    step "after: tern $tern_after; charon $charon_after"
    [[ $tern_after == "$tern_before" ]] ||
        fail "tern's SPIs changed ($tern_before -> $tern_after): the SAs should have moved, not been renegotiated"
    [[ $charon_after == "$charon_before" ]] ||
        fail "charon's IKE SPIs changed ($charon_before -> $charon_after)"
    grep -q "MOBIKE: peer moved the IKE SA" "$W/sun-ternd.log" ||
        fail "ternd's log does not say the peer moved the IKE SA"
    local policies
    policies=$(ip -n sun xfrm policy)
    grep -q "tmpl src $MOBIKE_MOON_OTHER dst $TOPO_SUN_WAN" <<<"$policies" ||
        fail "sun's inbound policy does not expect ESP from $MOBIKE_MOON_OTHER: $(grep 'tmpl src' <<<"$policies" | tr '\n' ' ')"
    check_ping_through_esp
    note "moon's address went away while pinging: charon sent UPDATE_SA_ADDRESSES, tern moved IKE, ESP and policies to $MOBIKE_MOON_OTHER, same IKE and ESP SPIs on both sides, $((sent - got)) of $sent pings lost"
    swanctl_in "$dir" --terminate --ike demo --timeout 30 >/dev/null 2>&1 || fail "swanctl --terminate from moon failed"
    expect_within 10 "sun's kernel (tern) has no SA and no policy left" xfrm_is_empty sun
}
