# NAT scenarios for tests/interop/run (sourced by it): a router namespace `nat`
# between moon and sun translates moon's private address to 192.0.2.1, the address
# sun knows moon by, so sun's configuration is the usual one.
#
#   moon 192.168.1.2 --- 192.168.1.1 [nat] 192.0.2.1 --- 192.0.2.2 sun
#
# The translation is tc's stateless act_nat: Debian's UML kernels (6.1 and 7.2) have
# no nftables NAT chain type (no nft_chain_nat module), so nftables cannot masquerade
# there. Addresses change, ports do not: what IKE's NAT detection sees is the same.
#
# IKE must float to 4500, ESP must travel in UDP through the NAT, and the side behind
# the NAT must send NAT-keepalives.

NAT_MOON_WAN=192.168.1.2 NAT_INSIDE=192.168.1.1

# nat_topology_up: replaces the direct moon/sun link with the NATed path.
nat_topology_up() {
    topology_down
    ip netns add moon && ip netns add nat && ip netns add sun || return 1
    ip link add moon0 netns moon type veth peer name in0 netns nat || return 1
    ip link add out0 netns nat type veth peer name sun0 netns sun || return 1
    ip -n nat link set lo up &&
        ip -n nat addr add "$NAT_INSIDE/24" dev in0 && ip -n nat link set in0 up &&
        ip -n nat addr add "$TOPO_MOON_WAN/24" dev out0 && ip -n nat link set out0 up &&
        ip netns exec nat sysctl -qw net.ipv4.ip_forward=1 || return 1
    # The translation: moon's address becomes the NAT's outside address on the way out
    # and back on the way in (tc's act_nat fixes the IP and UDP checksums).
    modprobe -a sch_prio sch_ingress cls_u32 act_nat || return 1
    tc -n nat qdisc add dev out0 root handle 1: prio &&
        tc -n nat filter add dev out0 parent 1: protocol ip prio 10 u32 \
            match ip src "$NAT_MOON_WAN/32" action nat egress "$NAT_MOON_WAN/32" "$TOPO_MOON_WAN" &&
        tc -n nat qdisc add dev out0 ingress &&
        tc -n nat filter add dev out0 parent ffff: protocol ip prio 10 u32 \
            match ip dst "$TOPO_MOON_WAN/32" action nat ingress "$TOPO_MOON_WAN/32" "$NAT_MOON_WAN" ||
        return 1
    # moon: everything beyond its own link goes through the NAT.
    ip -n moon link set lo up &&
        ip -n moon addr add "$NAT_MOON_WAN/24" dev moon0 && ip -n moon link set moon0 up &&
        ip -n moon link add lan0 type dummy && ip -n moon addr add "$TOPO_MOON_LAN/24" dev lan0 &&
        ip -n moon link set lan0 up &&
        ip -n moon route add "$TOPO_SUN_WAN/32" via "$NAT_INSIDE" dev moon0 &&
        ip -n moon route add "$TOPO_SUN_NET" via "$NAT_INSIDE" dev moon0 src "$TOPO_MOON_LAN" || return 1
    # sun: as in the direct topology; 192.0.2.1 is now the NAT's outside address.
    _topology_side sun sun0 "$TOPO_SUN_WAN" "$TOPO_SUN_LAN" "$TOPO_MOON_NET" "$TOPO_MOON_WAN"
}

# nat_tern_config KEEPALIVE: conf/ternd.toml with moon's private address and the
# given NAT-keepalive interval; prints the file's path.
nat_tern_config() {
    local conf="$W/moon-ternd.toml"
    sed -e "s/^local_addrs = \[\"$TOPO_MOON_WAN\"\]/local_addrs = [\"$NAT_MOON_WAN\"]/" \
        -e "s/^nat_keepalive = .*/nat_keepalive = \"$1\"/" \
        "$TERN_ROOT/conf/ternd.toml" >"$conf"
    grep -q "^local_addrs = \[\"$NAT_MOON_WAN\"\]" "$conf" ||
        fail "conf/ternd.toml has no line local_addrs = [\"$TOPO_MOON_WAN\"] to move behind the NAT"
    grep -q "^nat_keepalive = \"$1\"" "$conf" ||
        fail "conf/ternd.toml has no nat_keepalive line to set"
    printf '%s' "$conf"
}

# Both of moon's ESP SAs carry ESP in UDP between the NAT-T ports.
check_moon_esp_in_udp() {
    local encaps
    encaps=$(ip -n moon xfrm state | grep -c 'encap type espinudp sport 4500 dport 4500')
    ((encaps == 2)) ||
        fail "moon's kernel has $encaps ESP SAs with 'encap type espinudp sport 4500 dport 4500', expected 2: $(ip -n moon xfrm state | grep encap | tr '\n' ' ')"
}

# The IKE SA as ternctl sees it: local port 4500, remote 192.0.2.2:4500.
check_tern_floated() {
    local addrs
    addrs=$(tern_sas_json "$R/moon-ternd" | jq -r '.[0] | "\(.local_addr) \(.remote_addr)"')
    [[ $addrs == "$NAT_MOON_WAN:4500 $TOPO_SUN_WAN:4500" ]] ||
        fail "ternctl list-sas shows the IKE SA on '$addrs', expected $NAT_MOON_WAN:4500 $TOPO_SUN_WAN:4500"
}

# keepalives_seen: NAT-keepalives (one-octet UDP payloads to port 4500) in moon's capture.
keepalives_seen() {
    tcpdump -r "$W/capture.pcap" -n 'udp dst port 4500 and udp[4:2] = 9 and udp[8] = 0xff' 2>/dev/null | wc -l
}

# tern behind the NAT initiates to strongSwan; the tunnel carries traffic; tern keeps
# the mapping alive; the tunnel ends cleanly.
scenario_nat-tern-behind() {
    stop_capture
    local topo_err
    topo_err=$(nat_topology_up 2>&1) || fail "could not create the NAT topology: $topo_err"
    start_capture
    load_demo_psk
    local conf
    conf=$(nat_tern_config 2s) || exit 1
    start_ternd moon --config "$conf"
    start_charon sun "$PSK"
    tern_initiate
    expect_within 10 "strongSwan shows the CHILD SA net as INSTALLED" charon_child_installed "$R/sun-charon"
    expect_within 10 "ternctl list-sas shows demo ESTABLISHED with CHILD SA net INSTALLED" tern_child_installed "$R/moon-ternd"
    swanctl_in "$R/sun-charon" --list-sas >"$W/sun-list-sas-established.txt" 2>&1
    grep -q "$TOPO_MOON_WAN\[4500\]" "$W/sun-list-sas-established.txt" ||
        fail "strongSwan does not see moon at the NAT's address on port 4500: $(grep -m1 'remote' "$W/sun-list-sas-established.txt")"
    check_tern_floated
    check_moon_esp_in_udp
    check_ping_through_esp
    # Idle: keepalives every 2 s from moon (the side behind the NAT).
    _nap 5
    stop_capture
    local n
    n=$(keepalives_seen)
    step "NAT-keepalives from moon in the capture: $n"
    ((n >= 2)) || fail "moon sent $n NAT-keepalives in 5 idle seconds with nat_keepalive = 2s"
    note "behind the NAT: IKE on 4500, ESP in UDP, ping through, $n keepalives in 5 s idle"
    mv "$W/capture.pcap" "$W/capture-setup.pcap"
    start_capture
    check_ping_through_esp
    tern_terminate
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "sun's kernel has no SA and no policy left" xfrm_is_empty sun
}

# strongSwan behind the NAT initiates to tern: tern as responder sees the NAT, follows
# strongSwan to 4500 and installs ESP in UDP towards the NAT's mapped port.
scenario_nat-strongswan-behind() {
    stop_capture
    local topo_err
    topo_err=$(nat_topology_up 2>&1) || fail "could not create the NAT topology: $topo_err"
    start_capture
    load_demo_psk
    # tern answers in sun, with the demo's mirror (it knows moon as 192.0.2.1).
    start_ternd sun --config "$TERN_ROOT/conf/examples/demo-sun.toml"
    local dir="$R/moon-charon"
    mkdir -p "$dir"
    charon_write_config "$dir" "$W/moon-charon.log"
    charon_write_conn "$dir" "$NAT_MOON_WAN" "$TOPO_SUN_WAN" moon.tern.example sun.tern.example \
        "$TOPO_MOON_NET" "$TOPO_SUN_NET" "$PSK" "" "" ""
    cp "$dir/swanctl/swanctl.conf" "$W/moon-swanctl.conf"
    charon_start moon "$dir" || fail "charon did not start in moon: $LAST_WARNING"
    swanctl_initiate moon
    expect_within 10 "ternctl list-sas in sun shows CHILD SA net INSTALLED" tern_child_installed "$R/sun-ternd"
    local encaps
    encaps=$(ip -n sun xfrm state | grep -c 'encap type espinudp')
    ((encaps == 2)) || fail "sun's kernel (tern) has $encaps ESP-in-UDP SAs, expected 2: $(ip -n sun xfrm state | tr '\n' ' ')"
    local out
    out=$(ip netns exec moon ping -c 3 -i 0.2 -W 2 -I "$TOPO_MOON_LAN" "$TOPO_SUN_LAN" 2>&1) ||
        fail "ping through the NATed tunnel failed: $(grep -E 'packets transmitted' <<<"$out")"
    step "ping: $(grep -E 'packets transmitted' <<<"$out")"
    note "strongSwan behind the NAT: tern answered on 4500 with ESP in UDP; ping 3/3"
    swanctl_in "$dir" --terminate --ike demo --timeout 30 >/dev/null 2>&1 || fail "swanctl --terminate from moon failed"
    expect_within 10 "sun's kernel (tern) has no SA and no policy left" xfrm_is_empty sun
}

# tern_sees_moon_at ADDR: tern's IKE SA and both of its ESP SAs use ADDR:4500 for moon.
tern_sees_moon_at() {
    local remote
    remote=$(tern_sas_json "$R/sun-ternd" | jq -r '.[0].remote_addr') || return 1
    [[ $remote == "$1:4500" ]] || return 1
    (($(ip -n sun xfrm state | grep -c "src $1 dst $TOPO_SUN_WAN\|src $TOPO_SUN_WAN dst $1") == 2))
}

# nat_map_moon_to ADDR: the NAT maps moon to ADDR (one of its outside addresses)
# from now on, both ways.
nat_map_moon_to() {
    tc -n nat filter del dev out0 parent 1: protocol ip prio 10 &&
        tc -n nat filter add dev out0 parent 1: protocol ip prio 10 u32 \
            match ip src "$NAT_MOON_WAN/32" action nat egress "$NAT_MOON_WAN/32" "$1" &&
        tc -n nat filter del dev out0 parent ffff: protocol ip prio 10 &&
        tc -n nat filter add dev out0 parent ffff: protocol ip prio 10 u32 \
            match ip dst "$1/32" action nat ingress "$1/32" "$NAT_MOON_WAN" ||
        fail "could not change the NAT's mapping: $(tc -n nat filter show dev out0 2>&1 | tr '\n' ' ')"
    step "the NAT maps moon to $1 from now on"
}

# strongSwan behind a NAT that changes its mapping mid-tunnel (moon appears from
# another public address): tern learns it from the kernel (XFRM MAPPING on the first
# ESP packet from there), and its IKE SA, ESP SAs and policies follow, keeping their
# keys, so traffic flows again without a new negotiation.
scenario_nat-mapping-changes() {
    stop_capture
    local topo_err moved=192.0.2.3
    topo_err=$(nat_topology_up 2>&1) || fail "could not create the NAT topology: $topo_err"
    start_capture
    load_demo_psk
    start_ternd sun --config "$TERN_ROOT/conf/examples/demo-sun.toml"
    local dir="$R/moon-charon"
    mkdir -p "$dir"
    charon_write_config "$dir" "$W/moon-charon.log"
    charon_write_conn "$dir" "$NAT_MOON_WAN" "$TOPO_SUN_WAN" moon.tern.example sun.tern.example \
        "$TOPO_MOON_NET" "$TOPO_SUN_NET" "$PSK" "" "" ""
    charon_start moon "$dir" || fail "charon did not start in moon: $LAST_WARNING"
    swanctl_initiate moon
    expect_within 10 "ternctl list-sas in sun shows CHILD SA net INSTALLED" tern_child_installed "$R/sun-ternd"
    expect "tern sees moon at $TOPO_MOON_WAN:4500" tern_sees_moon_at "$TOPO_MOON_WAN"
    local spis_before
    spis_before=$(xfrm_esp_spis sun | sort | tr '\n' ' ')
    check_ping_through_esp

    # The NAT now maps moon to another public address.
    ip -n nat addr add "$moved/24" dev out0 || fail "could not add $moved to the NAT"
    nat_map_moon_to "$moved"
    # Traffic from moon shows the kernel the new mapping.
    ip netns exec moon ping -c 3 -i 0.2 -W 1 -I "$TOPO_MOON_LAN" "$TOPO_SUN_LAN" >/dev/null 2>&1
    expect_within 10 "tern's IKE SA and ESP SAs follow moon to $moved:4500" tern_sees_moon_at "$moved"
    grep -q "NAT mapping changed" "$W/sun-ternd.log" ||
        fail "ternd's log does not say the NAT mapping changed"
    [[ $(xfrm_esp_spis sun | sort | tr '\n' ' ') == "$spis_before" ]] ||
        fail "the ESP SAs changed SPIs ($spis_before -> $(xfrm_esp_spis sun | tr '\n' ' ')): they should have moved, not been renegotiated"
    local policies
    policies=$(ip -n sun xfrm policy)
    grep -q "tmpl src $moved dst $TOPO_SUN_WAN" <<<"$policies" ||
        fail "sun's inbound policy does not expect ESP from $moved: $(grep 'tmpl src' <<<"$policies" | tr '\n' ' ')"
    check_ping_through_esp
    note "the NAT moved moon from $TOPO_MOON_WAN to $moved: IKE, ESP and policies followed, same SPIs, ping 3/3"

    # And back: a mapping that keeps changing is what ternctl diagnose points at.
    nat_map_moon_to "$TOPO_MOON_WAN"
    ip netns exec moon ping -c 3 -i 0.2 -W 1 -I "$TOPO_MOON_LAN" "$TOPO_SUN_LAN" >/dev/null 2>&1
    expect_within 10 "tern's IKE SA and ESP SAs follow moon back to $TOPO_MOON_WAN:4500" tern_sees_moon_at "$TOPO_MOON_WAN"
    local changes finding
    changes=$(tern_sas_json "$R/sun-ternd" | jq -r '.[0].nat.mapping_changes')
    exactly 2 "$changes" "the mapping changes ternctl list-sas counts"
    finding=$(ternctl_in "$R/sun-ternd" --json diagnose |
        jq -c '[.connections[].findings[] | select(.kind == "nat_mapping_changes")] | first')
    [[ $(jq -r .setting <<<"$finding") == nat_keepalive ]] ||
        fail "ternctl diagnose has no nat_mapping_changes finding naming nat_keepalive: $(ternctl_in "$R/sun-ternd" diagnose 2>&1 | tr '\n' ' ')"
    note "ternctl diagnose: $(jq -r .message <<<"$finding")"
    swanctl_in "$dir" --terminate --ike demo --timeout 30 >/dev/null 2>&1 || fail "swanctl --terminate from moon failed"
    expect_within 10 "sun's kernel (tern) has no SA and no policy left" xfrm_is_empty sun
}
