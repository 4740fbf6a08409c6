//! A plugin built for postfach:plugin@9.0.0, an API version no host knows yet.
wit_bindgen::generate!({ path: "wit", world: "provider-adapter" });

struct Future;

impl Guest for Future {
    fn id() -> String {
        postfach::plugin::host::log("hello from the future");
        "future-version".into()
    }
    fn roles(folders: Vec<String>) -> Vec<String> {
        folders
    }
}

export!(Future);
