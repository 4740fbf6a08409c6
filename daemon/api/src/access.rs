//! Who may see and send as which account, from each account's `[access]` and the
//! `[users]` table (DESIGN.md, "Integration API"): an admin token sees every account;
//! user U sees account A when U is A's owner, or U or one of U's groups (`group:G`) is in
//! `visible_to`; U may send as A when U or one of U's groups is in `send_as`, or U owns
//! A. An account without `[access]` is visible to admins only. `owner = "group:G"` makes a
//! group account, owned by every member of G.

use std::collections::{BTreeMap, BTreeSet};

use postfach_config::{AccessSettings, Account, UserSettings};

/// The access settings of every configured account and the groups of every user, as the
/// daemon last loaded them. Replaced as a whole on every reload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    /// `[access]` of each account, by account id.
    pub accounts: BTreeMap<String, AccessSettings>,
    /// Each user's groups.
    pub users: BTreeMap<String, BTreeSet<String>>,
    /// Known project numbers (`projects_file`); manual assignments must name one.
    pub projects: Option<std::sync::Arc<std::collections::HashSet<String>>>,
}

impl Directory {
    /// Builds the directory from the loaded accounts, `[users]` and the project list.
    pub fn new<'a>(
        accounts: impl IntoIterator<Item = &'a Account>,
        users: &BTreeMap<String, UserSettings>,
        projects: Option<std::sync::Arc<std::collections::HashSet<String>>>,
    ) -> Self {
        Directory {
            accounts: accounts.into_iter().map(|a| (a.id.clone(), a.file.access.clone())).collect(),
            users: users.iter().map(|(u, s)| (u.clone(), s.groups.iter().cloned().collect())).collect(),
            projects,
        }
    }

    /// Whether `user` (or one of its groups) is named by `entry` (`mm` or `group:bau`).
    fn names(&self, entry: &str, user: &str) -> bool {
        match entry.strip_prefix("group:") {
            Some(group) => self.users.get(user).is_some_and(|groups| groups.contains(group)),
            None => entry == user,
        }
    }

    /// Whether `user` owns the account (directly, or as a member of the owning group).
    fn owns(&self, access: &AccessSettings, user: &str) -> bool {
        access.owner.as_deref().is_some_and(|owner| self.names(owner, user))
    }

    /// Whether a (non-admin) user may see the account's mail.
    pub fn can_see(&self, account: &str, user: &str) -> bool {
        let Some(access) = self.accounts.get(account) else { return false };
        self.owns(access, user) || access.visible_to.iter().any(|e| self.names(e, user))
    }

    /// Whether a (non-admin) user may send as the account.
    pub fn can_send_as(&self, account: &str, user: &str) -> bool {
        let Some(access) = self.accounts.get(account) else { return false };
        self.owns(access, user) || access.send_as.iter().any(|e| self.names(e, user))
    }

    /// The accounts a user may see, among the configured ones.
    pub fn visible_to(&self, user: &str) -> Vec<String> {
        self.accounts.keys().filter(|a| self.can_see(a, user)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        let access = |owner: Option<&str>, visible: &[&str], send: &[&str]| AccessSettings {
            owner: owner.map(str::to_owned),
            visible_to: visible.iter().map(|s| (*s).to_owned()).collect(),
            send_as: send.iter().map(|s| (*s).to_owned()).collect(),
            ..AccessSettings::default()
        };
        let mut d = Directory::default();
        d.accounts.insert("architekt".into(), access(Some("mm"), &["group:bau"], &["mm"]));
        d.accounts.insert("buero".into(), access(Some("group:buero"), &[], &["group:buero"]));
        d.accounts.insert("nobody".into(), access(None, &[], &[]));
        d.users.insert("mm".into(), BTreeSet::new());
        d.users.insert("ab".into(), ["bau".to_owned(), "buero".to_owned()].into());
        d.users.insert("cd".into(), BTreeSet::new());
        d
    }

    #[test]
    fn owners_see_and_send() {
        let d = dir();
        assert!(d.can_see("architekt", "mm") && d.can_send_as("architekt", "mm"));
    }

    #[test]
    fn group_members_see_through_visible_to_but_do_not_send() {
        let d = dir();
        assert!(d.can_see("architekt", "ab"));
        assert!(!d.can_send_as("architekt", "ab"));
    }

    #[test]
    fn a_group_account_belongs_to_every_member() {
        let d = dir();
        assert!(d.can_see("buero", "ab") && d.can_send_as("buero", "ab"));
        assert!(!d.can_see("buero", "mm"));
    }

    #[test]
    fn an_account_without_access_settings_is_for_admins_only() {
        let d = dir();
        for user in ["mm", "ab", "cd"] {
            assert!(!d.can_see("nobody", user));
        }
        assert_eq!(d.visible_to("cd"), Vec::<String>::new());
        assert_eq!(d.visible_to("ab"), vec!["architekt", "buero"]);
    }
}
