//! The server's folder list: LIST, modified UTF-7 decoding, namespace prefix and
//! hierarchy, role assignment, and the set of folders to sync.
//!
//! Role precedence (later wins): name (INBOX) < adapter < attribute < config. Provider
//! adapters plug in their choices through [`RoleHints`]; the config's `[folders]` always
//! has the last word. Each role goes to at most one folder, decided deterministically.

use std::collections::HashMap;

use async_imap::imap_proto::{MailboxDatum, Response};
use async_imap::types::NameAttribute;

use super::error::ImapError;
use super::session::Session;
use super::utf7;
use postfach_config::{FolderSettings, glob_match};
use postfach_model::ListedFolder;
use postfach_model::{Role, RoleSource};

/// One folder as the `LIST "" "*"` response names it, before decoding and role assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The wire name (modified UTF-7).
    pub raw: String,
    /// The hierarchy delimiter as sent, e.g. `/` or `.`; `None` when the server sends NIL (a flat namespace).
    pub delimiter: Option<String>,
    /// Attributes as sent, e.g. `\HasNoChildren`, `\Sent`.
    pub attributes: Vec<String>,
}

/// The longest folder name (wire form, bytes) taken from LIST. Dovecot allows 4096; a
/// longer one is a broken or hostile server, and each copy of it (decoded name, path,
/// store row, the adapter's input) would cost its size again.
const MAX_NAME_BYTES: usize = 4096;

/// Runs `LIST "" "*"`.
pub async fn list_folders(session: &mut Session) -> Result<Vec<ListEntry>, ImapError> {
    let timeout = session.timeout;
    let command = "LIST \"\" \"*\"";
    // The whole listing within the timeout, not each line: an endless LIST must end.
    let fut = async {
        let mut answer = session.send(command).await?;
        let mut entries = Vec::new();
        while let Some(entry) = answer.next(list_entry).await? {
            match entry {
                Some(Ok(entry)) => entries.push(entry),
                Some(Err(bytes)) => {
                    return Err(ImapError::Server(format!(
                        "{command}: the server lists a folder name of {bytes} bytes (at most {MAX_NAME_BYTES} are accepted)"
                    )));
                }
                None => {}
            }
        }
        Ok(entries)
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| ImapError::Timeout { what: "LIST".into(), secs: timeout.as_secs() })?
}

/// A LIST response as a [`ListEntry`]; `Err(length)` for a name longer than [`MAX_NAME_BYTES`].
fn list_entry(response: &Response<'_>) -> Option<Result<ListEntry, usize>> {
    let Response::MailboxData(MailboxDatum::List(list)) = response else { return None };
    if list.name.len() > MAX_NAME_BYTES {
        return Some(Err(list.name.len()));
    }
    Some(Ok(ListEntry {
        raw: list.name.to_string(),
        delimiter: list.delimiter.as_deref().map(str::to_owned),
        attributes: list.name_attributes.iter().map(attribute_text).collect(),
    }))
}

fn attribute_text(a: &NameAttribute<'_>) -> String {
    match a {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        // NameAttribute is non-exhaustive upstream; keep whatever it prints.
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

/// Whether a name is the inbox (RFC 3501: `INBOX` in any case).
pub(crate) fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// Role decisions from the provider adapter, by wire name; `None` when no adapter
/// answered, in which case SPECIAL-USE attributes and the name INBOX decide.
#[derive(Debug, Clone, Default)]
pub struct RoleHints {
    /// `(raw name, role (None = "other"), source)` as the adapter decided.
    pub choices: Option<Vec<(String, Option<Role>, RoleSource)>>,
}

/// Turns LIST entries into stored folder rows: decoded names, prefix-stripped paths,
/// selectability and roles (the daemon does the two steps apart, asking the provider
/// adapter in between).
#[cfg(test)]
fn build_listing(
    entries: &[ListEntry],
    separator_override: Option<char>,
    hints: &RoleHints,
    overrides: &FolderSettings,
) -> Vec<ListedFolder> {
    let mut folders = decode_listing(entries, separator_override);
    assign_roles(&mut folders, hints, overrides);
    folders
}

/// Decodes LIST entries (names, paths, selectability), without roles.
pub fn decode_listing(entries: &[ListEntry], separator_override: Option<char>) -> Vec<ListedFolder> {
    let prefix = namespace_prefix(entries, separator_override);
    entries
        .iter()
        .map(|e| {
            let name = utf7::decode_lossless(&e.raw);
            let sep = separator_override.map(String::from).or_else(|| e.delimiter.clone());
            let path = split_path(&name, prefix.as_deref(), sep.as_deref());
            let selectable = !e
                .attributes
                .iter()
                .any(|a| a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent"));
            ListedFolder {
                name,
                raw: e.raw.clone(),
                delimiter: e.delimiter.clone(),
                path,
                attributes: e.attributes.clone(),
                role: None,
                role_source: None,
                selectable,
            }
        })
        .collect()
}

/// The personal namespace prefix, when every folder but INBOX lives under `INBOX<sep>`
/// (Courier, older Cyrus). Such servers refuse names without it.
pub(crate) fn namespace_prefix(entries: &[ListEntry], separator_override: Option<char>) -> Option<String> {
    let mut others = entries.iter().filter(|e| !is_inbox(&e.raw)).peekable();
    others.peek()?;
    let sep = separator_override.map(String::from).or_else(|| entries.iter().find_map(|e| e.delimiter.clone()))?;
    let prefix = format!("INBOX{sep}");
    others.all(|e| e.raw.len() > prefix.len() && e.raw[..prefix.len()].eq_ignore_ascii_case(&prefix)).then_some(prefix)
}

fn split_path(name: &str, prefix: Option<&str>, sep: Option<&str>) -> Vec<String> {
    if is_inbox(name) {
        return vec!["INBOX".to_owned()];
    }
    let rest = match prefix {
        Some(p) if name.len() > p.len() && name[..p.len()].eq_ignore_ascii_case(p) => &name[p.len()..],
        _ => name,
    };
    match sep {
        Some(s) if !s.is_empty() => rest.split(s).map(str::to_owned).collect(),
        _ => vec![rest.to_owned()],
    }
}

/// Decides roles: the adapter's choices (or, without them, SPECIAL-USE attributes and the
/// name INBOX), then `[folders]`, which always wins. One folder per role.
pub fn assign_roles(folders: &mut [ListedFolder], hints: &RoleHints, overrides: &FolderSettings) {
    for f in folders.iter_mut() {
        f.role = None;
        f.role_source = None;
    }
    match &hints.choices {
        Some(choices) => {
            for (raw, role, source) in choices {
                if let Some(f) = folders.iter_mut().find(|f| &f.raw == raw && f.selectable)
                    && let Some(role) = role
                {
                    f.role = Some(*role);
                    f.role_source = Some(*source);
                }
            }
        }
        None => native_roles(folders),
    }
    for (role, name) in overrides.overrides() {
        let (Some(name), Ok(role)) = (name, role.parse::<Role>()) else { continue };
        let Some(target) = folders.iter().position(|f| f.selectable && same_folder_name(name, f)) else { continue };
        for f in folders.iter_mut() {
            if f.role == Some(role) {
                f.role = None;
                f.role_source = None;
            }
        }
        folders[target].role = Some(role);
        folders[target].role_source = Some(RoleSource::Config);
    }
}

/// Without an adapter: SPECIAL-USE attributes, then the name INBOX; ties to the
/// shallower path, then the alphabetically first name.
fn native_roles(folders: &mut [ListedFolder]) {
    let mut best: HashMap<Role, (u8, usize, String, usize)> = HashMap::new();
    for (idx, f) in folders.iter().enumerate().filter(|(_, f)| f.selectable) {
        let mut offer = |role: Role, rank: u8| {
            let key = (rank, f.path.len(), f.name.clone(), idx);
            let better = best.get(&role).is_none_or(|cur| {
                (std::cmp::Reverse(key.0), key.1, &key.2) < (std::cmp::Reverse(cur.0), cur.1, &cur.2)
            });
            if better {
                best.insert(role, key);
            }
        };
        if is_inbox(&f.name) {
            offer(Role::Inbox, 1);
        }
        for a in &f.attributes {
            if let Some(role) = Role::from_attribute(a) {
                offer(role, 2);
            }
        }
    }
    for role in Role::ALL {
        let Some(&(rank, _, _, idx)) = best.get(&role) else { continue };
        if folders[idx].role.is_none() {
            folders[idx].role = Some(role);
            folders[idx].role_source = Some(if rank == 2 { RoleSource::Attribute } else { RoleSource::Name });
        }
    }
}

/// Whether a configured folder name means this folder: the decoded full name, the wire
/// name, or the path without the namespace prefix (so `Gesendet` finds `INBOX.Gesendet`).
pub fn same_folder_name(configured: &str, f: &ListedFolder) -> bool {
    if is_inbox(configured) && is_inbox(&f.name) {
        return true;
    }
    if configured == f.name || configured == f.raw {
        return true;
    }
    let joined = f.delimiter.as_deref().map(|d| f.path.join(d));
    joined.as_deref() == Some(configured)
}

/// The folders to sync, INBOX first: selectable folders matching `folders.sync` (every
/// selectable folder without it). Patterns match the decoded name or the prefix-less path.
pub fn sync_set<'a>(folders: &'a [ListedFolder], patterns: Option<&[String]>) -> Vec<&'a ListedFolder> {
    let mut set: Vec<&ListedFolder> = folders
        .iter()
        .filter(|f| f.selectable)
        .filter(|f| match patterns {
            None => true,
            Some(ps) => ps.iter().any(|p| {
                glob_match(p, &f.name) || f.delimiter.as_deref().is_some_and(|d| glob_match(p, &f.path.join(d)))
            }),
        })
        .collect();
    set.sort_by_key(|f| (f.role != Some(Role::Inbox), f.name.clone()));
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(raw: &str, delim: &str, attrs: &[&str]) -> ListEntry {
        ListEntry {
            raw: raw.into(),
            delimiter: Some(delim.into()),
            attributes: attrs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn globbing() {
        assert!(glob_match("ProjektPro/*", "ProjektPro/210-01 Musterprojekt"));
        assert!(!glob_match("ProjektPro/*", "ProjektPro"));
        assert!(glob_match("*", "anything/at/all"));
        assert!(glob_match("inbox", "INBOX"));
        assert!(glob_match("Entw*rfe", "Entwürfe"));
        assert!(!glob_match("Gesendet", "Gesendete Elemente"));
        assert!(glob_match("*Elemente", "Gesendete Elemente"));
    }

    #[test]
    fn dot_server_with_inbox_prefix() {
        let entries = vec![
            entry("INBOX", ".", &["\\HasChildren"]),
            entry("INBOX.Entw&APw-rfe", ".", &["\\HasNoChildren"]),
            entry("INBOX.Gesendet", ".", &["\\HasNoChildren", "\\Sent"]),
            entry("INBOX.ProjektPro.210-01 Musterprojekt", ".", &[]),
        ];
        assert_eq!(namespace_prefix(&entries, None).as_deref(), Some("INBOX."));
        let list = build_listing(&entries, None, &RoleHints::default(), &FolderSettings::default());
        assert_eq!(list[1].name, "INBOX.Entwürfe");
        assert_eq!(list[1].path, vec!["Entwürfe"]);
        assert_eq!(list[3].path, vec!["ProjektPro", "210-01 Musterprojekt"]);
        assert_eq!(list[0].role, Some(Role::Inbox));
        assert_eq!(list[2].role, Some(Role::Sent));
        assert_eq!(list[2].role_source, Some(RoleSource::Attribute));
        // A configured name without the prefix finds the folder.
        let overrides = FolderSettings { drafts: Some("Entwürfe".into()), ..Default::default() };
        let list = build_listing(&entries, None, &RoleHints::default(), &overrides);
        assert_eq!(list[1].role, Some(Role::Drafts));
        assert_eq!(list[1].role_source, Some(RoleSource::Config));
    }

    #[test]
    fn no_prefix_when_folders_live_beside_inbox() {
        let entries = vec![entry("INBOX", "/", &[]), entry("Sent", "/", &[])];
        assert_eq!(namespace_prefix(&entries, None), None);
        // The separator override splits paths even when LIST says otherwise.
        let entries = vec![entry("INBOX", "/", &[]), entry("Kunden.Meier", "/", &[])];
        let list = build_listing(&entries, Some('.'), &RoleHints::default(), &FolderSettings::default());
        assert_eq!(list[1].path, vec!["Kunden", "Meier"]);
    }

    #[test]
    fn inbox_in_any_case_and_ties_are_deterministic() {
        let entries = vec![
            entry("Inbox", "/", &[]),
            entry("Sent", "/", &["\\Sent"]),
            entry("Archive/Sent", "/", &["\\Sent"]),
            entry("[Gmail]", "/", &["\\Noselect"]),
        ];
        let list = build_listing(&entries, None, &RoleHints::default(), &FolderSettings::default());
        assert_eq!(list[0].role, Some(Role::Inbox));
        assert_eq!(list[1].role, Some(Role::Sent), "shallower path wins");
        assert_eq!(list[2].role, None);
        assert!(!list[3].selectable);
        let set = sync_set(&list, None);
        assert_eq!(set.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["Inbox", "Archive/Sent", "Sent"]);
    }

    #[test]
    fn config_beats_attribute() {
        let entries = vec![entry("INBOX", "/", &[]), entry("Sent", "/", &["\\Sent"]), entry("Gesendet", "/", &[])];
        let overrides = FolderSettings { sent: Some("Gesendet".into()), ..Default::default() };
        let list = build_listing(&entries, None, &RoleHints::default(), &overrides);
        assert_eq!(list[2].role, Some(Role::Sent));
        assert_eq!(list[2].role_source, Some(RoleSource::Config));
        assert_eq!(list[1].role, None, "one folder per role");
    }
}
