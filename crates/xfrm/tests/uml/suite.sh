#!/usr/bin/env bash
# tern-xfrm's real-kernel suite, run as the job of tests/uml/run-in-uml (see ./run).
# Sections (all but bench by default): unit traffic expire acquire mapping restart bench
# Binaries: $TERN_XFRM_BIN_DIR/{examples/xfrm-tool,examples/xfrm-bench,ternd,ternctl}
# and the host-kernel test binaries listed in $TERN_XFRM_TESTS.
set -uo pipefail
# shellcheck source=../../../../tests/interop/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../../tests/interop/lib.sh"

BIN=${TERN_XFRM_BIN_DIR:?}
TOOL="$BIN/examples/xfrm-tool"
TERN_BIN_DIR=$BIN TERND="$BIN/ternd" TERNCTL="$BIN/ternctl"
OUT=${TERN_RESULTS:-/tmp}/xfrm
mkdir -p "$OUT"
failures=()
passes=0

pass() { passes=$((passes + 1)); info "ok   $*"; }
failed() { failures+=("$*"); info "FAIL $*"; }
# check NAME COMMAND...: one assertion.
check() {
    local name=$1
    shift
    if "$@" >>"$OUT/check.log" 2>&1; then pass "$name"; else failed "$name"; fi
}
tool() { local ns=$1; shift; ip netns exec "$ns" "$TOOL" "$@"; }

# --- sections

section_unit() {
    local b
    for b in ${TERN_XFRM_TESTS:-}; do
        check "$(basename "$b") (every operation against this kernel)" "$b" --test-threads=1 -q
    done
}

# moon/sun of lib.sh plus IPv6: WAN 2001:db8::1/::2, LANs fd01::1/64 and fd02::1/64.
topology_v4v6() {
    topology_up || return 1
    local ns a peer lan plan
    for ns in moon sun; do
        if [[ $ns == moon ]]; then a=1 peer=2; else a=2 peer=1; fi
        ip -n "$ns" addr add "2001:db8::$a/64" dev "${ns}0" nodad
        ip -n "$ns" addr add "fd0$a::1/64" dev lan0 nodad
        ip -n "$ns" route add "fd0$peer::/64" via "2001:db8::$peer" src "fd0$a::1"
    done
}

# pair_install ALG MODE OUTER(4|6) INNER(4|6) [extra args]: the same CHILD SA on both ends.
pair_install() {
    local alg=$1 mode=$2 outer=$3 inner=$4
    shift 4
    local mw sw mn sn
    if [[ $outer == 4 ]]; then mw=192.0.2.1 sw=192.0.2.2; else mw=2001:db8::1 sw=2001:db8::2; fi
    if [[ $inner == 4 ]]; then mn=10.1.0.0/24 sn=10.2.0.0/24; else mn=fd01::/64 sn=fd02::/64; fi
    tool moon flush && tool sun flush &&
        tool moon child local=$mw remote=$sw spi-out=c0000a01 spi-in=c0000b01 alg="$alg" mode="$mode" \
            local-net=$mn remote-net=$sn "$@" &&
        tool sun child local=$sw remote=$mw spi-out=c0000b01 spi-in=c0000a01 alg="$alg" mode="$mode" \
            local-net=$sn remote-net=$mn "$@"
}

# ping_through MODE OUTER INNER: ping across the SAs and check both SAs counted it.
ping_through() {
    local mode=$1 outer=$2 inner=$3 src dst mw sw
    if [[ $outer == 4 ]]; then mw=192.0.2.1 sw=192.0.2.2; else mw=2001:db8::1 sw=2001:db8::2; fi
    if [[ $mode == transport ]]; then
        src=$mw dst=$sw
    elif [[ $inner == 4 ]]; then src=10.1.0.1 dst=10.2.0.1; else src=fd01::1 dst=fd02::1; fi
    if ! ip netns exec moon ping -c 3 -i 0.2 -W 2 -I "$src" "$dst" >"$OUT/ping.txt" 2>&1; then
        cat "$OUT/ping.txt"
        ip -n moon -s xfrm state
        ip -n sun -s xfrm state
        ip -n moon route get "$dst" from "$src"
        return 1
    fi
    local out_c in_c
    out_c=$(tool moon counters src=$mw dst=$sw spi=c0000a01) || return 1
    in_c=$(tool sun counters src=$mw dst=$sw spi=c0000a01) || return 1
    echo "moon out: $out_c; sun in: $in_c"
    [[ $out_c == "$in_c" && $out_c == *packets=[1-9]* ]] || return 1
    # Replies came back through sun's outbound SA.
    [[ $(tool moon counters src=$sw dst=$mw spi=c0000b01) == *packets=[1-9]* ]]
}

section_traffic() {
    topology_v4v6 || { failed "topology"; return; }
    local algs=(aes128gcm8 aes128gcm12 aes128gcm16 aes256gcm8 aes256gcm12 aes256gcm16 chacha20poly1305
        aes128-sha1 aes128-sha256 aes128-sha384 aes128-sha512 aes192-sha256 aes256-sha1
        aes256-sha256 aes256-sha384 aes256-sha512)
    local alg mode fam
    for alg in "${algs[@]}"; do
        for mode in tunnel transport; do
            for fam in 4 6; do
                check "ESP $alg $mode IPv$fam: ping through, counters grow" \
                    eval "pair_install $alg $mode $fam $fam && ping_through $mode $fam $fam"
            done
        done
    done
    section_mixed
    check "policies' last use (GETPOLICY use_time): none before traffic, now after" last_use_follows_traffic
    check "ESP with UDP encapsulation (no NAT)" eval "pair_install aes128gcm16 tunnel 4 4 encap=4500:4500 &&
        { tool sun monitor seconds=3 encap-port=4500 >/dev/null & tool moon monitor seconds=3 encap-port=4500 >/dev/null & sleep 0.5; } &&
        ping_through tunnel 4 4"
    wait
    tool moon flush; tool sun flush
}

# use_time of the CHILD SA's policies: 0 before a packet, within seconds of now after
# a ping through the tunnel, on moon's out (the request) and in (the reply) and sun's
# in (what `list-sas` reads; fwd is not exercised: the ping ends at sun itself).
last_use_follows_traffic() {
    pair_install aes128gcm16 tunnel 4 4 || return 1
    local use check ns dir src dst t now
    use=$(tool moon policy-use src-net=10.1.0.0/24 dst-net=10.2.0.0/24 dir=out) || return 1
    echo "moon out before: $use"
    [[ $use == "use_time=0 "* ]] || return 1
    ping_through tunnel 4 4 || return 1
    for check in moon:out:10.1.0.0/24:10.2.0.0/24 moon:in:10.2.0.0/24:10.1.0.0/24 \
        sun:in:10.1.0.0/24:10.2.0.0/24; do
        IFS=: read -r ns dir src dst <<<"$check"
        use=$(tool "$ns" policy-use src-net="$src" dst-net="$dst" dir="$dir") || return 1
        echo "$ns $dir after: $use"
        t=${use#use_time=} t=${t%% *} now=${use##*now=}
        ((t > 0 && now - t <= 10)) || return 1
    done
}

# Inner and outer families differ. Seen here (kernel 6.1): such a tunnel carries nothing
# unless its SAs carry a selector of the inner family (SaParams::selector); without one
# the packets never reach the outbound SA.
section_mixed() {
    topology_v4v6 >/dev/null 2>&1 || { failed "topology"; return; }
    check "ESP IPv4 inside IPv6 (tunnel, SA selector)" eval "pair_install aes128gcm16 tunnel 6 4 sa-selector=yes && ping_through tunnel 6 4"
    check "ESP IPv6 inside IPv4 (tunnel, SA selector)" eval "pair_install aes128gcm16 tunnel 4 6 sa-selector=yes && ping_through tunnel 4 6"
}

section_expire() {
    topology_v4v6 >/dev/null 2>&1 || { failed "topology"; return; }
    tool moon monitor seconds=10 until=hard=true >"$OUT/expire-events.txt" 2>&1 &
    local mon=$! t0
    wait_until 5 "monitor" grep -q monitoring "$OUT/expire-events.txt"
    t0=$(now_ms)
    tool moon child local=192.0.2.1 remote=192.0.2.2 spi-out=c0000e01 spi-in=c0000e02 alg=aes128gcm16 \
        mode=tunnel local-net=10.1.0.0/24 remote-net=10.2.0.0/24 soft-secs=2 hard-secs=4
    wait_until 8 "soft expire" grep -q 'expire spi=0xc0000e01 .*hard=false' "$OUT/expire-events.txt"
    local soft_ms=$(($(now_ms) - t0))
    wait "$mon"
    cat "$OUT/expire-events.txt" >>"$OUT/check.log"
    check "EXPIRE soft after 2 s (seen after ${soft_ms} ms)" eval "((soft_ms >= 1500 && soft_ms < 4000))"
    check "EXPIRE hard follows, SA gone" eval "grep -q 'expire spi=0xc0000e01 .*hard=true' '$OUT/expire-events.txt' &&
        ! ip -n moon xfrm state | grep -q 0xc0000e01"
}

section_acquire() {
    topology_v4v6 >/dev/null 2>&1 || { failed "topology"; return; }
    tool moon trap local=192.0.2.1 remote=192.0.2.2 local-net=10.1.0.0/24 remote-net=10.2.0.0/24 reqid=2113929221
    tool moon monitor seconds=6 until=acquire >"$OUT/acquire-events.txt" 2>&1 &
    local mon=$!
    wait_until 5 "monitor" grep -q monitoring "$OUT/acquire-events.txt"
    ip netns exec moon ping -c 1 -W 1 -I 10.1.0.1 10.2.0.1 >/dev/null 2>&1
    wait "$mon"
    cat "$OUT/acquire-events.txt" >>"$OUT/check.log"
    check "ACQUIRE for a trap policy" grep -q \
        'acquire src=192.0.2.1 dst=192.0.2.2 reqid=2113929221 policy="10.1.0.0/24 -> 10.2.0.0/24" packet="10.1.0.1/32 -> 10.2.0.1/32 proto 1' \
        "$OUT/acquire-events.txt"
}

# moon (192.0.2.1) -- nat (192.0.2.254 | 198.51.100.254) -- sun (198.51.100.2); nat
# rewrites moon's ESP-in-UDP source to 198.51.100.254:40000-40010.
section_mapping() {
    topology_down
    ip netns del nat 2>/dev/null
    ip netns add moon && ip netns add sun && ip netns add nat || { failed "nat topology"; return; }
    ip link add moon0 netns moon type veth peer name nat-moon netns nat
    ip link add sun0 netns sun type veth peer name nat-sun netns nat
    ip -n moon link set lo up; ip -n sun link set lo up; ip -n nat link set lo up
    ip -n moon addr add 192.0.2.1/24 dev moon0; ip -n moon link set moon0 up
    ip -n nat addr add 192.0.2.254/24 dev nat-moon; ip -n nat link set nat-moon up
    ip -n nat addr add 198.51.100.254/24 dev nat-sun; ip -n nat link set nat-sun up
    ip -n sun addr add 198.51.100.2/24 dev sun0; ip -n sun link set sun0 up
    ip -n moon route add default via 192.0.2.254
    ip -n sun route add default via 198.51.100.254
    ip -n moon link add lan0 type dummy; ip -n moon addr add 10.1.0.1/24 dev lan0; ip -n moon link set lan0 up
    ip -n sun link add lan0 type dummy; ip -n sun addr add 10.2.0.1/24 dev lan0; ip -n sun link set lan0 up
    ip netns exec nat sysctl -qw net.ipv4.ip_forward=1
    # Debian's UML kernels have no nftables NAT chain type (nft_chain_nat), and 7.x not
    # iptables' nat table either: tc rewrites moon's ESP-in-UDP on the way out instead,
    # address (act_nat) and source port (pedit, then csum), as a NAT would.
    if ! { modprobe -a sch_prio cls_u32 act_nat act_pedit act_csum &&
        tc -n nat qdisc add dev nat-sun root handle 1: prio &&
        tc -n nat filter add dev nat-sun parent 1: protocol ip prio 10 u32 \
            match ip protocol 17 0xff match ip sport 4500 0xffff match ip src 192.0.2.1/32 \
            action nat egress 192.0.2.1/32 198.51.100.254 pipe \
            action pedit ex munge udp sport set 40000 pipe \
            action csum udp; } >"$OUT/nat.txt" 2>&1; then
        failed "MAPPING: the NAT could not be set up (tc: $(tr '\n' ' ' <"$OUT/nat.txt"))"
        return
    fi
    # sun believes moon is at the NAT's port 4500; moon sends from 4500, the NAT moves it.
    tool moon child local=192.0.2.1 remote=198.51.100.2 spi-out=c0000d01 spi-in=c0000d02 alg=aes128gcm16 \
        mode=tunnel local-net=10.1.0.0/24 remote-net=10.2.0.0/24 encap=4500:4500
    tool sun child local=198.51.100.2 remote=192.0.2.1 remote-sa-src=198.51.100.254 spi-out=c0000d02 \
        spi-in=c0000d01 alg=aes128gcm16 mode=tunnel local-net=10.2.0.0/24 remote-net=10.1.0.0/24 encap=4500:4500
    tool sun monitor seconds=8 encap-port=4500 until=mapping >"$OUT/mapping-events.txt" 2>&1 &
    local mon=$!
    tool moon monitor seconds=8 encap-port=4500 >/dev/null 2>&1 &
    local mon2=$!
    wait_until 5 "monitor" grep -q monitoring "$OUT/mapping-events.txt"
    ip netns exec moon ping -c 2 -i 0.3 -W 1 -I 10.1.0.1 10.2.0.1 >"$OUT/mapping-ping.txt" 2>&1
    wait "$mon"
    kill "$mon2" 2>/dev/null
    wait "$mon2" 2>/dev/null
    cat "$OUT/mapping-events.txt" >>"$OUT/check.log"
    check "MAPPING after the NAT moved ESP-in-UDP to another port" grep -qE \
        'mapping spi=0xc0000d01 dst=198.51.100.2 old=198.51.100.254:4500 new=198.51.100.254:400(0[0-9]|10)' \
        "$OUT/mapping-events.txt"
    check "ESP-in-UDP through the NAT counted on sun" eval \
        "[[ \$(tool sun counters src=198.51.100.254 dst=198.51.100.2 spi=c0000d01) == *packets=[1-9]* ]]"
    ip netns del nat
    topology_down
}

# ternd in moon, charon in sun; a CHILD SA; kill -9 ternd; its SAs and policies stay in
# the kernel; a new ternd removes them at start and can set the tunnel up again.
section_restart() {
    topology_up || { failed "topology"; return; }
    local R=/tmp/xfrm-restart W="$OUT" psk
    rm -rf "$R"
    mkdir -p "$R/sun-charon"
    psk=$(tern_demo_psk) || { failed "restart: no demo PSK"; return; }
    charon_write_config "$R/sun-charon" "$W/sun-charon.log"
    charon_write_conn "$R/sun-charon" "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" sun.tern.example moon.tern.example \
        "$TOPO_SUN_NET" "$TOPO_MOON_NET" "$psk"
    charon_start sun "$R/sun-charon" || { failed "restart: charon: $LAST_WARNING"; return; }
    ternd_start moon "$R/moon-ternd" "$W/ternd-1.log" --demo || { failed "restart: ternd: $LAST_WARNING"; return; }
    timeout 60 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" initiate demo --timeout 30 >>"$OUT/check.log" 2>&1
    check "restart: CHILD SA installed by the first ternd" wait_until 10 "child" tern_child_installed "$R/moon-ternd"
    ip -n moon xfrm state >"$W/restart-before.txt"; ip -n moon xfrm policy >>"$W/restart-before.txt"
    kill -9 "$(cat "$R/moon-ternd/ternd.pid")"
    wait "$(cat "$R/moon-ternd/ternd.pid")" 2>/dev/null
    rm -f "$R/moon-ternd/ternd.pid" "$R/moon-ternd/ternd.sock"
    check "restart: kill -9 left SAs and policies behind" eval "! xfrm_is_empty moon"
    ternd_start moon "$R/moon-ternd" "$W/ternd-2.log" --demo || { failed "restart: second ternd: $LAST_WARNING"; return; }
    ip -n moon xfrm state >"$W/restart-after.txt"; ip -n moon xfrm policy >>"$W/restart-after.txt"
    check "restart: the new ternd removed them (kernel empty, log says so)" eval \
        "xfrm_is_empty moon && grep -q 'removed stale policy' '$W/ternd-2.log' && grep -q 'removed stale SA' '$W/ternd-2.log'"
    timeout 60 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" initiate demo --timeout 30 >>"$OUT/check.log" 2>&1
    check "restart: the new ternd sets the tunnel up again, ping through ESP" eval \
        "wait_until 10 child tern_child_installed '$R/moon-ternd' && ip netns exec moon ping -c 2 -W 2 -I 10.1.0.1 10.2.0.1"
    ternd_stop "$R/moon-ternd"
    charon_stop "$R/sun-charon"
    topology_down
}

section_bench() {
    local n=${TERN_XFRM_BENCH_COUNT:-10000}
    "$BIN/examples/xfrm-bench" "$n" | tee "$OUT/bench.txt"
    check "bench ran ($n CHILD SAs)" grep -q 'CHILD SAs/s' "$OUT/bench.txt"
}

sections=("$@")
((${#sections[@]})) || sections=(unit traffic expire acquire mapping restart)
for s in "${sections[@]}"; do
    t0=$(now_ms)
    info "== $s"
    "section_$s"
    info "== $s: $(($(now_ms) - t0)) ms"
done
topology_down
info "tern-xfrm real-kernel suite: $passes passed, ${#failures[@]} failed"
for f in "${failures[@]}"; do info "  failed: $f"; done
((${#failures[@]} == 0))
