//! The `projektpro-folders` router: a server folder `<root>/<project number> <description>`
//! (e.g. `ProjektPro/210-01 Musterprojekt Wohnanlage`) assigns every message in it to that
//! project. Moving a message into such a folder with any mail client assigns it at the
//! next sync; moving it out removes the assignment (the host routes moved mail again).
//!
//! Options (`[routing.options]`):
//! - `"projektpro-folders.root"`: the parent folder, default `ProjektPro`;
//! - `"projektpro-folders.number"`: the project number pattern (a regular expression),
//!   default `\d{3}-\d{2}`.
//!
//! The folder path comes without the server's namespace prefix, so `/` and `.` separated
//! servers (`INBOX.ProjektPro.210-01 …`) work alike; descriptions may contain anything.

use postfach_plugin_sdk::{Decision, Level, MessageMeta, Router, host, register_router};
use regex_lite::Regex;

/// The router.
pub struct ProjektProFolders {
    root: String,
    number: Option<Regex>,
}

/// The default project number pattern.
pub const DEFAULT_NUMBER: &str = r"\d{3}-\d{2}";

impl ProjektProFolders {
    /// A router for `root` with a number pattern.
    pub fn with(root: &str, number: &str) -> Self {
        // Anchored: the folder name must start with the number, then a space or its end.
        let number = match Regex::new(&format!("^({number})(?: |$)")) {
            Ok(re) => Some(re),
            Err(e) => {
                host::log(Level::Error, &format!("option `number` is not a valid pattern: {e}"));
                None
            }
        };
        ProjektProFolders { root: root.to_owned(), number }
    }
}

impl Router for ProjektProFolders {
    const ID: &'static str = "projektpro-folders";

    fn new() -> Self {
        let root = host::option("root").unwrap_or_else(|| "ProjektPro".into());
        let number = host::option("number").unwrap_or_else(|| DEFAULT_NUMBER.into());
        ProjektProFolders::with(&root, &number)
    }

    fn route(&self, message: &MessageMeta<'_>) -> Decision {
        let Some(number) = &self.number else { return Decision::Skip };
        let path: Vec<&str> = message.folder_path.iter().collect();
        let [root, project_folder, ..] = path.as_slice() else { return Decision::Skip };
        if !root.eq_ignore_ascii_case(&self.root) {
            return Decision::Skip;
        }
        let Some(found) = number.captures(project_folder).and_then(|c| c.get(1)) else { return Decision::Skip };
        let project = found.as_str();
        if !host::project_exists(project) {
            host::log(
                Level::Warn,
                &format!("folder \"{}\" names project {project}, which is not in the project list", message.folder),
            );
            return Decision::Skip;
        }
        Decision::project(project, format!("in folder \"{}\"", message.folder))
    }
}

register_router!(ProjektProFolders);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::Texts;
    use postfach_plugin_sdk::testing::FakeHost;

    use super::*;

    fn in_folder(path: &[&str], folder: &str) -> Decision {
        let path: Vec<&str> = path.to_vec();
        let m = MessageMeta { folder, folder_path: Texts::from(path.as_slice()), ..MessageMeta::default() };
        ProjektProFolders::with("ProjektPro", DEFAULT_NUMBER).route(&m)
    }

    #[test]
    fn project_folders_with_both_separators_and_umlauts() {
        let d =
            in_folder(&["ProjektPro", "210-01 Musterprojekt Wohnanlage"], "ProjektPro/210-01 Musterprojekt Wohnanlage");
        assert_eq!(d, Decision::project("210-01", "in folder \"ProjektPro/210-01 Musterprojekt Wohnanlage\""));
        let d = in_folder(&["ProjektPro", "211-07 Schule Süd"], "INBOX.ProjektPro.211-07 Schule Süd");
        assert!(matches!(d, Decision::Project(ref a) if a.project == "211-07"), "{d:?}");
        assert_eq!(
            in_folder(&["ProjektPro", "211-07"], "ProjektPro/211-07"),
            Decision::project("211-07", "in folder \"ProjektPro/211-07\"")
        );
    }

    #[test]
    fn other_folders_are_skipped() {
        assert_eq!(in_folder(&["INBOX"], "INBOX"), Decision::Skip);
        assert_eq!(in_folder(&["ProjektPro"], "ProjektPro"), Decision::Skip);
        assert_eq!(in_folder(&["Archiv", "210-01 Alt"], "Archiv/210-01 Alt"), Decision::Skip);
        assert_eq!(in_folder(&["ProjektPro", "Allgemein"], "ProjektPro/Allgemein"), Decision::Skip);
        assert_eq!(in_folder(&["ProjektPro", "210-011 zu lang"], "ProjektPro/210-011 zu lang"), Decision::Skip);
    }

    #[test]
    fn options_and_project_list() {
        let host = FakeHost::new().option("root", "Projekte").option("number", r"P\d+").projects(["P12"]);
        let decide = |path: &[&str]| {
            host.run(|| {
                let m = MessageMeta { folder_path: Texts::from(path), ..MessageMeta::default() };
                ProjektProFolders::new().route(&m)
            })
        };
        assert!(matches!(decide(&["Projekte", "P12 Neubau"]), Decision::Project(ref a) if a.project == "P12"));
        assert_eq!(decide(&["Projekte", "P13 Unbekannt"]), Decision::Skip, "not in the project list");
        assert!(host.logs().iter().any(|(_, m)| m.contains("P13")));
    }
}
