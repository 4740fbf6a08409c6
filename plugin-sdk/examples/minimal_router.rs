//! A complete router: mail whose subject carries `[Projekt 123-45]` goes to project 123-45.
//! Build: cargo build --release --target wasm32-wasip2 --example minimal_router --features router
use postfach_plugin_sdk::{Decision, Level, MessageMeta, Router, host, register_router};

struct ProjectTag {
    prefix: String,
}

impl Router for ProjectTag {
    const ID: &'static str = "project-tag";

    // Runs once per batch: read options here. `[routing.options] "project-tag.prefix" = "…"`
    fn new() -> Self {
        ProjectTag { prefix: host::option("prefix").unwrap_or_else(|| "[Projekt ".into()) }
    }

    fn route(&self, message: &MessageMeta<'_>) -> Decision {
        let Some(subject) = message.subject else { return Decision::Skip };
        let Some(start) = subject.find(&self.prefix) else { return Decision::Skip };
        let rest = &subject[start + self.prefix.len()..];
        let Some(end) = rest.find(']') else { return Decision::Skip };
        let project = rest[..end].trim();
        if !host::project_exists(project) {
            host::log(Level::Warn, &format!("unknown project {project} in a subject"));
            return Decision::Skip;
        }
        Decision::project(project, format!("subject tag {}{project}]", self.prefix))
    }
}

register_router!(ProjectTag);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::testing::FakeHost;

    use super::*;

    #[test]
    fn routes_tagged_subjects_to_known_projects() {
        let host = FakeHost::new().projects(["123-45"]);
        let decide = |subject: &str| {
            host.run(|| {
                let message = MessageMeta { subject: Some(subject), ..MessageMeta::default() };
                ProjectTag::new().route(&message)
            })
        };
        assert_eq!(decide("Re: [Projekt 123-45] Pläne"), Decision::project("123-45", "subject tag [Projekt 123-45]"));
        assert_eq!(decide("[Projekt 999-99] unbekannt"), Decision::Skip);
        assert_eq!(host.logs().len(), 1, "the unknown project was logged");
    }
}
