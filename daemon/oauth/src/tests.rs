//! The flows against the harness's loopback provider (a real HTTP server with PKCE,
//! rotation, the device flow and failures on demand).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use postfach_test_harness::{OAuthConfig, OAuthServer};

use super::browser::{Pkce, Redirect, authorization_url, finish, random};
use super::token::{client, refresh};
use super::{OAuthError, Provider, Secret, device};

fn provider(server: &OAuthServer) -> Provider {
    Provider {
        name: "test".into(),
        client_id: "postfach-test".into(),
        client_secret: Some(Secret::new("s3cret")),
        auth_url: Some(server.url("/authorize")),
        token_url: server.url("/token"),
        device_url: Some(server.url("/device/code")),
        scopes: vec!["mail".into(), "offline_access".into()],
        scope_on_refresh: true,
    }
}

fn start(rotate: bool) -> OAuthServer {
    OAuthServer::start(OAuthConfig { user: "anna@example.de".into(), rotate, access_lifetime: Duration::from_secs(2) })
        .unwrap()
}

/// Plays the browser: opens the URL, follows the provider's redirect to the listener.
async fn browse(url: &str) -> reqwest::Response {
    let http = reqwest::Client::new();
    http.get(url).send().await.unwrap()
}

#[tokio::test]
async fn the_browser_flow_checks_the_state_and_yields_tokens_that_refresh_with_rotation() {
    let server = start(true);
    let p = provider(&server);
    let http = client(Duration::from_secs(5));
    let redirect = Redirect::bind().await.unwrap();
    let uri = redirect.uri().to_owned();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    let (state, pkce) = (random(16).unwrap(), Pkce::new().unwrap());
    let url = authorization_url(&p, &uri, &state, &pkce).unwrap();
    assert!(url.contains("code_challenge_method=S256") && url.contains("scope=mail+offline_access"), "{url}");
    let flow = tokio::spawn({
        let (p, http, state) = (p.clone(), http.clone(), state.clone());
        async move { finish(&http, &p, redirect, &state, &pkce, Duration::from_secs(10)).await }
    });
    // A request with another state is refused and does not end the flow.
    let forged = reqwest::get(format!("{uri}?code=stolen&state=other")).await.unwrap();
    assert_eq!(forged.status(), 400);
    let page = browse(&url).await;
    assert_eq!(page.status(), 200);
    let issued = flow.await.unwrap().unwrap();
    let first = issued.refresh_token.expect("a refresh token on the first grant");
    assert!(server.refresh_valid(first.expose()));
    // One-shot: the listener is gone.
    assert!(reqwest::get(&uri).await.is_err(), "the listener still answers");
    // Refresh rotates; the old token stops working.
    let again = refresh(&http, &p, &first).await.unwrap();
    let second = again.refresh_token.expect("a rotated refresh token");
    assert_ne!(second.expose(), first.expose());
    assert!(!server.refresh_valid(first.expose()));
    match refresh(&http, &p, &first).await {
        Err(OAuthError::Refused { error, .. }) => assert_eq!(error, "invalid_grant"),
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn the_redirect_listener_gives_up_after_its_timeout() {
    let redirect = Redirect::bind().await.unwrap();
    let started = std::time::Instant::now();
    let err = redirect.wait("state", Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(err, OAuthError::TimedOut(_)), "{err:?}");
    assert!(err.to_string().contains("no answer from the browser within"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn the_device_flow_polls_until_the_user_approves() {
    let server = start(false);
    let p = provider(&server);
    let http = client(Duration::from_secs(5));
    let d = device::start(&http, &p).await.unwrap();
    assert!(d.verification_uri.ends_with("/device"), "{}", d.verification_uri);
    let poll = tokio::spawn({
        let (p, http) = (p.clone(), http.clone());
        async move { device::poll(&http, &p, &d).await }
    });
    // Nobody approved yet: the client keeps polling (authorization_pending).
    let requests = server.token_requests();
    while server.token_requests() == requests {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!poll.is_finished());
    let code = server.pending_user_codes().pop().unwrap();
    assert!(server.approve(&code));
    let issued = poll.await.unwrap().unwrap();
    assert!(issued.refresh_token.is_some());
    assert_eq!(issued.lifetime, Duration::from_secs(2));
}

#[tokio::test]
async fn a_revoked_grant_is_permanent_and_an_unavailable_endpoint_is_temporary() {
    let server = start(false);
    let p = provider(&server);
    let http = client(Duration::from_secs(5));
    let d = device::start(&http, &p).await.unwrap();
    server.approve(&server.pending_user_codes().pop().unwrap());
    let issued = device::poll(&http, &p, &d).await.unwrap();
    let rt = issued.refresh_token.unwrap();
    server.unavailable_for(1);
    let down = refresh(&http, &p, &rt).await.unwrap_err();
    assert!(down.is_temporary(), "{down:?}");
    assert!(down.to_string().contains("HTTP 503"), "{down}");
    refresh(&http, &p, &rt).await.unwrap();
    server.revoke();
    let revoked = refresh(&http, &p, &rt).await.unwrap_err();
    assert!(!revoked.is_temporary());
    assert!(revoked.to_string().contains("invalid_grant (Token has been expired or revoked.)"), "{revoked}");
    // Nothing secret in the error texts.
    assert!(!format!("{down}{revoked}{revoked:?}").contains(rt.expose()));
    // A provider that cannot be reached is temporary too.
    let mut gone = p.clone();
    gone.token_url = "http://127.0.0.1:9/token".into();
    assert!(refresh(&http, &gone, &rt).await.unwrap_err().is_temporary());
}
