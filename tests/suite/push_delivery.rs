//! Mobile push end to end: `push.*` in Rocket.Chat's shapes; deliveries through the
//! queue to HTTPS fakes of Rocket.Chat's push gateway, FCM HTTP v1 (with Google's
//! token exchange) and APNs (HTTP/2) at their real host names, which check bodies,
//! headers and JWTs; dead tokens removed at once; 5xx retried; queued pushes
//! survive `kill -9` and are delivered once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use palaver_tests::fake_push::{self, Accepted, FakePush};
use palaver_tests::web_push_testing::WebPushService;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(30);

/// A server routed to the fakes, with a fast retry schedule.
async fn start(fake: &FakePush) -> Palaver {
    Palaver::builder()
        .envs(fake.palaver_env())
        .env("PALAVER_OUTBOX__BACKOFF_BASE_MS", "100")
        .env("PALAVER_OUTBOX__BACKOFF_MAX_SECS", "1")
        .env("PALAVER_OUTBOX__LEASE_SECS", "5")
        .env("PALAVER_OUTBOX__HTTP_TIMEOUT_SECS", "3")
        .start()
        .await
}

async fn set(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
}

async fn register(srv: &Palaver, who: &Session, kind: &str, value: &str, app: &str) -> Value {
    srv.post_ok(
        "push.token",
        who,
        json!({"type": kind, "value": value, "appName": app}),
    )
    .await["result"]
        .clone()
}

async fn delete_token(srv: &Palaver, who: &Session, token: &str) -> StatusCode {
    srv.request(
        Method::DELETE,
        "push.token",
        Some(who),
        Body::Json(json!({ "token": token })),
    )
    .await
    .status
}

/// `push.test`, waiting out Rocket.Chat's limit of one a second per user.
async fn push_test(srv: &Palaver, who: &Session) -> Value {
    loop {
        let (status, body) = srv.post("push.test", who, json!({})).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        assert_eq!(status, StatusCode::OK, "push.test: {body}");
        return body;
    }
}

/// Waits until the fakes accepted pushes for every token in `tokens`.
async fn accepted_for(fake: &FakePush, tokens: &[&str]) -> Vec<Accepted> {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = fake.accepted();
        if tokens.iter().all(|t| got.iter().any(|a| a.token == *t)) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "pushes never arrived for {tokens:?}: accepted {got:?}, refusals {:?}",
            fake.refusals()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn push_queue(srv: &Palaver, admin: &Session) -> Value {
    let body = srv.get_ok("palaver.outbox.stats", admin).await;
    body["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["kind"] == "push"))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn push_queue_until(srv: &Palaver, admin: &Session, pred: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let q = push_queue(srv, admin).await;
        if pred(&q) {
            return;
        }
        assert!(Instant::now() < deadline, "push queue never matched: {q}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn push_endpoints_in_rocket_chats_shapes() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;

    let r = srv
        .post_ok(
            "push.token",
            &alice,
            json!({"id": "dev-1", "type": "apn", "value": "apn-a", "appName": "chat.rocket.ios"}),
        )
        .await;
    let d = &r["result"];
    assert_eq!(d["_id"], "dev-1");
    assert_eq!(d["token"], json!({"apn": "apn-a"}));
    assert_eq!(d["appName"], "chat.rocket.ios");
    assert_eq!(d["userId"], alice.user_id.as_str());
    assert_eq!(d["enabled"], true);
    ts(&d["createdAt"], "createdAt");
    // The same id again moves the device to the new token.
    let again = srv
        .post_ok(
            "push.token",
            &alice,
            json!({"id": "dev-1", "type": "apn", "value": "apn-b", "appName": "chat.rocket.ios"}),
        )
        .await;
    assert_eq!(again["result"]["createdAt"], d["createdAt"]);
    assert_eq!(
        delete_token(&srv, &alice, "apn-a").await,
        StatusCode::NOT_FOUND
    );
    // Another user cannot remove it; the owner can, once.
    assert_eq!(
        delete_token(&srv, &bob, "apn-b").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(delete_token(&srv, &alice, "apn-b").await, StatusCode::OK);
    assert_eq!(
        delete_token(&srv, &alice, "apn-b").await,
        StatusCode::NOT_FOUND
    );

    let (status, body) = srv
        .post(
            "push.token",
            &alice,
            json!({"type": "wns", "value": "x", "appName": "a"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-type-param-not-valid"),
        "bad type",
    );
    let (status, body) = srv
        .post("push.token", &alice, json!({"type": "gcm", "appName": "a"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-token-param-not-valid"),
        "no value",
    );

    let info = srv.get_ok("push.info", &alice).await;
    assert_eq!(info["pushGatewayEnabled"], true);
    assert_eq!(info["defaultPushGateway"], true);

    // push.get: the full notification of a message the user can read.
    let chan = create_channel(&srv, &admin, "ops", &["alice", "bob"]).await;
    let rid = str_of(&chan["_id"], "rid").to_string();
    let m = post(&srv, &alice, &rid, "deploy at 5").await;
    let mid = str_of(&m["_id"], "mid");
    let got = srv.get_ok(&format!("push.get?id={mid}"), &bob).await;
    let n = &got["data"]["notification"];
    assert_eq!(got["data"]["message"]["_id"], mid);
    assert_eq!(n["title"], "#ops");
    assert_eq!(n["text"], "alice: deploy at 5");
    assert_eq!(n["from"], "push");
    assert_eq!(n["payload"]["rid"], rid.as_str());
    assert_eq!(n["payload"]["messageId"], mid);
    assert_eq!(n["payload"]["type"], "c");
    assert_eq!(n["payload"]["notificationType"], "message");
    assert_eq!(n["payload"]["sender"]["username"], "alice");
    // Not for a message in a room the user cannot read.
    let secret = create_group(&srv, &admin, "secret", &["alice"]).await;
    let hidden = post(&srv, &alice, str_of(&secret["_id"], "rid"), "psst").await;
    let (status, _) = srv
        .get(
            &format!("push.get?id={}", str_of(&hidden["_id"], "mid")),
            &bob,
        )
        .await;
    assert!(status.is_client_error(), "{status}");

    // Devices go with the session that registered them (logout) and with the user.
    register(&srv, &bob, "gcm", "gcm-bob", "chat.rocket.android").await;
    assert_eq!(push_test(&srv, &bob).await["tokensCount"], 1);
    srv.request(Method::POST, "logout", Some(&bob), Body::None)
        .await;
    let bob = srv.login("bob", &password_for("bob")).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = srv.post("push.test", &bob, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-no-tokens-for-this-user"),
        "no devices left",
    );
    register(&srv, &bob, "gcm", "gcm-bob", "chat.rocket.android").await;
    let r = srv
        .request(
            Method::POST,
            "users.delete",
            Some(&admin),
            Body::Json(json!({"userId": bob.user_id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The token is free again: another user registering it does not find bob's.
    register(&srv, &alice, "gcm", "gcm-bob", "chat.rocket.android").await;
    assert_eq!(delete_token(&srv, &alice, "gcm-bob").await, StatusCode::OK);
}

#[tokio::test]
async fn gateway_gets_rocket_chats_body_dead_tokens_go_and_5xx_is_retried() {
    let fake = FakePush::start().await;
    let srv = start(&fake).await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    set(&srv, &admin, "Push_enable_gateway", json!(true)).await;
    set(&srv, &admin, "Push_gateway_token", json!("gw-secret")).await;
    register(&srv, &alice, "apn", "apn-live", "chat.rocket.ios").await;
    register(&srv, &alice, "gcm", "gcm-dead", "chat.rocket.android").await;
    register(&srv, &alice, "gcm", "gcm-flaky", "chat.rocket.android").await;
    fake.kill_token("gcm-dead");
    fake.script("gcm-flaky", &[500, 503]);

    let r = push_test(&srv, &alice).await;
    assert_eq!(r["tokensCount"], 3);
    let got = accepted_for(&fake, &["apn-live", "gcm-flaky"]).await;
    let apn = got.iter().find(|a| a.token == "apn-live").unwrap();
    assert_eq!(apn.service, "gateway-apn");
    assert_eq!(
        apn.request.header("authorization"),
        Some("Bearer gw-secret")
    );
    let body = apn.request.json();
    let o = &body["options"];
    assert_eq!(body["token"], "apn-live");
    assert_eq!(o["createdBy"], "<SERVER>");
    assert_eq!(o["from"], "push");
    assert_eq!(o["sent"], false);
    assert_eq!(o["sending"], 0);
    assert_eq!(o["title"], "Palaver");
    assert_eq!(o["text"], "This is a test push");
    assert_eq!(o["userId"], alice.user_id.as_str());
    assert_eq!(o["topic"], "chat.rocket.ios");
    // The badge is alice's unread count: nothing unread.
    assert_eq!(o["badge"], 0);
    assert_eq!(o["sound"], "default");
    assert_eq!(o["apn"], json!({"category": "MESSAGE"}));
    assert_eq!(o["gcm"]["style"], "inbox");
    assert!(o["notId"].is_i64(), "{o}");
    assert!(o["uniqueId"].as_str().is_some_and(|u| !u.is_empty()), "{o}");
    ts(&o["createdAt"], "createdAt");
    assert_eq!(o["payload"]["notificationType"], "message");
    assert!(o["payload"]["host"]
        .as_str()
        .unwrap()
        .starts_with("http://"));
    let gcm = got.iter().find(|a| a.token == "gcm-flaky").unwrap();
    assert_eq!(gcm.service, "gateway-gcm");
    assert!(gcm.request.json()["options"].get("topic").is_none());
    // 500, 503, then delivered: three attempts, one delivery.
    let flaky: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.json()["token"] == "gcm-flaky")
        .map(|r| r.status)
        .collect();
    assert_eq!(flaky, [500, 503, 200]);
    // The gateway's 406 removed the dead token at once (not retried, not dead-lettered).
    push_queue_until(&srv, &admin, |q| q["pending"] == 0 && q["dead"] == 0).await;
    let dead_calls = fake
        .requests()
        .iter()
        .filter(|r| r.json()["token"] == "gcm-dead")
        .count();
    assert_eq!(dead_calls, 1);
    assert_eq!(
        delete_token(&srv, &alice, "gcm-dead").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(fake.accepted().len(), 2, "{:?}", fake.accepted());

    // Privacy: only "You have a new message"; the app asks push.get for the rest.
    set(
        &srv,
        &admin,
        "Push_request_content_from_server",
        json!(true),
    )
    .await;
    let before = fake.accepted().len();
    push_test(&srv, &alice).await;
    let deadline = Instant::now() + WAIT;
    while fake.accepted().len() < before + 2 {
        assert!(Instant::now() < deadline, "{:?}", fake.refusals());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for a in &fake.accepted()[before..] {
        let o = &a.request.json()["options"];
        assert_eq!(o["text"], "You have a new message");
        assert_eq!(o["title"], "");
        assert_eq!(o["payload"]["notificationType"], "message-id-only");
        assert!(o["payload"].get("rid").is_none(), "{o}");
    }
    // A refusal (400) is not retried: dead-lettered for admins.
    fake.script("apn-live", &[400]);
    push_test(&srv, &alice).await;
    push_queue_until(&srv, &admin, |q| q["dead"] == 1 && q["pending"] == 0).await;
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());
}

#[tokio::test]
async fn fcm_v1_and_apns_directly_with_service_account_and_p8_key() {
    let fake = FakePush::start().await;
    let srv = start(&fake).await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    set(
        &srv,
        &admin,
        "Push_google_api_credentials",
        json!(fake.service_account_json()),
    )
    .await;
    set(&srv, &admin, "Push_apn_key", json!(fake.apns_key_pem())).await;
    set(
        &srv,
        &admin,
        "Push_apn_key_id",
        json!(fake_push::APNS_KEY_ID),
    )
    .await;
    set(
        &srv,
        &admin,
        "Push_apn_team_id",
        json!(fake_push::APNS_TEAM_ID),
    )
    .await;
    register(&srv, &alice, "gcm", "fcm-live", "chat.palaver.android").await;
    register(&srv, &alice, "gcm", "fcm-dead", "chat.palaver.android").await;
    register(&srv, &alice, "apn", "apns-live", "chat.palaver.ios").await;
    register(&srv, &alice, "apn", "apns-dead", "chat.palaver.ios").await;
    fake.kill_token("fcm-dead");
    fake.kill_token("apns-dead");
    fake.script("apns-live", &[500]);

    assert_eq!(push_test(&srv, &alice).await["tokensCount"], 4);
    let got = accepted_for(&fake, &["fcm-live", "apns-live"]).await;
    assert!(fake.refusals().is_empty(), "{:?}", fake.refusals());

    let fcm = got.iter().find(|a| a.token == "fcm-live").unwrap();
    assert_eq!(fcm.service, "fcm");
    let m = &fcm.request.json()["message"];
    assert_eq!(m["token"], "fcm-live");
    assert_eq!(
        m["notification"],
        json!({"title": "Palaver", "body": "This is a test push"})
    );
    assert_eq!(m["android"], json!({"priority": "HIGH"}));
    // No unread messages: no count on the icon.
    assert!(m["data"].get("msgcnt").is_none(), "{m}");
    assert_eq!(m["data"]["soundname"], "default");
    assert_eq!(m["data"]["style"], "inbox");
    let ejson: Value = serde_json::from_str(m["data"]["ejson"].as_str().unwrap()).unwrap();
    assert_eq!(ejson["notificationType"], "message");
    // One token exchange for both FCM sends (the access token is cached).
    let exchanges = fake
        .requests()
        .iter()
        .filter(|r| r.host == fake_push::OAUTH_HOST)
        .count();
    assert_eq!(exchanges, 1);

    let apns = got.iter().find(|a| a.token == "apns-live").unwrap();
    assert_eq!(apns.request.host, fake_push::APNS_HOST);
    assert_eq!(apns.request.header("apns-topic"), Some("chat.palaver.ios"));
    assert_eq!(apns.request.header("apns-priority"), Some("10"));
    let b = apns.request.json();
    assert_eq!(
        b["aps"]["alert"],
        json!({"title": "Palaver", "body": "This is a test push"})
    );
    assert_eq!(b["aps"]["category"], "MESSAGE");
    assert_eq!(b["messageFrom"], "push");
    // APNs' 500 was retried.
    let apns_statuses: Vec<u16> = fake
        .requests()
        .iter()
        .filter(|r| r.route() == "/3/device/apns-live")
        .map(|r| r.status)
        .collect();
    assert_eq!(apns_statuses, [500, 200]);

    // UNREGISTERED and 410 removed the dead devices at once.
    push_queue_until(&srv, &admin, |q| q["pending"] == 0 && q["dead"] == 0).await;
    assert_eq!(
        delete_token(&srv, &alice, "fcm-dead").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        delete_token(&srv, &alice, "apns-dead").await,
        StatusCode::NOT_FOUND
    );
    let r = srv
        .request(
            Method::DELETE,
            "push.token",
            Some(&alice),
            Body::Json(json!({ "token": "fcm-live" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}\n{}", r.text, srv.log());
}

#[tokio::test]
async fn queued_pushes_survive_kill9_and_are_delivered_once_after_restart() {
    let fake = FakePush::start().await;
    let mut srv = start(&fake).await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    set(&srv, &admin, "Push_enable_gateway", json!(true)).await;
    register(&srv, &alice, "apn", "apn-k", "chat.rocket.ios").await;
    // The gateway is down while the pushes are queued: direct messages to alice,
    // who is offline.
    fake.script("apn-k", &[503; 10_000]);
    const N: usize = 8;
    let rid = str_of(
        &srv.post_ok("im.create", &admin, json!({"username": "alice"}))
            .await["room"]["_id"],
        "rid",
    )
    .to_string();
    for i in 0..N {
        post(&srv, &admin, &rid, &format!("queued {i}")).await;
    }
    push_queue_until(&srv, &admin, |q| q["pending"] == N).await;
    srv.kill9();
    fake.script("apn-k", &[]);
    srv.start_again().await;

    let deadline = Instant::now() + WAIT;
    while fake.accepted().len() < N {
        assert!(
            Instant::now() < deadline,
            "{} of {N} delivered after restart",
            fake.accepted().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    push_queue_until(&srv, &admin, |q| q["pending"] == 0 && q["dead"] == 0).await;
    let mut per_message: BTreeMap<String, usize> = BTreeMap::new();
    for a in fake.accepted() {
        let id = a.request.json()["options"]["payload"]["messageId"]
            .as_str()
            .unwrap()
            .to_string();
        *per_message.entry(id).or_default() += 1;
    }
    assert_eq!(per_message.len(), N, "{per_message:?}");
    assert!(per_message.values().all(|n| *n == 1), "{per_message:?}");
}

/// Web Push against a real push service (npm `web-push-testing`, which checks the
/// VAPID JWT against the subscription's key and decrypts the `aes128gcm` payload):
/// delivered and decryptable; an expired subscription (410) is removed; the VAPID
/// key survives a restart.
#[tokio::test]
async fn web_push_reaches_a_push_service_decryptable_and_expired_subscriptions_go() {
    let service = WebPushService::start().await;
    let mut srv = Palaver::builder()
        .env("PALAVER_OUTBOX__BACKOFF_BASE_MS", "100")
        .env("PALAVER_OUTBOX__BACKOFF_MAX_SECS", "1")
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let key = srv.get_ok("push.webKey", &alice).await;
    let public_key = str_of(&key["publicKey"], "publicKey").to_string();
    assert_eq!(key["enabled"], true);

    let sub = service.subscribe(&public_key).await;
    let r = srv
        .post_ok("push.webSubscription", &alice, sub.json.clone())
        .await;
    assert_eq!(
        r["result"]["token"]["web"]["endpoint"],
        sub.json["endpoint"]
    );
    // Registering the same browser again keeps one device.
    srv.post_ok("push.webSubscription", &alice, sub.json.clone())
        .await;
    let (status, body) = srv
        .post(
            "push.webSubscription",
            &alice,
            json!({"endpoint": "https://push.example.com/x", "keys": {"p256dh": "AAAA", "auth": "BBBB"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-subscription"),
        "bad keys",
    );

    assert_eq!(push_test(&srv, &alice).await["tokensCount"], 1);
    let deadline = Instant::now() + WAIT;
    let messages = loop {
        let m = service.messages(&sub).await;
        if !m.is_empty() {
            break m;
        }
        assert!(Instant::now() < deadline, "no push arrived:\n{}", srv.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(messages.len(), 1, "{messages:?}");
    let payload: Value = serde_json::from_str(&messages[0]).expect("JSON payload");
    assert_eq!(payload["title"], "Palaver");
    assert_eq!(payload["body"], "This is a test push");
    assert!(
        payload["url"]
            .as_str()
            .unwrap()
            .starts_with(&srv.base_url()),
        "{payload}"
    );

    // The key pair is kept in the store: the same after a restart.
    srv.restart().await;
    let alice = srv.login("alice", &password_for("alice")).await;
    let admin = srv.admin().await;
    assert_eq!(
        srv.get_ok("push.webKey", &alice).await["publicKey"],
        public_key.as_str()
    );

    // Expired: the service answers 410 and the subscription is removed.
    service.expire(&sub).await;
    push_test(&srv, &alice).await;
    push_queue_until(&srv, &admin, |q| q["pending"] == 0 && q["dead"] == 0).await;
    let r = srv
        .request(
            Method::DELETE,
            "push.webSubscription",
            Some(&alice),
            Body::Json(json!({"endpoint": sub.json["endpoint"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = srv.post("push.test", &alice, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-no-tokens-for-this-user"),
        "the expired subscription is gone",
    );
}

/// Waits until the gateway accepted `n` pushes for `token`; returns their bodies'
/// `options`, in arrival order.
async fn options_for(fake: &FakePush, token: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let got: Vec<Value> = fake
            .accepted()
            .iter()
            .filter(|a| a.token == token)
            .map(|a| a.request.json()["options"].clone())
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} pushes for {token}: refusals {:?}",
            got.len(),
            fake.refusals()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The badge a push carries is the recipient's unread count over their rooms
/// (Rocket.Chat's `getBadgeCount`), not a constant; with the privacy setting the
/// push says only "You have a new message" and the app fetches the message and
/// the full notification with `push.get`.
#[tokio::test]
async fn pushes_carry_the_unread_count_and_private_ones_are_fetched_with_push_get() {
    let fake = FakePush::start().await;
    let srv = start(&fake).await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    set(&srv, &admin, "Push_enable_gateway", json!(true)).await;
    register(&srv, &bob, "gcm", "gcm-bob", "chat.rocket.android").await;
    let chan = create_channel(&srv, &admin, "badges", &["bob"]).await;
    let chan_id = str_of(&chan["_id"], "rid").to_string();
    let dm = str_of(
        &srv.post_ok("im.create", &admin, json!({"username": "bob"}))
            .await["room"]["_id"],
        "rid",
    )
    .to_string();

    // Each push waits for the one before, so each badge counts a known state.
    post(&srv, &admin, &chan_id, "one in the channel").await;
    assert_eq!(options_for(&fake, "gcm-bob", 1).await[0]["badge"], 1);
    post(&srv, &admin, &chan_id, "two in the channel").await;
    assert_eq!(options_for(&fake, "gcm-bob", 2).await[1]["badge"], 2);
    post(&srv, &admin, &dm, "one in the DM").await;
    assert_eq!(options_for(&fake, "gcm-bob", 3).await[2]["badge"], 3);
    // Reading the channel takes its two off the count.
    srv.post_ok("subscriptions.read", &bob, json!({"rid": chan_id}))
        .await;
    post(&srv, &admin, &dm, "two in the DM").await;
    assert_eq!(options_for(&fake, "gcm-bob", 4).await[3]["badge"], 2);

    // Privacy: the push withholds the content; push.get gives it to the app.
    set(
        &srv,
        &admin,
        "Push_request_content_from_server",
        json!(true),
    )
    .await;
    let m = post(&srv, &admin, &dm, "the secret plan").await;
    let mid = str_of(&m["_id"], "mid").to_string();
    let o = options_for(&fake, "gcm-bob", 5).await[4].clone();
    assert_eq!(o["text"], "You have a new message");
    assert_eq!(o["payload"]["notificationType"], "message-id-only");
    assert_eq!(o["payload"]["messageId"], mid.as_str());
    assert_eq!(o["badge"], 3);
    assert!(!o.to_string().contains("secret plan"), "withheld: {o}");
    let got = srv.get_ok(&format!("push.get?id={mid}"), &bob).await;
    assert_eq!(got["data"]["message"]["msg"], "the secret plan");
    let n = &got["data"]["notification"];
    assert_eq!(n["text"], "the secret plan", "{n}");
    assert_eq!(n["payload"]["messageId"], mid.as_str());
    assert_eq!(n["payload"]["rid"], dm.as_str());
    assert_eq!(n["badge"], 3, "{n}");
}

/// `push.test` as Rocket.Chat limits it: refused without a device, and once a
/// second per user.
#[tokio::test]
async fn push_test_is_refused_without_devices_and_limited_to_one_a_second() {
    let fake = FakePush::start().await;
    let srv = start(&fake).await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let (status, body) = srv.post("push.test", &alice, json!({})).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-no-tokens-for-this-user"),
        "no device",
    );
    register(&srv, &alice, "gcm", "gcm-a", "chat.rocket.android").await;
    register(&srv, &bob, "gcm", "gcm-b", "chat.rocket.android").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(push_test(&srv, &alice).await["tokensCount"], 1);
    let (status, body) = srv.post("push.test", &alice, json!({})).await;
    assert_error(
        status,
        &body,
        429,
        Some("error-too-many-requests"),
        "a second test within the second",
    );
    // The limit is per user.
    assert_eq!(push_test(&srv, &bob).await["tokensCount"], 1);
}
