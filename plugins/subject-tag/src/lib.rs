//! The `subject-tag` router: a pattern in the subject names the project, e.g.
//! `Re: [P-210-01] Bauzeitenplan` → `210-01`.
//!
//! Option `"subject-tag.pattern"`: a regular expression whose first capture group is the
//! project; default `\[P-(\d{3}-\d{2})\]`. Only projects in the project list (when one is
//! configured) are assigned.

use postfach_plugin_sdk::{Decision, Level, MessageMeta, Router, host, register_router};
use regex_lite::Regex;

/// The router.
pub struct SubjectTag {
    pattern: Option<Regex>,
}

/// The default pattern.
pub const DEFAULT_PATTERN: &str = r"\[P-(\d{3}-\d{2})\]";

impl SubjectTag {
    /// A router for a pattern.
    pub fn with(pattern: &str) -> Self {
        match Regex::new(pattern) {
            Ok(re) if re.captures_len() > 1 => SubjectTag { pattern: Some(re) },
            Ok(_) => {
                host::log(Level::Error, "option `pattern` needs a capture group for the project, e.g. \\[P-(\\d+)\\]");
                SubjectTag { pattern: None }
            }
            Err(e) => {
                host::log(Level::Error, &format!("option `pattern` is not a valid pattern: {e}"));
                SubjectTag { pattern: None }
            }
        }
    }
}

impl Router for SubjectTag {
    const ID: &'static str = "subject-tag";

    fn new() -> Self {
        SubjectTag::with(&host::option("pattern").unwrap_or_else(|| DEFAULT_PATTERN.into()))
    }

    fn route(&self, message: &MessageMeta<'_>) -> Decision {
        let (Some(pattern), Some(subject)) = (&self.pattern, message.subject) else { return Decision::Skip };
        let Some(caps) = pattern.captures(subject) else { return Decision::Skip };
        let (Some(tag), Some(project)) = (caps.get(0), caps.get(1)) else { return Decision::Skip };
        let project = project.as_str();
        if !host::project_exists(project) {
            host::log(
                Level::Warn,
                &format!("subject tag {} names project {project}, which is not in the project list", tag.as_str()),
            );
            return Decision::Skip;
        }
        Decision::project(project, format!("subject tag {}", tag.as_str()))
    }
}

register_router!(SubjectTag);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::testing::FakeHost;

    use super::*;

    fn subject(s: &str) -> Decision {
        SubjectTag::with(DEFAULT_PATTERN).route(&MessageMeta { subject: Some(s), ..MessageMeta::default() })
    }

    #[test]
    fn default_pattern() {
        assert_eq!(subject("Re: [P-210-01] Statik"), Decision::project("210-01", "subject tag [P-210-01]"));
        assert_eq!(subject("P-210-01 ohne Klammern"), Decision::Skip);
        assert_eq!(subject("[P-21-01] zu kurz"), Decision::Skip);
    }

    #[test]
    fn custom_pattern_and_project_list() {
        let host = FakeHost::new().option("pattern", r"Az\. (\d+/\d+)").projects(["123/26"]);
        let run =
            |s: &str| host.run(|| SubjectTag::new().route(&MessageMeta { subject: Some(s), ..MessageMeta::default() }));
        assert_eq!(run("Klage Az. 123/26"), Decision::project("123/26", "subject tag Az. 123/26"));
        assert_eq!(run("Klage Az. 999/26"), Decision::Skip);
        let no_group = FakeHost::new().option("pattern", r"\[P-\d+\]");
        no_group.run(SubjectTag::new);
        assert!(no_group.logs().iter().any(|(_, m)| m.contains("capture group")));
    }
}
