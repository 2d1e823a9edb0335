# shellcheck shell=bash
# EAP-RADIUS (RFC 3579): ternd in moon is a remote-access gateway whose connection
# has remote_auth = "eap-radius"; it relays charon's EAP-MSCHAPv2 login (sun) to a
# FreeRADIUS (Debian's package) that this scenario starts in moon's namespace on
# loopback, with its own configuration directory (the one crates/radius/tests
# uses), and takes the MSK from FreeRADIUS's Access-Accept. Then a wrong password
# (Access-Reject) and FreeRADIUS stopped (no answer) are refused.
# strongswan-eap-radius-accounting: FreeRADIUS gives the user an address, a
# Session-Timeout and a Class; ternd hands strongSwan that address, tells it
# AUTH_LIFETIME, and accounts the session to FreeRADIUS: Start, an
# Interim-Update after interim_interval (60 s, the floor) and Stop, these two
# with the traffic of known pings through the tunnel.
#
# Sourced by tests/interop/run after eap.sh, whose client side it reuses.

RADIUS_PORT=18120 RADIUS_ACCT_PORT=18130 RADIUS_SECRET='tern-interop-radius'
# What FreeRADIUS grants the user in the accounting scenario (in VIP_POOL, which
# moon routes to sun, but outside the pool's addresses there).
RADIUS_VIP=10.3.0.200

# start_freeradius [REPLY]: FreeRADIUS in moon, in the foreground (-X), knowing
# EAP_USER; REPLY: the users file's reply items for it (Framed-IP-Address, ...).
start_freeradius() {
    local dir="$R/moon-radius" reply=${1:-}
    [[ -x /usr/sbin/freeradius ]] || fail "FreeRADIUS is not installed (apt-get install freeradius)"
    mkdir -p "$dir"
    sed -e "s|@DIR@|$dir|g; s|@PORT@|$RADIUS_PORT|; s|@ACCTPORT@|$RADIUS_ACCT_PORT|; s|@SECRET@|$RADIUS_SECRET|" \
        "$TERN_ROOT/crates/radius/tests/freeradius/radiusd.conf" >"$dir/radiusd.conf"
    printf '%s Cleartext-Password := "%s"\n' "$EAP_USER" "$EAP_PASSWORD" >"$dir/users"
    [[ -z $reply ]] || printf '\t%s\n' "$reply" >>"$dir/users"
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

# tern_radius_gateway [RADIUS_KEYS]: ternd in moon: the pool, [radius] with the
# secret in a 0600 file (and RADIUS_KEYS, e.g. accounting = true), the EAP connection.
tern_radius_gateway() {
    local secret="$W/moon-radius.secret" keys=${1:-}
    printf '%s\n' "$RADIUS_SECRET" >"$secret"
    chmod 600 "$secret"
    tern_with remote_ts="[\"$VIP_POOL\"]" conn="$(printf 'pools = ["rw"]\nremote_auth = "eap-radius"')" \
        more="$(printf '[pools.rw]\naddrs = ["%s"]\n[radius]\ntimeout_secs = 1\ntries = 2\n%s\n[radius.servers.local]\naddress = "127.0.0.1"\nport = %s\naccounting_port = %s\nsecret_file = "%s"\n' \
            "10.3.0.1-10.3.0.100" "$keys" "$RADIUS_PORT" "$RADIUS_ACCT_PORT" "$secret")"
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

# detail_record STATUS: FreeRADIUS's detail file has a STATUS record (Start or
# Stop) for EAP_USER with RADIUS_VIP, the Class, and (for Stop) User-Request.
detail_record() {
    local status=$1 detail="$R/moon-radius/detail"
    [[ -f $detail ]] || return 1
    awk -v RS= -v status="$1" -v user="$EAP_USER" -v vip="$RADIUS_VIP" '
        index($0, "Acct-Status-Type = " status) && index($0, "User-Name = \"" user "\"") &&
        index($0, "Framed-IP-Address = " vip) && index($0, "Class = 0x7465726e2d696e7465726f70") &&
        (status != "Stop" || index($0, "Acct-Terminate-Cause = User-Request")) { found = 1 }
        END { exit !found }' "$detail"
}

# The Acct-Session-Id of the STATUS record.
detail_session_id() {
    awk -v RS= -v status="$1" 'index($0, "Acct-Status-Type = " status) {
        if (match($0, /Acct-Session-Id = "[^"]*"/)) print substr($0, RSTART + 19, RLENGTH - 20) }' \
        "$R/moon-radius/detail"
}

scenario_strongswan-eap-radius-accounting() {
    load_demo_psk
    start_eap_charon
    case_start eap-radius-accounting
    # Class "tern-interop" (hex in FreeRADIUS's detail file).
    start_freeradius "Framed-IP-Address = $RADIUS_VIP, Session-Timeout = 3600, Class = \"tern-interop\""
    tern_radius_gateway "$(printf 'accounting = true\ninterim_interval = 60')"
    sun_eap_conf "$EAP_PASSWORD"
    initiate_from strongswan
    expect "ternd's log says the server gave $RADIUS_VIP, a Session-Timeout and a Class" \
        grep -q "accepted user '$EAP_USER' (Framed-IP-Address $RADIUS_VIP, Session-Timeout 3600 s, 1 Class)" \
        "$W/moon-ternd.log"
    tern_sas_json "$R/moon-ternd" >"$W/moon-ternctl-list-sas-$CASE.json" 2>&1
    expect "tern's CHILD SA is narrowed to the RADIUS address $RADIUS_VIP" \
        jq -e --arg v "$RADIUS_VIP/32" '.[0].children[0].remote_ts == [$v]' "$W/moon-ternctl-list-sas-$CASE.json"
    expect "no pool address is leased" tern_leases_match 'length == 0'
    expect_within 10 "strongSwan put $RADIUS_VIP on an interface in sun" \
        bash -c "ip -n sun -4 addr show | grep -q 'inet $RADIUS_VIP/'"
    expect "strongSwan heard AUTH_LIFETIME (Session-Timeout 3600 s less a minute)" \
        grep -qE "received AUTH_LIFETIME of 3540s" "$W/sun-charon.log"
    local out
    out=$(ip netns exec sun ping -c 3 -i 0.2 -W 2 -I "$RADIUS_VIP" "$TOPO_MOON_LAN" 2>&1) ||
        fail "ping $RADIUS_VIP -> $TOPO_MOON_LAN from sun failed: $(grep -E 'packets transmitted' <<<"$out")"
    step "ping $RADIUS_VIP -> $TOPO_MOON_LAN from sun: $(grep -E 'packets transmitted' <<<"$out")"
    # Known traffic: PINGS echo requests of 1000 bytes of data (1028-byte IP
    # packets) in, as many replies out.
    local pings=20
    out=$(ip netns exec sun ping -c $pings -s 1000 -i 0.2 -W 2 -I "$RADIUS_VIP" "$TOPO_MOON_LAN" 2>&1) ||
        fail "ping -s 1000 $RADIUS_VIP -> $TOPO_MOON_LAN from sun failed: $(grep -E 'packets transmitted' <<<"$out")"
    step "ping -c $pings -s 1000 through the tunnel: $(grep -E 'packets transmitted' <<<"$out")"
    expect_within 10 "FreeRADIUS logged an accounting Start for $EAP_USER with $RADIUS_VIP and the Class" \
        detail_record Start
    expect_within 75 "FreeRADIUS logged an Interim-Update (interim_interval 60) with at least $pings pings of 1000 bytes each way" \
        detail_traffic_at_least Interim-Update $pings 1000
    terminate_from strongswan
    expect_within 10 "FreeRADIUS logged an accounting Stop (User-Request) for $EAP_USER with $RADIUS_VIP and the Class" \
        detail_record Stop
    expect "the Stop counts at least $pings pings of 1000 bytes each way" \
        detail_traffic_at_least Stop $pings 1000
    step "Interim-Update: $(detail_traffic Interim-Update); Stop: $(detail_traffic Stop)"
    cp "$R/moon-radius/detail" "$W/moon-radius-detail.txt"
    local start_id stop_id
    start_id=$(detail_session_id Start) stop_id=$(detail_session_id Stop)
    [[ -n $start_id && $start_id == "$stop_id" ]] ||
        fail "Start and Stop have different Acct-Session-Ids: '$start_id' and '$stop_id'"
    step "Start and Stop share Acct-Session-Id $start_id"
    note "EAP-RADIUS accounting: FreeRADIUS gave $RADIUS_VIP (strongSwan got it, ping through ESP), AUTH_LIFETIME 3540 s told, Start, Interim-Update and Stop (User-Request) logged with session $start_id and the Class; traffic (in/out octets, packets): Interim-Update $(detail_traffic Interim-Update), Stop $(detail_traffic Stop) after $pings pings of 1000 bytes"

    # ternd stopping deletes the IKE SA and waits for the Stop to be acknowledged.
    case_start eap-radius-accounting-ternd-stops
    initiate_from strongswan
    expect_within 10 "FreeRADIUS logged a second Start" detail_count Start 2
    ternd_stop "$R/moon-ternd"
    expect_within 5 "FreeRADIUS logged the Stop (Admin-Reset) ternd sent as it stopped" \
        detail_has_cause Admin-Reset
    cp "$R/moon-radius/detail" "$W/moon-radius-detail.txt"
    note "EAP-RADIUS accounting: ternd stopping sent the session's Stop (Admin-Reset) before it exited"
}

# detail_traffic STATUS: "IN_OCTETS IN_PACKETS OUT_OCTETS OUT_PACKETS" of the
# first STATUS record (octets with their Gigawords), 0 for what it lacks.
detail_traffic() {
    awk -v RS= -v status="$1" 'index($0, "Acct-Status-Type = " status "\n") && !done {
        n = split($0, lines, "\n")
        for (i = 1; i <= n; i++) {
            split(lines[i], kv, " = ")
            gsub(/^[ \t]+/, "", kv[1])
            v[kv[1]] = kv[2]
        }
        printf "%d %d %d %d\n", v["Acct-Input-Octets"] + v["Acct-Input-Gigawords"] * 4294967296,
            v["Acct-Input-Packets"], v["Acct-Output-Octets"] + v["Acct-Output-Gigawords"] * 4294967296,
            v["Acct-Output-Packets"]
        done = 1
    }' "$R/moon-radius/detail"
}

# detail_traffic_at_least STATUS PACKETS SIZE: the first STATUS record counts
# at least PACKETS packets and PACKETS * SIZE octets, in and out.
detail_traffic_at_least() {
    local in_octets in_packets out_octets out_packets
    read -r in_octets in_packets out_octets out_packets <<<"$(detail_traffic "$1")"
    [[ -n $in_octets ]] &&
        ((in_packets >= $2 && out_packets >= $2 && in_octets >= $2 * $3 && out_octets >= $2 * $3))
}

# detail_count STATUS N: FreeRADIUS's detail file has N records of STATUS.
detail_count() {
    [[ $(grep -c "Acct-Status-Type = $1\$" "$R/moon-radius/detail") -eq $2 ]]
}

# detail_has_cause CAUSE: a Stop record with Acct-Terminate-Cause CAUSE.
detail_has_cause() { grep -q "Acct-Terminate-Cause = $1\$" "$R/moon-radius/detail"; }
