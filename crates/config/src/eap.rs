//! `[eap]`: the users a connection with `remote_auth = "eap-mschapv2"` accepts,
//! inline (`[eap.users]`, `name = "password"`) or in a file only its owner may
//! read (`users_file`, the same lines), as `psk_file` is.

use std::sync::Arc;

use tern_engine::config::EapUsers;

use crate::error::{ConfigError, Errors, Source};
use crate::psk::{read_secret_file, resolve, SecretFileError};
use crate::reader::{Field, TableReader};
use crate::schema::Context;

/// What `remote_auth` may use: the `[eap]` users, and whether `[radius]` has servers.
pub(crate) struct EapSources {
    pub users: Arc<EapUsers>,
    pub radius: bool,
}

pub(crate) const EAP_KEYS: &[&str] = &["users", "users_file"];

/// The users of `[eap]`: those of `users`, then those of `users_file`. A name
/// given twice is an error at its second place.
pub(crate) fn eap_users(
    ctx: &Context<'_>,
    table: &TableReader<'_>,
    errors: &mut Errors,
) -> Arc<EapUsers> {
    let mut users = EapUsers::default();
    if let Some(inline) = table
        .field("users")
        .and_then(|f| errors.keep(f.named_tables()))
    {
        add_users(&ctx.src, &inline, &mut users, errors);
    }
    if let Some(file) = table.field("users_file") {
        let read = read_users_file(ctx, &file, &mut users, errors);
        errors.keep(read);
    }
    Arc::new(users)
}

fn add_users(src: &Source<'_>, table: &TableReader<'_>, users: &mut EapUsers, errors: &mut Errors) {
    for (name, field) in table.entries() {
        let Some(password) = errors.keep(field.string()) else {
            continue;
        };
        if name.value.is_empty() {
            errors.push(name.error(src, "an EAP user name must not be empty"));
        } else if password.value.is_empty() {
            errors.push(password.error(
                src,
                format!("the password of EAP user `{}` is empty", name.value),
            ));
        } else if !users.add(name.value, password.value) {
            errors.push(name.error(src, format!("EAP user `{}` is given twice", name.value)));
        }
    }
}

/// Reads `users_file`: TOML, `name = "password"` lines; its errors name that file.
fn read_users_file(
    ctx: &Context<'_>,
    field: &Field<'_>,
    users: &mut EapUsers,
    errors: &mut Errors,
) -> Result<(), ConfigError> {
    let text = field.string()?;
    let path = resolve(text.value, ctx.base_dir);
    let shown = path.display().to_string();
    let bytes = read_secret_file(&path).map_err(|e| match e {
        SecretFileError::Unreadable(io) => {
            text.error(&ctx.src, format!("cannot read users_file {shown}: {io}"))
        }
        SecretFileError::OpenToOthers { mode } => text.error(
            &ctx.src,
            SecretFileError::open_to_others("users_file", &shown, mode),
        ),
        SecretFileError::Invalid(m) => text.error(&ctx.src, format!("users_file {shown}: {m}")),
    })?;
    let content = String::from_utf8(bytes)
        .map_err(|_| text.error(&ctx.src, format!("users_file {shown} is not UTF-8 text")))?;
    let src = Source {
        origin: &shown,
        text: &content,
    };
    let document = toml_edit::ImDocument::parse(src.text)
        .map_err(|e| src.error(e.span(), crate::schema::one_line(e.message())))?;
    let table = TableReader::open_root(src, document.as_table());
    add_users(&src, &table, users, errors);
    Ok(())
}
