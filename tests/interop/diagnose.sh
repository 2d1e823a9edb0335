# shellcheck shell=bash
# `ternctl diagnose` against ternd while strongSwan is misconfigured: the verdict
# must name the setting to change (issue 20). Sourced by tests/interop/run.

# tern_finding KIND: ternctl --json diagnose demo's finding of KIND, as JSON, into
# $R/finding.json (the whole answer in $W/diagnose.json, its exit status in
# $R/diagnose.rc); fails (returns 1) while there is none.
tern_finding() {
    ternctl_in "$R/moon-ternd" --json diagnose demo >"$W/diagnose.json" 2>>"$W/diagnose.err"
    echo $? >"$R/diagnose.rc"
    jq -e --arg kind "$1" '[.connections[0].findings[] | select(.kind == $kind)] | first' \
        "$W/diagnose.json" >"$R/finding.json" 2>/dev/null
}

# expect_finding KIND SETTING TEXT: the finding names SETTING, its message or fix
# says TEXT, and diagnose exits 1 (a problem).
expect_finding() {
    local setting message fix
    setting=$(jq -r .setting "$R/finding.json")
    message=$(jq -r .message "$R/finding.json")
    fix=$(jq -r .fix "$R/finding.json")
    step "ternctl diagnose: $message Fix: $fix"
    [[ $setting == "$2" ]] || fail "diagnose's $1 finding names setting '$setting', not '$2'"
    grep -qF -- "$3" <<<"$message $fix" || fail "diagnose's $1 finding does not say '$3': $message Fix: $fix"
    exactly 1 "$(cat "$R/diagnose.rc")" "ternctl diagnose's exit status"
    ternctl_in "$R/moon-ternd" diagnose demo >"$W/diagnose.txt" 2>&1
    note "ternctl diagnose demo: $(sed -n 2p "$W/diagnose.txt")"
}

# strongSwan wants PFS (x25519) on CHILD rekeys, ternd's child offers none, and
# strongSwan rekeys first (15 s): ternd refuses each rekey (and reauthenticates
# instead, see pfs_one_side). diagnose must say PFS is wanted by the peer only
# and name esp_proposals.
scenario_diagnose-strongswan-pfs() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf)"
    start_charon sun "$PSK" "" "aes128gcm16-x25519" $'rekey_time = 15s\n                life_time = 30s\n                rand_time = 2s'
    tern_initiate
    rekey_tunnel_ready
    expect_within 40 "ternctl diagnose to name PFS wanted by one side" tern_finding one_sided_pfs
    expect_finding one_sided_pfs esp_proposals "PFS is wanted by the peer only"
    grep -qF 'x25519' "$R/finding.json" || fail "the fix names no group: $(cat "$R/finding.json")"
}

# The same mismatch, with ternd rekeying first (CHILD rekey_time 15 s, strongSwan
# 1 h): strongSwan refuses ternd's rekey without a key exchange.
scenario_diagnose-strongswan-pfs-tern-rekeys() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf child=$'rekey_time = 15\nlife_time = 30\nrand_time = 2')"
    start_charon sun "$PSK" "" "aes128gcm16-x25519"
    tern_initiate
    rekey_tunnel_ready
    expect_within 40 "ternctl diagnose to name PFS wanted by one side" tern_finding one_sided_pfs
    expect_finding one_sided_pfs esp_proposals "PFS is wanted by the peer only"
}

# strongSwan with CHILD rekeying off and a 12 s life (as strongswan-rekey-off): it
# lets each CHILD SA expire and makes a new one; after two, ternd rekeys first.
# diagnose must say the peer lets its SAs expire and name rekey_time, below 12 s.
scenario_diagnose-strongswan-rekey-off() {
    lifetime_setup "" "" "" $'rekey_time = 0s\n                rand_time = 0s\n                life_time = 12s'
    tern_initiate
    rekey_tunnel_ready
    expect_within 60 "ternctl diagnose to name a peer that lets its SAs expire" tern_finding peer_lets_sas_expire
    expect_finding peer_lets_sas_expire rekey_time "the peer lets its SAs expire"
    local suggested
    suggested=$(jq -r .fix "$R/finding.json" | grep -oE 'rekey_time = "[0-9]+s"' | grep -oE '[0-9]+')
    [[ -n $suggested ]] || fail "no rekey_time value suggested: $(jq -r .fix "$R/finding.json")"
    ((suggested < 12)) || fail "suggested rekey_time $suggested s is not below strongSwan's 12 s life"
}

# No IKE proposal in common: ternd offers AES-GCM with X25519 only, strongSwan
# AES-CBC with MODP-2048 only. ternctl initiate fails; diagnose must say so and
# name proposals, listing ours.
scenario_diagnose-no-proposal() {
    load_demo_psk
    start_ternd moon --config "$(tern_conf)"
    start_charon sun "$PSK" "aes256-sha256-modp2048" "aes256-sha256"
    local out rc
    out=$(timeout 60 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" initiate demo --timeout 20 2>&1)
    rc=$?
    step "ternctl initiate demo (no common proposal) -> exit $rc: $out"
    ((rc != 0)) || fail "ternctl initiate succeeded although no proposal is common"
    expect_within 5 "ternctl diagnose to name no proposal in common" tern_finding no_proposal
    expect_finding no_proposal proposals "ours are [aes128gcm16-prfsha256-x25519]"
}

# drop_esp_sent_by NS: NS's veth drops every ESP packet (IP protocol 50) it sends;
# IKE passes. A prio qdisc sends ESP to a band with netem loss 100 % (nftables
# lacks the ip family in this kernel, as for lose_ike).
drop_esp_sent_by() {
    modprobe -a sch_prio sch_netem cls_u32 2>"$R/tc.err" || fail "modprobe for tc: $(cat "$R/tc.err")"
    tc -n "$1" qdisc add dev "${1}0" root handle 1: prio bands 3 \
        priomap 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 &&
        tc -n "$1" qdisc add dev "${1}0" parent 1:3 handle 30: netem loss 100% &&
        tc -n "$1" filter add dev "${1}0" parent 1: protocol ip prio 1 u32 \
            match ip protocol 50 0xff flowid 1:3 2>"$R/tc.err" ||
        fail "could not make ${1}0 drop the ESP it sends: $(cat "$R/tc.err")"
    step "tc: $1 drops every ESP packet it sends; IKE passes"
}

# The tunnel is up, then ESP from strongSwan is dropped on the path (IKE still
# passes): ternd's pings go out through the tunnel and no answer comes back.
# diagnose must say ESP does not arrive, from the kernel's counters, and name IP
# protocol 50; no setting of ours is to blame (setting null).
scenario_diagnose-esp-filtered() {
    start_tern_and_strongswan
    tern_initiate
    rekey_tunnel_ready
    drop_esp_sent_by sun
    local out
    out=$(ip netns exec moon ping -c 15 -i 0.2 -W 1 -I "$TOPO_MOON_LAN" "$TOPO_SUN_LAN" 2>&1)
    step "ping through the tunnel with sun's ESP dropped: $(grep -E 'packets transmitted' <<<"$out")"
    grep -qE ' 0 received' <<<"$out" || fail "pings were answered although sun's ESP is dropped: $out"
    # The counters speak once the SA is 10 s old.
    expect_within 20 "ternctl diagnose to say ESP does not arrive" tern_finding esp_not_arriving
    expect_finding esp_not_arriving null "IP protocol 50 (ESP)"
    jq -r .message "$R/finding.json" | grep -qE '^connection demo, child net: 1[5-9] ESP packets went out' ||
        fail "the finding does not count the 15 pings that went out: $(jq -r .message "$R/finding.json")"
}
