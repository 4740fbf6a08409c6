//! Creating the system folders an account lacks (`postfachd folders --create-missing`):
//! sent, drafts, trash, junk and archive, named as the provider names them, with the
//! server's separator and namespace prefix, marked with their SPECIAL-USE attribute where
//! the server supports CREATE-SPECIAL-USE, and subscribed.

use super::error::ImapError;
use super::session::Session;
use super::sync::timed;
use super::utf7;
use postfach_model::FolderRow;
use postfach_model::Role;

/// The roles `--create-missing` looks after.
pub const SYSTEM_ROLES: [Role; 5] = [Role::Sent, Role::Drafts, Role::Trash, Role::Junk, Role::Archive];

fn special_use(role: Role) -> &'static str {
    match role {
        Role::Sent => "\\Sent",
        Role::Drafts => "\\Drafts",
        Role::Trash => "\\Trash",
        Role::Junk => "\\Junk",
        Role::Archive => "\\Archive",
        _ => "",
    }
}

/// What `--create-missing` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    /// One line per created folder: `INBOX.Gesendet (sent)`.
    pub created: Vec<String>,
    /// Missing roles the provider names no folder for (Gmail makes its own).
    pub unnamed: Vec<Role>,
}

/// Creates the folders for the system roles no listed folder has. `names` gives the
/// provider's name for a role as path segments (e.g. `["Sent Messages"]`).
pub async fn create_missing(
    session: &mut Session,
    rows: &[FolderRow],
    names: &dyn Fn(Role) -> Option<Vec<String>>,
) -> Result<Created, ImapError> {
    let present: Vec<&FolderRow> = rows.iter().filter(|r| r.present).collect();
    let separator = present
        .iter()
        .find(|r| super::folders::is_inbox(&r.folder.name))
        .and_then(|r| r.folder.delimiter.clone())
        .or_else(|| present.iter().find_map(|r| r.folder.delimiter.clone()))
        .unwrap_or_else(|| "/".to_owned());
    // Courier-style servers keep every folder under `INBOX<sep>`; the listing shows it.
    let prefix = format!("INBOX{separator}");
    let others: Vec<&&FolderRow> = present.iter().filter(|r| !super::folders::is_inbox(&r.folder.name)).collect();
    let mut under_inbox =
        !others.is_empty() && others.iter().all(|r| r.folder.name.to_uppercase().starts_with(&prefix));
    let special = session.has("CREATE-SPECIAL-USE");
    let mut created = Vec::new();
    let mut unnamed = Vec::new();
    for role in SYSTEM_ROLES {
        if present.iter().any(|r| r.folder.role == Some(role)) {
            continue;
        }
        let Some(segments) = names(role).filter(|s| !s.is_empty()) else {
            unnamed.push(role);
            continue;
        };
        let relative = segments.join(&separator);
        let mut attempt = 0;
        loop {
            let name = if under_inbox { format!("{prefix}{relative}") } else { relative.clone() };
            if present.iter().any(|r| r.folder.name.eq_ignore_ascii_case(&name)) {
                // A folder of that name exists without the role; creating it again would fail.
                break;
            }
            let raw = utf7::encode(&name);
            match create(session, &raw, special.then(|| special_use(role))).await {
                Ok(()) => {
                    let t = session.timeout;
                    let _ = timed(t, format!("SUBSCRIBE {raw}"), session.inner.subscribe(&raw)).await;
                    created.push(format!("{name} ({role})"));
                    break;
                }
                // A server that refuses top-level names may want the INBOX prefix.
                Err(ImapError::Command { text, .. }) if attempt == 0 && !under_inbox && text.starts_with("NO ") => {
                    under_inbox = true;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Created { created, unnamed })
}

async fn create(session: &mut Session, raw: &str, special_use: Option<&str>) -> Result<(), ImapError> {
    let t = session.timeout;
    let quoted = format!("\"{}\"", raw.replace('\\', "\\\\").replace('"', "\\\""));
    let command = match special_use {
        Some(attr) if !attr.is_empty() => format!("CREATE {quoted} (USE ({attr}))"),
        _ => format!("CREATE {quoted}"),
    };
    timed(t, command.clone(), session.inner.run_command_and_check_ok(&command))
        .await?
        .map_err(|e| ImapError::command(command, e))
}
