# shellcheck shell=bash
# EAP-MSCHAPv2 (RFC 7296 §2.16): ternd in moon is a remote-access gateway whose
# connection has remote_auth = "eap-mschapv2"; charon in sun is its client
# (`local { auth = eap-mschapv2; eap_id = carol }`), checks moon's PSK AUTH, logs in
# as carol, gets a virtual IP from the pool and sends its traffic from it.
#
# Sourced by tests/interop/run; uses vip.sh's pool settings and its helpers, and
# tern_with/case_start/check_child (topologies.sh).

EAP_USER=carol EAP_PASSWORD='Ar3etTnp-eap'

# sun_eap_conf PASSWORD: sun's swanctl.conf as a road warrior logging in as
# EAP_USER with PASSWORD, asking moon for any IPv4 address. Loaded into charon.
sun_eap_conf() {
    local password=$1 dir="$R/sun-charon" out
    cat >"$dir/swanctl/swanctl.conf" <<EOF
connections {
    demo {
        version = 2
        local_addrs = $TOPO_SUN_WAN
        remote_addrs = $TOPO_MOON_WAN
        vips = 0.0.0.0
        local {
            auth = eap-mschapv2
            id = sun.tern.example
            eap_id = $EAP_USER
        }
        remote {
            auth = psk
            id = moon.tern.example
        }
        children {
            net {
                local_ts = dynamic
                remote_ts = $TOPO_MOON_NET
            }
        }
    }
}
secrets {
    ike-moon {
        id = moon.tern.example
        secret = $(swanctl_quote "$PSK")
    }
    eap-carol {
        id = $EAP_USER
        secret = $(swanctl_quote "$password")
    }
}
EOF
    cp "$dir/swanctl/swanctl.conf" "$W/sun-swanctl-$CASE.conf"
    out=$(swanctl_in "$dir" --load-all 2>&1) || fail "swanctl --load-all failed: $out"
}

# ternd in moon: the pool, the EAP users (in a users_file, 0600), the EAP connection.
tern_eap_gateway() {
    local users="$W/moon-eap-users"
    printf '# EAP users of the interop test\n%s = "%s"\ndave = "not-carols"\n' \
        "$EAP_USER" "$EAP_PASSWORD" >"$users"
    chmod 600 "$users"
    tern_with remote_ts="[\"$VIP_POOL\"]" conn="$(printf 'pools = ["rw"]\nremote_auth = "eap-mschapv2"')" \
        more="$(printf '[pools.rw]\naddrs = ["%s"]\n[eap]\nusers_file = "%s"\n' "$VIP_POOL" "$users")"
    ip -n moon route replace "$VIP_POOL" via "$TOPO_SUN_WAN" dev moon0 src "$TOPO_MOON_LAN" ||
        fail "could not route $VIP_POOL in moon"
}

start_eap_charon() {
    CHARON_PLUGINS="$CHARON_PLUGINS eap-identity eap-mschapv2"
    start_charon sun "$PSK"
}

tern_sa_user_is() {
    tern_sas_json "$R/moon-ternd" | jq -e --arg u "$1" 'length == 1 and .[0].remote_id == $u
        and .[0].state == "ESTABLISHED"' >/dev/null
}

# tern_leases_match JQ_FILTER: ternctl's leases (JSON) pass the filter.
tern_leases_match() { ternctl_in "$R/moon-ternd" --json leases | jq -e "$1" >/dev/null; }

scenario_strongswan-eap-mschapv2() {
    load_demo_psk
    start_eap_charon
    case_start eap-mschapv2
    tern_eap_gateway
    sun_eap_conf "$EAP_PASSWORD"
    initiate_from strongswan
    expect "strongSwan's log says its EAP-MSCHAPv2 login succeeded" \
        grep -qE "EAP method EAP_MSCHAPV2 succeeded" "$W/sun-charon.log"
    expect "ternd's log says the peer authenticated as EAP user '$EAP_USER'" \
        grep -q "peer authenticated: EAP-MSCHAPv2 as user '$EAP_USER'" "$W/moon-ternd.log"
    expect "ternctl lists the IKE SA with the EAP identity $EAP_USER as its peer" tern_sa_user_is "$EAP_USER"
    tern_sas_json "$R/moon-ternd" >"$W/moon-ternctl-list-sas-$CASE.json" 2>&1
    swanctl_in "$R/sun-charon" --list-sas >"$W/sun-swanctl-list-sas-$CASE.txt" 2>&1
    local vip
    vip=$(jq -r '.[0].children[0].remote_ts[0] | sub("/32$"; "")' "$W/moon-ternctl-list-sas-$CASE.json")
    [[ $vip == 10.3.0.* ]] || fail "tern's CHILD SA is not narrowed to a pool address: $vip"
    expect "ternctl leases lists $vip leased to $EAP_USER, online" \
        tern_leases_match "any(.[]; .address == \"$vip\" and .identity == \"$EAP_USER\" and .online)"
    expect_within 10 "strongSwan put $vip on an interface in sun" \
        bash -c "ip -n sun -4 addr show | grep -q 'inet $vip/'"
    check_child net "$TOPO_MOON_LAN" "$vip"
    local out
    out=$(ip netns exec sun ping -c 3 -i 0.2 -W 2 -I "$vip" "$TOPO_MOON_LAN" 2>&1) ||
        fail "ping $vip -> $TOPO_MOON_LAN from sun failed: $(grep -E 'packets transmitted' <<<"$out")"
    step "ping $vip -> $TOPO_MOON_LAN from sun: $(grep -E 'packets transmitted' <<<"$out")"
    terminate_from strongswan
    note "EAP-MSCHAPv2: strongSwan logged in as $EAP_USER (moon authenticated with its PSK, then both ends with the MSK), got $vip from the pool, CHILD SA narrowed to it, ping through ESP"
}

scenario_strongswan-eap-mschapv2-wrong-password() {
    load_demo_psk
    start_eap_charon
    case_start eap-mschapv2-wrong-password
    tern_eap_gateway
    sun_eap_conf "not-$EAP_PASSWORD"
    local out rc lines_before
    lines_before=$(wc -l <"$W/moon-ternd.log")
    out=$(swanctl_in "$R/sun-charon" --initiate --child net --timeout 30 2>&1)
    rc=$?
    printf '%s\n' "$out" >"$W/sun-swanctl-initiate.txt"
    step "swanctl --initiate (wrong EAP password) -> exit $rc"
    ((rc != 0)) || fail "swanctl --initiate succeeded with a wrong EAP password"
    expect "strongSwan's log says the gateway refused its EAP login" \
        grep -qE "received EAP_FAILURE|EAP method EAP_MSCHAPV2 failed|AUTHENTICATION_FAILED" "$W/sun-charon.log"
    expect_within 10 "ternd's log names user '$EAP_USER' and the wrong password" \
        new_log_line_matches "$W/moon-ternd.log" "$lines_before" "EAP-MSCHAPv2 failed for user '$EAP_USER': wrong password"
    if grep -qF -e "$EAP_PASSWORD" "$W/moon-ternd.log"; then
        fail "ternd's log shows a password"
    fi
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    expect "no address was leased" tern_leases_match 'length == 0'
    ternctl_in "$R/moon-ternd" --json history demo >"$W/moon-ternctl-history-$CASE.json" 2>&1
    expect "ternctl history says eap_failed" grep -q '"eap_failed"' "$W/moon-ternctl-history-$CASE.json"
    expect_within 5 "ternctl diagnose to name the EAP failure" tern_finding eap_failed
    expect_finding eap_failed users_file "EAP logins failed"
    expect "ternd is still running" ternd_running "$R/moon-ternd"
    note "EAP-MSCHAPv2 with a wrong password: strongSwan refused (exit $rc), ternd logs: $(new_log_line_matches "$W/moon-ternd.log" "$lines_before" 'EAP-MSCHAPv2 failed' | head -n1 | cut -c1-200)"
}
