//! `postfachd folders ACCOUNT [--refresh]`: the folder list with decoded names and roles.
#![allow(clippy::print_stderr)]

use serde::Serialize;

use super::output::{self, Table};
use super::{CliError, load_account, open_store};
use crate::config::Config;

use crate::model::{Role, RoleSource};
use crate::store::FolderRow;

/// One line of `postfachd folders --json`.
#[derive(Debug, Serialize)]
pub struct FolderJson {
    name: String,
    raw: String,
    path: Vec<String>,
    delimiter: Option<String>,
    attributes: Vec<String>,
    role: Option<&'static str>,
    role_source: Option<&'static str>,
    messages: u64,
    selectable: bool,
    uidvalidity: Option<u32>,
    uidnext: Option<u32>,
}

/// Lists (and with `refresh`, first loads) an account's folders.
pub async fn run(config: &Config, id: &str, refresh: bool, create_missing: bool, json: bool) -> Result<(), CliError> {
    let account = load_account(config, id).await?;
    let store = open_store(config).await?;
    let rows: Vec<FolderRow> = if refresh || create_missing {
        let plugins = super::plugin_host(config).await?;
        let crate::pass::Connected { mut session, adapter, chosen, .. } =
            crate::pass::connect(&account, Some(&plugins), &store).await?;
        let mut result = crate::pass::refresh_folders(&mut session, &store, &account, adapter.as_ref()).await;
        if create_missing && let Ok((rows, _)) = &result {
            match crate::pass::create_missing_for(&mut session, &plugins, adapter.as_ref(), rows).await {
                Ok(done) => {
                    for c in &done.created {
                        eprintln!("created {c}");
                    }
                    if !done.unnamed.is_empty() {
                        let roles: Vec<&str> = done.unnamed.iter().map(|r| r.as_str()).collect();
                        eprintln!(
                            "not created: {} (the provider makes these itself; the account's adapter names no folder for them)",
                            roles.join(", ")
                        );
                    }
                    if done.created.is_empty() && done.unnamed.is_empty() {
                        eprintln!("every system folder exists already");
                    }
                    if !done.created.is_empty() {
                        result = crate::pass::refresh_folders(&mut session, &store, &account, adapter.as_ref()).await;
                    }
                }
                Err(e) => result = Err(e),
            }
        }
        session.logout().await;
        let (rows, adapter_error) = result?;
        let adapter_id = chosen.map(|c| c.id);
        store.set_adapter(id, adapter_id.as_deref()).await?;
        if let Some(e) = adapter_error {
            eprintln!("warning: {e}");
        }
        rows
    } else {
        store.folders(id).await?
    };
    let rows: Vec<&FolderRow> = rows.iter().filter(|r| r.present).collect();
    if rows.is_empty() && !refresh {
        eprintln!("no folders stored for `{id}` yet; load them with `postfachd folders {id} --refresh`");
    }
    let out: Vec<FolderJson> = rows
        .iter()
        .map(|r| FolderJson {
            name: r.folder.name.clone(),
            raw: r.folder.raw.clone(),
            path: r.folder.path.clone(),
            delimiter: r.folder.delimiter.clone(),
            attributes: r.folder.attributes.clone(),
            role: r.folder.role.map(Role::as_str),
            role_source: r.folder.role_source.map(RoleSource::as_str),
            messages: r.messages,
            selectable: r.folder.selectable,
            uidvalidity: r.uidvalidity,
            uidnext: r.uidnext,
        })
        .collect();
    if json {
        output::json(&out);
        return Ok(());
    }
    let mut table = Table::new(&["NAME", "ROLE", "SOURCE", "MESSAGES", "DELIM", "RAW", "ATTRIBUTES"]);
    for f in &out {
        table.row(vec![
            f.name.clone(),
            f.role.unwrap_or("-").to_owned(),
            f.role_source.unwrap_or("-").to_owned(),
            if f.selectable { f.messages.to_string() } else { "-".into() },
            f.delimiter.clone().unwrap_or_else(|| "NIL".into()),
            f.raw.clone(),
            f.attributes.join(" "),
        ]);
    }
    table.print();
    Ok(())
}
