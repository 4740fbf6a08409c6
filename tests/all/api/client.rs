//! A blocking HTTP client for the daemon's API, and the daemon set-up most API tests
//! share: users and groups in `postfach.toml`, tokens made with `postfachd token create`.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Daemon, Env};

/// The API of a running daemon.
pub struct Api {
    pub base: String,
    client: Client,
}

/// An answer: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts an RFC 9457 problem with this status; returns its detail.
    pub fn problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.content_type, "application/problem+json", "body: {}", String::from_utf8_lossy(&self.body));
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().unwrap().starts_with("https://"), "{p}");
        assert!(p["title"].is_string(), "{p}");
        p["detail"].as_str().unwrap().to_owned()
    }

    /// Asserts a 2xx; returns the JSON body.
    pub fn ok(&self) -> Value {
        assert!(self.status.is_success(), "{}: {}", self.status, String::from_utf8_lossy(&self.body));
        self.json()
    }
}

impl Api {
    /// The API of the daemon running on `env` (its address from `data/api.addr`).
    pub fn of(env: &Env, daemon: &Daemon) -> Api {
        let file = env.path().join("data/api.addr");
        let addr = daemon.wait_for("the API's address", Duration::from_secs(20), || {
            std::fs::read_to_string(&file).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
        });
        Api {
            base: format!("http://{addr}"),
            client: Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
        }
    }

    pub fn with_client(base: String, client: Client) -> Api {
        Api { base, client }
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::blocking::RequestBuilder {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    pub fn reply(response: Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        Reply { status, content_type, headers, body: response.bytes().unwrap().to_vec() }
    }

    pub fn get(&self, token: &str, path: &str) -> Reply {
        Api::reply(self.request(Method::GET, path, Some(token)).send().unwrap())
    }

    pub fn get_anon(&self, path: &str) -> Reply {
        Api::reply(self.request(Method::GET, path, None).send().unwrap())
    }

    pub fn send(&self, method: Method, token: &str, path: &str, body: &Value) -> Reply {
        Api::reply(self.request(method, path, Some(token)).json(body).send().unwrap())
    }

    pub fn post(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, token, path, body)
    }

    pub fn delete(&self, token: &str, path: &str) -> Reply {
        Api::reply(self.request(Method::DELETE, path, Some(token)).send().unwrap())
    }
}

/// Appends users (and groups) to `postfach.toml`.
pub fn users(env: &Env, table: &str) {
    let path = env.path().join("postfach.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(path, format!("{toml}\n[users]\n{table}\n")).unwrap();
}

/// `postfachd token create … --json`; returns the token.
pub fn token(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    let created = env.json(&all);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pf_"), "{created}");
    token
}

/// Waits for an account's state over the API.
pub fn wait_state(api: &Api, daemon: &Daemon, token: &str, account: &str, state: &str) {
    daemon.wait_for(&format!("{account} {state}"), Duration::from_secs(30), || {
        (api.get(token, &format!("/v1/accounts/{account}")).json()["state"] == state).then_some(())
    });
}
