//! The `sender-map` router: the sender's address or domain names the project.
//!
//! Option `"sender-map.map"`: a table from address or domain to project, e.g.
//! `"sender-map.map" = { "bauamt@musterstadt.de" = "211-07", "kraft-bau.de" = "210-01" }`.
//! An exact address wins over its domain, and a domain covers its subdomains
//! (`kraft-bau.de` matches `mail.kraft-bau.de`). Matching ignores case.

use std::collections::BTreeMap;

use postfach_plugin_sdk::{Decision, Level, MessageMeta, Router, host, register_router};

/// The router.
pub struct SenderMap {
    map: BTreeMap<String, String>,
}

impl SenderMap {
    /// A router for a table (keys are lower-cased).
    pub fn with(map: BTreeMap<String, String>) -> Self {
        SenderMap { map: map.into_iter().map(|(k, v)| (k.trim().trim_start_matches('@').to_lowercase(), v)).collect() }
    }

    fn lookup(&self, address: &str) -> Option<(&str, &str)> {
        if let Some((key, project)) = self.map.get_key_value(address) {
            return Some((key, project));
        }
        let mut domain = address.rsplit_once('@')?.1;
        loop {
            if let Some((key, project)) = self.map.get_key_value(domain) {
                return Some((key, project));
            }
            domain = domain.split_once('.')?.1;
        }
    }
}

/// The address inside `Name <addr>` (or the whole text), lower-cased.
fn address_of(from: &str) -> String {
    let inner = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from,
    };
    inner.trim().to_lowercase()
}

impl Router for SenderMap {
    const ID: &'static str = "sender-map";

    fn new() -> Self {
        let map = match host::option("map") {
            None => BTreeMap::new(),
            Some(json) => serde_json::from_str::<BTreeMap<String, String>>(&json).unwrap_or_else(|e| {
                host::log(Level::Error, &format!("option `map` must be a table of address or domain = project: {e}"));
                BTreeMap::new()
            }),
        };
        SenderMap::with(map)
    }

    fn route(&self, message: &MessageMeta<'_>) -> Decision {
        for from in message.from.iter() {
            let address = address_of(from);
            if let Some((key, project)) = self.lookup(&address) {
                if !host::project_exists(project) {
                    host::log(
                        Level::Warn,
                        &format!("sender {address} maps to project {project}, which is not in the project list"),
                    );
                    continue;
                }
                return Decision::project(project, format!("sender {address} matches \"{key}\""));
            }
        }
        Decision::Skip
    }
}

register_router!(SenderMap);

#[cfg(test)]
mod tests {
    use postfach_plugin_sdk::Texts;
    use postfach_plugin_sdk::testing::FakeHost;

    use super::*;

    #[test]
    fn address_beats_domain_and_subdomains_match() {
        let host = FakeHost::new().option(
            "map",
            r#"{"bauamt@musterstadt.de": "211-07", "musterstadt.de": "200-00", "@kraft-bau.de": "210-01"}"#,
        );
        let route = |from: &'static [&'static str]| {
            host.run(|| SenderMap::new().route(&MessageMeta { from: Texts::from(from), ..MessageMeta::default() }))
        };
        assert_eq!(
            route(&["Bauamt <BauAmt@Musterstadt.de>"]),
            Decision::project("211-07", "sender bauamt@musterstadt.de matches \"bauamt@musterstadt.de\"")
        );
        assert_eq!(
            route(&["kaemmerei@musterstadt.de"]),
            Decision::project("200-00", "sender kaemmerei@musterstadt.de matches \"musterstadt.de\"")
        );
        assert_eq!(
            route(&["info@mail.kraft-bau.de"]),
            Decision::project("210-01", "sender info@mail.kraft-bau.de matches \"kraft-bau.de\"")
        );
        assert_eq!(route(&["someone@example.org"]), Decision::Skip);
    }

    #[test]
    fn a_broken_table_is_reported() {
        let host = FakeHost::new().option("map", "kein json");
        host.run(SenderMap::new);
        assert!(host.logs().iter().any(|(l, m)| *l == Level::Error && m.contains("option `map`")));
    }
}
