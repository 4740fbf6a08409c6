//! `postfachd test ACCOUNT`: the account test (see [`crate::probe`]); exits 1 when a step
//! fails.

use super::output::{self, Table};
use super::{CliError, load_account, open_store};
use crate::config::Config;

/// Runs the account test and prints its steps.
pub async fn run(config: &Config, id: &str, json: bool) -> Result<(), CliError> {
    let account = load_account(config, id).await?;
    let plugins = super::plugin_host(config).await?;
    let store = open_store(config).await?;
    let steps = crate::probe::run(&store, plugins, &account).await;
    let failed = steps.iter().any(|s| !s.ok);
    if json {
        output::json(&steps);
    } else {
        let mut table = Table::new(&["", "STEP", "DETAIL"]);
        for s in &steps {
            table.row(vec![if s.ok { "ok".into() } else { "FAIL".into() }, s.step.clone(), s.detail.clone()]);
        }
        table.print();
    }
    if failed { Err(CliError::Reported) } else { Ok(()) }
}
