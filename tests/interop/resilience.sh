# shellcheck shell=bash
# A peer that dies or loses its state: dead peer detection with dpd_action clear and
# restart, and strongSwan restarting (all state lost) while tern keeps its SAs.
#
# Sourced by tests/interop/run; uses its helpers.

# Short timers so that a dead peer shows in seconds: a liveness check after 2 s without
# a word from strongSwan, sent again after 1 s and 1.5 s, given up 2.25 s later.
DPD_CONN=$'dpd_delay = "2s"'
DPD_RETRANSMIT=$'base_secs = 1.0\nfactor = 1.5\ntries = 3'

# dpd_setup ACTION: ternd with DPD and dpd_action = ACTION, charon passive; tunnel up
# from tern and checked.
dpd_setup() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf conn="$DPD_CONN" child="dpd_action = \"$1\"" retransmit="$DPD_RETRANSMIT")"
    start_charon sun "$PSK"
    tern_initiate
    check_tunnel_up
    tern_ike_spis >"$R/ike-before"
}

# charon_kill: SIGKILL, as a crash or power loss: strongSwan sends nothing. Its kernel
# state goes too, as after a reboot (a charon that starts again does not flush it).
charon_kill() {
    local dir="$R/sun-charon"
    kill -KILL "$(cat "$dir/charon.pid")" 2>/dev/null || fail "charon in sun was not running"
    wait_until 5 "charon to die" _pid_gone "$(cat "$dir/charon.pid")"
    rm -f "$dir/charon.pid" "$dir/run/charon.vici" "$dir/run/charon.pid"
    ip -n sun xfrm state flush && ip -n sun xfrm policy flush
    _now && KILLED_AT=$NOW_MS
    step "killed charon in sun (SIGKILL) and flushed sun's XFRM state"
}

# charon_restart: charon again, with the same configuration and no memory of the SAs.
# The first instance's log is kept as sun-charon-before-restart.log.
charon_restart() {
    local dir="$R/sun-charon"
    mv "$W/sun-charon.log" "$W/sun-charon-before-restart.log" 2>/dev/null
    step "starting charon in sun again"
    charon_start sun "$dir" || fail "charon did not start again in sun: $LAST_WARNING"
}

# tern_declared_dead: ternd logged the DPD verdict.
tern_declared_dead() { grep -q 'dead peer (DPD timeout)' "$W/moon-ternd.log"; }

# ms_since_kill: milliseconds since charon_kill.
ms_since_kill() { _now && echo $((NOW_MS - KILLED_AT)); }

# dpd_action = clear: the SAs go, in both ternd and moon's kernel, and stay gone.
scenario_dpd-clear() {
    dpd_setup clear
    charon_kill
    expect_within 20 "ternd to log 'dead peer (DPD timeout)'" tern_declared_dead
    note "ternd found strongSwan dead $(ms_since_kill) ms after it was killed (dpd_delay 2 s, then 3 retransmits at 1 s x1.5: about 10 s)"
    expect_within 5 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    expect_within 5 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    # And nothing comes back: no restart with dpd_action = clear.
    sleep 3
    expect "ternctl list-sas is still empty 3 s later" tern_has_no_sa "$R/moon-ternd"
    grep -q 'restarting connection' "$W/moon-ternd.log" && fail "ternd restarted the connection although dpd_action = clear"
    expect_ternd_alive
    # ternctl diagnose says the peer died (diagnose.sh).
    expect_within 5 "ternctl diagnose to name the dead peer" tern_finding dead_peer
    expect_finding dead_peer dpd_action "stopped answering"
}

# dpd_action = restart: ternd finds the peer dead, clears, and keeps initiating until
# strongSwan is back (here after 12 s); then the tunnel is up again.
scenario_dpd-restart() {
    dpd_setup restart
    charon_kill
    expect_within 20 "ternd to log 'dead peer (DPD timeout)'" tern_declared_dead
    note "ternd found strongSwan dead $(ms_since_kill) ms after it was killed"
    expect_within 5 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "ternd to restart the connection (log: 'restarting connection')" \
        grep -q 'restarting connection' "$W/moon-ternd.log"
    while (($(ms_since_kill) < 12000)); do sleep 0.5; done
    charon_restart
    local t0
    t0=$(now_ms)
    expect_within 40 "ternd to bring the tunnel up again" tern_child_installed "$R/moon-ternd"
    note "tunnel up again $(($(now_ms) - t0)) ms after strongSwan restarted ($(grep -c 'restarting connection' "$W/moon-ternd.log") restart attempts logged)"
    check_tunnel_up
}

# strongSwan restarts at once and forgets everything; tern still has its SAs and
# sends into the void. Its DPD notices (no ESP, no answer to the liveness check from
# the new charon, which knows no such IKE SA) and dpd_action = restart brings the
# tunnel back. A ping runs throughout; the outage is reported.
scenario_strongswan-restarts() {
    dpd_setup restart
    ping_start 40
    sleep 2
    charon_kill
    charon_restart
    local t0
    t0=$(now_ms)
    expect_within 40 "ternd to replace its IKE SA (the old one is dead)" ike_sa_replaced
    expect_within 10 "ternctl list-sas shows the CHILD SA INSTALLED again" tern_child_installed "$R/moon-ternd"
    note "a new IKE SA $(($(now_ms) - t0)) ms after strongSwan restarted"
    check_tunnel_up
    # The ping's losses are the outage: report them, do not fail on them.
    local pid summary
    pid=$(cat "$R/ping.pid")
    wait_until 60 "the continuous ping to end" _pid_gone "$pid" || fail "the continuous ping did not end"
    rm -f "$R/ping.pid"
    summary=$(grep 'packets transmitted' "$W/ping.txt")
    note "continuous ping ($PING_PER_SEC per second): $summary"
    grep -qE ', [1-9][0-9]* received' <<<"$summary" || fail "no ping reply at all: $summary"
    expect_ternd_alive
}

# ternd lists one IKE SA for demo, with other SPIs than before the restart.
ike_sa_replaced() {
    local now
    now=$(tern_ike_spis)
    [[ -n $now && $now != "null_null" && $now != "$(cat "$R/ike-before")" ]]
}

# keyingtries (default 0: until the peer answers): ternd starts the tunnel
# (start_action = start) while strongSwan is not running. Each attempt goes unanswered
# (short retransmits: about 5 s an attempt) and is tried again after 5 s, then 10 s;
# once strongSwan has started, the next attempt brings the tunnel up.
scenario_tern-keyingtries() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf conn='start_action = "start"' retransmit="$DPD_RETRANSMIT")"
    expect_within 40 "ternd to log that its second attempt failed and when it tries again" \
        grep -q 'attempt 2 failed: .*keyingtries: trying again in 10 s' "$W/moon-ternd.log"
    tern_child_installed "$R/moon-ternd" && fail "ternd has a CHILD SA although strongSwan is not running"
    start_charon sun "$PSK"
    local t0
    t0=$(now_ms)
    expect_within 40 "ternd to bring the tunnel up once strongSwan answers" tern_child_installed "$R/moon-ternd"
    note "tunnel up $(($(now_ms) - t0)) ms after strongSwan started; failed attempts logged: $(grep -c 'keyingtries: trying again' "$W/moon-ternd.log")"
    check_tunnel_up
    expect_ternd_alive
}
