# shellcheck shell=bash
# Shared helpers for tern's end-to-end tests: tests/uml/run-in-uml, tests/interop/run,
# tests/demo/run and tests/run-all all source this one file.
#
# Sections: paths and messages | waiting | packages | the kernel (ESP or not) |
# the moon/sun topology | strongSwan (charon) | OpenIKED (iked) | Libreswan (pluto) | ternd.

# ---------------------------------------------------------------------------
# Paths and messages

# The checkout's root: two levels above this file (tests/interop/lib.sh).
TERN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export TERN_ROOT
# Binaries come from cargo's default target directory (never CARGO_TARGET_DIR, which the
# engineers point at private directories): the tests always use the checkout's build.
TERN_BIN_DIR="$TERN_ROOT/target/debug"

info() { printf '%s\n' "$*"; }
# warn also remembers its message, so a caller can give it as the reason of a failure.
LAST_WARNING=
warn() {
    LAST_WARNING="$*"
    printf 'warning: %s\n' "$*" >&2
}
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Milliseconds since the epoch, for measuring how long something took. Bash 5's clock
# where there is one: starting `date` costs 0.1-0.2 s in the UML guest.
now_ms() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        echo $((${EPOCHREALTIME/[.,]/} / 1000))
    else
        echo $(($(date +%s%N) / 1000000))
    fi
}

# ---------------------------------------------------------------------------
# Waiting: every wait polls with a deadline instead of sleeping a fixed time.

# wait_until TIMEOUT_SECS DESCRIPTION COMMAND...
# Runs COMMAND every 0.1 s until it succeeds (return 0) or the timeout passes (return 1,
# after saying what it waited for).
wait_until() {
    local timeout=$1 what=$2
    shift 2
    local deadline=$(($(now_ms) + timeout * 1000))
    while ! "$@" >/dev/null 2>&1; do
        if (($(now_ms) > deadline)); then
            warn "timed out after ${timeout}s waiting for: $what"
            return 1
        fi
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------
# Packages: what the tests need from Debian, installed only when missing.

TERN_DEBIAN_PACKAGES=(user-mode-linux kmod iputils-ping iproute2 strongswan-swanctl libstrongswan-standard-plugins
    strongswan-charon libcharon-extra-plugins tcpdump jq nftables util-linux procps systemd)
# The EAP scenarios (eap.sh): charon's eap-mschapv2 plugin (eap-identity is in
# libcharon-extra-plugins).
TERN_DEBIAN_PACKAGES+=(libcharon-extauth-plugins)
# The certificate scenarios (certs.sh) make their PKI with the openssl CLI.
TERN_DEBIAN_PACKAGES+=(openssl)
# The ternd metrics test (crates/ternd/tests/metrics.rs) checks its scrapes with
# promtool; curl scrapes.
TERN_DEBIAN_PACKAGES+=(prometheus curl)
# The OpenIKED scenarios (openiked.sh): iked and ikectl, OpenIKED 7.2 in Debian 12.
TERN_DEBIAN_PACKAGES+=(openiked)
# The Libreswan scenarios (libreswan.sh): pluto's libraries and certutil for its NSS
# database. The libreswan package itself conflicts with strongswan-charon, so it is not
# installed but unpacked under target/ (ensure_libreswan_unpacked).
TERN_DEBIAN_PACKAGES+=(libnss3-tools libldns3 libevent-pthreads-2.1-7 libunbound8 libcurl3-nss)
# fuzz/run: libfuzzer-sys compiles libFuzzer, which needs a C++ compiler.
TERN_DEBIAN_PACKAGES+=(g++)
# EAP-RADIUS (crates/radius/tests/freeradius.rs, eap_radius.sh): FreeRADIUS, which the
# tests start themselves with their own configuration directory on other ports (the
# package's own service, if it runs, is left alone).
TERN_DEBIAN_PACKAGES+=(freeradius)

# Installs the packages that dpkg does not know as installed. Needs root and apt-get.
ensure_debian_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
    (($(id -u) == 0)) || die "missing packages ${missing[*]}; run as root to install them"
    info "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
        die "apt-get install ${missing[*]} failed"
}

# cargo from rustup lives in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
ensure_cargo_on_path() {
    if ! command -v cargo >/dev/null && [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo" ]]; then
        export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    fi
    command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs)"
}

# ---------------------------------------------------------------------------
# The kernel: can it do ESP? If not, the tests run inside User-Mode Linux.

# Succeeds if this kernel accepts an ESP SA (AES-GCM, tunnel mode), tried in a
# scratch network namespace so nothing is left behind.
host_kernel_has_esp() {
    local ns="tern-esp-probe-$$" ok=1
    ip netns add "$ns" 2>/dev/null || return 1
    if ip -n "$ns" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 \
        mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 \
        2>/dev/null; then
        ok=0
    fi
    ip netns del "$ns" 2>/dev/null
    return $ok
}

# True inside the guest started by tests/uml/run-in-uml (or its direct-on-host
# equivalent): the place where namespaces, charon and ternd may be set up.
in_test_kernel() { [[ -n "${TERN_TEST_KERNEL:-}" ]]; }

# ---------------------------------------------------------------------------
# The moon/sun topology of docs (INTERFACES.md): two namespaces joined by a veth pair,
# each with a "LAN" address on a dummy interface behind it.

TOPO_MOON_WAN=192.0.2.1 TOPO_SUN_WAN=192.0.2.2
TOPO_MOON_LAN=10.1.0.1 TOPO_SUN_LAN=10.2.0.1
TOPO_MOON_NET=10.1.0.0/24 TOPO_SUN_NET=10.2.0.0/24

topology_up() {
    topology_down
    ip netns add moon && ip netns add sun || return 1
    ip link add moon0 netns moon type veth peer name sun0 netns sun || return 1
    _topology_side moon moon0 "$TOPO_MOON_WAN" "$TOPO_MOON_LAN" "$TOPO_SUN_NET" "$TOPO_SUN_WAN" &&
        _topology_side sun sun0 "$TOPO_SUN_WAN" "$TOPO_SUN_LAN" "$TOPO_MOON_NET" "$TOPO_MOON_WAN"
}

# _topology_side NS WAN_IF WAN_ADDR LAN_ADDR PEER_NET PEER_WAN
_topology_side() {
    local ns=$1 wan_if=$2 wan=$3 lan=$4 peer_net=$5 peer_wan=$6
    ip -n "$ns" link set lo up &&
        ip -n "$ns" addr add "$wan/24" dev "$wan_if" &&
        ip -n "$ns" link set "$wan_if" up &&
        ip -n "$ns" link add lan0 type dummy &&
        ip -n "$ns" addr add "$lan/24" dev lan0 &&
        ip -n "$ns" link set lan0 up &&
        # The source address makes traffic to the peer's LAN match the tunnel's policy.
        ip -n "$ns" route add "$peer_net" via "$peer_wan" dev "$wan_if" src "$lan"
}

# Deleting the namespaces also deletes the veth pair, the dummies and any XFRM
# state and policy inside them.
topology_down() {
    ip netns del moon 2>/dev/null
    ip netns del nat 2>/dev/null
    ip netns del flood 2>/dev/null
    ip netns del sun 2>/dev/null
    return 0
}

# xfrm_is_empty NS: no SA and no policy in the namespace. Per-socket policies (listed as
# "socket in/out", e.g. the bypass charon sets on its IKE sockets) belong to a socket,
# not to a tunnel, and do not count.
xfrm_is_empty() {
    [[ -z "$(ip -n "$1" xfrm state)" ]] && ! ip -n "$1" xfrm policy | grep -qE '^[[:space:]]+dir '
}

# xfrm_esp_spis NS: the SPIs of the namespace's ESP SAs, one per line, as 8 hex digits.
xfrm_esp_spis() { ip -n "$1" xfrm state | xfrm_state_esp_spis; }

# xfrm_esp_spi_to NS DST: the SPI (8 hex digits) of the (first) ESP SA whose destination is DST.
xfrm_esp_spi_to() { ip -n "$1" xfrm state | xfrm_state_esp_spi_to "$2" | head -n1; }

# The same two, reading `ip xfrm state` output on stdin (one snapshot, several questions).
xfrm_state_esp_spis() {
    awk '$1 == "proto" && $2 == "esp" && $3 == "spi" { v = $4; sub(/\(.*/, "", v); sub(/^0x/, "", v); print v }'
}
# Every SA to DST, one per line (during a rekey there are two).
xfrm_state_esp_spi_to() {
    awk -v d="$1" '
        $1 == "src" { m = ($4 == d) }
        m && $1 == "proto" && $2 == "esp" && $3 == "spi" { v = $4; sub(/\(.*/, "", v); sub(/^0x/, "", v); print v }'
}

# xfrm_esp_bytes NS SPI: the current byte count of one ESP SA. `ip -s xfrm state` prints
# "spi 0x0000abcd(43981)" and, under "lifetime current:", "  1234(bytes), 5(packets)".
xfrm_esp_bytes() {
    ip -n "$1" -s xfrm state | awk -v spi="0x$2" '
        $1 == "src" { cur = 0 }
        $1 == "proto" && $3 == "spi" { v = $4; sub(/\(.*/, "", v); cur = (v == spi) }
        cur && /^[ \t]+[0-9]+\(bytes\)/ { sub(/\(bytes\).*/, ""); gsub(/[ \t]/, ""); print; exit }'
}

# xfrm_policy_dirs NS SRC DST: the directions (in/out/fwd) of policies between the nets.
xfrm_policy_dirs() {
    ip -n "$1" xfrm policy | awk -v s="$2" -v d="$3" '
        $1 == "src" { m = ($2 == s && $4 == d) || ($2 == d && $4 == s) }
        m && $1 == "dir" { print $2 }' | sort | tr '\n' ' ' | sed 's/ $//'
}

# ike_port_violations PCAP: every IKE response whose addresses and ports are not those of
# its request, reversed (RFC 7296 §2.11: a response goes back to where the request came
# from; strongSwan moves to port 4500 for IKE_AUTH even without a NAT). One line each.
ike_port_violations() {
    ike_exchanges "$1" |
        awk '# fields: src sport dst dport msgid initiator-spi exchange flags (R = response)
             { path = $1 ":" $2 " -> " $3 ":" $4; resp = ($8 ~ /R/) }
             # Message IDs count per requester: key on the SA, the ID and who asked.
             { key = $6 " " $5 " " (resp ? $3 : $1) }
             !resp { req[key] = path; want[key] = $3 ":" $4 " -> " $1 ":" $2; next }
             (key in want) && path != want[key] {
                 id = $5; sub(/^0+/, "", id)
                 printf "%s response (message ID 0x%s) went %s, but its request went %s\n", $7, (id == "" ? "0" : id), path, req[key] }'
}

# ike_exchanges PCAP: one line per IKE message: "SRC SPORT DST DPORT MSGID INITIATOR_SPI
# EXCHANGE FLAGS", FLAGS being "-" and the header's I (original initiator) and R (response)
# flags, e.g. "-IR". tcpdump prints them as "child_sa[IR]", or no brackets when neither
# is set (a request from the original responder).
ike_exchanges() {
    tcpdump -r "$1" -n -vvv 2>/dev/null |
        sed -nE 's/^ *([0-9.]+)\.([0-9]+) > ([0-9.]+)\.([0-9]+): .*isakmp 2\.0 msgid ([0-9a-f]+) cookie ([0-9a-f]+)->[0-9a-f]+: [a-z_0-9]+ +([a-z_0-9]+)(\[([IR]*)\])?:.*/\1 \2 \3 \4 \5 \6 \7 -\9/p'
}

# dump_kernel_state NS DIR: what the kernel holds, saved for a failure report.
dump_kernel_state() {
    {
        echo "# ip xfrm state"
        ip -n "$1" -s xfrm state
        echo "# ip xfrm policy"
        ip -n "$1" xfrm policy
        echo "# ip addr"
        ip -n "$1" addr
        echo "# ip route (all tables)"
        ip -n "$1" route show table all
    } >"$2/$1-kernel.txt" 2>&1
}

# ---------------------------------------------------------------------------
# strongSwan: one charon per namespace, each in its own mount namespace so that its
# /etc/swanctl, /etc/strongswan.conf and /run (vici socket, pid file) are private.

CHARON=/usr/lib/ipsec/charon

# An explicit plugin list: load_modular = yes hangs inside UML (see KERNEL-TESTING.md).
# X25519 comes from the openssl plugin (Debian ships no curve25519 plugin).
CHARON_PLUGINS="random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey aes sha1 sha2 hmac gcm kdf kernel-netlink socket-default vici updown"

# charon_write_config DIR LOGFILE: the strongswan.conf of one charon instance.
charon_write_config() {
    local dir=$1 log=$2
    mkdir -p "$dir/swanctl/conf.d" "$dir/run"
    cat >"$dir/strongswan.conf" <<EOF
charon {
    load_modular = no
    load = $CHARON_PLUGINS
    # Give up fast on an unanswered request, so failures show within the test's timeouts.
    retransmit_tries = 3
    retransmit_timeout = 2.0
    ${CHARON_OPTIONS:-}
    plugins {
        random {
            random = /dev/urandom
            urandom = /dev/urandom
        }
    }
    filelog {
        test {
            path = $log
            time_format = %H:%M:%S
            ike_name = yes
            append = no
            flush_line = yes
            default = 1
            ike = 2
            cfg = 1
            knl = 2
            enc = 1
            net = 1
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
}
# swanctl reads this file too; without a list it tries plugins Debian does not ship.
swanctl {
    load = pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random
}
EOF
}

# charon_write_conn DIR LOCAL_ADDR REMOTE_ADDR LOCAL_ID REMOTE_ID LOCAL_NET REMOTE_NET PSK
#                   [IKE_PROPOSALS [ESP_PROPOSALS [CHILD_OPTIONS [CONN_OPTIONS]]]]
# The `demo` connection with child `net`. Without proposals strongSwan offers its
# defaults (no proposals/esp_proposals lines at all). CHILD_OPTIONS: more lines for the
# child's section, e.g. "rekey_time = 10s"; CONN_OPTIONS likewise for the connection's
# (the IKE SA's rekey_time, say).
charon_write_conn() {
    local dir=$1 laddr=$2 raddr=$3 lid=$4 rid=$5 lnet=$6 rnet=$7 psk=$8 ike_prop=${9:-} esp_prop=${10:-}
    local child_opts=${11:-} conn_opts=${12:-}
    cat >"$dir/swanctl/swanctl.conf" <<EOF
connections {
    demo {
        version = 2
        local_addrs = $laddr
        remote_addrs = $raddr
        ${ike_prop:+proposals = $ike_prop}
        $conn_opts
        local {
            auth = psk
            id = $lid
        }
        remote {
            auth = psk
            id = $rid
        }
        children {
            net {
                mode = tunnel
                local_ts = $lnet
                remote_ts = $rnet
                ${esp_prop:+esp_proposals = $esp_prop}
                $child_opts
            }
        }
    }
}
secrets {
    ike-demo {
        id-1 = $lid
        id-2 = $rid
        secret = $(swanctl_quote "$psk")
    }
}
EOF
}

# swanctl.conf wants 0x/0s-prefixed keys as they are, text keys in double quotes.
swanctl_quote() {
    case $1 in
    0x* | 0s*) printf '%s' "$1" ;;
    *) printf '"%s"' "${1//\"/\\\"}" ;;
    esac
}

# charon_start NS DIR: starts charon in NS with DIR's configuration bound over /etc and
# /run, waits for its vici socket, loads the connection. Records the pid in DIR/charon.pid.
charon_start() {
    local ns=$1 dir=$2
    # shellcheck disable=SC2016 # expanded by the inner shell
    ip netns exec "$ns" unshare -m --propagation private sh -c '
        dir=$1
        mount --bind "$dir/swanctl" /etc/swanctl &&
        mount --bind "$dir/strongswan.conf" /etc/strongswan.conf &&
        mount --bind "$dir/run" /run || exit 1
        exec "$2" </dev/null' charon "$dir" "$CHARON" >"$dir/charon.stdout" 2>&1 &
    echo $! >"$dir/charon.pid"
    if ! wait_until 20 "charon's vici socket in $ns" test -S "$dir/run/charon.vici"; then
        return 1
    fi
    swanctl_in "$dir" --load-all >"$dir/swanctl-load.txt" 2>&1 || {
        warn "swanctl --load-all failed in $ns: $(cat "$dir/swanctl-load.txt")"
        return 1
    }
}

# swanctl_in DIR ARGS...: swanctl inside the charon's namespaces (network + mount).
swanctl_in() {
    local dir=$1
    shift
    nsenter -t "$(cat "$dir/charon.pid")" -n -m swanctl "$@"
}

# charon_stop DIR: SIGTERM, then SIGKILL if it has not gone after 5 s.
charon_stop() {
    local pidfile="$1/charon.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    _stop_pid "$pid"
    rm -f "$pidfile"
}

_stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    wait_until 5 "process $pid to exit" _pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
_pid_gone() { ! kill -0 "$1" 2>/dev/null; }

# charon_ike_established DIR: swanctl lists an ESTABLISHED IKE SA named demo.
charon_ike_established() {
    swanctl_in "$1" --list-sas --ike demo 2>/dev/null | grep -q '^demo: .*ESTABLISHED'
}

# charon_child_installed DIR: the CHILD SA net is INSTALLED.
charon_child_installed() {
    swanctl_in "$1" --list-sas --ike demo 2>/dev/null | grep -q '^  net: .*INSTALLED'
}

# charon_has_no_sa DIR: swanctl lists no IKE SA (lines like "demo: #1, ESTABLISHED, ...").
charon_has_no_sa() {
    local out
    out=$(swanctl_in "$1" --list-sas 2>&1) || return 1
    ! grep -qE '^[^ ]+: #[0-9]+,' <<<"$out"
}

# charon_child_spis DIR: "SPI_IN SPI_OUT" of the CHILD SA net, as 8 lowercase hex digits.
# swanctl prints them as "    in  c0fdd2da,      0 bytes, ..." and "    out c4241c88, ...".
charon_child_spis() { swanctl_in "$1" --list-sas --ike demo 2>/dev/null | swanctl_text_child_spis; }

# The same, reading `swanctl --list-sas` output on stdin (the last CHILD SA listed).
swanctl_text_child_spis() {
    awk '$1 == "in" { si = $2 } $1 == "out" { so = $2 }
         END { sub(/,$/, "", si); sub(/,$/, "", so); print tolower(si), tolower(so) }'
}

# swanctl_text_children: the CHILD SA lines of `swanctl --list-sas` output on stdin, e.g.
# "  net: #3, reqid 1, INSTALLED, TUNNEL, ESP:AES_GCM_16-128".
swanctl_text_children() { grep -E '^  [^ ]+: #[0-9]+,'; }

# ---------------------------------------------------------------------------
# OpenIKED: one iked per namespace, like charon in a mount namespace of its own with
# /etc/iked.conf, /etc/iked (keys) and /run (its control socket, /run/iked.sock) bound
# from its directory. iked talks to the kernel through PF_KEY (af_key), not netlink.

IKED=/usr/sbin/iked
IKECTL=/usr/sbin/ikectl

# iked_write_conf DIR MODE LOCAL_ADDR REMOTE_ADDR LOCAL_ID REMOTE_ID LOCAL_NET REMOTE_NET PSK
#                 [IKESA [CHILDSA [OPTIONS]]]
# DIR/iked.conf with one policy `demo`. MODE: active (iked initiates as soon as it has
# loaded it, and again whenever the SA is gone) or passive (it only responds). IKESA and
# CHILDSA are iked.conf's transform lists, e.g. "enc aes-128-gcm prf hmac-sha2-256 group
# curve25519" and "enc aes-128-gcm"; empty: iked's defaults. OPTIONS: more of the
# policy's words, e.g. "lifetime 10".
iked_write_conf() {
    local dir=$1 mode=$2 laddr=$3 raddr=$4 lid=$5 rid=$6 lnet=$7 rnet=$8 psk=$9
    local ikesa=${10:-} childsa=${11:-} opts=${12:-} bs='\'
    mkdir -p "$dir/run" "$dir/etc-iked"/{ca,certs,crls,private,pubkeys}
    # iked will not start without a key of its own, even for PSK: a throwaway one (the
    # host's /etc/iked/private/local.key stays the host's).
    [[ -f "$dir/etc-iked/private/local.key" ]] ||
        openssl ecparam -genkey -name prime256v1 -noout -out "$dir/etc-iked/private/local.key" 2>/dev/null ||
        warn "could not make a private key for iked"
    # iked refuses a configuration file others may read (it holds the PSK).
    (
        umask 077
        {
            echo "ikev2 \"demo\" $mode esp $bs"
            echo "    from $lnet to $rnet $bs"
            echo "    local $laddr peer $raddr $bs"
            [[ -z $ikesa ]] || echo "    ikesa $ikesa $bs"
            [[ -z $childsa ]] || echo "    childsa $childsa $bs"
            echo "    srcid $lid dstid $rid $bs"
            # iked.conf's grammar wants lifetimes after the IDs and before the key.
            [[ -z $opts ]] || echo "    $opts $bs"
            echo "    psk \"${psk//\"/\\\"}\""
        } >"$dir/iked.conf"
    )
}

# iked_start NS DIR LOG: starts iked in NS in the foreground (-d), verbose, logging to
# LOG, with DIR's configuration; waits until it has its configuration (the last of it,
# the global settings, is logged as "config_getstatic: ...") and answers ikectl.
# Records the pid in DIR/iked.pid. An IKE_SA_INIT that arrives before then is dropped
# by iked's configuration reset (seen: "sa_free: reload").
iked_start() {
    local ns=$1 dir=$2 log=$3
    [[ -x $IKED ]] || {
        warn "iked not installed (Debian package openiked)"
        return 1
    }
    # PF_KEY: a module in the UML guest's kernel.
    modprobe af_key 2>/dev/null
    "$IKED" -n -f "$dir/iked.conf" >"$dir/iked-check.txt" 2>&1 || {
        warn "iked rejects its configuration: $(tr '\n' ' ' <"$dir/iked-check.txt")"
        return 1
    }
    # shellcheck disable=SC2016 # expanded by the inner shell
    ip netns exec "$ns" unshare -m --propagation private sh -c '
        dir=$1
        mount --bind "$dir/etc-iked" /etc/iked &&
        mount --bind "$dir/iked.conf" /etc/iked.conf &&
        mount --bind "$dir/run" /run || exit 1
        exec "$2" -d -vv </dev/null' iked "$dir" "$IKED" >"$log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/iked.pid"
    if ! wait_until 20 "iked in $ns to load its configuration" _iked_configured "$pid" "$log" ||
        ! kill -0 "$pid" 2>/dev/null; then
        warn "iked in $ns did not get ready${LAST_WARNING:+ ($LAST_WARNING)}; last log lines: $(tail -n 4 "$log" | tr '\n' ' ')"
        return 1
    fi
    wait_until 10 "ikectl to reach iked in $ns" ikectl_in "$dir" show sa
}

# _iked_configured PID LOG: iked has logged its global settings, or died (then the
# caller looks at the pid).
_iked_configured() { grep -q '^config_getstatic: ' "$2" || ! kill -0 "$1" 2>/dev/null; }

# ikectl_in DIR ARGS...: ikectl talking to DIR's iked (its socket is on a tmpfs every
# namespace sees).
ikectl_in() {
    local dir=$1
    shift
    "$IKECTL" -s "$dir/run/iked.sock" "$@"
}

# iked_stop DIR: SIGTERM, then SIGKILL if it has not gone after 5 s. iked's privilege-
# separated children follow their parent.
iked_stop() {
    local pidfile="$1/iked.pid"
    [[ -f "$pidfile" ]] || return 0
    _stop_pid "$(cat "$pidfile")"
    rm -f "$pidfile"
}

iked_running() { [[ -f "$1/iked.pid" ]] && kill -0 "$(cat "$1/iked.pid")" 2>/dev/null; }

# ---------------------------------------------------------------------------
# Libreswan: Debian 12's libreswan 4.10 conflicts with strongswan-charon as a package, so
# the .deb is unpacked (not installed) under target/libreswan/root and its programs run
# from there: pluto (the daemon), whack (its control client) and addconn (loads ipsec.conf's
# connections into pluto). Every path compiled into pluto is given on its command line, and
# pluto runs, like charon, in a mount namespace of its own, with the instance's run
# directory bound over /run/pluto (its compiled-in run directory: control socket, pid file)
# and the package's /usr/libexec over /usr/libexec: pluto checks at start-up that
# /usr/libexec/ipsec/addconn exists, a path compiled in that no option changes.

LIBRESWAN_DIR="$TERN_ROOT/target/libreswan"
LIBRESWAN_ROOT="$LIBRESWAN_DIR/root"
LIBRESWAN_EXEC="$LIBRESWAN_ROOT/usr/libexec/ipsec"
PLUTO="$LIBRESWAN_EXEC/pluto"
WHACK="$LIBRESWAN_EXEC/whack"
ADDCONN="$LIBRESWAN_EXEC/addconn"

# ensure_libreswan_unpacked: downloads Debian's libreswan package and unpacks it into
# LIBRESWAN_ROOT, unless a copy is there already. Host side (the guest has no network);
# apt-get update first, so a fresh machine's empty package lists do not stop it.
ensure_libreswan_unpacked() {
    [[ -x $PLUTO && -x $WHACK && -x $ADDCONN ]] && return 0
    command -v apt-get >/dev/null || {
        warn "Libreswan is not unpacked in $LIBRESWAN_ROOT and there is no apt-get to download it"
        return 1
    }
    local dl="$LIBRESWAN_DIR/download" deb
    rm -rf "$dl" "$LIBRESWAN_ROOT"
    mkdir -p "$dl"
    info "downloading Debian's libreswan package into ${dl#"$TERN_ROOT"/}"
    if (($(id -u) == 0)); then
        apt-get update -q >/dev/null || warn "apt-get update failed; trying the download anyway"
    fi
    # apt-get download writes into the current directory.
    (cd "$dl" && apt-get download -q libreswan 2>&1 | grep -v '^W: Download is performed unsandboxed') || true
    deb=$(find "$dl" -maxdepth 1 -name 'libreswan_*.deb' | head -n1)
    [[ -n $deb ]] || {
        warn "apt-get download libreswan gave no package"
        return 1
    }
    dpkg-deb -x "$deb" "$LIBRESWAN_ROOT" || {
        warn "dpkg-deb -x $deb failed"
        return 1
    }
    [[ -x $PLUTO ]] || {
        warn "the libreswan package has no ${PLUTO#"$LIBRESWAN_ROOT"}"
        return 1
    }
    info "Libreswan unpacked: $(basename "$deb")"
}

# libreswan_version: "4.10", say (pluto --version prints "Libreswan 4.10 IKEv2 IKEv1 ...").
libreswan_version() { "$PLUTO" --version 2>/dev/null | awk '$1 == "Libreswan" { print $2; exit }'; }

# pluto_write_conf DIR LOCAL_ADDR REMOTE_ADDR LOCAL_ID REMOTE_ID LOCAL_NET REMOTE_NET PSK
#                  [IKE [ESP [OPTIONS]]]
# DIR/ipsec.conf with one connection `demo` (IKEv2, PSK, tunnel mode, auto=add: it waits
# to be initiated) and DIR/ipsec.secrets. IKE and ESP are Libreswan's proposal strings
# (e.g. "aes_gcm128-sha2_256-dh31" and "aes_gcm128"); OPTIONS more `key=value` lines for
# the connection, newline-separated (e.g. "salifetime=20s"). No updown script: the
# topology has its routes already, and Libreswan's _updown would look for `ipsec` in
# /usr/sbin.
pluto_write_conf() {
    local dir=$1 laddr=$2 raddr=$3 lid=$4 rid=$5 lnet=$6 rnet=$7 psk=$8 ike=${9:-} esp=${10:-} opts=${11:-}
    mkdir -p "$dir/run/pluto" "$dir/ipsec.d" "$dir/nss"
    {
        echo "config setup"
        echo "    uniqueids=yes"
        echo "    plutodebug=none"
        echo ""
        echo "conn demo"
        echo "    ikev2=insist"
        echo "    authby=secret"
        echo "    type=tunnel"
        echo "    left=$laddr"
        echo "    leftid=@$lid"
        echo "    leftsubnet=$lnet"
        echo "    right=$raddr"
        echo "    rightid=@$rid"
        echo "    rightsubnet=$rnet"
        echo "    leftupdown=%disabled"
        [[ -z $ike ]] || echo "    ike=$ike"
        [[ -z $esp ]] || echo "    esp=$esp"
        [[ -z $opts ]] || sed 's/^/    /' <<<"$opts"
        echo "    auto=add"
    } >"$dir/ipsec.conf"
    (
        umask 077
        printf '@%s @%s : PSK "%s"\n' "$lid" "$rid" "${psk//\"/\\\"}" >"$dir/ipsec.secrets"
    )
}

# pluto_start NS DIR LOG: starts pluto in NS in the foreground (--nofork), logging to LOG,
# with DIR's ipsec.conf, ipsec.secrets, a fresh NSS database in DIR/nss and DIR/run as
# /run; loads the connections (addconn --autoall) and waits until whack lists `demo`.
# Records the pid in DIR/pluto.pid.
pluto_start() {
    local ns=$1 dir=$2 log=$3
    [[ -x $PLUTO ]] || {
        warn "pluto not unpacked ($PLUTO missing: tests/interop/run downloads it on the host)"
        return 1
    }
    command -v certutil >/dev/null || {
        warn "certutil missing (Debian package libnss3-tools)"
        return 1
    }
    # pluto's NSS database: empty password, no keys (PSK only).
    [[ -f "$dir/nss/cert9.db" ]] || certutil -N -d "sql:$dir/nss" --empty-password >"$dir/certutil.txt" 2>&1 || {
        warn "certutil -N failed: $(tr '\n' ' ' <"$dir/certutil.txt")"
        return 1
    }
    # shellcheck disable=SC2016 # expanded by the inner shell
    ip netns exec "$ns" unshare -m --propagation private sh -c '
        dir=$1 pluto=$2 log=$3 libexec=$4
        mkdir -p /run/pluto && mount --bind "$dir/run/pluto" /run/pluto &&
            mount --bind "$libexec" /usr/libexec || exit 1
        exec "$pluto" --nofork --config "$dir/ipsec.conf" --secretsfile "$dir/ipsec.secrets" \
            --ipsecdir "$dir/ipsec.d" --nssdir "$dir/nss" --rundir /run/pluto \
            --dumpdir /run/pluto --logfile "$log" --no-dnssec --use-xfrm </dev/null' \
        pluto "$dir" "$PLUTO" "$log" "$LIBRESWAN_ROOT/usr/libexec" >"$dir/pluto.stdout" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/pluto.pid"
    if ! wait_until 20 "pluto's control socket in $ns" test -S "$dir/run/pluto/pluto.ctl" ||
        ! kill -0 "$pid" 2>/dev/null; then
        warn "pluto in $ns did not start${LAST_WARNING:+ ($LAST_WARNING)}: $(tail -n 4 "$log" "$dir/pluto.stdout" 2>/dev/null | tr '\n' ' ')"
        return 1
    fi
    ip netns exec "$ns" "$ADDCONN" --config "$dir/ipsec.conf" --ctlsocket "$dir/run/pluto/pluto.ctl" \
        --autoall >"$dir/addconn.txt" 2>&1 || {
        warn "addconn failed in $ns: $(tr '\n' ' ' <"$dir/addconn.txt")"
        return 1
    }
    wait_until 10 "pluto in $ns to list the connection demo" _pluto_has_conn "$dir"
}

_pluto_has_conn() { whack_in "$1" --status | grep -q '"demo":'; }

# whack_in DIR ARGS...: whack talking to DIR's pluto (its socket is on a tmpfs every
# namespace sees).
whack_in() {
    local dir=$1
    shift
    "$WHACK" --ctlsocket "$dir/run/pluto/pluto.ctl" "$@"
}

# pluto_stop DIR: SIGTERM, then SIGKILL if it has not gone after 5 s.
pluto_stop() {
    local pidfile="$1/pluto.pid"
    [[ -f "$pidfile" ]] || return 0
    _stop_pid "$(cat "$pidfile")"
    rm -f "$pidfile"
}

pluto_running() { [[ -f "$1/pluto.pid" ]] && kill -0 "$(cat "$1/pluto.pid")" 2>/dev/null; }

# ---------------------------------------------------------------------------
# ternd: the daemon under test, run in a namespace with its socket in its work directory.

TERND="$TERN_BIN_DIR/ternd"
TERNCTL="$TERN_BIN_DIR/ternctl"

# The PSK of the demo connection, read from the embedded default configuration, so
# the peer's configuration always matches whatever conf/ternd.toml says.
tern_demo_psk() {
    local conf="$TERN_ROOT/conf/ternd.toml" psk
    [[ -f "$conf" ]] || {
        warn "conf/ternd.toml not found"
        return 1
    }
    psk=$(sed -nE "s/^[[:space:]]*(psk|secret)[[:space:]]*=[[:space:]]*[\"']([^\"']*)[\"'].*/\2/p" "$conf" | head -n1)
    [[ -n "$psk" ]] || {
        warn "no psk = \"...\" line in conf/ternd.toml"
        return 1
    }
    printf '%s' "$psk"
}

# ternd_start NS DIR LOG [ARGS...]: starts ternd in NS with its socket at DIR/ternd.sock
# (DIR on a tmpfs), logging to LOG; waits until ternctl can reach it. ARGS choose the
# configuration (`--config FILE` or `--demo`): ternd alone reads /etc/tern/ternd.toml,
# the host's, which a test must never pick up.
ternd_start() {
    local ns=$1 dir=$2 log=$3
    shift 3
    [[ -x "$TERND" ]] || {
        warn "ternd not built ($TERND missing)"
        return 1
    }
    [[ -x "$TERNCTL" ]] || {
        warn "ternctl not built ($TERNCTL missing)"
        return 1
    }
    case " $* " in
    *" --config "* | *" --demo "*) ;;
    *)
        warn "ternd_start: say --config FILE or --demo (ternd would read the host's /etc/tern/ternd.toml)"
        return 1
        ;;
    esac
    mkdir -p "$dir"
    # Its SA history beside its socket, never the host's /var/lib/tern.
    ip netns exec "$ns" "$TERND" --socket "$dir/ternd.sock" --state-file "$dir/history.json" \
        --log-level debug "$@" \
        </dev/null >"$log" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/ternd.pid"
    local deadline=$(($(now_ms) + 15000))
    # Ready: the socket exists and answers, and the daemon is (still) alive.
    until [[ -S "$dir/ternd.sock" ]] && ternctl_in "$dir" version >/dev/null 2>&1 && kill -0 "$pid" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            warn "ternd exited at startup with status $? (last log lines: $(tail -n 3 "$log" | tr '\n' ' '))"
            return 1
        fi
        if (($(now_ms) > deadline)); then
            warn "ternd in $ns did not answer ternctl within 15 s"
            return 1
        fi
        sleep 0.1
    done
}

# ternctl_in DIR ARGS...: ternctl talking to the ternd of DIR. ternctl only needs the
# socket, which lives on a filesystem every namespace sees, so no netns needed.
ternctl_in() {
    local dir=$1
    shift
    "$TERNCTL" --socket "$dir/ternd.sock" "$@"
}

ternd_stop() {
    local pidfile="$1/ternd.pid"
    [[ -f "$pidfile" ]] || return 0
    _stop_pid "$(cat "$pidfile")"
    rm -f "$pidfile"
}

# ternd_running DIR: the daemon is still alive (a crash is a failure by itself).
ternd_running() { [[ -f "$1/ternd.pid" ]] && kill -0 "$(cat "$1/ternd.pid")" 2>/dev/null; }

# tern_sas_json DIR: `ternctl --json list-sas`.
tern_sas_json() { ternctl_in "$1" --json list-sas; }

# tern_ike_established DIR: an ESTABLISHED IKE SA for demo with an INSTALLED CHILD SA net.
tern_child_installed() {
    tern_sas_json "$1" | jq -e 'any(.[]; .connection == "demo" and .state == "ESTABLISHED"
        and any(.children[]; .name == "net" and .state == "INSTALLED"))' >/dev/null
}

# tern_has_no_sa DIR: list-sas answers with an empty list.
tern_has_no_sa() { tern_sas_json "$1" | jq -e 'length == 0' >/dev/null; }

# tern_child_spis DIR: "SPI_IN SPI_OUT" of demo's CHILD SA net.
tern_child_spis() {
    tern_sas_json "$1" | jq -r 'first(.[] | select(.connection == "demo") | .children[]
        | select(.name == "net")) | "\(.spi_in) \(.spi_out)"'
}
