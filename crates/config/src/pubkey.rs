//! `auth = "pubkey"`: our certificate (with intermediates), its private key, and the
//! CA certificates the peer's certificate must chain to, with their revocation lists.

use std::sync::Arc;

use tern_crypto::{check_peer_id, Certificate, Crl, PeerId, PrivateKey, Secret};
use tern_engine::config::{AuthConfig, Identity, PubkeyAuth};

use crate::error::ConfigError;
use crate::psk::{read_secret_file, resolve, SecretFileError};
use crate::reader::{Field, Located, TableReader};
use crate::schema::Context;

/// Reads `cert`, `key` and `cacerts` of a connection table.
pub(crate) fn pubkey_auth(
    ctx: &Context<'_>,
    table: &TableReader<'_>,
) -> Result<AuthConfig, ConfigError> {
    if let Some(f) = table.field("psk").or_else(|| table.field("psk_file")) {
        return Err(f.error(format!(
            "`{}` has no use with auth = \"pubkey\"; remove it or set auth = \"psk\"",
            f.key()
        )));
    }
    let cert_field = require(table, "cert")?;
    let cert_path = cert_field.string()?;
    let certs = read_certs(ctx, &cert_field, &cert_path)?;

    let key_field = require(table, "key")?;
    let key_path = key_field.string()?;
    let key = read_key(ctx, &key_path)?;
    let ours = certs[0]
        .public_key()
        .map_err(|e| cert_field.error(e.to_string()))?;
    if key.public_key() != ours {
        return Err(key_field.error(format!(
            "key {} is not the private key of certificate {} (\"{}\")",
            shown(ctx, &key_path),
            shown(ctx, &cert_path),
            certs[0].subject()
        )));
    }

    let ca_field = require(table, "cacerts")?;
    let ca_paths = ca_field.string_array()?;
    if ca_paths.is_empty() {
        return Err(ca_field.error("`cacerts` needs at least one CA certificate file"));
    }
    let mut cacerts = Vec::new();
    for path in &ca_paths {
        cacerts.extend(read_certs(ctx, &ca_field, path)?);
    }
    let mut crls = Vec::new();
    if let Some(crl_field) = table.field("crls") {
        for path in &crl_field.string_array()? {
            crls.extend(read_crls(ctx, &crl_field, path)?);
        }
    }
    Ok(AuthConfig::Pubkey(Arc::new(PubkeyAuth {
        certs,
        key,
        cacerts,
        crls,
    })))
}

fn require<'a>(table: &TableReader<'a>, key: &str) -> Result<Field<'a>, ConfigError> {
    table.field(key).ok_or_else(|| {
        table.error(format!(
            "missing key `{key}` in [{}]: auth = \"pubkey\" needs `cert`, `key` and `cacerts`",
            table.path()
        ))
    })
}

fn shown(ctx: &Context<'_>, path: &Located<&str>) -> String {
    resolve(path.value, ctx.base_dir).display().to_string()
}

/// Every certificate in a PEM file, or the one in a DER file.
fn read_certs(
    ctx: &Context<'_>,
    field: &Field<'_>,
    path: &Located<&str>,
) -> Result<Vec<Certificate>, ConfigError> {
    let resolved = resolve(path.value, ctx.base_dir);
    let bytes = std::fs::read(&resolved).map_err(|e| {
        path.error(
            &ctx.src,
            format!("cannot read {} {}: {e}", field.key(), resolved.display()),
        )
    })?;
    parse_certs(&bytes).map_err(|e| {
        path.error(
            &ctx.src,
            format!("{} {}: {e}", field.key(), resolved.display()),
        )
    })
}

/// Every CRL in a PEM file, or the one in a DER file. Each counts for the CA
/// that signed it, checked when a peer's chain is (an intermediate CA's CRL
/// may name a CA the peer sends, not one of `cacerts`).
fn read_crls(
    ctx: &Context<'_>,
    field: &Field<'_>,
    path: &Located<&str>,
) -> Result<Vec<Crl>, ConfigError> {
    let resolved = resolve(path.value, ctx.base_dir);
    let error = |m: String| path.error(&ctx.src, m);
    let bytes = std::fs::read(&resolved).map_err(|e| {
        error(format!(
            "cannot read {} {}: {e}",
            field.key(),
            resolved.display()
        ))
    })?;
    if looks_like_pem(&bytes) {
        Crl::from_pem(&bytes)
    } else {
        Crl::from_der(&bytes).map(|c| vec![c])
    }
    .map_err(|e| error(format!("{} {}: {e}", field.key(), resolved.display())))
}

fn parse_certs(bytes: &[u8]) -> Result<Vec<Certificate>, tern_crypto::CertError> {
    if looks_like_pem(bytes) {
        Certificate::from_pem(bytes)
    } else {
        Certificate::from_der(bytes).map(|c| vec![c])
    }
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The private key in a file only its owner may read.
fn read_key(ctx: &Context<'_>, path: &Located<&str>) -> Result<PrivateKey, ConfigError> {
    let resolved = resolve(path.value, ctx.base_dir);
    let shown = resolved.display();
    let bytes = read_secret_file(&resolved).map_err(|e| match e {
        SecretFileError::Unreadable(io) => {
            path.error(&ctx.src, format!("cannot read key {shown}: {io}"))
        }
        SecretFileError::WorldReadable { mode } => path.error(
            &ctx.src,
            format!(
                "key {shown} is readable by every user (mode {mode:04o}); \
                 restrict it with `chmod o-r {shown}`"
            ),
        ),
        SecretFileError::Invalid(m) => path.error(&ctx.src, format!("key {shown}: {m}")),
    })?;
    // Zeroized when dropped.
    let bytes = Secret::new(bytes);
    let parsed = if looks_like_pem(bytes.expose()) {
        PrivateKey::from_pem(bytes.expose())
    } else {
        PrivateKey::from_der(bytes.expose())
    };
    parsed.map_err(|e| path.error(&ctx.src, format!("key {shown}: {e}")))
}

/// The peer checks our ID against our certificate (RFC 7296 §3.5 and RFC 4945):
/// say now, where `local_id` is written, when it would refuse it.
pub(crate) fn check_local_id_in_cert(
    field: &Field<'_>,
    id: &Identity,
    cert: &Certificate,
) -> Result<(), ConfigError> {
    let as_peer_id = match id {
        Identity::Ipv4(a) => PeerId::Ip((*a).into()),
        Identity::Ipv6(a) => PeerId::Ip((*a).into()),
        Identity::Fqdn(name) => PeerId::Fqdn(name.clone()),
        Identity::Email(addr) => PeerId::Email(addr.clone()),
        Identity::DerDn(der) => PeerId::Dn(der.clone()),
        Identity::KeyId(_) => {
            return Err(field.error(
                "a key ID cannot be matched against a certificate; with auth = \"pubkey\" \
                 use a host name, email or IP address the certificate holds",
            ))
        }
    };
    check_peer_id(cert, &as_peer_id)
        .map_err(|e| field.error(format!("local_id does not fit our certificate: {e}")))
}
