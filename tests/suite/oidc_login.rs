//! Sign-in with OpenID Connect against a real provider (npm `oidc-provider`, see
//! palaver_tests::oidc): the authorization code flow with PKCE as a browser drives
//! it (redirects followed by hand, cookies kept per host), the mobile apps'
//! `{serviceName, accessToken}` login over REST and realtime, accounts linked by
//! `sub`, roles from the claim on every login, and refusals: wrong or replayed
//! `state`, a tampered ID token, consent denied, provider down, unknown service.

use palaver_tests::ddp::Ddp;
use palaver_tests::oidc::{OidcPeer, CLIENT_ID, CLIENT_SECRET};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{password_for, Palaver, Session, ADMIN_PASSWORD, ADMIN_USERNAME};

pub(crate) const SERVICE: &str = "idp";

/// Configures the provider `SERVICE` from the peer's issuer, as an admin would.
pub(crate) async fn configure(
    srv: &Palaver,
    admin: &Session,
    peer: &OidcPeer,
    extra: &[(&str, Value)],
) {
    let base = [
        ("oidc_issuer", json!(peer.issuer)),
        ("id", json!(CLIENT_ID)),
        ("secret", json!(CLIENT_SECRET)),
        ("scope", json!("openid email profile roles")),
        ("button_label_text", json!("Test IdP")),
        ("merge_roles", json!(true)),
        ("", json!(true)),
    ];
    for (field, value) in base.iter().chain(extra.iter()) {
        let id = if field.is_empty() {
            format!("Accounts_OAuth_Custom-{SERVICE}")
        } else {
            format!("Accounts_OAuth_Custom-{SERVICE}-{field}")
        };
        srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
            .await;
    }
}

async fn start(extra: &[(&str, Value)]) -> (Palaver, Session, OidcPeer) {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let peer = OidcPeer::start(&format!("{}/_oauth/{SERVICE}", srv.base_url())).await;
    configure(&srv, &admin, &peer, extra).await;
    (srv, admin, peer)
}

pub(crate) async fn alice(peer: &OidcPeer, roles: Value) {
    peer.account(
        "alice-sub",
        json!({
            "email": "alice@idp.test", "email_verified": true,
            "preferred_username": "alice", "name": "Alice Liddell", "roles": roles,
        }),
    )
    .await;
}

pub(crate) async fn token_login(
    srv: &Palaver,
    service: &str,
    token: &str,
) -> palaver_tests::server::Resp {
    srv.try_login(json!({"serviceName": service, "accessToken": token, "expiresIn": 3600}))
        .await
}

pub(crate) fn session_of(r: &palaver_tests::server::Resp) -> Session {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Session {
        user_id: r.json["data"]["userId"].as_str().expect("userId").into(),
        token: r.json["data"]["authToken"]
            .as_str()
            .expect("authToken")
            .into(),
        username: r.json["data"]["me"]["username"]
            .as_str()
            .expect("username")
            .into(),
    }
}

pub(crate) async fn user_info(srv: &Palaver, admin: &Session, id: &str) -> Value {
    srv.get_ok(&format!("users.info?userId={id}"), admin).await["user"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobile_access_token_login_links_by_sub_and_applies_roles_on_every_login() {
    let (srv, admin, peer) = start(&[]).await;
    alice(&peer, json!(["admin"])).await;

    // Rocket.Chat's settings.oauth lists the provider for the apps.
    let (status, oauth) = srv.get_anon("settings.oauth").await;
    assert_eq!(status, StatusCode::OK, "{oauth}");
    let services = oauth["services"].as_array().expect("services");
    assert_eq!(services.len(), 1, "{oauth}");
    assert_eq!(services[0]["service"], SERVICE);
    assert_eq!(services[0]["custom"], true);
    assert_eq!(services[0]["clientId"], CLIENT_ID);
    assert_eq!(services[0]["buttonLabelText"], "Test IdP");
    assert!(services[0].get("secret").is_none(), "no secret: {oauth}");

    // First login creates the account, linked by sub, with the claimed role.
    let token = peer.access_token("alice-sub").await;
    let s1 = session_of(&token_login(&srv, SERVICE, &token).await);
    assert_eq!(s1.username, "alice");
    let info = user_info(&srv, &admin, &s1.user_id).await;
    assert_eq!(info["services"][SERVICE]["id"], "alice-sub", "{info}");
    let roles: Vec<&str> = info["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        roles.contains(&"admin") && roles.contains(&"user"),
        "{info}"
    );
    srv.get_ok("me", &s1).await;

    // The claim changes at the provider: the next login takes the role away.
    alice(&peer, json!([])).await;
    let token = peer.access_token("alice-sub").await;
    let s2 = session_of(&token_login(&srv, SERVICE, &token).await);
    assert_eq!(s2.user_id, s1.user_id, "the same account, found by sub");
    let info = user_info(&srv, &admin, &s1.user_id).await;
    assert_eq!(info["roles"], json!(["user"]), "{info}");

    // And gives it back when the claim names it again.
    alice(&peer, json!("admin")).await;
    let token = peer.access_token("alice-sub").await;
    session_of(&token_login(&srv, SERVICE, &token).await);
    let info = user_info(&srv, &admin, &s1.user_id).await;
    assert!(
        info["roles"]
            .as_array()
            .expect("roles")
            .contains(&json!("admin")),
        "{info}"
    );

    // The realtime login method accepts the same fields.
    let token = peer.access_token("alice-sub").await;
    let mut ddp = Ddp::connect(&srv).await;
    let res = ddp
        .call_ok(
            "login",
            json!([{"serviceName": SERVICE, "accessToken": token, "expiresIn": 3600}]),
        )
        .await;
    assert_eq!(res["id"], json!(s1.user_id), "{res}");
    assert!(
        res["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{res}"
    );

    // Bad input: a token the provider does not know, an unknown service.
    let r = token_login(&srv, SERVICE, "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json["error"], "error-oauth-provider", "{}", r.text);
    let r = token_login(&srv, "nosuch", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json["error"], "error-oauth-unknown-service", "{}", r.text);
    let err = ddp
        .call_err(
            "login",
            json!([{"serviceName": "nosuch", "accessToken": token}]),
        )
        .await;
    assert_eq!(err["error"], "error-oauth-unknown-service", "{err}");

    // Password login switched off: refused, while existing sessions and sign-in
    // with the provider go on.
    srv.post_ok(
        "settings/Palaver_Password_Login",
        &admin,
        json!({"value": false}),
    )
    .await;
    let r = srv
        .try_login(json!({"user": ADMIN_USERNAME, "password": ADMIN_PASSWORD}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(
        r.json["error"], "error-password-login-disabled",
        "{}",
        r.text
    );
    srv.get_ok("me", &admin).await;
    let token = peer.access_token("alice-sub").await;
    session_of(&token_login(&srv, SERVICE, &token).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_linked_by_email_only_when_merging_is_on_and_the_email_verified() {
    let (srv, admin, peer) = start(&[("key_field", json!("email"))]).await;
    let bob = srv.create_user(&admin, "bob").await;
    // Same address as the local bob, but merging is off: a separate account.
    peer.account(
        "bob-sub",
        json!({"email": "bob@palaver.test", "email_verified": true, "preferred_username": "bob"}),
    )
    .await;
    let s = session_of(&token_login(&srv, SERVICE, &peer.access_token("bob-sub").await).await);
    assert_ne!(
        s.user_id, bob.user_id,
        "never linked by e-mail without merge_users"
    );
    assert_ne!(s.username, "bob", "the local name stays the local user's");
    let info = user_info(&srv, &admin, &bob.user_id).await;
    assert!(
        info.get("services")
            .is_none_or(|s| s.get(SERVICE).is_none()),
        "{info}"
    );

    // Merging on, but the provider does not say the address is verified.
    srv.post_ok(
        &format!("settings/Accounts_OAuth_Custom-{SERVICE}-merge_users"),
        &admin,
        json!({"value": true}),
    )
    .await;
    let carol = srv.create_user(&admin, "carol").await;
    peer.account(
        "carol-sub",
        json!({"email": "carol@palaver.test", "email_verified": false}),
    )
    .await;
    let s = session_of(&token_login(&srv, SERVICE, &peer.access_token("carol-sub").await).await);
    assert_ne!(
        s.user_id, carol.user_id,
        "an unverified address links nothing"
    );

    // Merging on and verified: the local account is linked and keeps its password.
    let dave = srv.create_user(&admin, "dave").await;
    peer.account(
        "dave-sub",
        json!({"email": "dave@palaver.test", "email_verified": true}),
    )
    .await;
    let s = session_of(&token_login(&srv, SERVICE, &peer.access_token("dave-sub").await).await);
    assert_eq!(s.user_id, dave.user_id);
    let info = user_info(&srv, &admin, &dave.user_id).await;
    assert_eq!(info["services"][SERVICE]["id"], "dave-sub", "{info}");
    srv.login("dave", &password_for("dave")).await;
}

/// A browser without JavaScript: redirects followed by hand, cookies kept per host.
pub(crate) struct Agent {
    http: reqwest::Client,
    pub(crate) jar: Vec<(String, String, String)>,
}

impl Agent {
    pub(crate) fn new() -> Agent {
        Agent {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .expect("client"),
            jar: Vec::new(),
        }
    }

    pub(crate) fn host(url: &str) -> String {
        reqwest::Url::parse(url)
            .map(|u| format!("{}:{:?}", u.host_str().unwrap_or(""), u.port()))
            .unwrap_or_default()
    }

    pub(crate) fn cookie(&self, host: &str, name: &str) -> Option<String> {
        self.jar
            .iter()
            .find(|(h, n, _)| h == host && n == name)
            .map(|(_, _, v)| v.clone())
    }

    /// GET `url`; returns (status, Location).
    pub(crate) async fn get(&mut self, url: &str) -> (StatusCode, Option<String>) {
        let host = Self::host(url);
        let cookies: Vec<String> = self
            .jar
            .iter()
            .filter(|(h, _, _)| *h == host)
            .map(|(_, n, v)| format!("{n}={v}"))
            .collect();
        let mut req = self.http.get(url);
        if !cookies.is_empty() {
            req = req.header(COOKIE, cookies.join("; "));
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        for v in resp.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap_or("");
            let pair = v.split(';').next().unwrap_or("");
            if let Some((n, val)) = pair.split_once('=') {
                self.jar.retain(|(h, name, _)| !(*h == host && name == n));
                let expired = v.contains("Max-Age=0") || val.is_empty();
                if !expired {
                    self.jar
                        .push((host.clone(), n.to_string(), val.to_string()));
                }
            }
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| {
                if l.starts_with('/') {
                    let u = reqwest::Url::parse(url).expect("url");
                    format!(
                        "{}://{}:{}{l}",
                        u.scheme(),
                        u.host_str().unwrap_or(""),
                        u.port().unwrap_or(80)
                    )
                } else {
                    l.to_string()
                }
            });
        (resp.status(), location)
    }

    /// Follows redirects from `url` until one leads to `stop_prefix`; returns that URL.
    pub(crate) async fn follow_until(&mut self, url: &str, stop_prefix: &str) -> String {
        let mut url = url.to_string();
        for _ in 0..12 {
            let (status, location) = self.get(&url).await;
            let next = location.unwrap_or_else(|| panic!("GET {url}: {status} without a redirect"));
            if next.starts_with(stop_prefix) {
                return next;
            }
            url = next;
        }
        panic!("too many redirects from {url}");
    }
}

/// Starts a browser sign-in and lets the provider answer: the callback URL it sends
/// the browser to (not yet visited).
async fn to_callback(agent: &mut Agent, srv: &Palaver) -> String {
    let callback = format!("{}/_oauth/{SERVICE}", srv.base_url());
    agent
        .follow_until(
            &format!("{}/_oauth/{SERVICE}/start", srv.base_url()),
            &callback,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_flow_checks_state_pkce_and_the_id_token() {
    let (srv, admin, peer) = start(&[]).await;
    alice(&peer, json!([])).await;
    peer.login_as("alice-sub").await;
    let srv_host = Agent::host(&srv.base_url());

    // The authorize request carries PKCE (S256), state and nonce.
    let mut agent = Agent::new();
    let (status, location) = agent
        .get(&format!("{}/_oauth/{SERVICE}/start", srv.base_url()))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let authorize = reqwest::Url::parse(&location.expect("redirect")).expect("url");
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    for k in ["code_challenge", "state", "nonce"] {
        assert!(
            q.get(k).is_some_and(|v| v.len() >= 32),
            "{k} in {authorize}"
        );
    }

    // A full sign-in: session cookies set, back to the client.
    let mut agent = Agent::new();
    let callback = to_callback(&mut agent, &srv).await;
    let (status, location) = agent.get(&callback).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("{}/", srv.base_url()).as_str())
    );
    let uid = agent.cookie(&srv_host, "rc_uid").expect("rc_uid cookie");
    let info = user_info(&srv, &admin, &uid).await;
    assert_eq!(info["services"][SERVICE]["id"], "alice-sub", "{info}");
    let users_before = srv.get_ok("users.list", &admin).await["total"].clone();

    // The same callback again (replayed code and state, old cookie put back): refused.
    let flow = {
        let mut a = Agent::new();
        let cb = to_callback(&mut a, &srv).await;
        (cb, a)
    };
    let (cb, mut a) = flow;
    let saved = a.jar.clone();
    let (_, first) = a.get(&cb).await;
    assert_eq!(
        first.as_deref(),
        Some(format!("{}/", srv.base_url()).as_str())
    );
    a.jar = saved;
    a.jar.retain(|(_, n, _)| n != "rc_uid" && n != "rc_token");
    let (_, replay) = a.get(&cb).await;
    assert!(
        replay
            .as_deref()
            .is_some_and(|l| l.contains("oauth_error=state")),
        "{replay:?}"
    );
    assert!(
        a.cookie(&srv_host, "rc_token").is_none(),
        "no session from a replay"
    );

    // A callback whose state is not this browser's: refused, nothing changes.
    let mut victim = Agent::new();
    let mut attacker = Agent::new();
    let attacker_cb = to_callback(&mut attacker, &srv).await;
    let _ = to_callback(&mut victim, &srv).await;
    let (_, l) = victim.get(&attacker_cb).await;
    assert!(
        l.as_deref()
            .is_some_and(|l| l.contains("oauth_error=state")),
        "{l:?}"
    );
    assert!(victim.cookie(&srv_host, "rc_token").is_none());
    // No cookie at all.
    let (_, l) = Agent::new().get(&attacker_cb).await;
    assert!(
        l.as_deref()
            .is_some_and(|l| l.contains("oauth_error=state")),
        "{l:?}"
    );

    // A tampered ID token: refused although the provider's answer came over its channel.
    peer.tamper_next_id_token().await;
    let mut a = Agent::new();
    let cb = to_callback(&mut a, &srv).await;
    let (_, l) = a.get(&cb).await;
    assert!(
        l.as_deref()
            .is_some_and(|l| l.contains("oauth_error=invalid-id-token")),
        "{l:?}\n{}",
        srv.log()
    );
    assert!(a.cookie(&srv_host, "rc_token").is_none());

    // Consent denied at the provider.
    peer.deny().await;
    let mut a = Agent::new();
    let cb = to_callback(&mut a, &srv).await;
    let (_, l) = a.get(&cb).await;
    assert!(
        l.as_deref()
            .is_some_and(|l| l.contains("oauth_error=denied")),
        "{l:?}"
    );

    // No account was created or changed by any refusal.
    assert_eq!(
        srv.get_ok("users.list", &admin).await["total"],
        users_before
    );

    // The provider goes down between the consent and the callback.
    peer.login_as("alice-sub").await;
    let mut a = Agent::new();
    let cb = to_callback(&mut a, &srv).await;
    let mut peer = peer;
    peer.stop();
    let (_, l) = a.get(&cb).await;
    assert!(
        l.as_deref()
            .is_some_and(|l| l.contains("oauth_error=provider-unreachable")),
        "{l:?}"
    );
    let r = token_login(&srv, SERVICE, "any").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(
        r.json["error"], "error-oauth-provider-unreachable",
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_with_the_provider_and_sees_clear_errors() {
    use palaver_tests::browser::Browser;
    let (srv, admin, peer) = start(&[]).await;
    alice(&peer, json!([])).await;
    // A second provider whose issuer does not answer.
    let dead = format!("http://127.0.0.1:{}", palaver_tests::net::free_port());
    for (field, value) in [
        ("-oidc_issuer", json!(dead)),
        ("-id", json!("x")),
        ("", json!(true)),
    ] {
        srv.post_ok(
            &format!("settings/Accounts_OAuth_Custom-dead{field}"),
            &admin,
            json!({ "value": value }),
        )
        .await;
    }
    let b = Browser::start().await;

    // Consent denied: back on the login page with the reason.
    peer.deny().await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.wait_text(
        &format!("[data-testid=oauth-{SERVICE}]"),
        "Sign in with Test IdP",
    )
    .await;
    b.click(&format!("[data-testid=oauth-{SERVICE}]")).await;
    b.wait_text("[data-testid=login-error]", "cancelled or refused")
        .await;

    // A callback with a state this browser did not start.
    b.goto(&format!(
        "{}/_oauth/{SERVICE}?code=abc&state=forged",
        srv.base_url()
    ))
    .await;
    b.wait_text("[data-testid=login-error]", "could not be verified")
        .await;

    // The provider is down.
    b.goto(&format!("{}/", srv.base_url())).await;
    b.click("[data-testid=oauth-dead]").await;
    b.wait_text("[data-testid=login-error]", "could not be reached")
        .await;
    b.screenshot("oidc-provider-down").await;

    // A full sign-in.
    peer.login_as("alice-sub").await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.click(&format!("[data-testid=oauth-{SERVICE}]")).await;
    b.wait_for("[data-testid=app-shell]").await;
    b.screenshot("oidc-signed-in").await;
}
