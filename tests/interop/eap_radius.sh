# shellcheck shell=bash
# EAP-RADIUS (RFC 3579): ternd in moon is a remote-access gateway whose connection
# has remote_auth = "eap-radius"; it relays charon's EAP-MSCHAPv2 login (sun) to a
# FreeRADIUS (Debian's package) that this scenario starts in moon's namespace on
# loopback, with its own configuration directory (the one crates/radius/tests
# uses), and takes the MSK from FreeRADIUS's Access-Accept. Then a wrong password
# (Access-Reject) and FreeRADIUS stopped (no answer) are refused.
#
# Sourced by tests/interop/run after eap.sh, whose client side it reuses.

RADIUS_PORT=18120 RADIUS_SECRET='tern-interop-radius'

# start_freeradius: FreeRADIUS in moon, in the foreground (-X), knowing EAP_USER.
start_freeradius() {
    local dir="$R/moon-radius"
    [[ -x /usr/sbin/freeradius ]] || fail "FreeRADIUS is not installed (apt-get install freeradius)"
    mkdir -p "$dir"
    sed -e "s|@DIR@|$dir|g; s|@PORT@|$RADIUS_PORT|; s|@SECRET@|$RADIUS_SECRET|" \
        "$TERN_ROOT/crates/radius/tests/freeradius/radiusd.conf" >"$dir/radiusd.conf"
    printf '%s Cleartext-Password := "%s"\n' "$EAP_USER" "$EAP_PASSWORD" >"$dir/users"
    : >"$dir/dictionary"
    cp "$dir/radiusd.conf" "$W/moon-radiusd.conf"
    ip netns exec moon /usr/sbin/freeradius -X -d "$dir" >"$W/moon-freeradius.log" 2>&1 &
    echo $! >"$dir/radiusd.pid"
    expect_within 20 "FreeRADIUS to start in moon" grep -q "Ready to process requests" "$W/moon-freeradius.log"
    step "FreeRADIUS listening on 127.0.0.1:$RADIUS_PORT in moon"
}

radius_stop() {
    local pidfile="$R/moon-radius/radiusd.pid"
    [[ -f "$pidfile" ]] || return 0
    _stop_pid "$(cat "$pidfile")"
    rm -f "$pidfile"
}

# ternd in moon: the pool, [radius] with the secret in a 0600 file, the EAP connection.
tern_radius_gateway() {
    local secret="$W/moon-radius.secret"
    printf '%s\n' "$RADIUS_SECRET" >"$secret"
    chmod 600 "$secret"
    tern_with remote_ts="[\"$VIP_POOL\"]" conn="$(printf 'pools = ["rw"]\nremote_auth = "eap-radius"')" \
        more="$(printf '[pools.rw]\naddrs = ["%s"]\n[radius]\ntimeout_secs = 1\ntries = 2\n[radius.servers.local]\naddress = "127.0.0.1"\nport = %s\nsecret_file = "%s"\n' \
            "$VIP_POOL" "$RADIUS_PORT" "$secret")"
    ip -n moon route replace "$VIP_POOL" via "$TOPO_SUN_WAN" dev moon0 src "$TOPO_MOON_LAN" ||
        fail "could not route $VIP_POOL in moon"
}

# refused_login WHAT PATTERN KIND: swanctl --initiate fails; ternd's log has a new
# line matching PATTERN; ternctl history says KIND; nothing is left.
refused_login() {
    local what=$1 pattern=$2 kind=$3 out rc lines_before
    lines_before=$(wc -l <"$W/moon-ternd.log")
    out=$(swanctl_in "$R/sun-charon" --initiate --child net --timeout 30 2>&1)
    rc=$?
    printf '%s\n' "$out" >"$W/sun-swanctl-initiate-$CASE.txt"
    step "swanctl --initiate ($what) -> exit $rc"
    ((rc != 0)) || fail "swanctl --initiate succeeded with $what"
    expect_within 10 "ternd's log names user '$EAP_USER' and why" \
        new_log_line_matches "$W/moon-ternd.log" "$lines_before" "$pattern"
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    expect "no address is leased to anyone online" tern_leases_match 'all(.[]; .online | not)'
    ternctl_in "$R/moon-ternd" --json history demo >"$W/moon-ternctl-history-$CASE.json" 2>&1
    expect "ternctl history says $kind" grep -q "\"$kind\"" "$W/moon-ternctl-history-$CASE.json"
    expect "ternd is still running" ternd_running "$R/moon-ternd"
    note "EAP-RADIUS, $what: strongSwan refused (exit $rc), ternd logs: $(new_log_line_matches "$W/moon-ternd.log" "$lines_before" "$pattern" | head -n1 | cut -c1-220)"
}

scenario_strongswan-eap-radius() {
    load_demo_psk
    start_eap_charon
    case_start eap-radius
    start_freeradius
    tern_radius_gateway
    sun_eap_conf "$EAP_PASSWORD"
    initiate_from strongswan
    expect "strongSwan's log says its EAP-MSCHAPv2 login succeeded" \
        grep -qE "EAP method EAP_MSCHAPV2 succeeded" "$W/sun-charon.log"
    expect "FreeRADIUS sent an Access-Accept with MS-MPPE keys" \
        grep -q "MS-MPPE-Recv-Key" "$W/moon-freeradius.log"
    expect "ternd's log says the peer authenticated as EAP user '$EAP_USER'" \
        grep -q "peer authenticated: EAP-RADIUS as user '$EAP_USER'" "$W/moon-ternd.log"
    expect "ternctl lists the IKE SA with the EAP identity $EAP_USER as its peer" tern_sa_user_is "$EAP_USER"
    tern_sas_json "$R/moon-ternd" >"$W/moon-ternctl-list-sas-$CASE.json" 2>&1
    local vip out
    vip=$(jq -r '.[0].children[0].remote_ts[0] | sub("/32$"; "")' "$W/moon-ternctl-list-sas-$CASE.json")
    [[ $vip == 10.3.0.* ]] || fail "tern's CHILD SA is not narrowed to a pool address: $vip"
    expect_within 10 "strongSwan put $vip on an interface in sun" \
        bash -c "ip -n sun -4 addr show | grep -q 'inet $vip/'"
    check_child net "$TOPO_MOON_LAN" "$vip"
    out=$(ip netns exec sun ping -c 3 -i 0.2 -W 2 -I "$vip" "$TOPO_MOON_LAN" 2>&1) ||
        fail "ping $vip -> $TOPO_MOON_LAN from sun failed: $(grep -E 'packets transmitted' <<<"$out")"
    step "ping $vip -> $TOPO_MOON_LAN from sun: $(grep -E 'packets transmitted' <<<"$out")"
    terminate_from strongswan
    note "EAP-RADIUS: strongSwan logged in as $EAP_USER through FreeRADIUS (MSK from its MS-MPPE keys), got $vip, ping through ESP"

    case_start eap-radius-wrong-password
    sun_eap_conf "not-$EAP_PASSWORD"
    refused_login "a wrong password" \
        "EAP-RADIUS failed for user '$EAP_USER': the RADIUS server rejected the login" eap_failed
    if grep -qF -e "$EAP_PASSWORD" -e "$RADIUS_SECRET" "$W/moon-ternd.log"; then
        fail "ternd's log shows a password or the RADIUS secret"
    fi

    case_start eap-radius-down
    radius_stop
    sun_eap_conf "$EAP_PASSWORD"
    refused_login "FreeRADIUS stopped" \
        "EAP-RADIUS failed for user '$EAP_USER': no RADIUS server answered" radius_unreachable
    expect_within 5 "ternctl diagnose to name the unreachable RADIUS server" tern_finding radius_unreachable
    expect_finding radius_unreachable radius.servers "no RADIUS server answered"
}
