//! `auth = "pubkey"`: our certificate (with intermediates), its private key, and the
//! CA certificates the peer's certificate must chain to, with their revocation lists.

use std::sync::Arc;

use tern_crypto::{check_peer_id, Certificate, Crl, PeerId, PrivateKey, Secret};
use tern_engine::config::{AuthConfig, Credential, Identity, PubkeyAuth};

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
    let ca_field = require(table, "cacerts")?;
    let ca_paths = ca_field.string_array()?;
    if ca_paths.is_empty() {
        return Err(ca_field.error("`cacerts` needs at least one CA certificate file"));
    }
    let mut cacerts = Vec::new();
    for path in &ca_paths {
        cacerts.extend(read_certs(ctx, &ca_field, path)?);
    }
    let credentials = credentials(ctx, table, &cacerts)?;
    let mut crls = Vec::new();
    if let Some(crl_field) = table.field("crls") {
        for path in &crl_field.string_array()? {
            crls.extend(read_crls(ctx, &crl_field, path)?);
        }
    }
    Ok(AuthConfig::Pubkey(Arc::new(PubkeyAuth {
        credentials,
        cacerts,
        crls,
    })))
}

/// `cert` and `key`: one file each, or lists of them. Each key goes with the
/// certificate whose public key it has, whatever the order; each certificate
/// needs its key, and each key its certificate.
fn credentials(
    ctx: &Context<'_>,
    table: &TableReader<'_>,
    cacerts: &[Certificate],
) -> Result<Vec<Credential>, ConfigError> {
    let cert_field = require(table, "cert")?;
    let cert_paths = cert_field.string_or_array()?;
    let key_field = require(table, "key")?;
    let key_paths = key_field.string_or_array()?;
    if cert_paths.is_empty() || key_paths.is_empty() {
        return Err(table.error("`cert` and `key` each need at least one file"));
    }
    let mut keys = Vec::new();
    for path in &key_paths {
        keys.push(Some((read_key(ctx, path)?, path)));
    }
    let mut credentials = Vec::new();
    for path in &cert_paths {
        let certs = read_certs(ctx, &cert_field, path)?;
        let public = certs[0]
            .public_key()
            .map_err(|e| path.error(&ctx.src, e.to_string()))?;
        let Some(key) = keys
            .iter_mut()
            .find(|k| {
                k.as_ref()
                    .is_some_and(|(key, _)| key.public_key() == public)
            })
            .and_then(Option::take)
        else {
            let one_each = cert_paths.len() == 1 && key_paths.len() == 1;
            let message = if one_each {
                format!(
                    "key {} is not the private key of certificate {} (\"{}\")",
                    shown(ctx, &key_paths[0]),
                    shown(ctx, path),
                    certs[0].subject()
                )
            } else {
                format!(
                    "no file in `key` holds the private key of certificate {} (\"{}\")",
                    shown(ctx, path),
                    certs[0].subject()
                )
            };
            let at = if one_each { &key_paths[0] } else { path };
            return Err(at.error(&ctx.src, message));
        };
        credentials.push(Credential::new(certs, key.0, cacerts));
    }
    if let Some((_, path)) = keys.into_iter().flatten().next() {
        return Err(path.error(
            &ctx.src,
            format!(
                "key {} belongs to no certificate in `cert`",
                shown(ctx, path)
            ),
        ));
    }
    Ok(credentials)
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
    read_pem_or_der(
        ctx,
        field,
        path,
        Certificate::from_pem,
        Certificate::from_der,
    )
}

/// Every CRL in a PEM file, or the one in a DER file. Each counts for the CA
/// that signed it, checked when a peer's chain is (an intermediate CA's CRL
/// may name a CA the peer sends, not one of `cacerts`).
fn read_crls(
    ctx: &Context<'_>,
    field: &Field<'_>,
    path: &Located<&str>,
) -> Result<Vec<Crl>, ConfigError> {
    read_pem_or_der(ctx, field, path, Crl::from_pem, Crl::from_der)
}

/// The objects of a PEM file, or the one of a DER file, with errors at `path`.
fn read_pem_or_der<T>(
    ctx: &Context<'_>,
    field: &Field<'_>,
    path: &Located<&str>,
    from_pem: fn(&[u8]) -> Result<Vec<T>, tern_crypto::CertError>,
    from_der: fn(&[u8]) -> Result<T, tern_crypto::CertError>,
) -> Result<Vec<T>, ConfigError> {
    let resolved = resolve(path.value, ctx.base_dir);
    let error = |m: String| path.error(&ctx.src, m);
    let bytes = crate::file::read_bounded(&resolved).map_err(|e| {
        error(format!(
            "cannot read {} {}: {e}",
            field.key(),
            resolved.display()
        ))
    })?;
    if looks_like_pem(&bytes) {
        from_pem(&bytes)
    } else {
        from_der(&bytes).map(|one| vec![one])
    }
    .map_err(|e| error(format!("{} {}: {e}", field.key(), resolved.display())))
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
        SecretFileError::OpenToOthers { mode } => path.error(
            &ctx.src,
            SecretFileError::open_to_others("key", &shown.to_string(), mode),
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
