//! SAML 2.0 sign-in against a real identity provider (PyPI `pysaml2` with
//! `xmlsec1`, see palaver_tests::saml_idp): Rocket.Chat's routes and flow
//! (metadata, authorize, the assertion consumer, `login {saml, credentialToken}`
//! over REST and realtime), single logout both ways, the web login button; and
//! refusals of hostile Responses made by taking the IdP's real signed answers
//! and changing them: unsigned, tampered, signature-wrapped, replayed, for
//! another audience, expired — none signs anyone in or creates an account.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use palaver_tests::ddp::Ddp;
use palaver_tests::saml_idp::SamlIdp;
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{Palaver, Session};

pub(crate) const PROVIDER: &str = "testidp";

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub(crate) async fn set(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
}

/// Palaver with SAML configured for a fresh IdP, and alice known there.
pub(crate) async fn start(rule: &str) -> (Palaver, Session, SamlIdp) {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_provider",
        json!(PROVIDER),
    )
    .await;
    set(&srv, &admin, "SAML_Custom_Default", json!(true)).await;
    let idp = SamlIdp::start(&format!("{}/_saml/metadata/{PROVIDER}", srv.base_url())).await;
    for (field, value) in [
        ("entry_point", json!(idp.sso_url())),
        ("idp_slo_redirect_url", json!(idp.slo_url())),
        ("cert", json!(idp.certificate())),
        ("signature_validation_type", json!(rule)),
        ("button_label_text", json!("Company SSO")),
    ] {
        set(&srv, &admin, &format!("SAML_Custom_Default_{field}"), value).await;
    }
    idp.user(
        "alice",
        json!({"username": "alice", "email": "alice@idp.test", "cn": "Alice Liddell"}),
    )
    .await;
    idp.next(json!({"uid": "alice", "sign_response": true, "sign_assertion": true}))
        .await;
    (srv, admin, idp)
}

/// Starts a sign-in at Palaver: the IdP address it sends the browser to.
pub(crate) async fn authorize(srv: &Palaver) -> String {
    let r = client()
        .get(srv.url(&format!("/_saml/authorize/{PROVIDER}")))
        .send()
        .await
        .expect("authorize");
    assert_eq!(r.status(), StatusCode::FOUND, "{}", srv.log());
    let to_idp = r.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    assert!(to_idp.contains("SAMLRequest="), "{to_idp}");
    to_idp
}

/// The base64 `SAMLResponse` the IdP's page at `to_idp` would post (not posted).
pub(crate) async fn answer_at(idp: &SamlIdp, to_idp: &str) -> String {
    assert!(to_idp.starts_with(&idp.sso_url()), "{to_idp}");
    let page = client().get(to_idp).send().await.expect("IdP");
    assert_eq!(page.status(), StatusCode::OK, "{}", idp.log());
    let html = page.text().await.expect("IdP page");
    let field = "name=\"SAMLResponse\" value=\"";
    let start = html.find(field).expect("SAMLResponse field") + field.len();
    let end = start + html[start..].find('"').expect("end of value");
    html[start..end].to_string()
}

/// What the IdP answers a sign-in started at Palaver (not yet posted).
pub(crate) async fn idp_answer(srv: &Palaver, idp: &SamlIdp) -> String {
    answer_at(idp, &authorize(srv).await).await
}

/// Posts a Response to the assertion consumer: `Ok(credentialToken)` or
/// `Err(saml_error code)`.
pub(crate) async fn post_response(srv: &Palaver, saml_response: &str) -> Result<String, String> {
    let r = client()
        .post(srv.url(&format!("/_saml/validate/{PROVIDER}")))
        .form(&[("SAMLResponse", saml_response), ("RelayState", "")])
        .send()
        .await
        .expect("validate");
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = r.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    if let Some(code) = to.strip_prefix("/?saml_error=") {
        return Err(code.to_string());
    }
    let token = to
        .split("saml_idp_credentialToken=")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected redirect {to}"));
    assert_eq!(
        to,
        format!("/saml/{token}?saml_idp_credentialToken={token}")
    );
    Ok(token.to_string())
}

pub(crate) async fn login(srv: &Palaver, token: &str) -> palaver_tests::server::Resp {
    srv.try_login(json!({"saml": true, "credentialToken": token}))
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

pub(crate) fn xml_of(b64: &str) -> String {
    String::from_utf8(STANDARD.decode(b64).expect("base64")).expect("utf-8")
}

pub(crate) fn b64_of(xml: &str) -> String {
    STANDARD.encode(xml)
}

pub(crate) async fn user_count(srv: &Palaver, admin: &Session) -> u64 {
    srv.get_ok("users.list?count=1", admin).await["total"]
        .as_u64()
        .expect("total")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_sign_in_with_a_real_idp_over_rest_and_realtime() {
    let (srv, admin, idp) = start("All").await;

    // The service provider's metadata names our entity id and consumer.
    let meta = client()
        .get(srv.url(&format!("/_saml/metadata/{PROVIDER}")))
        .send()
        .await
        .expect("metadata");
    assert_eq!(meta.status(), StatusCode::OK);
    let meta = meta.text().await.expect("metadata");
    let entity = format!("{}/_saml/metadata/{PROVIDER}", srv.base_url());
    assert!(meta.contains(&format!("entityID=\"{entity}\"")), "{meta}");
    assert!(
        meta.contains(&format!(
            "Location=\"{}/_saml/validate/{PROVIDER}\"",
            srv.base_url()
        )),
        "{meta}"
    );
    // Unknown providers have none.
    let r = client()
        .get(srv.url("/_saml/metadata/other"))
        .send()
        .await
        .expect("metadata");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Rocket.Chat's clients find the service in settings.oauth.
    let (_, oauth) = srv.get_anon("settings.oauth").await;
    let saml = oauth["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["service"] == "saml")
        .cloned()
        .unwrap_or_else(|| panic!("{oauth}"));
    assert_eq!(saml["clientConfig"]["provider"], PROVIDER);
    assert_eq!(saml["buttonLabelText"], "Company SSO");

    // A full sign-in: the account is created, linked by NameID, marked as SAML.
    let answer = idp_answer(&srv, &idp).await;
    let xml = xml_of(&answer);
    assert!(xml.contains("Signature"), "the IdP signs: {xml}");
    let token = post_response(&srv, &answer).await.expect("accepted");
    let s1 = session_of(&login(&srv, &token).await);
    assert_eq!(s1.username, "alice");
    let info = srv
        .get_ok(&format!("users.info?userId={}", s1.user_id), &admin)
        .await["user"]
        .clone();
    // Linked by the immutable property (Rocket.Chat's default: the e-mail); the
    // NameID is kept beside it for logout.
    assert_eq!(info["services"]["saml"]["id"], "alice@idp.test", "{info}");
    assert_eq!(info["services"]["saml"]["nameID"], "alice", "{info}");
    assert_eq!(info["services"]["saml"]["provider"], PROVIDER, "{info}");
    assert_eq!(info["name"], "Alice Liddell", "{info}");
    assert_eq!(info["emails"][0]["address"], "alice@idp.test", "{info}");
    srv.get_ok("me", &s1).await;

    // A credential token is good once.
    let again = login(&srv, &token).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.text);
    assert_eq!(
        again.json["error"], "error-saml-credential",
        "{}",
        again.text
    );
    let bogus = login(&srv, "not-a-token").await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED, "{}", bogus.text);

    // The next sign-in finds the same account; the realtime login takes the token.
    let token = post_response(&srv, &idp_answer(&srv, &idp).await)
        .await
        .expect("accepted");
    let mut ddp = Ddp::connect(&srv).await;
    let res = ddp
        .call("login", json!([{"saml": true, "credentialToken": token}]))
        .await;
    assert_eq!(res["result"]["id"], s1.user_id, "{res}");
    let res = ddp
        .call("login", json!([{"saml": true, "credentialToken": token}]))
        .await;
    assert!(res.get("error").is_some(), "used twice: {res}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_refuses_unsigned_tampered_wrapped_replayed_foreign_and_expired_responses() {
    let (srv, admin, idp) = start("All").await;
    let users_before = user_count(&srv, &admin).await;

    // Unsigned.
    idp.next(json!({"sign_response": false, "sign_assertion": false}))
        .await;
    let unsigned = idp_answer(&srv, &idp).await;
    assert!(!xml_of(&unsigned).contains("SignatureValue"));
    assert_eq!(
        post_response(&srv, &unsigned).await,
        Err("signature".into())
    );

    // Only the assertion signed while the rule wants both.
    idp.next(json!({"sign_response": false, "sign_assertion": true}))
        .await;
    let half = idp_answer(&srv, &idp).await;
    assert_eq!(post_response(&srv, &half).await, Err("signature".into()));

    // Signed, then changed: someone else's NameID.
    idp.next(json!({"sign_response": true, "sign_assertion": true}))
        .await;
    let real = xml_of(&idp_answer(&srv, &idp).await);
    let tampered = real.replacen(">alice</", ">mallory</", 1);
    assert_ne!(tampered, real);
    assert_eq!(
        post_response(&srv, &b64_of(&tampered)).await,
        Err("signature".into())
    );

    // From here the rule accepts a signed Assertion alone: the wrapping attacks
    // aim at it.
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_signature_validation_type",
        json!("Assertion"),
    )
    .await;
    idp.next(json!({"sign_response": false, "sign_assertion": true}))
        .await;
    let real = xml_of(&idp_answer(&srv, &idp).await);
    let (evil_moved, evil_same_id) = wrapped(&real);
    assert_eq!(
        post_response(&srv, &b64_of(&evil_moved)).await,
        Err("signature".into()),
        "wrapped (signed assertion moved aside)"
    );
    assert_eq!(
        post_response(&srv, &b64_of(&evil_same_id)).await,
        Err("signature".into()),
        "wrapped (duplicate ID)"
    );

    // Replayed: the first use signs in, the second is refused.
    let answer = idp_answer(&srv, &idp).await;
    let token = post_response(&srv, &answer)
        .await
        .expect("the real one is accepted");
    session_of(&login(&srv, &token).await);
    assert_eq!(post_response(&srv, &answer).await, Err("replayed".into()));
    let users_after_alice = user_count(&srv, &admin).await;
    assert_eq!(users_after_alice, users_before + 1);

    // For another service provider (signed by the IdP all the same).
    idp.next(json!({"audience": "https://other-sp.example/metadata"}))
        .await;
    let foreign = idp_answer(&srv, &idp).await;
    assert!(xml_of(&foreign).contains("https://other-sp.example/metadata"));
    assert_eq!(post_response(&srv, &foreign).await, Err("audience".into()));

    // Expired (signed by the IdP all the same).
    idp.next(json!({"audience": null, "expired": true})).await;
    let expired = idp_answer(&srv, &idp).await;
    assert_eq!(post_response(&srv, &expired).await, Err("expired".into()));

    // Two answers to one request: the first signs in, the second (a fresh,
    // signed assertion) answers a request that is no longer pending.
    idp.next(json!({"expired": false})).await;
    let to_idp = authorize(&srv).await;
    let first = answer_at(&idp, &to_idp).await;
    let second = answer_at(&idp, &to_idp).await;
    assert_ne!(first, second);
    let token = post_response(&srv, &first).await.expect("accepted");
    session_of(&login(&srv, &token).await);
    assert_eq!(
        post_response(&srv, &second).await,
        Err("unknown-request".into())
    );

    // An unknown provider's consumer.
    let r = client()
        .post(srv.url("/_saml/validate/nobody"))
        .form(&[("SAMLResponse", second.as_str())])
        .send()
        .await
        .expect("validate");
    assert_eq!(
        r.headers()[LOCATION].to_str().expect("location"),
        "/?saml_error=unknown-provider"
    );

    // None of the refused answers made an account.
    assert_eq!(user_count(&srv, &admin).await, users_after_alice);
}

/// The prefix `xml` uses for the element `local` (`ns1` in `<ns1:Assertion …>`).
fn prefix(xml: &str, local: &str) -> String {
    let at = xml
        .find(&format!(":{local} "))
        .unwrap_or_else(|| panic!("no {local} in {xml}"));
    let open = xml[..at].rfind('<').expect("tag start");
    xml[open + 1..at].to_string()
}

/// Two signature-wrapping variants of a Response whose Assertion alone is signed:
/// the signed Assertion moved into the Response's `Extensions` with an evil
/// Assertion (new ID, someone else's NameID, the original signature copied) in
/// its place; and an evil Assertion carrying the same ID placed before the
/// original.
fn wrapped(real: &str) -> (String, String) {
    let (p, a) = (prefix(real, "Response"), prefix(real, "Assertion"));
    let a_start = real
        .find(&format!("<{a}:Assertion "))
        .expect("assertion start");
    let close = format!("</{a}:Assertion>");
    let a_end = real.find(&close).expect("assertion end") + close.len();
    let original = &real[a_start..a_end];
    let id_start = original.find(" ID=\"").expect("ID") + " ID=\"".len();
    let id_end = id_start + original[id_start..].find('"').expect("end");
    let id = &original[id_start..id_end];
    let evil = original
        .replacen(&format!(" ID=\"{id}\""), " ID=\"_evil\"", 1)
        .replacen(">alice</", ">mallory</", 1);
    assert_ne!(evil, original);
    let ext = format!("<{p}:Extensions>{original}</{p}:Extensions>");
    // Extensions come right after the Response's Issuer.
    let issuer_close = format!("</{a}:Issuer>");
    let issuer_end = real.find(&issuer_close).expect("issuer") + issuer_close.len();
    assert!(issuer_end < a_start);
    let moved = format!(
        "{}{ext}{}{evil}{}",
        &real[..issuer_end],
        &real[issuer_end..a_start],
        &real[a_end..]
    );
    let evil_same = original.replacen(">alice</", ">mallory</", 1);
    let same = format!("{}{evil_same}{}", &real[..a_start], &real[a_start..]);
    (moved, same)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_single_logout_both_ways_with_signatures_checked() {
    let (srv, admin, idp) = start("All").await;
    let token = post_response(&srv, &idp_answer(&srv, &idp).await)
        .await
        .expect("accepted");
    let s = session_of(&login(&srv, &token).await);
    let info = srv
        .get_ok(&format!("users.info?userId={}", s.user_id), &admin)
        .await["user"]
        .clone();
    let session_index = info["services"]["saml"]["idpSession"]
        .as_str()
        .unwrap_or_else(|| panic!("idpSession: {info}"))
        .to_string();
    let http = client();

    // An IdP-initiated LogoutRequest without its signature: refused, the session lives.
    let url = idp.logout_url("alice", Some(&session_index)).await;
    let at_palaver = url.replace(
        &format!("{}/_saml/logout/{PROVIDER}", srv.base_url()),
        &srv.url(&format!("/_saml/logout/{PROVIDER}")),
    );
    let unsigned = at_palaver
        .split("&SigAlg=")
        .next()
        .expect("url")
        .to_string();
    let r = http.get(&unsigned).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A forged signature: refused too.
    let forged = at_palaver.replacen("&Signature=", "&Signature=AAAA", 1);
    let r = http.get(&forged).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    srv.get_ok("me", &s).await;

    // The signed one ends the session and is answered at the IdP.
    let r = http.get(&at_palaver).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::FOUND, "{}", srv.log());
    let back = r.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    assert!(back.starts_with(&idp.slo_url()), "{back}");
    assert!(back.contains("SAMLResponse="), "{back}");
    let (status, _) = srv.get("me", &s).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = http.get(&back).send().await.expect("IdP");
    assert_eq!(r.status(), StatusCode::OK, "{}", idp.log());
    assert_eq!(idp.last_logout().await["kind"], "response");
    // The same LogoutRequest again: refused (single use).
    let r = http.get(&at_palaver).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // SP-initiated: samlLogout gives the IdP's address with our LogoutRequest; the
    // IdP's signed LogoutResponse comes back and is accepted once.
    let token = post_response(&srv, &idp_answer(&srv, &idp).await)
        .await
        .expect("accepted");
    let s = session_of(&login(&srv, &token).await);
    let res = srv
        .post_ok("method.call/samlLogout", &s, json!({"message": serde_json::to_string(&json!({"msg": "method", "id": "1", "method": "samlLogout", "params": [PROVIDER]})).expect("json")}))
        .await;
    let inner: Value =
        serde_json::from_str(res["message"].as_str().expect("message")).expect("json");
    let to_idp = inner["result"]
        .as_str()
        .unwrap_or_else(|| panic!("{inner}"))
        .to_string();
    assert!(to_idp.starts_with(&idp.slo_url()), "{to_idp}");
    let r = http.get(&to_idp).send().await.expect("IdP");
    assert_eq!(r.status(), StatusCode::FOUND, "{}", idp.log());
    let logout = idp.last_logout().await;
    assert_eq!(logout["kind"], "request", "{logout}");
    assert_eq!(logout["name_id"], "alice", "{logout}");
    let answer = r.headers()[LOCATION]
        .to_str()
        .expect("location")
        .to_string();
    assert!(answer.contains("/_saml/logout/"), "{answer}");
    let tampered = answer.replacen("&Signature=", "&Signature=AAAA", 1);
    let r = http.get(&tampered).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = http.get(&answer).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::FOUND, "{}", srv.log());
    assert_eq!(r.headers()[LOCATION], "/");
    let r = http.get(&answer).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "answered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_signs_in_with_saml_and_sees_refusals() {
    use palaver_tests::browser::Browser;
    let (srv, _admin, idp) = start("All").await;
    let b = Browser::start().await;

    // An unsigned answer: back on the login page, told why.
    idp.next(json!({"sign_response": false, "sign_assertion": false}))
        .await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.wait_text("[data-testid=saml-login]", "Sign in with Company SSO")
        .await;
    b.click("[data-testid=saml-login]").await;
    b.wait_text("[data-testid=login-error]", "could not be verified")
        .await;
    b.screenshot("saml-refused").await;

    // A full sign-in through the IdP's auto-posting form.
    idp.next(json!({"sign_response": true, "sign_assertion": true}))
        .await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.click("[data-testid=saml-login]").await;
    b.wait_for("[data-testid=app-shell]").await;
    b.screenshot("saml-signed-in").await;

    // Logging out of a SAML session logs out at the IdP too (its LogoutRequest
    // names alice), and the IdP's answer brings the browser back to the login page.
    b.click("[data-testid=logout]").await;
    b.wait_for("[data-testid=login-submit]").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let last = idp.last_logout().await;
        if last["kind"] == "response" || last["kind"] == "request" {
            assert_eq!(last["kind"], "request", "{last}");
            assert_eq!(last["name_id"], "alice", "{last}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no logout at the IdP: {last}\n{}",
            srv.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.wait_for("[data-testid=login-submit]").await;
    assert!(
        b.url().await.starts_with(&srv.base_url()),
        "{}",
        b.url().await
    );
}
