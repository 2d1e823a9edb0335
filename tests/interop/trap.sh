# shellcheck shell=bash
# On-demand tunnels: tern's child has start_action = trap, so only its policies are
# installed; traffic brings the tunnel up (kernel ACQUIRE), and brings it back after
# strongSwan deletes the CHILD SA.
#
# Sourced by tests/interop/run; uses its helpers.

# trap_policies_only NS: in, out and fwd policies for the subnets, and no ESP SA.
trap_policies_only() {
    [[ "$(xfrm_policy_dirs moon "$TOPO_MOON_NET" "$TOPO_SUN_NET")" == "fwd in out" ]] &&
        [[ -z "$(xfrm_esp_spis moon)" ]]
}

# trap_listed: ternctl list-conns marks the child as trapped.
trap_listed() { ternctl_in "$R/moon-ternd" list-conns 2>/dev/null | grep -q 'TRAPPED'; }

# trap_ping_until_up: pings from moon's LAN into sun's until the CHILD SA is up (the
# first packets go to the ACQUIRE and may be lost); prints how many pings were sent.
trap_ping_until_up() {
    local sent=0
    while ((sent < 20)); do
        ip netns exec moon ping -c 1 -W 1 -I "$TOPO_MOON_LAN" "$TOPO_SUN_LAN" >/dev/null 2>&1
        sent=$((sent + 1))
        if tern_child_installed "$R/moon-ternd" && charon_child_installed "$R/sun-charon"; then
            echo "$sent"
            return 0
        fi
    done
    echo "$sent"
    return 1
}

scenario_tern-trap() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf child='start_action = "trap"')"
    start_charon sun "$PSK"
    expect_within 10 "moon's kernel has the trap's in, out and fwd policies and no ESP SA" trap_policies_only
    expect "ternctl list-conns shows the child trapped" trap_listed
    expect "ternctl list-sas is empty before any traffic" tern_has_no_sa "$R/moon-ternd"
    expect "strongSwan lists no SA before any traffic" charon_has_no_sa "$R/sun-charon"

    local t0 sent
    t0=$(now_ms)
    sent=$(trap_ping_until_up) || fail "20 pings from $TOPO_MOON_LAN did not bring the tunnel up"
    note "traffic brought the tunnel up: $sent ping(s), $(($(now_ms) - t0)) ms"
    grep -q 'ACQUIRE: traffic for a trap' "$W/moon-ternd.log" || fail "ternd did not log the ACQUIRE"
    check_tunnel_up
    local first
    first=$(tern_child_spis "$R/moon-ternd")

    # strongSwan deletes the CHILD SA: the trap stays, and traffic brings it back.
    local out rc
    out=$(swanctl_in "$R/sun-charon" --terminate --child net --timeout 30 2>&1)
    rc=$?
    step "swanctl --terminate --child net in sun -> exit $rc"
    ((rc == 0)) || fail "swanctl --terminate --child net failed (exit $rc): $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    expect_within 10 "moon keeps the trap's policies, without ESP SAs, after strongSwan deleted the CHILD SA" trap_policies_only
    expect "ternctl list-conns still shows the child trapped" trap_listed
    t0=$(now_ms)
    sent=$(trap_ping_until_up) || fail "20 pings did not bring the CHILD SA back after strongSwan deleted it"
    note "traffic brought the CHILD SA back (CREATE_CHILD_SA on the IKE SA): $sent ping(s), $(($(now_ms) - t0)) ms"
    [[ "$(tern_child_spis "$R/moon-ternd")" != "$first" ]] || fail "the CHILD SA has the SPIs of the deleted one ($first)"
    check_tunnel_up

    # ternctl terminate removes the trap too.
    tern_terminate
    check_all_gone
    trap_listed && fail "ternctl list-conns still shows the child trapped after terminate"
    expect_ternd_alive
}

# dpd_action = trap: strongSwan is killed; tern's DPD finds it dead and, instead of
# initiating again, leaves the child's trap. strongSwan comes back; a ping brings the
# tunnel up.
scenario_dpd-trap() {
    dpd_setup trap
    charon_kill
    expect_within 20 "ternd to log 'dead peer (DPD timeout)'" tern_declared_dead
    note "ternd found strongSwan dead $(ms_since_kill) ms after it was killed"
    expect_within 10 "moon keeps the policies, as a trap, without ESP SAs" trap_policies_only
    expect "ternctl list-conns shows the child trapped" trap_listed
    expect_within 5 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    sleep 3
    grep -q 'restarting connection' "$W/moon-ternd.log" && fail "ternd initiated again although dpd_action = trap"
    expect "no IKE SA in ternd 3 s later: the trap waits for traffic" tern_has_no_sa "$R/moon-ternd"
    charon_restart
    local t0 sent
    t0=$(now_ms)
    sent=$(trap_ping_until_up) || fail "20 pings did not bring the tunnel back after strongSwan restarted"
    note "traffic brought the tunnel back: $sent ping(s), $(($(now_ms) - t0)) ms"
    check_tunnel_up
    expect_ternd_alive
}
