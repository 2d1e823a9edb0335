# shellcheck shell=bash
# The proposal matrix: one ternd and one charon, and for every row of PROPOSAL_ROWS a
# tunnel brought up from each side, checked, pinged through and deleted.
#
# ternd offers (and accepts) the union of all rows' proposals; strongSwan is reloaded
# with exactly one row's proposals before each tunnel. So when strongSwan initiates, tern
# must pick that proposal out of its list; when tern initiates, strongSwan picks it out of
# tern's offer (and for a key exchange that is not tern's first, answers
# INVALID_KE_PAYLOAD, which tern must follow). Either way the row's algorithms are the
# ones in use, which is checked on three sides: ternctl, swanctl, and the kernel's ESP SAs.
# Rows whose ESP proposal has a key exchange are rekeyed once (PFS in CREATE_CHILD_SA).
#
# Sourced by tests/interop/run; uses its helpers (fail, step, note, expect_within, ...).

# One row per line: IKE proposal, ESP proposal (strongSwan's syntax, which is tern's).
# Every IKE cipher meets every key exchange; every ESP cipher appears with several.
PROPOSAL_ROWS=(
    "aes128gcm16-prfsha256-x25519 aes128gcm16"
    "aes256gcm16-prfsha384-ecp256 aes256gcm16"
    "aes256gcm16-prfsha512-ecp384 chacha20poly1305-x25519"
    "aes128gcm16-prfsha256-modp2048 aes128-sha256"
    "chacha20poly1305-prfsha256-x25519 chacha20poly1305"
    "chacha20poly1305-prfsha256-ecp256 aes256-sha384"
    "chacha20poly1305-prfsha384-ecp384 aes128gcm16-ecp256"
    "chacha20poly1305-prfsha256-modp2048 aes256-sha512"
    "aes128-sha256-prfsha256-x25519 aes128-sha256"
    "aes256-sha384-prfsha384-ecp256 aes256gcm16"
    "aes256-sha512-prfsha512-ecp384 chacha20poly1305"
    "aes256-sha256-prfsha256-modp2048 aes256-sha256-modp2048"
)

# --- tern's configuration, written from scratch for the moon side.

# tern_conf [KEY=VALUE...]: writes $W/moon-ternd.toml and prints its path. The keys
# (all optional) are ike (a TOML list), esp (a TOML list), mode, local_ts, remote_ts,
# local_addrs, remote_addrs, conn (more lines for the connection's table), child (more
# lines for the child `net`), more (more tables, e.g. a second child), retransmit (the
# [retransmit] table's lines). The rest is the demo connection of conf/ternd.toml.
tern_conf() {
    local -A c=(
        [ike]='["aes128gcm16-prfsha256-x25519"]' [esp]='["aes128gcm16"]' [mode]=tunnel
        [local_ts]="[\"$TOPO_MOON_NET\"]" [remote_ts]="[\"$TOPO_SUN_NET\"]"
        [local_addrs]="[\"$TOPO_MOON_WAN\"]" [remote_addrs]="[\"$TOPO_SUN_WAN\"]"
        [conn]= [child]= [more]= [retransmit]=
    )
    local kv
    for kv in "$@"; do
        [[ -v c[${kv%%=*}] ]] || fail "tern_conf: unknown key ${kv%%=*}"
        c[${kv%%=*}]=${kv#*=}
    done
    local conf="$W/moon-ternd.toml"
    cat >"$conf" <<EOF
${c[retransmit]:+[retransmit]
${c[retransmit]}
}
[connections.demo]
local_addrs = ${c[local_addrs]}
remote_addrs = ${c[remote_addrs]}
local_id = "moon.tern.example"
remote_id = "sun.tern.example"
auth = "psk"
psk = "$PSK"
proposals = ${c[ike]}
${c[conn]}

[connections.demo.children.net]
local_ts = ${c[local_ts]}
remote_ts = ${c[remote_ts]}
esp_proposals = ${c[esp]}
mode = "${c[mode]}"
${c[child]}
${c[more]}
EOF
    printf '%s' "$conf"
}

# toml_list WORD...: ["WORD", ...] without duplicates, in order.
toml_list() {
    local -A seen=()
    local w out=
    for w in "$@"; do
        [[ -v seen[$w] ]] && continue
        seen[$w]=1
        out+="${out:+, }\"$w\""
    done
    printf '[%s]' "$out"
}

# --- Names: a proposal in ternctl's and strongSwan's words.

# suite_name PROPOSAL [ike|esp-established]: the suite tern's list-sas shows for a
# negotiated PROPOSAL ("AES_GCM_16_128/PRF_HMAC_SHA2_256/CURVE25519"). A CHILD SA made in
# IKE_AUTH has no key exchange of its own (esp-established leaves it out).
suite_name() {
    local word out=() kind=${2:-ike}
    local -A name=(
        [aes128gcm16]=AES_GCM_16_128 [aes256gcm16]=AES_GCM_16_256
        [chacha20poly1305]=CHACHA20_POLY1305 [aes128]=AES_CBC_128 [aes256]=AES_CBC_256
        [sha1]=HMAC_SHA1_96 [sha256]=HMAC_SHA2_256_128 [sha384]=HMAC_SHA2_384_192 [sha512]=HMAC_SHA2_512_256
        [prfsha256]=PRF_HMAC_SHA2_256 [prfsha384]=PRF_HMAC_SHA2_384 [prfsha512]=PRF_HMAC_SHA2_512
        [x25519]=CURVE25519 [ecp256]=ECP_256 [ecp384]=ECP_384 [modp2048]=MODP_2048
    )
    for word in ${1//-/ }; do
        [[ -v name[$word] ]] || fail "suite_name: no name for '$word' (add it to the table)"
        [[ $kind == esp-established && ${name[$word]} =~ ^(CURVE|ECP|MODP) ]] && continue
        out+=("${name[$word]}")
    done
    local IFS=/
    printf '%s' "${out[*]}"
}

# Compares names the way both daemons spell them: strongSwan writes AES_GCM_16-128 and
# CURVE_25519 where tern writes AES_GCM_16_128 and CURVE25519.
same_suite() { [[ "${1//[-_]/}" == "${2//[-_]/}" ]]; }

# esp_kernel_algs PROPOSAL: what `ip xfrm state` must show for an ESP PROPOSAL, one line
# per algorithm: kind, name, key bits (with the salt for AEADs), ICV/truncation bits.
esp_kernel_algs() {
    local word
    for word in ${1//-/ }; do
        case $word in
        aes128gcm16) echo "aead rfc4106(gcm(aes)) 160 128" ;;
        aes256gcm16) echo "aead rfc4106(gcm(aes)) 288 128" ;;
        chacha20poly1305) echo "aead rfc7539esp(chacha20,poly1305) 288 128" ;;
        aes128) echo "enc cbc(aes) 128" ;;
        aes256) echo "enc cbc(aes) 256" ;;
        sha1) echo "auth-trunc hmac(sha1) 160 96" ;;
        sha256) echo "auth-trunc hmac(sha256) 256 128" ;;
        sha384) echo "auth-trunc hmac(sha384) 384 192" ;;
        sha512) echo "auth-trunc hmac(sha512) 512 256" ;;
        x25519 | ecp* | modp*) ;;
        *) fail "esp_kernel_algs: no kernel name for '$word' (add it to the table)" ;;
        esac
    done | sort
}

# xfrm_algs NS: the algorithms of every ESP SA in NS, in esp_kernel_algs' format, once each.
xfrm_algs() {
    ip -n "$1" xfrm state | awk '$1 == "aead" || $1 == "enc" || $1 == "auth-trunc" {
        line = $1 " " $2 " " (length($3) - 2) * 4; if ($4 != "") line = line " " $4; print line }' | sort -u
}

# --- One row, one direction.

# proposal_row IKE ESP INITIATOR: the tunnel from INITIATOR (tern or strongswan) with
# strongSwan configured for this row only, checked and deleted by the other side.
# Runs in a subshell (a failure ends the row only); prints "TERN_IKE|TERN_ESP" at the end.
proposal_row() {
    local ike=$1 esp=$2 who=$3 dir="$R/sun-charon" out
    # The rows' timings stay in the transcript; the scenario's notes sum them up.
    note() { step "note: $*"; }
    charon_write_conn "$dir" "$TOPO_SUN_WAN" "$TOPO_MOON_WAN" sun.tern.example moon.tern.example \
        "$TOPO_SUN_NET" "$TOPO_MOON_NET" "$PSK" "$ike" "$esp"
    out=$(swanctl_in "$dir" --load-all 2>&1) || fail "swanctl --load-all with proposals $ike / $esp failed: $out"
    if [[ $who == tern ]]; then tern_initiate; else swanctl_initiate sun; fi
    expect_within 10 "strongSwan shows the CHILD SA net as INSTALLED" charon_child_installed "$dir"
    expect_within 10 "ternctl list-sas shows demo ESTABLISHED with CHILD SA net INSTALLED" tern_child_installed "$R/moon-ternd"
    check_spis_match
    check_negotiated "$ike" "$esp" esp-established
    check_ping_through_esp
    if [[ $esp =~ -(x25519|ecp[0-9]+|modp[0-9]+) ]]; then
        proposal_rekey "$who"
        check_negotiated "$ike" "$esp" esp
        check_ping_through_esp
    fi
    # The other side deletes it.
    if [[ $who == tern ]]; then swanctl_terminate; else tern_terminate; fi
    check_all_gone
}

# check_negotiated IKE ESP ESP_KIND: ternctl, swanctl and both kernels name the row's algorithms.
check_negotiated() {
    local ike=$1 esp=$2 kind=$3 json sw t_ike t_esp s_ike s_esp want ns
    json=$(tern_sas_json "$R/moon-ternd")
    sw=$(swanctl_in "$R/sun-charon" --list-sas --ike demo 2>&1)
    t_ike=$(jq -r '.[0].proposal' <<<"$json")
    t_esp=$(jq -r '[.[0].children[] | select(.state == "INSTALLED")] | last | .proposal' <<<"$json")
    # swanctl: the IKE SA's algorithms on its fourth line, the CHILD SA's after "ESP:".
    s_ike=$(awk '/^demo: #/ { n = NR } n && NR == n + 3 { print $1; exit }' <<<"$sw")
    s_esp=$(sed -nE 's/^  net: .*INSTALLED.*ESP:([^ ]+).*/\1/p' <<<"$sw" | tail -n1)
    step "negotiated: ternctl $t_ike / $t_esp; swanctl $s_ike / $s_esp"
    want=$(suite_name "$ike")
    [[ $t_ike == "$want" ]] || fail "ternctl lists the IKE SA's proposal as $t_ike, expected $want ($ike)"
    same_suite "$s_ike" "$want" || fail "swanctl lists the IKE SA's proposal as '$s_ike', expected $want ($ike)"
    want=$(suite_name "$esp" "$kind")
    [[ $t_esp == "$want" ]] || fail "ternctl lists the CHILD SA's proposal as $t_esp, expected $want ($esp)"
    same_suite "$s_esp" "$want" || fail "swanctl lists the CHILD SA's proposal as '$s_esp', expected $want ($esp)"
    want=$(esp_kernel_algs "$esp")
    for ns in moon sun; do
        [[ "$(xfrm_algs "$ns")" == "$want" ]] ||
            fail "$ns's ESP SAs use '$(xfrm_algs "$ns" | tr '\n' ';')', expected '$(tr '\n' ';' <<<"$want")' for $esp"
    done
    printf '%s|%s\n' "$t_ike" "$t_esp" >"$R/negotiated"
}

# proposal_rekey INITIATOR: a CHILD SA rekey (with the row's key exchange) started by
# INITIATOR; both sides must list new SPIs.
proposal_rekey() {
    local who=$1 before after out
    before=$(tern_child_spis "$R/moon-ternd")
    if [[ $who == tern ]]; then
        out=$(timeout 30 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" rekey demo 2>&1) ||
            fail "ternctl rekey demo failed: $out"
    else
        out=$(swanctl_in "$R/sun-charon" --rekey --child net 2>&1) || fail "swanctl --rekey --child net failed: $out"
    fi
    step "$who rekeyed the CHILD SA: $out"
    expect_within 10 "a new CHILD SA (not $before) on both sides" rekeyed_from "$before"
    # The old SAs linger for their grace period; wait until one CHILD SA is left.
    expect_within 15 "the replaced CHILD SA to be gone from both kernels" esp_sa_count_is 2
}

rekeyed_from() {
    local now
    now=$(tern_sas_json "$R/moon-ternd" | jq -r '[.[0].children[] | select(.state == "INSTALLED")] | last | "\(.spi_in) \(.spi_out)"')
    [[ -n $now && $now != "$1" && $now != "null null" ]] && swanctl_in "$R/sun-charon" --list-sas --ike demo |
        grep -qE "^ +in +${now#* },"
}

esp_sa_count_is() { [[ $(xfrm_esp_spis moon | wc -l) == "$1" && $(xfrm_esp_spis sun | wc -l) == "$1" ]]; }

# Every row from both sides, on one ternd and one charon. A failed row is recorded and
# cleaned up; the next row goes on. The rows' results go to $W/rows.tsv for the docs.
scenario_proposals() {
    load_demo_psk
    local row ike esp ikes=() esps=()
    for row in "${PROPOSAL_ROWS[@]}"; do
        read -r ike esp <<<"$row"
        ikes+=("$ike")
        esps+=("$esp")
    done
    start_ternd moon --config "$(tern_conf ike="$(toml_list "${ikes[@]}")" esp="$(toml_list "${esps[@]}")")"
    start_charon sun "$PSK"
    local who failed=() t0 rc reason negotiated
    : >"$W/rows.tsv"
    for row in "${PROPOSAL_ROWS[@]}"; do
        read -r ike esp <<<"$row"
        for who in tern strongswan; do
            step "--- row: IKE $ike, ESP $esp, $who initiates"
            t0=$(now_ms)
            rm -f "$W/reason" "$R/negotiated"
            (proposal_row "$ike" "$esp" "$who")
            rc=$?
            reason=ok negotiated=
            [[ -f "$R/negotiated" ]] && negotiated=$(cat "$R/negotiated")
            if ((rc != 0)); then
                reason=$(cat "$W/reason" 2>/dev/null || echo "exit $rc")
                failed+=("$ike/$esp by $who: $reason")
                rm -f "$W/reason"
                proposal_cleanup
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$ike" "$esp" "$who" "$(((rc == 0)) && echo PASS || echo FAIL)" \
                "$(awk -v ms="$(($(now_ms) - t0))" 'BEGIN { printf "%.1f", ms / 1000 }')" "${negotiated:-$reason}" >>"$W/rows.tsv"
        done
    done
    note "$((${#PROPOSAL_ROWS[@]} * 2 - ${#failed[@]})) of $((${#PROPOSAL_ROWS[@]} * 2)) tunnels up and checked (${#PROPOSAL_ROWS[@]} rows, each initiated by both sides); rows in rows.tsv"
    ((${#failed[@]} == 0)) || fail "${#failed[@]} rows failed: ${failed[0]}$( ((${#failed[@]} > 1)) && echo " (and $((${#failed[@]} - 1)) more, see rows.tsv)")"
}

# After a failed row: whatever is left, gone from both daemons and kernels.
proposal_cleanup() {
    swanctl_in "$R/sun-charon" --terminate --ike demo --timeout 10 >/dev/null 2>&1
    timeout 20 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" terminate demo >/dev/null 2>&1
    (check_all_gone) || fail "could not clean up after a failed row: $(cat "$W/reason")"
}
