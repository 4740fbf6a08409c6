//! Standard folder-role detection, the default of [`crate::ProviderAdapter::roles`] and
//! the fallback of every bundled adapter.
//!
//! Order: SPECIAL-USE attributes (also when the server does not advertise the
//! capability) and XLIST attribute names; then INBOX; then the folder's own name (the
//! last path segment, decoded, without the namespace prefix) matched exactly and
//! case-insensitively against names used by mail providers and clients in several
//! languages. Substrings never match (`Entwurf` does not find `Entwürfe`), and
//! `Postausgang`/`Outbox` is the outbox, never Sent. Each role goes to one folder and each
//! folder gets one role; ties go to the attribute, then the shallower path, then the
//! alphabetically first name.

use std::collections::BTreeSet;

use crate::{Folder, FolderName, Role, RoleChoice, RoleSource};

/// The German system folder names (Gesendet, Entwürfe, Papierkorb, Spam, Archiv): the
/// default of [`crate::ProviderAdapter::folder_names`].
pub fn german_folder_names() -> Vec<FolderName> {
    [
        (Role::Sent, "Gesendet"),
        (Role::Drafts, "Entwürfe"),
        (Role::Trash, "Papierkorb"),
        (Role::Junk, "Spam"),
        (Role::Archive, "Archiv"),
    ]
    .into_iter()
    .map(|(role, name)| FolderName::top(role, name))
    .collect()
}

/// The system folders to create, taken from the same table an adapter gives
/// [`from_table`]: for sent, drafts, trash, junk and archive, the first name the table
/// lists for the role (a path may use `/`: `"[Gmail]/Sent Mail"`), then `extra` for roles
/// the table leaves out. Roles named nowhere are not created. So an adapter states each
/// name once:
///
/// ```
/// use postfach_plugin_sdk::{FolderName, Role, folders};
///
/// const TABLE: &[(&str, Role)] = &[("Gesendet", Role::Sent), ("Gelöscht", Role::Trash), ("OUTBOX", Role::Outbox)];
/// let names = folders::names_from_table(TABLE, &[(Role::Archive, "Archiv")]);
/// assert_eq!(names, [
///     FolderName::top(Role::Sent, "Gesendet"),
///     FolderName::top(Role::Trash, "Gelöscht"),
///     FolderName::top(Role::Archive, "Archiv"),
/// ]);
/// ```
pub fn names_from_table(table: &[(&str, Role)], extra: &[(Role, &str)]) -> Vec<FolderName> {
    const CREATABLE: [Role; 5] = [Role::Sent, Role::Drafts, Role::Trash, Role::Junk, Role::Archive];
    CREATABLE
        .into_iter()
        .filter_map(|role| {
            let name = table
                .iter()
                .find(|(_, r)| *r == role)
                .map(|(name, _)| *name)
                .or_else(|| extra.iter().find(|(r, _)| *r == role).map(|(_, name)| *name))?;
            Some(FolderName { role, path: name.split('/').map(str::to_owned).collect() })
        })
        .collect()
}

/// The role a SPECIAL-USE (RFC 6154) or XLIST attribute stands for.
pub fn attribute_role(attribute: &str) -> Option<Role> {
    Some(match attribute.to_ascii_lowercase().as_str() {
        "\\sent" => Role::Sent,
        "\\drafts" => Role::Drafts,
        "\\trash" => Role::Trash,
        "\\junk" | "\\spam" => Role::Junk,
        "\\archive" => Role::Archive,
        "\\all" | "\\allmail" => Role::All,
        "\\flagged" | "\\starred" => Role::Flagged,
        "\\important" => Role::Important,
        "\\inbox" => Role::Inbox,
        _ => return None,
    })
}

/// Names per role, lower case. German first (the product's home), then English, French,
/// Spanish, Italian, Dutch, Portuguese, Scandinavian and Polish variants.
const NAMES: &[(Role, &[&str])] = &[
    (
        Role::Sent,
        &[
            "gesendet",
            "gesendete elemente",
            "gesendete objekte",
            "gesendete nachrichten",
            "gesendete e-mails",
            "sent",
            "sent items",
            "sent mail",
            "sent messages",
            "sent-mail",
            "envoyés",
            "éléments envoyés",
            "messages envoyés",
            "enviados",
            "elementos enviados",
            "inviati",
            "posta inviata",
            "verzonden",
            "verzonden items",
            "itens enviados",
            "skickat",
            "sendt",
            "wysłane",
        ],
    ),
    (
        Role::Drafts,
        &[
            "entwürfe",
            "entwurf",
            "drafts",
            "draft",
            "brouillons",
            "borradores",
            "bozze",
            "concepten",
            "rascunhos",
            "utkast",
            "kladder",
            "wersje robocze",
        ],
    ),
    (
        Role::Trash,
        &[
            "papierkorb",
            "gelöscht",
            "gelöschte elemente",
            "gelöschte objekte",
            "gelöschte nachrichten",
            "trash",
            "deleted",
            "deleted items",
            "deleted messages",
            "bin",
            "corbeille",
            "éléments supprimés",
            "papelera",
            "elementos eliminados",
            "cestino",
            "posta eliminata",
            "prullenbak",
            "verwijderde items",
            "lixeira",
            "papperskorgen",
            "kosz",
        ],
    ),
    (
        Role::Junk,
        &[
            "spam",
            "spamverdacht",
            "junk",
            "junk-e-mail",
            "junk e-mail",
            "junk email",
            "junk mail",
            "bulk mail",
            "unerwünscht",
            "courrier indésirable",
            "indésirables",
            "correo no deseado",
            "posta indesiderata",
            "ongewenste e-mail",
            "lixo eletrônico",
            "skräppost",
        ],
    ),
    (Role::Archive, &["archiv", "archive", "archives", "archivo", "archivio", "archief", "arquivo", "arkiv"]),
    (Role::Outbox, &["postausgang", "outbox", "boîte d'envoi", "bandeja de salida", "posta in uscita", "postvak uit"]),
    (Role::All, &["all mail", "alle nachrichten", "tous les messages", "todos"]),
    (Role::Flagged, &["starred", "markiert", "flagged", "suivis"]),
    (Role::Important, &["important", "wichtig"]),
];

/// The role a folder's own name stands for, if it is a known name.
pub fn name_role(leaf: &str) -> Option<Role> {
    let leaf = leaf.trim().to_lowercase();
    NAMES.iter().find(|(_, names)| names.contains(&leaf.as_str())).map(|(role, _)| *role)
}

/// The standard roles of a folder list (see the module docs).
pub fn standard_roles(folders: &[Folder]) -> Vec<RoleChoice> {
    let mut candidates: Vec<(Candidate, RoleChoice)> = Vec::new();
    for (index, f) in folders.iter().enumerate().filter(|(_, f)| f.is_selectable()) {
        let rank = |source: RoleSource| Candidate {
            source_rank: source_rank(source),
            depth: f.path.len(),
            name: f.name.clone(),
            index,
        };
        for a in &f.attributes {
            if let Some(role) = attribute_role(a) {
                let reason = format!("attribute {a}");
                candidates.push((rank(RoleSource::Attribute), choice(f, role, RoleSource::Attribute, reason)));
            }
        }
        if f.is_inbox() {
            candidates.push((rank(RoleSource::Name), choice(f, Role::Inbox, RoleSource::Name, "named INBOX".into())));
        } else if let Some(role) = name_role(f.leaf()) {
            let reason = format!("named \"{}\"", f.leaf());
            candidates.push((rank(RoleSource::Name), choice(f, role, RoleSource::Name, reason)));
        }
    }
    pick(candidates, &BTreeSet::new(), &BTreeSet::new())
}

/// Roles from a provider's table of folder names: each entry names a folder by its full
/// decoded name (`[Google Mail]/Gesendet`) or by its path without the namespace prefix,
/// compared case-insensitively. A folder that also carries the matching SPECIAL-USE
/// attribute is reported with the source `attribute`, otherwise `adapter`. Earlier table
/// entries win when two would give the same role; then [`fill_in`] completes the rest.
pub fn from_table(folders: &[Folder], table: &[(&str, Role)], provider: &str) -> Vec<RoleChoice> {
    let mut decided: Vec<RoleChoice> = Vec::new();
    for (name, role) in table {
        let Some(f) = folders.iter().find(|f| f.is_selectable() && names_folder(name, f)) else { continue };
        if decided.iter().any(|c| c.folder == f.raw || (c.role == *role && *role != Role::Other)) {
            continue;
        }
        let has_attribute = f.attributes.iter().any(|a| attribute_role(a) == Some(*role));
        let (source, reason) = if has_attribute {
            (RoleSource::Attribute, format!("{provider}'s {role:?} folder, confirmed by its attribute"))
        } else {
            (RoleSource::Adapter, format!("{provider}'s {role:?} folder"))
        };
        decided.push(RoleChoice { folder: f.raw.clone(), role: *role, source, reason });
    }
    fill_in(decided, folders)
}

fn names_folder(name: &str, f: &Folder) -> bool {
    if f.name.to_lowercase() == name.to_lowercase() {
        return true;
    }
    let sep = f.delimiter.as_deref().unwrap_or("/");
    f.path.join(sep).to_lowercase() == name.to_lowercase()
}

/// Adds the standard roles for the roles and folders `decided` leaves open: how an
/// adapter combines its own table with the standard detection.
pub fn fill_in(decided: Vec<RoleChoice>, folders: &[Folder]) -> Vec<RoleChoice> {
    let taken_roles: BTreeSet<Role> = decided.iter().map(|c| c.role).collect();
    let taken_folders: BTreeSet<String> = decided.iter().map(|c| c.folder.clone()).collect();
    let rest = standard_roles(folders);
    let mut all = decided;
    all.extend(rest.into_iter().filter(|c| !taken_roles.contains(&c.role) && !taken_folders.contains(&c.folder)));
    all
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    source_rank: u8,
    depth: usize,
    name: String,
    index: usize,
}

impl Candidate {
    /// Better candidates sort first.
    fn key(&self) -> (std::cmp::Reverse<u8>, usize, &str, usize) {
        (std::cmp::Reverse(self.source_rank), self.depth, &self.name, self.index)
    }
}

fn source_rank(source: RoleSource) -> u8 {
    match source {
        RoleSource::Adapter => 3,
        RoleSource::Attribute => 2,
        RoleSource::Name => 1,
    }
}

fn choice(f: &Folder, role: Role, source: RoleSource, reason: String) -> RoleChoice {
    RoleChoice { folder: f.raw.clone(), role, source, reason }
}

/// Greedy assignment in candidate order: one folder per role, one role per folder.
fn pick(
    mut candidates: Vec<(Candidate, RoleChoice)>,
    roles: &BTreeSet<Role>,
    folders: &BTreeSet<String>,
) -> Vec<RoleChoice> {
    candidates.sort_by(|a, b| a.0.key().cmp(&b.0.key()).then(a.1.role.cmp(&b.1.role)));
    let mut taken_roles = roles.clone();
    let mut taken_folders = folders.clone();
    let mut out = Vec::new();
    for (_, c) in candidates {
        if taken_roles.contains(&c.role) || taken_folders.contains(&c.folder) {
            continue;
        }
        taken_roles.insert(c.role);
        taken_folders.insert(c.folder.clone());
        out.push(c);
    }
    out.sort_by_key(|a| a.role);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(folders: &[Folder]) -> Vec<(String, Role, RoleSource)> {
        standard_roles(folders).into_iter().map(|c| (c.folder, c.role, c.source)).collect()
    }

    #[test]
    fn german_names_without_attributes() {
        let folders = [
            Folder::new("INBOX", &[]),
            Folder::new("Gesendet", &[]),
            Folder::new("Entwürfe", &[]),
            Folder::new("Papierkorb", &[]),
            Folder::new("Spamverdacht", &[]),
            Folder::new("Postausgang", &[]),
            Folder::new("Archiv", &[]),
        ];
        let got = roles(&folders);
        for (name, role) in [
            ("INBOX", Role::Inbox),
            ("Gesendet", Role::Sent),
            ("Entwürfe", Role::Drafts),
            ("Papierkorb", Role::Trash),
            ("Spamverdacht", Role::Junk),
            ("Postausgang", Role::Outbox),
            ("Archiv", Role::Archive),
        ] {
            assert!(got.contains(&(name.to_owned(), role, RoleSource::Name)), "{name}: {got:?}");
        }
    }

    #[test]
    fn known_bugs_of_other_clients_are_not_copied() {
        assert_eq!(name_role("Cestino"), Some(Role::Trash));
        assert_eq!(name_role("Borradores"), Some(Role::Drafts));
        assert_eq!(name_role("Postausgang"), Some(Role::Outbox));
        assert_eq!(name_role("OUTBOX"), Some(Role::Outbox));
        assert_eq!(name_role("Entwürfe 2019"), None, "exact names only");
        assert_eq!(name_role("Gesendet von Max"), None);
    }

    #[test]
    fn attribute_beats_name_and_shallow_beats_deep() {
        let folders = [
            Folder::new("Sent", &[]),
            Folder::new("Gesendete Elemente", &["\\Sent"]),
            Folder::new("Archiv/Alt/Papierkorb", &[]),
            Folder::new("Papierkorb", &[]),
            Folder::new("[Gmail]", &["\\Noselect"]),
        ];
        let got = roles(&folders);
        assert!(got.contains(&("Gesendete Elemente".into(), Role::Sent, RoleSource::Attribute)), "{got:?}");
        assert!(got.contains(&("Papierkorb".into(), Role::Trash, RoleSource::Name)), "{got:?}");
        assert!(!got.iter().any(|c| c.0 == "Sent"), "one folder per role: {got:?}");
    }

    #[test]
    fn xlist_attribute_names() {
        let folders = [
            Folder::new("Inbox", &["\\Inbox"]),
            Folder::new("[Gmail]/All Mail", &["\\AllMail"]),
            Folder::new("[Gmail]/Spam", &["\\Spam"]),
            Folder::new("[Gmail]/Starred", &["\\Starred"]),
        ];
        let got = roles(&folders);
        assert!(got.contains(&("Inbox".into(), Role::Inbox, RoleSource::Attribute)), "{got:?}");
        assert!(got.contains(&("[Gmail]/All Mail".into(), Role::All, RoleSource::Attribute)), "{got:?}");
        assert!(got.contains(&("[Gmail]/Spam".into(), Role::Junk, RoleSource::Attribute)), "{got:?}");
        assert!(got.contains(&("[Gmail]/Starred".into(), Role::Flagged, RoleSource::Attribute)), "{got:?}");
    }

    #[test]
    fn results_do_not_depend_on_listing_order() {
        let mut folders = vec![
            Folder::new("Trash", &[]),
            Folder::new("Papierkorb", &[]),
            Folder::new("INBOX", &[]),
            Folder::new("Deleted Items", &[]),
        ];
        let a = standard_roles(&folders);
        folders.reverse();
        let b = standard_roles(&folders);
        assert_eq!(a, b);
        assert_eq!(a.iter().find(|c| c.role == Role::Trash).map(|c| c.folder.as_str()), Some("Deleted Items"));
    }

    #[test]
    fn table_names_full_or_prefixless_and_confirms_attributes() {
        let mut sent = Folder::new("INBOX.Gesendet", &["\\Sent"]);
        sent.path = vec!["Gesendet".into()];
        sent.delimiter = Some(".".into());
        let mut notes = Folder::new("INBOX.Notes", &[]);
        notes.path = vec!["Notes".into()];
        let folders = [Folder::new("INBOX", &[]), sent, notes, Folder::new("Papierkorb", &[])];
        let got = from_table(&folders, &[("Gesendet", Role::Sent), ("INBOX.Notes", Role::Other)], "Test");
        let find = |raw: &str| got.iter().find(|c| c.folder == raw).map(|c| (c.role, c.source));
        assert_eq!(find("INBOX.Gesendet"), Some((Role::Sent, RoleSource::Attribute)));
        assert_eq!(find("INBOX.Notes"), Some((Role::Other, RoleSource::Adapter)));
        assert_eq!(find("Papierkorb"), Some((Role::Trash, RoleSource::Name)), "filled in by name");
        assert_eq!(find("INBOX"), Some((Role::Inbox, RoleSource::Name)));
    }

    #[test]
    fn fill_in_keeps_adapter_choices() {
        let folders = [Folder::new("INBOX", &[]), Folder::new("Sent Messages", &[]), Folder::new("Sent", &["\\Sent"])];
        let mine = vec![RoleChoice {
            folder: "Sent Messages".into(),
            role: Role::Sent,
            source: RoleSource::Adapter,
            reason: "iCloud's sent folder".into(),
        }];
        let all = fill_in(mine, &folders);
        assert_eq!(all.iter().filter(|c| c.role == Role::Sent).count(), 1);
        assert!(all.iter().any(|c| c.folder == "INBOX" && c.role == Role::Inbox));
    }
}
