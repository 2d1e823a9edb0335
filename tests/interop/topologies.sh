# shellcheck shell=bash
# Tunnel shapes other than the demo's: transport mode, IPv6 outside and inside, traffic
# selectors narrowed by either side, several CHILD SAs on one IKE SA. Each scenario
# tries its cases from both sides (each side initiates once, the other deletes).
#
# Sourced by tests/interop/run; uses its helpers and tern_conf (proposals.sh).

# IPv6 for the moon/sun topology: WAN 2001:db8::1 and ::2, LANs fd01::/64 and fd02::/64.
V6_MOON_WAN=2001:db8::1 V6_SUN_WAN=2001:db8::2
V6_MOON_LAN=fd01::1 V6_SUN_LAN=fd02::1 V6_MOON_NET=fd01::/64 V6_SUN_NET=fd02::/64
# A second pair of subnets for a second CHILD SA.
MOON_LAN2=10.1.1.1 SUN_LAN2=10.2.1.1 MOON_NET2=10.1.1.0/24 SUN_NET2=10.2.1.0/24

topology_add_ipv6() {
    local ns wan lan net peer_net peer_wan
    for ns in moon sun; do
        if [[ $ns == moon ]]; then
            wan=$V6_MOON_WAN lan=$V6_MOON_LAN peer_net=$V6_SUN_NET peer_wan=$V6_SUN_WAN
        else
            wan=$V6_SUN_WAN lan=$V6_SUN_LAN peer_net=$V6_MOON_NET peer_wan=$V6_MOON_WAN
        fi
        ip -n "$ns" addr add "$wan/64" dev "${ns}0" nodad &&
            ip -n "$ns" addr add "$lan/64" dev lan0 nodad &&
            ip -n "$ns" -6 route add "$peer_net" via "$peer_wan" dev "${ns}0" src "$lan" ||
            fail "could not add IPv6 addresses and routes to $ns"
    done
}

topology_add_second_lan() {
    ip -n moon addr add "$MOON_LAN2/24" dev lan0 &&
        ip -n sun addr add "$SUN_LAN2/24" dev lan0 &&
        ip -n moon route add "$SUN_NET2" via "$TOPO_SUN_WAN" dev moon0 src "$MOON_LAN2" &&
        ip -n sun route add "$MOON_NET2" via "$TOPO_MOON_WAN" dev sun0 src "$SUN_LAN2" ||
        fail "could not add the second LAN addresses and routes"
}

# sun_conf LOCAL_ADDR REMOTE_ADDR CHILD...: sun's swanctl.conf with these children (each
# from sun_child), loaded into the running charon.
sun_conf() {
    local laddr=$1 raddr=$2 dir="$R/sun-charon" out
    shift 2
    cat >"$dir/swanctl/swanctl.conf" <<EOF
connections {
    demo {
        version = 2
        local_addrs = $laddr
        remote_addrs = $raddr
        local {
            auth = psk
            id = sun.tern.example
        }
        remote {
            auth = psk
            id = moon.tern.example
        }
        children {
$(printf '%s\n' "$@")
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

# sun_child NAME LOCAL_TS REMOTE_TS [MODE]
sun_child() {
    printf '            %s {\n                local_ts = %s\n                remote_ts = %s\n                mode = %s\n            }' \
        "$1" "$2" "$3" "${4:-tunnel}"
}

# tern_with KEY=VALUE...: ternd (re)started with tern_conf's configuration for this case.
tern_with() {
    local conf
    conf=$(tern_conf "$@") || exit 1
    cp "$conf" "$W/moon-ternd-$CASE.toml"
    ternd_stop "$R/moon-ternd"
    start_ternd moon --config "$conf"
}

# case_start NAME: a new case; its lines in the transcript begin here.
CASE=
case_start() {
    CASE=$1
    step "--- case $CASE"
}

# initiate_from tern|strongswan [CHILD]
initiate_from() {
    if [[ $1 == tern ]]; then
        tern_initiate
    else
        local out
        out=$(swanctl_in "$R/sun-charon" --initiate --child "${2:-net}" --timeout 30 2>&1) ||
            fail "swanctl --initiate --child ${2:-net} failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
        step "swanctl --initiate --child ${2:-net}: ok"
    fi
}

# terminate_from tern|strongswan: the IKE SA deleted by that side, then nothing left.
terminate_from() {
    if [[ $1 == tern ]]; then tern_terminate; else swanctl_terminate; fi
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "sun's kernel has no SA and no policy left" xfrm_is_empty sun
    expect_within 10 "strongSwan lists no SA" charon_has_no_sa "$R/sun-charon"
    expect_within 10 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
}

other() { if [[ $1 == tern ]]; then echo strongswan; else echo tern; fi; }

# Both daemons list CHILD SA NAME as INSTALLED (or not).
charon_child_named_installed() { swanctl_in "$R/sun-charon" --list-sas --ike demo 2>/dev/null | grep -q "^  $1: .*INSTALLED"; }
tern_child_named_installed() {
    tern_sas_json "$R/moon-ternd" | jq -e --arg c "$1" 'any(.[]; .connection == "demo" and .state == "ESTABLISHED"
        and any(.children[]; .name == $c and .state == "INSTALLED"))' >/dev/null
}
tern_child_named_gone() {
    tern_sas_json "$R/moon-ternd" | jq -e --arg c "$1" 'all(.[]; all(.children[]; .name != $c))' >/dev/null
}

# check_child CHILD SRC DST: CHILD SA CHILD up on both sides with the same SPIs, both
# in moon's kernel, and a ping SRC -> DST through it that both ESP SAs count.
check_child() {
    local child=$1 src=$2 dst=$3 t_in t_out s_in s_out spi before=() after=() out i
    expect_within 10 "strongSwan shows CHILD SA $child INSTALLED" charon_child_named_installed "$child"
    expect_within 10 "ternctl shows CHILD SA $child INSTALLED" tern_child_named_installed "$child"
    read -r t_in t_out <<<"$(tern_sas_json "$R/moon-ternd" | jq -r --arg c "$child" 'first(.[] | select(.connection == "demo")
        | .children[] | select(.name == $c and .state == "INSTALLED")) | "\(.spi_in) \(.spi_out)"')"
    read -r s_in s_out <<<"$(swanctl_in "$R/sun-charon" --list-sas --ike demo 2>/dev/null | awk -v c="  $child:" '
        index($0, c) == 1 { on = 1; next } /^  [^ ]+: #/ { on = 0 }
        on && $1 == "in" { si = $2 } on && $1 == "out" { so = $2 }
        END { sub(/,$/, "", si); sub(/,$/, "", so); print tolower(si), tolower(so) }')"
    step "CHILD SA $child: ternctl in $t_in out $t_out; strongSwan in $s_in out $s_out"
    [[ -n $t_in && $t_in == "$s_out" && $t_out == "$s_in" ]] ||
        fail "CHILD SA $child: ternctl lists in $t_in out $t_out, strongSwan in $s_in out $s_out"
    for spi in "$t_in" "$t_out"; do
        xfrm_esp_spis moon | grep -qx "$spi" || fail "moon's kernel has no ESP SA with SPI $spi (CHILD SA $child)"
        before+=("$(xfrm_esp_bytes moon "$spi")")
    done
    out=$(ip netns exec moon ping -c 3 -i 0.2 -W 2 -I "$src" "$dst" 2>&1) ||
        fail "ping $src -> $dst through CHILD SA $child failed: $(grep -E 'packets transmitted' <<<"$out")"
    i=0
    for spi in "$t_in" "$t_out"; do
        after+=("$(xfrm_esp_bytes moon "$spi")")
        ((${after[i]:-0} > ${before[i]:-0})) ||
            fail "moon's ESP SA $spi (CHILD SA $child) did not count the ping $src -> $dst (${before[i]} -> ${after[i]} bytes)"
        i=$((i + 1))
    done
    step "ping $src -> $dst through CHILD SA $child: 3/3, ESP counters grew"
}

# expect_policies NS SRC DST: NS has in, out and fwd policies for exactly SRC <-> DST.
expect_policies() {
    local dirs
    dirs=$(xfrm_policy_dirs "$1" "$2" "$3")
    [[ $dirs == "fwd in out" ]] || fail "$1's XFRM policies for $2 <-> $3: '${dirs:-none}', expected fwd, in and out ($(ip -n "$1" xfrm policy | grep -E '^src' | tr '\n' ';'))"
}

# Transport mode between the two hosts: ESP protects their own traffic, IKE keeps
# flowing beside it.
scenario_transport-mode() {
    load_demo_psk
    start_charon sun "$PSK"
    local who ns n
    for who in tern strongswan; do
        case_start "transport-$who"
        tern_with mode=transport local_ts="[\"$TOPO_MOON_WAN\"]" remote_ts="[\"$TOPO_SUN_WAN\"]"
        sun_conf "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" "$(sun_child net "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" transport)"
        initiate_from "$who"
        check_child net "$TOPO_MOON_WAN" "$TOPO_SUN_WAN"
        for ns in moon sun; do
            n=$(ip -n "$ns" xfrm state | grep -c 'mode transport')
            ((n == 2)) || fail "$ns's kernel has $n ESP SAs in transport mode, expected 2: $(ip -n "$ns" xfrm state | grep -E 'mode' | tr '\n' ';')"
            # No fwd policy needed: the traffic is the hosts' own (strongSwan installs none).
            [[ $(xfrm_policy_dirs "$ns" "$TOPO_MOON_WAN/32" "$TOPO_SUN_WAN/32") =~ ^(fwd )?in\ out$ ]] ||
                fail "$ns's XFRM policies for $TOPO_MOON_WAN <-> $TOPO_SUN_WAN: '$(xfrm_policy_dirs "$ns" "$TOPO_MOON_WAN/32" "$TOPO_SUN_WAN/32")', expected in and out"
        done
        terminate_from "$(other "$who")"
    done
    note "transport mode: up from each side, ESP SAs in transport mode in both kernels, ping between the hosts through ESP"
}

# IPv6 outside and inside, and each over the other family.
scenario_ipv6() {
    topology_add_ipv6
    load_demo_psk
    start_charon sun "$PSK"
    local row outer inner who lwan rwan lnet rnet lsrc rdst
    for row in "v6 v6" "v6 v4" "v4 v6"; do
        read -r outer inner <<<"$row"
        if [[ $outer == v6 ]]; then lwan=$V6_MOON_WAN rwan=$V6_SUN_WAN; else lwan=$TOPO_MOON_WAN rwan=$TOPO_SUN_WAN; fi
        if [[ $inner == v6 ]]; then
            lnet=$V6_MOON_NET rnet=$V6_SUN_NET lsrc=$V6_MOON_LAN rdst=$V6_SUN_LAN
        else
            lnet=$TOPO_MOON_NET rnet=$TOPO_SUN_NET lsrc=$TOPO_MOON_LAN rdst=$TOPO_SUN_LAN
        fi
        for who in tern strongswan; do
            case_start "$inner-in-$outer-$who"
            tern_with local_addrs="[\"$lwan\"]" remote_addrs="[\"$rwan\"]" local_ts="[\"$lnet\"]" remote_ts="[\"$rnet\"]"
            sun_conf "$rwan" "$lwan" "$(sun_child net "$rnet" "$lnet")"
            initiate_from "$who"
            check_child net "$lsrc" "$rdst"
            expect_policies moon "$lnet" "$rnet"
            local states
            states=$(ip -n moon xfrm state)
            grep -q "^src $lwan dst $rwan" <<<"$states" ||
                fail "moon's kernel has no ESP SA from $lwan to $rwan: $(grep '^src' <<<"$states" | tr '\n' ';')"
            terminate_from "$(other "$who")"
        done
    done
    note "IPv6 in IPv6, IPv4 in IPv6 and IPv6 in IPv4: up from each side, ping through ESP"
}

# Traffic selectors narrowed (RFC 7296 §2.9): the initiator asks for more than the
# responder allows and both install what the responder chose.
scenario_ts-narrowing() {
    load_demo_psk
    start_charon sun "$PSK"
    # tern asks for the /16s, strongSwan allows the /24s.
    case_start tern-narrowed-by-strongswan
    tern_with local_ts='["10.1.0.0/16"]' remote_ts='["10.2.0.0/16"]'
    sun_conf "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" "$(sun_child net "$TOPO_SUN_NET" "$TOPO_MOON_NET")"
    initiate_from tern
    check_child net "$TOPO_MOON_LAN" "$TOPO_SUN_LAN"
    expect_policies moon "$TOPO_MOON_NET" "$TOPO_SUN_NET"
    expect_policies sun "$TOPO_MOON_NET" "$TOPO_SUN_NET"
    terminate_from strongswan
    # strongSwan asks for the /16s, tern allows the /24s.
    case_start strongswan-narrowed-by-tern
    tern_with
    sun_conf "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" "$(sun_child net 10.2.0.0/16 10.1.0.0/16)"
    initiate_from strongswan
    check_child net "$TOPO_MOON_LAN" "$TOPO_SUN_LAN"
    expect_policies moon "$TOPO_MOON_NET" "$TOPO_SUN_NET"
    expect_policies sun "$TOPO_MOON_NET" "$TOPO_SUN_NET"
    terminate_from tern
    # strongSwan asks for all protocols, tern allows ICMP only.
    case_start strongswan-narrowed-to-icmp-by-tern
    tern_with local_ts="[\"$TOPO_MOON_NET[1]\"]" remote_ts="[\"$TOPO_SUN_NET[1]\"]"
    sun_conf "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" "$(sun_child net "$TOPO_SUN_NET" "$TOPO_MOON_NET")"
    initiate_from strongswan
    check_child net "$TOPO_MOON_LAN" "$TOPO_SUN_LAN"
    local ns
    local policies
    for ns in moon sun; do
        policies=$(ip -n "$ns" xfrm policy)
        grep -qE "^src $TOPO_MOON_NET dst $TOPO_SUN_NET.*proto icmp" <<<"$policies" ||
            fail "$ns has no policy for ICMP only from $TOPO_MOON_NET to $TOPO_SUN_NET: $(grep '^src' <<<"$policies" | tr '\n' ';')"
    done
    terminate_from tern
    note "narrowed: tern's /16s to strongSwan's /24s, strongSwan's /16s to tern's /24s, all protocols to ICMP; both kernels hold the narrowed policies"
}

# Two CHILD SAs on one IKE SA, made by each side; strongSwan deletes one of them and
# the other goes on.
scenario_several-children() {
    topology_add_second_lan
    load_demo_psk
    start_charon sun "$PSK"
    local who ikes
    for who in tern strongswan; do
        case_start "two-children-$who"
        tern_with more="$(printf '[connections.demo.children.net2]\nlocal_ts = ["%s"]\nremote_ts = ["%s"]\nesp_proposals = ["aes128gcm16"]' "$MOON_NET2" "$SUN_NET2")"
        sun_conf "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" "$(sun_child net "$TOPO_SUN_NET" "$TOPO_MOON_NET")" \
            "$(sun_child net2 "$SUN_NET2" "$MOON_NET2")"
        initiate_from "$who"
        # tern brings up every child of the connection; strongSwan one per --initiate.
        [[ $who == strongswan ]] && initiate_from strongswan net2
        check_child net "$TOPO_MOON_LAN" "$TOPO_SUN_LAN"
        check_child net2 "$MOON_LAN2" "$SUN_LAN2"
        ikes=$(tern_sas_json "$R/moon-ternd" | jq '[.[] | select(.connection == "demo")] | length')
        [[ $ikes == 1 ]] || fail "ternctl lists $ikes IKE SAs for demo, expected both CHILD SAs on one"
        [[ $(swanctl_in "$R/sun-charon" --list-sas | grep -c '^demo: #') == 1 ]] || fail "strongSwan lists more than one IKE SA"
        # strongSwan deletes net2 alone.
        swanctl_in "$R/sun-charon" --terminate --child net2 --timeout 10 >/dev/null 2>&1 || fail "swanctl --terminate --child net2 failed"
        expect_within 10 "ternctl to drop CHILD SA net2" tern_child_named_gone net2
        expect_within 10 "moon's kernel to hold only net's two ESP SAs" esp_sa_count_is 2
        check_child net "$TOPO_MOON_LAN" "$TOPO_SUN_LAN"
        terminate_from "$(other "$who")"
    done
    note "two CHILD SAs on one IKE SA, made by each side; strongSwan deleted one, the other kept working"
}

# strongSwan pads its ESP packets to the MTU (traffic flow confidentiality, RFC 4303
# §2.7; tfc_padding = mtu): tern never sends ESP_TFC_PADDING_NOT_SUPPORTED, since its
# kernel strips the padding, and the padded traffic flows.
scenario_strongswan-tfc-padding() {
    load_demo_psk
    start_ternd moon
    start_charon sun "$PSK" "" "" "tfc_padding = mtu"
    tern_initiate
    expect_within 10 "strongSwan shows the CHILD SA net as INSTALLED" charon_child_installed "$R/sun-charon"
    check_ping_through_esp
    # The kernel counts what each SA carried: moon's inbound SA (from sun) got the
    # padded pings, its outbound SA the plain replies.
    local spi padded plain
    for spi in $(xfrm_esp_spis moon); do
        if ip -n moon xfrm state | grep -B1 "spi 0x$spi" | grep -q "src $TOPO_SUN_WAN dst"; then
            padded=$(xfrm_esp_bytes moon "$spi")
        else
            plain=$(xfrm_esp_bytes moon "$spi")
        fi
    done
    step "bytes carried for 3 pings: from strongSwan $padded, from tern $plain"
    ((${padded:-0} >= 3 * 1400)) ||
        fail "strongSwan's ESP was not padded to the MTU: ${padded:-no} bytes for 3 pings"
    ((${plain:-99999} < 3 * 200)) || fail "tern's replies should be short: ${plain:-no} bytes for 3 pings"
    note "strongSwan pads ESP to the MTU ($padded bytes for 3 pings), tern decrypts it; ping 3/3"
    tern_terminate
}
