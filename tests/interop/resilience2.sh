# shellcheck shell=bash
# ternd itself dies: kill -9 under traffic, then started again.
#
# Sourced by tests/interop/run; uses its helpers.

# ternd_kill: SIGKILL, as a crash: ternd deletes nothing and tells nobody; moon's
# kernel keeps the SAs and policies it had installed.
ternd_kill() {
    local pid
    pid=$(cat "$R/moon-ternd/ternd.pid")
    kill -KILL "$pid" 2>/dev/null || fail "ternd in moon was not running"
    wait_until 5 "ternd to die" _pid_gone "$pid"
    rm -f "$R/moon-ternd/ternd.pid"
    _now && KILLED_AT=$NOW_MS
    step "killed ternd in moon (SIGKILL); its kernel state stays: $(xfrm_esp_spis moon | tr '\n' ' ')"
}

# none_of_these_spis NS SPIS: none of the SPIs (space-separated) is in NS's kernel.
none_of_these_spis() {
    local now spi
    now=$(xfrm_esp_spis "$1")
    for spi in $2; do
        grep -qx "$spi" <<<"$now" && return 1
    done
    return 0
}

# ternd is killed (SIGKILL) while a ping runs through the tunnel and started again
# with the same configuration: it removes what the killed one left in the kernel
# (SAs and policies, by their tern reqids), brings the tunnel up again (its
# IKE_AUTH carries INITIAL_CONTACT, so strongSwan drops the old IKE SA), and the
# kernel holds the new SAs only, one set of policies. The time from the kill to
# the tunnel carrying pings again is printed; the ping's losses are reported.
scenario_ternd-killed() {
    load_demo_psk
    start_ternd moon
    start_charon sun "$PSK"
    tern_initiate
    check_tunnel_up
    local old_spis
    old_spis=$(xfrm_esp_spis moon | tr '\n' ' ')
    ping_start 30
    sleep 2
    ternd_kill
    expect "moon's kernel still has the killed ternd's SAs" \
        test -n "$(xfrm_esp_spis moon)"
    start_ternd moon
    expect_within 5 "the killed ternd's SAs gone from moon's kernel ($old_spis)" \
        none_of_these_spis moon "$old_spis"
    grep -q 'left by a previous ternd' "$W/moon-ternd.log" ||
        fail "ternd did not log removing what the killed one left"
    tern_initiate
    note "tunnel up again $(($(now_ms) - KILLED_AT)) ms after ternd was killed (ternd started again, stale state removed, IKE_SA_INIT and IKE_AUTH; the harness's own steps included)"
    check_tunnel_up
    expect "moon's kernel holds none of the old SAs" none_of_these_spis moon "$old_spis"
    expect "moon's kernel holds the new CHILD SA's two SAs only" \
        test "$(xfrm_esp_spis moon | wc -l)" -eq 2
    expect_within 10 "strongSwan keeps one IKE SA (INITIAL_CONTACT replaced the old)" \
        charon_one_ike_sa "$R/sun-charon"
    # The ping's losses are the outage: reported, not failed on.
    local pid summary
    pid=$(cat "$R/ping.pid")
    wait_until 60 "the continuous ping to end" _pid_gone "$pid" || fail "the continuous ping did not end"
    rm -f "$R/ping.pid"
    summary=$(grep 'packets transmitted' "$W/ping.txt")
    note "continuous ping ($PING_PER_SEC per second) across the kill and restart: $summary (each lost ping is 50 ms without a tunnel: the stale SAs carried traffic until the new ternd removed them)"
    grep -qE ', [1-9][0-9]* received' <<<"$summary" || fail "no ping reply at all: $summary"
    expect_ternd_alive
}

# charon_one_ike_sa DIR: strongSwan lists exactly one IKE SA for demo.
charon_one_ike_sa() {
    [[ $(swanctl_in "$1" --list-sas --ike demo 2>/dev/null | grep -c '^demo: ') -eq 1 ]]
}

# A third namespace, "flood", joined to moon by its own veth (moon1 198.51.100.1,
# flood0 with 40 addresses 198.51.100.10-49): the flood does not share the link
# the tunnel runs on, as a flood from elsewhere on the Internet would not. It is
# aimed at moon's IKE address (192.0.2.1, routed over moon1), the one ternd's
# connection answers on.
FLOOD_FIRST=198.51.100.10 FLOOD_ADDRS=40
flood_namespace_up() {
    ip netns del flood 2>/dev/null
    ip netns add flood &&
        ip link add moon1 netns moon type veth peer name flood0 netns flood &&
        ip -n moon addr add 198.51.100.1/24 dev moon1 &&
        ip -n moon link set moon1 up &&
        ip -n flood link set lo up &&
        ip -n flood link set flood0 up || fail "cannot set up the flood namespace"
    local i
    for ((i = 0; i < FLOOD_ADDRS; i++)); do
        ip -n flood addr add "198.51.100.$((10 + i))/24" dev flood0 || fail "cannot add flood address $i"
    done
    ip -n flood route add "$TOPO_MOON_WAN/32" via 198.51.100.1 dev flood0 ||
        fail "cannot route the flood to $TOPO_MOON_WAN"
}

# write_ike_sa_init FILE: an IKE_SA_INIT request as tern's demo would send it
# (aes128gcm16-prfsha256-x25519), for the flood to replay with fresh SPIs.
write_ike_sa_init() {
    python3 - "$1" <<'PY'
import os, struct, sys
def payload(next_type, body):
    return struct.pack("!BBH", next_type, 0, 4 + len(body)) + body
def transform(last, ttype, tid, attrs=b""):
    body = struct.pack("!BBH", ttype, 0, tid) + attrs
    return struct.pack("!BBH", 0 if last else 3, 0, 4 + len(body)) + body
transforms = (transform(False, 1, 20, struct.pack("!HH", 0x800E, 128))
              + transform(False, 2, 5) + transform(True, 4, 31))
proposal = struct.pack("!BBHBBBB", 0, 0, 8 + len(transforms), 1, 1, 0, 3) + transforms
body = (payload(34, proposal) + payload(40, struct.pack("!HH", 31, 0) + os.urandom(32))
        + payload(0, os.urandom(32)))
header = os.urandom(8) + bytes(8) + bytes([33, 0x20, 34, 0x08]) + struct.pack("!II", 0, 28 + len(body))
open(sys.argv[1], "wb").write(header + body)
PY
}

# An IKE_SA_INIT flood (from 40 addresses that answer cookies, in another
# namespace) runs while strongSwan connects and then rekeys its CHILD SA every
# 10 s under a continuous ping: the new tunnel comes up during the flood, no
# ping is lost across the rekeys, and ternd's stats show the flood was met
# (cookies demanded, IKE_SA_INITs refused or shed).
scenario_flood-during-rekeys() {
    load_demo_psk
    # Answering anyone (no remote_addrs), as a responder on the Internet would.
    start_ternd moon --config "$(tern_conf remote_addrs='[]')"
    start_charon sun "$PSK" "" "" $'rekey_time = 10s\n                rand_time = 0s'
    flood_namespace_up
    write_ike_sa_init "$R/ike-sa-init.bin"
    step "flooding $TOPO_MOON_WAN with IKE_SA_INIT from $FLOOD_ADDRS addresses in netns flood for 45 s"
    ip netns exec flood python3 "$TERN_ROOT/tests/flood/init-flood.py" "$R/ike-sa-init.bin" \
        "$TOPO_MOON_WAN" 45 "$FLOOD_FIRST" "$FLOOD_ADDRS" >"$W/flood.txt" 2>&1 &
    local flood=$!
    sleep 3
    swanctl_initiate sun
    rekey_tunnel_ready
    # Not run_rekeys: its checks for quiet moments between rekeys time out in a
    # guest whose one CPU the flood keeps busy; the ping is the check that counts.
    local installed_before rekeys
    installed_before=$(grep -c 'CHILD SA installed' "$W/moon-ternd.log")
    ping_start 32
    ping_finish
    rekeys=$(($(grep -c 'CHILD SA installed' "$W/moon-ternd.log") - installed_before))
    note "CHILD SA rekeys by strongSwan during the ping, under the flood: $rekeys"
    ((rekeys >= 2)) || fail "strongSwan rekeyed the CHILD SA $rekeys times during the flood, expected at least 2 (rekey_time 10 s)"
    wait_until 30 "the flood to end" _pid_gone "$flood" || fail "the flood did not end"
    # (No check_tunnel_up here: strongSwan keeps rekeying every 10 s, and a check
    # that counts the kernel's SAs would catch one mid-rekey.)
    expect_ternd_alive
    note "flood: $(cat "$W/flood.txt")"
    ternctl_in "$R/moon-ternd" stats >"$W/moon-ternctl-stats.txt" 2>&1
    note "ternd under the flood: $(grep -E '^(half-open|dropped):' "$W/moon-ternctl-stats.txt" | tr '\n' ' ')"
    grep -qE 'half-open: .* [1-9][0-9]* cookies demanded' "$W/moon-ternctl-stats.txt" ||
        fail "ternd demanded no cookie: did the flood reach it? ($(cat "$W/flood.txt"))"
    ip netns del flood
}
