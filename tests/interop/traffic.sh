# Traffic-limit scenarios for tests/interop/run (sourced by it): the kernel counts
# what each ESP SA carries and tells ternd when rekey_bytes is reached.

# tern-rekeys-on-bytes: tern's child has rekey_bytes = 200000; a ping of 1000-byte
# packets, 20 per second, through the tunnel makes the kernel ask for a rekey every
# ten seconds or so. Every such EXPIRE must become a rekey, with no packet lost and no
# SA reaching its hard limit.
scenario_tern-rekeys-on-bytes() {
    load_demo_psk
    local conf
    conf=$(tern_config_with_child_keys "rekey_bytes = 200000" "life_bytes = 400000") || exit 1
    start_ternd moon --config "$conf"
    start_charon sun "$PSK"
    tern_initiate
    rekey_tunnel_ready
    local first
    first=$(xfrm_esp_spis moon | sort | tr '\n' ' ')
    local count=$((25 * PING_PER_SEC))
    step "ping of 1000-byte packets: $count, one every ${PING_INTERVAL}s"
    ip netns exec moon ping -n -D -s 1000 -i "$PING_INTERVAL" -c "$count" -W 2 -I "$TOPO_MOON_LAN" \
        "$TOPO_SUN_LAN" </dev/null >"$W/ping.txt" 2>&1 &
    echo $! >"$R/ping.pid"
    ping_finish
    local soft hard
    soft=$(grep -c 'rekey_bytes/rekey_packets in the kernel; rekeying' "$W/moon-ternd.log")
    hard=$(grep -c 'life_bytes/life_packets reached' "$W/moon-ternd.log")
    step "kernel soft EXPIREs acted on: $soft; hard expiries: $hard; SPIs at first: $first; now: $(xfrm_esp_spis moon | sort | tr '\n' ' ')"
    ((soft >= 2)) || fail "ternd rekeyed on the kernel's soft EXPIRE $soft times in 25 s of 20 KB/s with rekey_bytes = 200000 (expected 2 or more)"
    ((hard == 0)) || fail "$hard CHILD SAs reached life_bytes"
    expect "strongSwan still has the CHILD SA" charon_child_installed "$R/sun-charon"
    note "rekey_bytes = 200000 at ~20 KB/s: $soft rekeys on the kernel's soft EXPIRE, no hard expiry, no packet lost"
}
