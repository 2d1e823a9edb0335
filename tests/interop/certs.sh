# Certificate scenarios of tests/interop/run (sourced by it): ternd and strongSwan
# authenticating with X.509 certificates made at test time with openssl.
#
#   cert-p256-tern-initiates, cert-p256-strongswan-initiates       ECDSA P-256
#   cert-rsa2048-tern-initiates, cert-rsa2048-strongswan-initiates RSA-2048
#   cert-rsa4096-chain-tern-initiates, ...-strongswan-initiates    RSA-4096, root ->
#       intermediate -> end entities: IKE_AUTH messages of several kilobytes
#   cert-ed25519-tern-initiates, cert-ed25519-strongswan-initiates Ed25519 (RFC 8420)
#   cert-untrusted-ca   sun's certificate from a CA tern does not trust: refused both
#                       ways, with the reason in ternd's log
#   cert-dn-identities  both sides named by their certificates' subject DNs
#   cert-revoked        sun's certificate revoked by the CA's CRL, which tern holds:
#                       refused both ways, with the serial and date in ternd's log
#   cert-chosen-by-certreq  tern holds an ECDSA certificate (one CA) and an RSA one
#                       (another CA), ECDSA first; strongSwan trusts only the RSA CA
#                       and asks for it (CERTREQ): tern shows the RSA one, both ways
# shellcheck shell=bash

CERT_SCENARIOS=(cert-p256-tern-initiates cert-p256-strongswan-initiates
    cert-rsa2048-tern-initiates cert-rsa2048-strongswan-initiates
    cert-rsa4096-chain-tern-initiates cert-rsa4096-chain-strongswan-initiates
    cert-ed25519-tern-initiates cert-ed25519-strongswan-initiates cert-untrusted-ca
    cert-dn-identities cert-revoked cert-chosen-by-certreq)

# certs_genkey FILE KIND: a private key (p256, rsa2048, rsa4096), PKCS#8 PEM, mode 600.
certs_genkey() {
    local file=$1 kind=$2
    case $kind in
        p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$file" ;;
        rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$file" ;;
        rsa4096) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out "$file" ;;
        ed25519) openssl genpkey -algorithm ED25519 -out "$file" ;;
    esac 2>/dev/null && chmod 600 "$file"
}

# certs_issue DIR NAME KIND ISSUER CN EXTENSIONS: DIR/NAME.key and DIR/NAME.pem signed by
# DIR/ISSUER (or self-signed when ISSUER is "-").
certs_issue() {
    local dir=$1 name=$2 kind=$3 issuer=$4 cn=$5 ext=$6
    certs_genkey "$dir/$name.key" "$kind" || return 1
    printf '%b\n' "$ext" >"$dir/$name.ext"
    openssl req -new -key "$dir/$name.key" -subj "/O=tern interop/CN=$cn" -out "$dir/$name.csr" || return 1
    if [[ $issuer == - ]]; then
        openssl x509 -req -in "$dir/$name.csr" -signkey "$dir/$name.key" -days 30 \
            -extfile "$dir/$name.ext" -out "$dir/$name.pem"
    else
        openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$issuer.pem" -CAkey "$dir/$issuer.key" \
            -CAcreateserial -days 30 -extfile "$dir/$name.ext" -out "$dir/$name.pem"
    fi 2>/dev/null
}

CERTS_CA_EXT='basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash'
# certs_leaf_ext HOST IP
certs_leaf_ext() {
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nsubjectAltName=DNS:%s,IP:%s' "$1" "$2"
}

# certs_make_pki KIND: in $W/pki, ca.pem and moon/sun end entities of KIND; for
# rsa4096-chain an intermediate (int.pem) issues the end entities, and moon-chain.pem
# is moon's certificate followed by it.
certs_make_pki() {
    local kind=$1 dir="$W/pki" key=$1 issuer=ca
    command -v openssl >/dev/null || fail "openssl is missing (tests/run-all installs the package)"
    mkdir -p "$dir"
    [[ $kind == rsa4096-chain ]] && key=rsa4096
    [[ $kind == untrusted ]] && key=p256
    step "making a $kind PKI with openssl"
    certs_issue "$dir" ca "$key" - "tern interop root" "$CERTS_CA_EXT" || fail "openssl could not make the CA"
    if [[ $kind == rsa4096-chain ]]; then
        certs_issue "$dir" int "$key" ca "tern interop intermediate" "$CERTS_CA_EXT" ||
            fail "openssl could not make the intermediate CA"
        issuer=int
    fi
    certs_issue "$dir" moon "$key" $issuer moon.tern.example "$(certs_leaf_ext moon.tern.example "$TOPO_MOON_WAN")" ||
        fail "openssl could not make moon's certificate"
    certs_issue "$dir" sun "$key" $issuer sun.tern.example "$(certs_leaf_ext sun.tern.example "$TOPO_SUN_WAN")" ||
        fail "openssl could not make sun's certificate"
    if [[ $kind == untrusted ]]; then
        # Sun again, from a CA only sun knows of.
        certs_issue "$dir" other-ca "$key" - "not tern's CA" "$CERTS_CA_EXT" &&
            certs_issue "$dir" sun "$key" other-ca sun.tern.example "$(certs_leaf_ext sun.tern.example "$TOPO_SUN_WAN")" ||
            fail "openssl could not make the untrusted certificate"
    fi
    cat "$dir/moon.pem" >"$dir/moon-chain.pem"
    [[ $issuer == int ]] && cat "$dir/int.pem" >>"$dir/moon-chain.pem"
    step "PKI: $(openssl x509 -in "$dir/moon.pem" -noout -subject -issuer | tr '\n' ' ')"
}

# certs_tern_config [LOCAL_ID REMOTE_ID]: conf/ternd.toml with auth = "pubkey" and the
# PKI's files instead of the PSK, and these identities if given.
certs_tern_config() {
    local conf="$W/moon-ternd.toml" dir="$W/pki" lid=${1:-} rid=${2:-}
    awk -v cert="$dir/moon-chain.pem" -v key="$dir/moon.key" -v ca="$dir/ca.pem" \
        -v lid="$lid" -v rid="$rid" '
        /^local_id = / && lid != "" { print "local_id = \"" lid "\""; next }
        /^remote_id = / && rid != "" { print "remote_id = \"" rid "\""; next }
        /^auth = "psk"$/ {
            print "auth = \"pubkey\""
            print "cert = \"" cert "\""
            print "key = \"" key "\""
            print "cacerts = [\"" ca "\"]"
            done = 1
            next
        }
        /^psk = / { next }
        { print }
        END { exit !done }' "$TERN_ROOT/conf/ternd.toml" >"$conf" ||
        fail "conf/ternd.toml has no line auth = \"psk\" to replace"
    printf '%s\n' "$conf"
}

# certs_start_charon_sun [ID_MODE]: charon in sun authenticating with sun's certificate.
# ID_MODE "dn": both identities are the certificates' subjects (strongSwan's default
# when no id is set), instead of the host names.
certs_start_charon_sun() {
    local dir="$R/sun-charon" pki="$W/pki" lid="id = sun.tern.example" rid=moon.tern.example
    if [[ ${1:-} == dn ]]; then
        lid="# no id: strongSwan identifies with the certificate's subject DN"
        rid='"O=tern interop, CN=moon.tern.example"'
    fi
    mkdir -p "$dir/swanctl/x509" "$dir/swanctl/x509ca" "$dir/swanctl/private"
    charon_write_config "$dir" "$W/sun-charon.log"
    cp "$pki/sun.pem" "$dir/swanctl/x509/sun.pem"
    cp "$pki/sun.key" "$dir/swanctl/private/sun.key"
    cp "$pki/ca.pem" "$dir/swanctl/x509ca/ca.pem"
    [[ -f "$pki/int.pem" ]] && cp "$pki/int.pem" "$dir/swanctl/x509ca/int.pem"
    cat >"$dir/swanctl/swanctl.conf" <<CONF
connections {
    demo {
        version = 2
        local_addrs = $TOPO_SUN_WAN
        remote_addrs = $TOPO_MOON_WAN
        local {
            auth = pubkey
            certs = sun.pem
            $lid
        }
        remote {
            auth = pubkey
            id = $rid
        }
        children {
            net {
                mode = tunnel
                local_ts = $TOPO_SUN_NET
                remote_ts = $TOPO_MOON_NET
            }
        }
    }
}
CONF
    cp "$dir/strongswan.conf" "$W/sun-strongswan.conf"
    cp "$dir/swanctl/swanctl.conf" "$W/sun-swanctl.conf"
    step "starting charon in sun"
    charon_start sun "$dir" || fail "charon did not start in sun: $LAST_WARNING"
    grep -q 'loaded certificate' "$dir/swanctl-load.txt" ||
        fail "swanctl loaded no certificate: $(tr '\n' ' ' <"$dir/swanctl-load.txt")"
}

# certs_setup KIND: the PKI, ternd in moon and charon in sun, both with certificates.
certs_setup() {
    local conf
    certs_make_pki "$1"
    conf=$(certs_tern_config) || exit 1
    start_ternd moon --config "$conf"
    certs_start_charon_sun
}

# certs_check_authenticated_by_certificate: strongSwan says moon proved itself with a
# certificate trusted through our CA (and, for a chain, the intermediate).
certs_check_peer_verified() {
    grep -qE "authentication of 'moon.tern.example' with .*(successful|ECDSA|RSA)" "$W/sun-charon.log" ||
        fail "strongSwan's log does not show moon authenticated with a signature"
    grep -q 'reached self-signed root ca' "$W/sun-charon.log" ||
        fail "strongSwan's log does not show moon's certificate chained to the root CA"
    note "strongSwan: $(grep -m1 -oE "authentication of 'moon.tern.example' with [^)]*successful" "$W/sun-charon.log")"
}

# certs_check_chain_and_fragments: for the RSA-4096 chain, both sides sent the
# intermediate and both IKE_AUTH messages crossed as IKE fragments (RFC 7383):
# strongSwan reassembled tern's and split its own, which tern reassembled.
certs_check_chain_and_fragments() {
    local log="$W/sun-charon.log" got sent
    grep -q 'received issuer cert "O=tern interop, CN=tern interop intermediate"' "$log" ||
        fail "strongSwan did not receive the intermediate CA certificate from tern"
    grep -q 'sending issuer cert' "$log" || fail "strongSwan did not send its intermediate certificate"
    got=$(grep -m1 -oE 'received fragment #[0-9]+ of [0-9]+, reassembled fragmented IKE message \([0-9]+ bytes\)' "$log") ||
        fail "strongSwan's log shows no IKE message reassembled from tern's fragments"
    sent=$(grep -m1 -oE 'splitting IKE message \([0-9]+ bytes\) into [0-9]+ fragments' "$log") ||
        fail "strongSwan's log shows no IKE message sent in fragments"
    note "IKE fragmentation: strongSwan $got; strongSwan was $sent, which tern reassembled"
}

certs_tern_initiates() {
    certs_setup "$1"
    tern_initiate
    check_tunnel_up
    certs_check_peer_verified
    [[ $1 == rsa4096-chain ]] && certs_check_chain_and_fragments
    tern_terminate
    check_all_gone
}

certs_strongswan_initiates() {
    certs_setup "$1"
    swanctl_initiate sun
    check_tunnel_up
    certs_check_peer_verified
    [[ $1 == rsa4096-chain ]] && certs_check_chain_and_fragments
    swanctl_terminate
    check_all_gone
}

scenario_cert-p256-tern-initiates() { certs_tern_initiates p256; }
scenario_cert-p256-strongswan-initiates() { certs_strongswan_initiates p256; }
scenario_cert-rsa2048-tern-initiates() { certs_tern_initiates rsa2048; }
scenario_cert-rsa2048-strongswan-initiates() { certs_strongswan_initiates rsa2048; }
scenario_cert-rsa4096-chain-tern-initiates() { certs_tern_initiates rsa4096-chain; }
scenario_cert-rsa4096-chain-strongswan-initiates() { certs_strongswan_initiates rsa4096-chain; }

scenario_cert-ed25519-tern-initiates() { certs_tern_initiates ed25519; }
scenario_cert-ed25519-strongswan-initiates() { certs_strongswan_initiates ed25519; }

# Sun's certificate is from a CA tern does not trust: tern refuses it as initiator
# (and tells strongSwan) and as responder (answering AUTHENTICATION_FAILED), and
# says why in its log and to ternctl.
scenario_cert-untrusted-ca() {
    certs_setup untrusted
    local out rc lines_before sun_lines_before
    out=$(timeout 60 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" initiate demo --timeout 20 2>&1)
    rc=$?
    step "ternctl initiate demo (untrusted CA) -> exit $rc: $out"
    ((rc != 0)) || fail "ternctl initiate succeeded although sun's CA is not trusted"
    grep -q "certificate of peer 'sun.tern.example' not trusted" <<<"$out" ||
        fail "ternctl's answer does not say sun's certificate is not trusted: $out"
    expect_within 10 "strongSwan logs tern's AUTHENTICATION_FAILED" \
        grep -qE 'AUTHENTICATION_FAILED|AUTH_FAILED' "$W/sun-charon.log"
    note "tern initiating: ternctl exit $rc: $out"
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon
    expect_within 10 "strongSwan lists no SA" charon_has_no_sa "$R/sun-charon"

    lines_before=$(wc -l <"$W/moon-ternd.log")
    sun_lines_before=$(wc -l <"$W/sun-charon.log")
    out=$(swanctl_in "$R/sun-charon" --initiate --child net --timeout 30 2>&1)
    rc=$?
    step "swanctl --initiate (untrusted CA) -> exit $rc"
    printf '%s\n' "$out" >"$W/sun-swanctl-initiate.txt"
    ((rc != 0)) || fail "swanctl --initiate succeeded although tern does not trust sun's CA"
    expect_within 10 "ternd's log says sun's certificate is not trusted (strongSwan initiating)" \
        new_log_line_matches "$W/moon-ternd.log" "$lines_before" "not trusted.*answered AUTHENTICATION_FAILED"
    new_log_line_matches "$W/sun-charon.log" "$sun_lines_before" 'AUTHENTICATION_FAILED|AUTH_FAILED' >/dev/null ||
        fail "strongSwan's log does not show tern's AUTHENTICATION_FAILED answer"
    note "strongSwan initiating, ternd logs: $(new_log_line_matches "$W/moon-ternd.log" "$lines_before" 'not trusted' | head -n1 | cut -c1-240)"
    expect_within 10 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    expect "ternd is still running" ternd_running "$R/moon-ternd"
    check_ike_ports
}

# Distinguished names as identities, as strongSwan uses by default: tern names itself
# and expects sun by the certificates' subjects (dn:...), both directions. (strongSwan
# compares the IDr tern proposes with its own ID exactly, case included.)
scenario_cert-dn-identities() {
    certs_make_pki p256
    local conf
    conf=$(certs_tern_config "dn:O=tern interop, CN=moon.tern.example" \
        "dn:O=tern interop, CN=sun.tern.example") || exit 1
    start_ternd moon --config "$conf"
    certs_start_charon_sun dn
    tern_initiate
    check_tunnel_up
    tern_sas_json "$R/moon-ternd" | jq -e 'any(.[]; .remote_id == "O=tern interop, CN=sun.tern.example")' >/dev/null ||
        fail "ternctl list-sas does not show sun's DN as its identity: $(tern_sas_json "$R/moon-ternd" | tr -d '\n' | cut -c1-300)"
    grep -q "authentication of 'O=tern interop, CN=moon.tern.example' with .* successful" "$W/sun-charon.log" ||
        fail "strongSwan's log does not show moon authenticated by its DN"
    tern_terminate
    check_all_gone
    swanctl_initiate sun
    check_tunnel_up
    swanctl_terminate
    check_all_gone
    note "both directions with DN identities; ternctl shows the peer as 'O=tern interop, CN=sun.tern.example'"
}

# certs_revoke_sun: the CA revokes sun's certificate; its CRL is $W/pki/ca.crl.
certs_revoke_sun() {
    local pki="$W/pki" db="$W/pki/ca-db"
    mkdir -p "$db" && : >"$db/index.txt" && echo 01 >"$db/crlnumber" || return 1
    printf '[ca]\ndefault_ca = interop\n[interop]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 30\n' \
        "$db/index.txt" "$db/crlnumber" >"$db/ca.cnf"
    openssl ca -batch -config "$db/ca.cnf" -keyfile "$pki/ca.key" -cert "$pki/ca.pem" \
        -revoke "$pki/sun.pem" >/dev/null 2>&1 &&
        openssl ca -batch -config "$db/ca.cnf" -keyfile "$pki/ca.key" -cert "$pki/ca.pem" \
            -gencrl -out "$pki/ca.crl" >/dev/null 2>&1
}

# The CA revokes sun's certificate and tern holds the CRL: refused whoever initiates,
# and ternd names the certificate, its serial and the revocation.
scenario_cert-revoked() {
    certs_make_pki p256
    certs_revoke_sun || fail "openssl could not revoke sun's certificate"
    local serial conf out rc lines_before
    serial=$(openssl x509 -in "$W/pki/sun.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/../&:/g; s/:$//')
    step "CRL: $(openssl crl -in "$W/pki/ca.crl" -noout -text | grep -c 'Serial Number') revoked, sun's serial $serial"
    conf=$(certs_tern_config) || exit 1
    sed -i "s|^cacerts = .*|&\ncrls = [\"$W/pki/ca.crl\"]|" "$conf"
    grep -q '^crls = ' "$conf" || fail "could not add crls to $conf"
    start_ternd moon --config "$conf"
    certs_start_charon_sun

    out=$(timeout 60 "$TERNCTL" --socket "$R/moon-ternd/ternd.sock" initiate demo --timeout 20 2>&1)
    rc=$?
    step "ternctl initiate demo (revoked peer) -> exit $rc: $out"
    ((rc != 0)) || fail "ternctl initiate succeeded although sun's certificate is revoked"
    grep -q "was revoked by" <<<"$out" && grep -qi "$serial" <<<"$out" ||
        fail "ternctl's answer does not name the revocation and serial $serial: $out"
    expect_within 10 "moon's kernel has no SA and no policy left" xfrm_is_empty moon

    lines_before=$(wc -l <"$W/moon-ternd.log")
    swanctl_in "$R/sun-charon" --initiate --child net --timeout 30 >"$W/sun-swanctl-initiate.txt" 2>&1 &&
        fail "swanctl --initiate succeeded although tern holds a CRL revoking sun"
    expect_within 10 "ternd's log says sun's certificate was revoked (strongSwan initiating)" \
        new_log_line_matches "$W/moon-ternd.log" "$lines_before" "was revoked by.*answered AUTHENTICATION_FAILED"
    note "revoked: $(new_log_line_matches "$W/moon-ternd.log" "$lines_before" 'was revoked' | head -n1 | grep -o 'certificate "[^"]*" (serial [^)]*) was revoked by "[^"]*" on [^,]*')"
    expect_within 10 "ternctl list-sas is empty" tern_has_no_sa "$R/moon-ternd"
    expect "ternd is still running" ternd_running "$R/moon-ternd"
}

# Two PKIs: $W/pki-p256 (moon's first certificate) and $W/pki, RSA, the only one
# strongSwan trusts. Both roots are named alike, so only the key tells them apart.
scenario_cert-chosen-by-certreq() {
    certs_make_pki p256
    mv "$W/pki" "$W/pki-p256"
    certs_make_pki rsa2048
    local conf first="$W/pki-p256" second="$W/pki"
    conf=$(certs_tern_config) || exit 1
    sed -i -e "s|^cert = .*|cert = [\"$first/moon-chain.pem\", \"$second/moon-chain.pem\"]|" \
        -e "s|^key = .*|key = [\"$first/moon.key\", \"$second/moon.key\"]|" \
        -e "s|^cacerts = .*|cacerts = [\"$first/ca.pem\", \"$second/ca.pem\"]|" "$conf"
    grep -q "^cert = \[" "$conf" || fail "could not list two certificates in $conf"
    start_ternd moon --config "$conf"
    certs_start_charon_sun

    tern_initiate
    check_tunnel_up
    certs_check_peer_verified
    grep -q "authentication of 'moon.tern.example' with RSA" "$W/sun-charon.log" ||
        fail "strongSwan did not authenticate moon with its RSA certificate: $(grep -m1 "authentication of 'moon" "$W/sun-charon.log")"
    tern_terminate
    check_all_gone

    local lines_before
    lines_before=$(wc -l <"$W/sun-charon.log")
    swanctl_initiate sun
    check_tunnel_up
    new_log_line_matches "$W/sun-charon.log" "$lines_before" "authentication of 'moon.tern.example' with RSA.* successful" >/dev/null ||
        fail "strongSwan initiating: moon did not answer with its RSA certificate"
    note "ECDSA certificate listed first, strongSwan asks for the RSA CA: tern showed the RSA one, both ways"
    swanctl_terminate
    check_all_gone
}
