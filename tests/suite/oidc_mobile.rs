//! Rocket.Chat's mobile app signing in with a custom OAuth/OIDC provider the way
//! its source does (Rocket.Chat.ReactNative `onPressCustomOAuth` and
//! `AuthenticationWebView`): the authorize URL is built from `settings.oauth`
//! with Meteor's `state` (base64 JSON `{loginStyle, credentialToken, isCordova}`)
//! and no PKCE; the provider (npm `oidc-provider`) sends the web view to
//! `/_oauth/<service>`, whose page hands over `{credentialToken,
//! credentialSecret}`; the app logs in with `login {oauth: {...}}` over REST or
//! realtime. Credentials are single use, a wrong secret does not burn one, a
//! replayed callback gets nothing, and a credential made on one instance is
//! redeemed on another sharing the MongoDB store.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use palaver_tests::ddp::Ddp;
use palaver_tests::mongo::mongo_uri;
use palaver_tests::oidc::{OidcPeer, CLIENT_ID};
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION};
use reqwest::StatusCode;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{json, Value};

use crate::common::{Palaver, Session};
use crate::oidc_login::{alice, configure, session_of, user_info, Agent, SERVICE};

/// A credential token as the app makes one (`random(43)`).
fn credential_token() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 43];
    SystemRandom::new().fill(&mut bytes).expect("random");
    bytes
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect()
}

/// `encodeURIComponent`.
fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Meteor's state as the app encodes it (`Base64.encodeURI`: URL-safe, no padding).
fn app_state(token: &str, redirect: bool) -> String {
    let mut v = json!({"loginStyle": "popup", "credentialToken": token, "isCordova": true});
    if redirect {
        v = json!({"loginStyle": "redirect", "credentialToken": token, "isCordova": true,
                   "redirectUrl": "rocketchat://auth"});
    }
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The authorize URL exactly as `onPressCustomOAuth` builds it from `settings.oauth`.
async fn app_authorize_url(srv: &Palaver, state: &str) -> String {
    let (status, oauth) = srv.get_anon("settings.oauth").await;
    assert_eq!(status, StatusCode::OK, "{oauth}");
    let s = oauth["services"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["service"] == SERVICE))
        .unwrap_or_else(|| panic!("{SERVICE} in {oauth}"))
        .clone();
    let field = |k: &str| {
        s[k].as_str()
            .unwrap_or_else(|| panic!("{k} in {s}"))
            .to_string()
    };
    let (server_url, authorize_path) = (field("serverURL"), field("authorizePath"));
    assert_eq!(field("clientId"), CLIENT_ID);
    let redirect_uri = format!("{}/_oauth/{}", srv.base_url(), field("service"));
    let separator = if authorize_path.contains('?') {
        '&'
    } else {
        '?'
    };
    let absolute = format!(
        "{authorize_path}{separator}client_id={}&redirect_uri={}&response_type=code&state={state}&scope={}",
        field("clientId"),
        enc(&redirect_uri),
        enc(&field("scope")),
    );
    if absolute.contains(&server_url) {
        absolute
    } else {
        format!("{server_url}{absolute}")
    }
}

/// The web view: through the provider's login to the callback URL (not yet visited).
async fn web_view_to_callback(srv: &Palaver, state: &str) -> String {
    let url = app_authorize_url(srv, state).await;
    let mut agent = Agent::new();
    agent
        .follow_until(&url, &format!("{}/_oauth/{SERVICE}", srv.base_url()))
        .await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client")
}

/// The end page's `config` (what its script puts in the URL hash for the app).
async fn callback_page(url: &str) -> (StatusCode, Value) {
    let resp = client().get(url).send().await.expect("callback");
    let status = resp.status();
    let csp = resp
        .headers()
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("script-src 'self'"), "CSP {csp:?}");
    let html = resp.text().await.expect("page");
    let start = html.find("<div id=\"config\" hidden>").expect("config") + 24;
    let end = start + html[start..].find("</div>").expect("end of config");
    let config: Value = serde_json::from_str(&html[start..end]).expect("config JSON");
    assert!(
        html.contains("<script src=\"/_oauth/end_of_popup_response.js\">"),
        "{html}"
    );
    (status, config)
}

async fn oauth_login(srv: &Palaver, token: &str, secret: &str) -> palaver_tests::server::Resp {
    srv.try_login(json!({"oauth": {"credentialToken": token, "credentialSecret": secret}}))
        .await
}

async fn start_peer(srv: &Palaver, admin: &Session) -> OidcPeer {
    let peer = OidcPeer::start(&format!("{}/_oauth/{SERVICE}", srv.base_url())).await;
    peer.allow_without_pkce().await;
    configure(srv, admin, &peer, &[]).await;
    alice(&peer, json!([])).await;
    peer.login_as("alice-sub").await;
    peer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mobile_apps_oauth_flow_over_rest_and_realtime_with_single_use_credentials() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let peer = start_peer(&srv, &admin).await;

    // settings.oauth gives the app the discovered authorize endpoint.
    let (_, oauth) = srv.get_anon("settings.oauth").await;
    assert_eq!(oauth["services"][0]["serverURL"], json!(peer.issuer));
    assert!(
        oauth["services"][0]["authorizePath"]
            .as_str()
            .is_some_and(|a| a.starts_with(&peer.issuer) && a.contains("/auth")),
        "{oauth}"
    );

    // The web view ends on the page that hands over the credential.
    let token = credential_token();
    let callback = web_view_to_callback(&srv, &app_state(&token, false)).await;
    let (status, config) = callback_page(&callback).await;
    assert_eq!(status, StatusCode::OK, "{config}\n{}", srv.log());
    assert_eq!(config["setCredentialToken"], true, "{config}");
    assert_eq!(config["credentialToken"], json!(token));
    assert_eq!(config["isCordova"], true);
    let secret = config["credentialSecret"]
        .as_str()
        .expect("secret")
        .to_string();
    assert!(secret.len() >= 32, "{config}");

    // The script the page loads puts the credential in the URL hash (what the
    // app's web view watches for).
    let script = client()
        .get(srv.url("/_oauth/end_of_popup_response.js"))
        .send()
        .await
        .expect("script")
        .text()
        .await
        .expect("script body");
    assert!(
        script.contains("window.location.hash = JSON.stringify"),
        "{script}"
    );

    // A wrong secret finds nothing and does not burn the credential.
    let r = oauth_login(&srv, &token, "not-the-secret").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json["error"], "error-oauth-credential", "{}", r.text);

    // REST login: the account linked by sub.
    let s = session_of(&oauth_login(&srv, &token, &secret).await);
    assert_eq!(s.username, "alice");
    let info = user_info(&srv, &admin, &s.user_id).await;
    assert_eq!(info["services"][SERVICE]["id"], "alice-sub", "{info}");
    srv.get_ok("me", &s).await;

    // Single use.
    let r = oauth_login(&srv, &token, &secret).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json["error"], "error-oauth-credential", "{}", r.text);

    // The same callback again (code and state replayed): no credential.
    let (status, config) = callback_page(&callback).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{config}");
    assert_eq!(config["setCredentialToken"], false, "{config}");
    assert_eq!(config["credentialSecret"], "", "{config}");

    // Realtime `login {oauth}` with a second sign-in; then single use there too.
    let token2 = credential_token();
    let callback = web_view_to_callback(&srv, &app_state(&token2, false)).await;
    let (_, config) = callback_page(&callback).await;
    let secret2 = config["credentialSecret"]
        .as_str()
        .expect("secret")
        .to_string();
    let mut ddp = Ddp::connect(&srv).await;
    let res = ddp
        .call_ok(
            "login",
            json!([{"oauth": {"credentialToken": token2, "credentialSecret": secret2}}]),
        )
        .await;
    assert_eq!(res["id"], json!(s.user_id), "{res}");
    assert_eq!(res["type"], "oauth", "{res}");
    let mut ddp2 = Ddp::connect(&srv).await;
    let err = ddp2
        .call_err(
            "login",
            json!([{"oauth": {"credentialToken": token2, "credentialSecret": secret2}}]),
        )
        .await;
    assert_eq!(err["error"], "error-oauth-credential", "{err}");

    // loginStyle "redirect" to the app: the credential rides in rocketchat://auth.
    let token3 = credential_token();
    let callback = web_view_to_callback(&srv, &app_state(&token3, true)).await;
    let resp = client().get(&callback).send().await.expect("callback");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let to = resp.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    assert!(to.starts_with("rocketchat://auth?host="), "{to}");
    assert!(to.contains("&type=oauth"), "{to}");
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&to)
        .expect("app url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q.get("credentialToken"), Some(&token3));
    let r = oauth_login(&srv, &token3, q.get("credentialSecret").expect("secret")).await;
    assert_eq!(session_of(&r).user_id, s.user_id);

    // A redirect elsewhere than the app is refused, and the credential token of a
    // state cannot start a second sign-in.
    let evil = URL_SAFE_NO_PAD.encode(
        json!({"loginStyle": "redirect", "credentialToken": credential_token(),
               "isCordova": true, "redirectUrl": "https://evil.test/steal"})
        .to_string(),
    );
    let callback = web_view_to_callback(&srv, &evil).await;
    let resp = client().get(&callback).send().await.expect("callback");
    let to = resp.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    assert!(
        to.starts_with("rocketchat://auth?") && to.contains("error="),
        "{to}"
    );
    assert!(!to.contains("credentialSecret"), "{to}");
    let callback = web_view_to_callback(&srv, &app_state(&token, false)).await;
    let (status, config) = callback_page(&callback).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{config}");
    assert_eq!(config["setCredentialToken"], false, "{config}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_made_on_one_instance_is_redeemed_once_on_another() {
    let uri = mongo_uri("oidc_mobile_two_instances");
    let a = Palaver::builder().storage_uri(&uri).start().await;
    let b = Palaver::builder().storage_uri(&uri).start().await;
    let admin_a = a.admin().await;
    let _peer = start_peer(&a, &admin_a).await;

    // B sees the provider configured on A.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, oauth) = b.get_anon("settings.oauth").await;
        if oauth["services"]
            .as_array()
            .is_some_and(|l| l.iter().any(|s| s["service"] == SERVICE))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never saw the provider: {oauth}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let token = credential_token();
    let callback = web_view_to_callback(&a, &app_state(&token, false)).await;
    let (status, config) = callback_page(&callback).await;
    assert_eq!(status, StatusCode::OK, "{config}\n{}", a.log());
    let secret = config["credentialSecret"]
        .as_str()
        .expect("secret")
        .to_string();

    // Redeemed on B, then refused on A and on B.
    let s = session_of(&oauth_login(&b, &token, &secret).await);
    assert_eq!(s.username, "alice");
    for srv in [&a, &b] {
        let r = oauth_login(srv, &token, &secret).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }

    // The browser flow's state is single use across instances too: a callback
    // replayed on B (with A's flow cookie) is refused.
    let mut agent = Agent::new();
    let cb = agent
        .follow_until(
            &format!("{}/_oauth/{SERVICE}/start", a.base_url()),
            &format!("{}/_oauth/{SERVICE}", a.base_url()),
        )
        .await;
    let saved = agent.jar.clone();
    let (_, first) = agent.get(&cb).await;
    assert_eq!(
        first.as_deref(),
        Some(format!("{}/", a.base_url()).as_str()),
        "{}",
        a.log()
    );
    // The same request to B: the flow cookie moved to B's host.
    let a_host = Agent::host(&a.base_url());
    let b_host = Agent::host(&b.base_url());
    agent.jar = saved
        .into_iter()
        .filter(|(h, n, _)| *h == a_host && n == "palaver_oauth")
        .map(|(_, n, v)| (b_host.clone(), n, v))
        .collect();
    let replay = cb.replace(&a.base_url(), &b.base_url());
    let (_, to) = agent.get(&replay).await;
    assert!(
        to.as_deref()
            .is_some_and(|l| l.contains("oauth_error=state")),
        "{to:?}"
    );
}
