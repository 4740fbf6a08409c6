//! The optional project list (`projects_file` in `postfach.toml`): routers may only
//! assign projects named here.
//!
//! ```toml
//! [projects]
//! "210-01" = "Musterprojekt Wohnanlage"
//! "211-07" = "Schule Süd"
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::error::ConfigError;
use super::location::{LineCol, line_col};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectsFile {
    #[serde(default)]
    projects: BTreeMap<String, String>,
}

/// Known projects: number → name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projects(pub BTreeMap<String, String>);

impl Projects {
    /// Reads a project list file; a bad file is an error with its line and column.
    pub fn load(path: &Path) -> Result<Projects, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError::file(path, format!("cannot read: {e}")))?;
        let file: ProjectsFile = toml::from_str(&src).map_err(|e| ConfigError {
            path: path.to_owned(),
            at: e.span().map_or_else(LineCol::default, |s| line_col(&src, s.start)),
            message: e.message().trim().replace('\n', "; "),
        })?;
        Ok(Projects(file.projects))
    }

    /// The project numbers, for the routers' `project-exists`.
    pub fn numbers(&self) -> Arc<HashSet<String>> {
        Arc::new(self.0.keys().cloned().collect())
    }
}
