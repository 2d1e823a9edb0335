# shellcheck shell=bash
# Virtual IPs (RFC 7296 §2.19, §3.15): ternd in moon is a remote-access gateway with
# an address pool; charon in sun is its client (`vips = 0.0.0.0`), asks for an
# address and a DNS server, puts the address on its interface and sends its traffic
# from it through ESP.
#
# Sourced by tests/interop/run; uses its helpers, tern_conf (proposals.sh) and
# tern_with/case_start/check_child (topologies.sh).

VIP_POOL=10.3.0.0/24 VIP_ASKED=10.3.0.7 VIP_DNS=10.1.0.53

# sun_vip_conf VIPS: sun's swanctl.conf as a road warrior asking moon for an IPv4
# address (VIPS: 0.0.0.0 for any, or the one it would like); its child's local side
# is that address (`dynamic`). Loaded into charon.
sun_vip_conf() {
    local vips=$1 dir="$R/sun-charon" out
    cat >"$dir/swanctl/swanctl.conf" <<EOF
connections {
    demo {
        version = 2
        local_addrs = $TOPO_SUN_WAN
        remote_addrs = $TOPO_MOON_WAN
        vips = $vips
        local {
            auth = psk
            id = sun.tern.example
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
    ike-demo {
        id-1 = sun.tern.example
        id-2 = moon.tern.example
        secret = $(swanctl_quote "$PSK")
    }
}
EOF
    cp "$dir/swanctl/swanctl.conf" "$W/sun-swanctl-$CASE.conf"
    out=$(swanctl_in "$dir" --load-all 2>&1) || fail "swanctl --load-all failed: $out"
}

tern_lease_is() {
    ternctl_in "$R/moon-ternd" --json leases |
        jq -e --arg a "$1" --arg online "$2" 'length == 1 and .[0].pool == "rw" and .[0].address == $a
            and .[0].identity == "sun.tern.example" and (.[0].online | tostring) == $online' >/dev/null
}

scenario_strongswan-virtual-ip() {
    load_demo_psk
    # The resolve plugin writes the DNS servers strongSwan receives, here into a file
    # of the test's own (never the guest's /etc/resolv.conf): charon's /run is its
    # directory's run/ (charon_start), where the file is made once charon is up.
    local resolv="$R/sun-charon/run/resolv.conf"
    CHARON_PLUGINS="$CHARON_PLUGINS resolve"
    CHARON_OPTIONS="plugins { resolve { file = /run/resolv.conf } }"
    start_charon sun "$PSK"
    : >"$resolv"
    case_start virtual-ip
    tern_with remote_ts="[\"$VIP_POOL\"]" conn='pools = ["rw"]' \
        more="$(printf '[pools.rw]\naddrs = ["%s"]\ndns = ["%s"]\n' "$VIP_POOL" "$VIP_DNS")"
    # sun asks for one address in particular: it is free, so it gets it.
    sun_vip_conf "$VIP_ASKED"
    # moon's way back to the pool's addresses (a gateway's LAN routes them to it).
    ip -n moon route add "$VIP_POOL" via "$TOPO_SUN_WAN" dev moon0 src "$TOPO_MOON_LAN" ||
        fail "could not route $VIP_POOL in moon"
    initiate_from strongswan
    swanctl_in "$R/sun-charon" --list-sas >"$W/sun-swanctl-list-sas-$CASE.txt" 2>&1
    expect "strongSwan's CHILD SA has the virtual IP $VIP_ASKED/32 as its local side" \
        grep -qE "local +$VIP_ASKED/32" "$W/sun-swanctl-list-sas-$CASE.txt"
    expect_within 10 "strongSwan put $VIP_ASKED on an interface in sun" \
        bash -c "ip -n sun -4 addr show | grep -q 'inet $VIP_ASKED/'"
    expect "strongSwan received the DNS server $VIP_DNS (its resolve plugin wrote it)" \
        grep -q "nameserver $VIP_DNS" "$resolv"
    expect "ternctl leases lists $VIP_ASKED leased to sun.tern.example, online" tern_lease_is "$VIP_ASKED" true
    ternctl_in "$R/moon-ternd" leases >"$W/moon-ternctl-leases-$CASE.txt" 2>&1
    tern_sas_json "$R/moon-ternd" >"$W/moon-ternctl-list-sas-$CASE.json" 2>&1
    expect "tern narrowed the CHILD SA to $VIP_ASKED/32" \
        jq -e --arg ts "$VIP_ASKED/32" '.[0].children[0].remote_ts == [$ts]' "$W/moon-ternctl-list-sas-$CASE.json"
    expect_policies moon "$TOPO_MOON_NET" "$VIP_ASKED/32"
    # Moon's LAN to the client's address, and the client from its address to moon's LAN.
    check_child net "$TOPO_MOON_LAN" "$VIP_ASKED"
    local spis before=() after=() i out
    mapfile -t spis < <(xfrm_esp_spis moon)
    for i in "${!spis[@]}"; do before[i]=$(xfrm_esp_bytes moon "${spis[i]}"); done
    out=$(ip netns exec sun ping -c 3 -i 0.2 -W 2 -I "$VIP_ASKED" "$TOPO_MOON_LAN" 2>&1) ||
        fail "ping $VIP_ASKED -> $TOPO_MOON_LAN from sun failed: $(grep -E 'packets transmitted' <<<"$out")"
    for i in "${!spis[@]}"; do
        after[i]=$(xfrm_esp_bytes moon "${spis[i]}")
        ((${after[i]:-0} > ${before[i]:-0})) ||
            fail "moon's ESP SA ${spis[i]} did not count sun's ping from $VIP_ASKED (${before[i]} -> ${after[i]} bytes)"
    done
    step "ping $VIP_ASKED -> $TOPO_MOON_LAN from sun: 3/3, ESP counters grew"
    terminate_from strongswan
    expect "the lease stays, kept for sun (offline)" tern_lease_is "$VIP_ASKED" false
    expect_within 10 "strongSwan took $VIP_ASKED off its interface" \
        bash -c "! ip -n sun -4 addr show | grep -q 'inet $VIP_ASKED/'"
    # sun comes back asking for any address, and gets its own again (not the
    # pool's first, which no one has had).
    sun_vip_conf 0.0.0.0
    initiate_from strongswan
    expect "sun got $VIP_ASKED again, online" tern_lease_is "$VIP_ASKED" true
    check_child net "$TOPO_MOON_LAN" "$VIP_ASKED"
    terminate_from tern
    note "virtual IP: strongSwan asked for $VIP_ASKED and got it with DNS $VIP_DNS from tern's pool, CHILD SA narrowed to it, ping both ways through ESP; lease kept offline after the end and given back when sun returned asking for any address"
}
