//! Outgoing webhooks' guard, history and options, and incoming webhooks' rate
//! limit, end to end against local HTTP receivers: private targets refused at
//! definition and at delivery unless the operator allowed them; every delivery
//! attempt in `integrations.history` (request, status, body excerpt, error),
//! bounded; `targetRoom`, `username`, `triggerWordAnywhere`, channel forms,
//! `retryFailedCalls` off, 410 disabling, Rocket.Chat's `tmid`/`alias`/`bot` fields;
//! an incoming hook over its rate limit answered 429 with `Retry-After`.

use std::time::{Duration, Instant};

use palaver_tests::hook_sink::{Answer, HookSink};
use palaver_tests::mongo::mongo_uri;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(30);

fn outgoing(name: &str, channel: &str, urls: &[String], extra: Value) -> Value {
    let mut body = json!({
        "type": "webhook-outgoing",
        "name": name,
        "enabled": true,
        "event": "sendMessage",
        "channel": channel,
        "urls": urls,
        "username": "bot",
        "scriptEnabled": false,
    });
    for (k, v) in extra.as_object().expect("extra fields") {
        body[k] = v.clone();
    }
    body
}

async fn create(srv: &Palaver, admin: &Session, body: Value) -> Value {
    srv.post_ok("integrations.create", admin, body).await["integration"].clone()
}

/// `integrations.history` of `id`, until `pred` holds for it.
async fn history_until(
    srv: &Palaver,
    admin: &Session,
    id: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = srv
            .get_ok(&format!("integrations.history?id={id}&count=50"), admin)
            .await;
        if pred(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "history never matched: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages_until(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    endpoint: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = srv
            .get_ok(&format!("{endpoint}?roomId={rid}&count=100"), who)
            .await;
        let msgs = user_messages(&body["messages"]);
        if pred(&msgs) {
            return msgs;
        }
        assert!(Instant::now() < deadline, "history never matched: {msgs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn id(v: &Value) -> String {
    str_of(&v["_id"], "id").to_string()
}

#[tokio::test]
async fn private_targets_are_refused_at_definition_and_delivery_unless_allowed() {
    let allowed = HookSink::start().await;
    let other = HookSink::start().await;
    let mut srv = Palaver::builder().envs([allowed.allow_env()]).start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = id(&create_channel(&srv, &admin, "guarded", &["alice"]).await);

    // Loopback, private, link-local (cloud metadata) and unspecified targets are
    // refused when the integration is saved, with a reason naming the address.
    let port = other
        .url("/")
        .split(':')
        .nth(2)
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    for url in [
        other.url("/x"),
        format!("http://localhost:{port}/x"),
        format!("http://[::1]:{port}/x"),
        "http://10.1.2.3/hook".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://0.0.0.0:9/x".to_string(),
    ] {
        let (status, body) = srv
            .post(
                "integrations.create",
                &admin,
                outgoing("bad", "#guarded", std::slice::from_ref(&url), json!({})),
            )
            .await;
        assert_error(status, &body, 400, Some("error-invalid-urls"), &url);
        assert!(
            body["error"].as_str().unwrap().contains("apps.http_allow"),
            "{url}: {body}"
        );
    }
    let list = srv.get_ok("integrations.list", &admin).await;
    assert_eq!(list["total"], 0, "nothing stored: {list}");

    // The operator allowed exactly this receiver: accepted, and delivered.
    let hook = create(
        &srv,
        &admin,
        outgoing("ok", "#guarded", &[allowed.url("/in")], json!({})),
    )
    .await;
    let hook_id = id(&hook);
    // Updating to a refused target is refused and changes nothing.
    let r = srv
        .request(
            Method::PUT,
            "integrations.update",
            Some(&admin),
            Body::Json(outgoing(
                "ok",
                "#guarded",
                &[other.url("/x")],
                json!({"integrationId": hook_id}),
            )),
        )
        .await;
    assert_error(r.status, &r.json, 400, Some("error-invalid-urls"), "update");
    let got = srv
        .get_ok(&format!("integrations.get?integrationId={hook_id}"), &admin)
        .await;
    assert_eq!(got["integration"]["urls"], json!([allowed.url("/in")]));

    post(&srv, &alice, &rid, "first").await;
    allowed.wait_for("/in", 1, WAIT).await;

    // The operator withdraws the allowance: the stored target is refused at
    // delivery, recorded, not retried, and never reached.
    srv.set_env("PALAVER_APPS__HTTP_ALLOW", "[]");
    srv.restart().await;
    let admin = srv.admin().await;
    let alice = srv.login("alice", &password_for("alice")).await;
    post(&srv, &alice, &rid, "second").await;
    let h = history_until(&srv, &admin, &hook_id, |h| h["total"] == 2).await;
    let refused = &h["history"][0];
    assert_eq!(refused["error"], true, "{refused}");
    assert!(
        refused["httpError"].as_str().unwrap().contains("refused"),
        "{refused}"
    );
    assert!(refused["statusCode"].is_null(), "{refused}");
    assert_eq!(
        refused["finished"], true,
        "a refusal is not retried: {refused}"
    );
    assert_eq!(refused["attempt"], 1);
    assert_eq!(h["history"][1]["statusCode"], 200, "{h}");
    let dead = srv.get_ok("palaver.outbox.dead?kind=webhook", &admin).await;
    assert_eq!(dead["total"], 1, "{dead}");
    assert_eq!(dead["items"][0]["attempts"], 1, "{dead}");
    assert_eq!(allowed.hits_on("/in").len(), 1, "the target was not called");
    assert!(other.hits().is_empty());
}

async fn history_records_attempts_bounded(mut builder: palaver_tests::server::PalaverBuilder) {
    let sink = HookSink::start().await;
    builder = builder
        .envs([sink.allow_env()])
        .env("PALAVER_INTEGRATIONS__HISTORY_KEEP", "4");
    let srv = builder.start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = id(&create_channel(&srv, &admin, "logged", &["alice"]).await);
    let hook = create(
        &srv,
        &admin,
        outgoing(
            "logged",
            "#logged",
            &[sink.url("/h")],
            json!({"retryCount": 1, "triggerWords": ["!go"]}),
        ),
    )
    .await;
    let hook_id = id(&hook);
    sink.script(
        "/h",
        [Answer::status(500), Answer::json(json!({"text": "pong"}))],
    );
    let m = post(&srv, &alice, &rid, "!go one").await;
    let h = history_until(&srv, &admin, &hook_id, |h| h["total"] == 2).await;
    assert_eq!(h["count"], 2);
    let (ok, failed) = (&h["history"][0], &h["history"][1]);
    // Rocket.Chat's shape, newest first.
    assert_eq!(ok["type"], "outgoing-webhook", "{ok}");
    assert_eq!(ok["integration"]["_id"], hook_id.as_str());
    assert_eq!(ok["event"], "sendMessage");
    assert_eq!(ok["url"], sink.url("/h"));
    assert_eq!(ok["triggerWord"], "!go");
    assert_eq!(ok["httpCallData"]["text"], "!go one", "the request: {ok}");
    assert_eq!(ok["httpCallData"]["message_id"], m["_id"]);
    assert_eq!(ok["statusCode"], 200);
    assert!(ok["httpResult"].as_str().unwrap().contains("pong"), "{ok}");
    assert_eq!(ok["error"], false);
    assert_eq!(ok["finished"], true);
    assert_eq!(ok["step"], "url-response-sent-message");
    assert_eq!(ok["attempt"], 2);
    assert!(ok["_createdAt"].is_string());
    assert_eq!(failed["statusCode"], 500, "{failed}");
    assert_eq!(failed["httpResult"], "status 500");
    assert!(failed["httpError"]
        .as_str()
        .unwrap()
        .starts_with("HTTP 500"));
    assert_eq!(failed["error"], true);
    assert_eq!(failed["finished"], false, "it was retried: {failed}");
    assert_eq!(failed["attempt"], 1);
    assert_eq!(
        failed["deliveryId"], ok["deliveryId"],
        "one call, two attempts"
    );

    // Bounded: three more calls, the four newest entries stay.
    for n in 0..3 {
        post(&srv, &alice, &rid, &format!("!go {n}")).await;
    }
    sink.wait_for("/h", 5, WAIT).await;
    // Deliveries may run side by side: the newest four are these, in any order,
    // and the oldest (the failed attempt) is gone.
    let texts = |h: &Value| -> std::collections::BTreeSet<String> {
        h["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["httpCallData"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let want: std::collections::BTreeSet<String> = ["!go 0", "!go 1", "!go 2", "!go one"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    // (Each entry is pruned right after it is written: wait for both.)
    let h = history_until(&srv, &admin, &hook_id, |h| {
        texts(h) == want && h["total"] == 4
    })
    .await;
    assert!(
        h["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["statusCode"] == 200),
        "the failed attempt was pruned: {h}"
    );
    let page = srv
        .get_ok(
            &format!("integrations.history?id={hook_id}&offset=1&count=2"),
            &admin,
        )
        .await;
    assert_page(&page, "history", 2, 1, 4, "second page");

    // Incoming hooks have a history too: each call, its answer, its refusal.
    let incoming = create(
        &srv,
        &admin,
        json!({"type": "webhook-incoming", "name": "in", "enabled": true,
               "channel": "#logged", "username": "bot", "scriptEnabled": false}),
    )
    .await;
    let path = format!(
        "/hooks/{}/{}",
        id(&incoming),
        str_of(&incoming["token"], "token")
    );
    let r = srv
        .request(
            Method::POST,
            &path,
            None,
            Body::Json(json!({"text": "from CI"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = srv
        .request(
            Method::POST,
            &path,
            None,
            Body::Json(json!({"text": "x", "channel": "#nowhere"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let h = history_until(&srv, &admin, &id(&incoming), |h| h["total"] == 2).await;
    assert_eq!(h["history"][0]["type"], "incoming-webhook", "{h}");
    assert_eq!(h["history"][0]["statusCode"], 400);
    assert_eq!(h["history"][0]["error"], true);
    assert_eq!(h["history"][1]["statusCode"], 200);
    assert_eq!(h["history"][1]["httpCallData"]["text"], "from CI");

    // Admins only; an id is required; removing an integration removes its history.
    let (status, body) = srv
        .get(&format!("integrations.history?id={hook_id}"), &alice)
        .await;
    assert_error(status, &body, 403, None, "history as a user");
    let (status, body) = srv.get("integrations.history", &admin).await;
    assert_error(status, &body, 400, None, "no id");
    srv.post_ok(
        "integrations.remove",
        &admin,
        json!({"type": "webhook-outgoing", "integrationId": hook_id}),
    )
    .await;
    let h = srv
        .get_ok(&format!("integrations.history?id={hook_id}"), &admin)
        .await;
    assert_eq!(h["total"], 0, "{h}");
}

#[tokio::test]
async fn history_records_each_attempt_and_is_bounded_on_sqlite() {
    history_records_attempts_bounded(Palaver::builder()).await;
}

#[tokio::test]
async fn history_records_each_attempt_and_is_bounded_on_mongodb() {
    history_records_attempts_bounded(
        Palaver::builder().storage_uri(mongo_uri("integration_history")),
    )
    .await;
}

#[tokio::test]
async fn incoming_hooks_are_rate_limited_per_hook_with_retry_after() {
    let srv = Palaver::builder()
        .env("PALAVER_INTEGRATIONS__INCOMING_RATE_LIMIT", "3")
        .env("PALAVER_INTEGRATIONS__INCOMING_RATE_WINDOW_SECS", "60")
        .start()
        .await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    create_channel(&srv, &admin, "ci", &["bot"]).await;
    let mut paths = Vec::new();
    for name in ["one", "two"] {
        let hook = create(
            &srv,
            &admin,
            json!({"type": "webhook-incoming", "name": name, "enabled": true,
                   "channel": "#ci", "username": "bot", "scriptEnabled": false}),
        )
        .await;
        paths.push(format!(
            "/hooks/{}/{}",
            id(&hook),
            str_of(&hook["token"], "token")
        ));
    }
    let call = |path: String| {
        let srv = &srv;
        async move {
            srv.request(
                Method::POST,
                &path,
                None,
                Body::Json(json!({"text": "build ok"})),
            )
            .await
        }
    };
    for n in 0..3 {
        let r = call(paths[0].clone()).await;
        assert_eq!(r.status, 200, "call {n}: {}", r.text);
    }
    let r = call(paths[0].clone()).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.json["success"], false);
    assert_eq!(r.json["errorType"], "error-too-many-requests", "{}", r.text);
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Another hook has its own allowance; a wrong token is still a 404.
    let r = call(paths[1].clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let wrong = format!("{}x", paths[0]);
    let r = call(wrong).await;
    assert_eq!(r.status, 404, "{}", r.text);
}

#[tokio::test]
async fn outgoing_options_target_room_username_anywhere_channels_retry_off_and_gone() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder().envs([sink.allow_env()]).start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    srv.create_user(&admin, "helper").await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.create_user(&admin, "bob").await;
    let src = id(&create_channel(&srv, &admin, "src", &["alice"]).await);
    let dest = id(&create_channel(&srv, &admin, "dest", &["alice"]).await);
    let answers = id(&create_channel(&srv, &admin, "answers", &["alice"]).await);
    let secret = id(&create_group(&srv, &admin, "secret", &["alice"]).await);

    // Anywhere in the text; the reply goes to targetRoom, posted as `username`.
    let anywhere = create(
        &srv,
        &admin,
        outgoing(
            "anywhere",
            "#src",
            &[sink.url("/any")],
            json!({"triggerWords": ["!x"], "triggerWordAnywhere": true,
                   "targetRoom": "#answers", "username": "helper"}),
        ),
    )
    .await;
    // Every private group (and nothing else).
    create(
        &srv,
        &admin,
        outgoing(
            "groups",
            "all_private_groups",
            &[sink.url("/groups")],
            json!({}),
        ),
    )
    .await;
    // DMs with bob.
    create(
        &srv,
        &admin,
        outgoing("bob", "@bob", &[sink.url("/bob")], json!({})),
    )
    .await;
    // One attempt only, and a target that is gone.
    let once = create(
        &srv,
        &admin,
        outgoing(
            "once",
            "#dest",
            &[sink.url("/once")],
            json!({"retryFailedCalls": false}),
        ),
    )
    .await;
    let gone = create(
        &srv,
        &admin,
        outgoing("gone", "#dest", &[sink.url("/gone")], json!({})),
    )
    .await;
    sink.script(
        "/any",
        [Answer::json(json!({"text": "answered elsewhere"}))],
    );
    sink.script("/once", [Answer::status(503)]);
    sink.script("/gone", [Answer::status(410)]);

    post(&srv, &alice, &src, "no trigger here").await;
    let m = post(&srv, &alice, &src, "please !x now").await;
    let hits = sink.wait_for("/any", 1, WAIT).await;
    assert_eq!(hits[0].body["trigger_word"], "!x");
    assert_eq!(hits[0].body["text"], "please !x now");
    let msgs = messages_until(&srv, &alice, &answers, "channels.history", |ms| {
        ms.iter().any(|m| m["msg"] == "answered elsewhere")
    })
    .await;
    let reply = msgs
        .iter()
        .find(|m| m["msg"] == "answered elsewhere")
        .unwrap();
    assert_eq!(reply["u"]["username"], "helper", "{reply}");
    assert_eq!(reply["bot"]["i"], anywhere["_id"], "{reply}");

    // A thread reply carries tmid; an incoming hook's message carries its alias and
    // Rocket.Chat's bot marker.
    sink.script("/any", [Answer::status(200)]);
    srv.post_ok(
        "chat.sendMessage",
        &alice,
        json!({"message": {"rid": src, "msg": "!x in a thread", "tmid": m["_id"]}}),
    )
    .await;
    let hits = sink.wait_for("/any", 2, WAIT).await;
    assert_eq!(hits[1].body["tmid"], m["_id"], "{}", hits[1].body);
    let incoming = create(
        &srv,
        &admin,
        json!({"type": "webhook-incoming", "name": "ci", "enabled": true, "alias": "Deployer",
               "channel": "#src", "username": "bot", "scriptEnabled": false}),
    )
    .await;
    let path = format!(
        "/hooks/{}/{}",
        id(&incoming),
        str_of(&incoming["token"], "token")
    );
    let r = srv
        .request(
            Method::POST,
            &path,
            None,
            Body::Json(json!({"text": "!x deployed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let hits = sink.wait_for("/any", 3, WAIT).await;
    assert_eq!(hits[2].body["alias"], "Deployer", "{}", hits[2].body);
    assert_eq!(
        hits[2].body["bot"]["i"], incoming["_id"],
        "{}",
        hits[2].body
    );
    assert_eq!(hits[2].body["user_name"], "bot");

    // Channel forms: a private group triggers all_private_groups, a DM with bob @bob.
    post(&srv, &alice, &secret, "in the group").await;
    let hits = sink.wait_for("/groups", 1, WAIT).await;
    assert_eq!(hits[0].body["channel_id"], secret.as_str());
    let dm = srv
        .post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;
    let dm_id = id(&dm["room"]);
    post(&srv, &alice, &dm_id, "hi bob").await;
    let hits = sink.wait_for("/bob", 1, WAIT).await;
    assert_eq!(hits[0].body["channel_id"], dm_id.as_str());

    // retryFailedCalls off: one attempt; 410: the integration is disabled.
    post(&srv, &alice, &dest, "to dest").await;
    sink.wait_for("/once", 1, WAIT).await;
    sink.wait_for("/gone", 1, WAIT).await;
    let h = history_until(&srv, &admin, &id(&once), |h| h["total"] == 1).await;
    assert_eq!(
        h["history"][0]["step"], "failed-and-not-configured-to-retry",
        "{h}"
    );
    let h = history_until(&srv, &admin, &id(&gone), |h| h["total"] == 1).await;
    assert_eq!(
        h["history"][0]["step"], "after-process-http-status-410",
        "{h}"
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let got = srv
            .get_ok(
                &format!("integrations.get?integrationId={}", id(&gone)),
                &admin,
            )
            .await;
        if got["integration"]["enabled"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "410 did not disable: {got}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    post(&srv, &alice, &dest, "after the 410").await;
    sink.wait_for("/once", 2, WAIT).await;
    // None of these triggered where they should not, and nothing was retried.
    assert_eq!(sink.hits_on("/once").len(), 2);
    assert_eq!(
        sink.hits_on("/gone").len(),
        1,
        "a disabled integration is not called"
    );
    assert_eq!(sink.hits_on("/groups").len(), 1, "only the group message");
    assert_eq!(sink.hits_on("/bob").len(), 1, "only the DM with bob");
    assert_eq!(
        sink.hits_on("/any").len(),
        3,
        "never the untriggered message nor its reply"
    );
}

#[tokio::test]
async fn regenerated_tokens_replace_the_old_ones() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let user = srv.create_user(&admin, "bot").await;
    create_channel(&srv, &admin, "regen", &["bot"]).await;
    let hook = create(
        &srv,
        &admin,
        json!({"type": "webhook-incoming", "name": "r", "enabled": true,
               "channel": "#regen", "username": "bot", "scriptEnabled": false}),
    )
    .await;
    let old = format!("/hooks/{}/{}", id(&hook), str_of(&hook["token"], "token"));
    let (status, body) = srv
        .post(
            "palaver.integrations.regenerateToken",
            &user,
            json!({"integrationId": id(&hook)}),
        )
        .await;
    assert_error(status, &body, 403, None, "as a user");
    let fresh = srv
        .post_ok(
            "palaver.integrations.regenerateToken",
            &admin,
            json!({"integrationId": id(&hook)}),
        )
        .await["integration"]
        .clone();
    let token = str_of(&fresh["token"], "token");
    assert_ne!(token, str_of(&hook["token"], "token"));
    assert_eq!(token.len(), 48);
    let r = srv
        .request(Method::POST, &old, None, Body::Json(json!({"text": "old"})))
        .await;
    assert_eq!(r.status, 404, "the old token is dead: {}", r.text);
    let new = format!("/hooks/{}/{token}", id(&hook));
    let r = srv
        .request(Method::POST, &new, None, Body::Json(json!({"text": "new"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}
