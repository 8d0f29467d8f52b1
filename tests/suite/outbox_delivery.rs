//! The durable delivery queue, end to end through its first consumer, Rocket.Chat
//! outgoing webhooks, against a local HTTP receiver the test scripts: Rocket.Chat's
//! body and the reply posted back; retries with backoff (500, 429 + Retry-After),
//! refusals dead-lettered without retry, the admin API (stats, dead letters, retry,
//! drop) and /metrics; posting never waits for a target; queued items survive
//! `kill -9`; two instances on one MongoDB deliver each item once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use palaver_tests::hook_sink::{Answer, Hit, HookSink};
use palaver_tests::mongo::mongo_uri;
use serde_json::{json, Value};

use crate::common::*;

const WAIT: Duration = Duration::from_secs(30);

/// Creates an outgoing webhook posting as `bot` on `channel` to `urls`.
async fn create_outgoing(
    srv: &Palaver,
    admin: &Session,
    channel: &str,
    urls: &[String],
    extra: Value,
) -> Value {
    let mut body = json!({
        "type": "webhook-outgoing",
        "name": "out",
        "enabled": true,
        "event": "sendMessage",
        "channel": channel,
        "urls": urls,
        "username": "bot",
        "token": "secret-token-1",
        "scriptEnabled": false,
    });
    for (k, v) in extra.as_object().expect("extra fields") {
        body[k] = v.clone();
    }
    srv.post_ok("integrations.create", admin, body).await["integration"].clone()
}

/// Waits until `pred` holds for the room's history (user messages, newest first).
async fn history_until(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = srv
            .get_ok(&format!("channels.history?roomId={rid}&count=100"), who)
            .await;
        let msgs = user_messages(&body["messages"]);
        if pred(&msgs) {
            return msgs;
        }
        assert!(Instant::now() < deadline, "history never matched: {msgs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `palaver.outbox.stats` until the webhook queue matches `pred`.
async fn stats_until(srv: &Palaver, admin: &Session, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = srv.get_ok("palaver.outbox.stats", admin).await;
        let q = body["queues"]
            .as_array()
            .and_then(|qs| qs.iter().find(|q| q["kind"] == "webhook"))
            .cloned()
            .unwrap_or(Value::Null);
        if pred(&q) {
            return q;
        }
        assert!(Instant::now() < deadline, "queue never matched: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn setup(srv: &Palaver, room: &str) -> (Session, Session, String) {
    let admin = srv.admin().await;
    srv.create_user(&admin, "bot").await;
    let alice = srv.create_user(&admin, "alice").await;
    let chan = create_channel(srv, &admin, room, &["alice"]).await;
    (admin, alice, str_of(&chan["_id"], "room id").to_string())
}

#[tokio::test]
async fn outgoing_webhook_posts_rocket_chat_body_and_the_reply_comes_back() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder().envs([sink.allow_env()]).start().await;
    let (admin, alice, rid) = setup(&srv, "support").await;
    let hook = create_outgoing(
        &srv,
        &admin,
        "#support",
        &[sink.url("/ask")],
        json!({"triggerWords": ["!ask"]}),
    )
    .await;
    assert_eq!(hook["type"], "webhook-outgoing");
    assert_eq!(hook["event"], "sendMessage");
    assert_eq!(hook["urls"], json!([sink.url("/ask")]));
    assert_eq!(hook["triggerWords"], json!(["!ask"]));
    assert_eq!(hook["retryFailedCalls"], true, "{hook}");
    assert_eq!(hook["retryCount"], 6);
    assert_eq!(hook["retryDelay"], "powers-of-ten");
    let got = srv
        .get_ok(
            &format!(
                "integrations.get?integrationId={}",
                str_of(&hook["_id"], "id")
            ),
            &admin,
        )
        .await;
    assert_eq!(got["integration"]["urls"], hook["urls"]);

    sink.script("/ask", [Answer::json(json!({"text": "pong from the bot"}))]);
    post(&srv, &alice, &rid, "no trigger word here").await;
    let m = post(&srv, &alice, &rid, "!ask ping").await;
    let hits = sink.wait_for("/ask", 1, WAIT).await;
    let body = &hits[0].body;
    assert_eq!(body["token"], "secret-token-1", "{body}");
    assert_eq!(body["channel_id"], rid.as_str());
    assert_eq!(body["channel_name"], "support");
    assert_eq!(body["message_id"], m["_id"]);
    assert_eq!(body["user_id"], alice.user_id.as_str());
    assert_eq!(body["user_name"], "alice");
    assert_eq!(body["text"], "!ask ping");
    assert_eq!(body["trigger_word"], "!ask");
    assert_eq!(body["bot"], false);
    assert!(
        body["timestamp"].is_string() && body["siteUrl"].is_string(),
        "{body}"
    );
    assert_eq!(
        hits[0].headers.get("content-type").map(String::as_str),
        Some("application/json")
    );

    // The JSON reply is posted into the room as the integration's user.
    let msgs = history_until(&srv, &alice, &rid, |ms| {
        ms.iter().any(|m| m["msg"] == "pong from the bot")
    })
    .await;
    let reply = msgs
        .iter()
        .find(|m| m["msg"] == "pong from the bot")
        .expect("reply");
    assert_eq!(reply["u"]["username"], "bot", "{reply}");

    // A marker after the reply: the reply itself triggered nothing (the bot's own
    // messages never trigger its integration), the message without the word neither.
    sink.script("/ask", [Answer::json(json!({"text": "second pong"}))]);
    post(&srv, &alice, &rid, "!ask again").await;
    history_until(&srv, &alice, &rid, |ms| {
        ms.iter().any(|m| m["msg"] == "second pong")
    })
    .await;
    let texts: Vec<Value> = sink
        .hits_on("/ask")
        .iter()
        .map(|h| h.body["text"].clone())
        .collect();
    assert_eq!(texts, vec![json!("!ask ping"), json!("!ask again")]);
    let q = stats_until(&srv, &admin, |q| q["pending"] == 0).await;
    assert_eq!(q["dead"], 0, "{q}");
}

#[tokio::test]
async fn failing_targets_retry_with_backoff_dead_letter_and_retry_from_dead() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder()
        .envs([sink.allow_env()])
        .env("PALAVER_METRICS_TOKEN", "metrics-secret-0123456789")
        .start()
        .await;
    let (admin, alice, rid) = setup(&srv, "flaky").await;
    let urls: Vec<String> = ["/flaky", "/limited", "/gone", "/down"]
        .iter()
        .map(|p| sink.url(p))
        .collect();
    create_outgoing(&srv, &admin, "#flaky", &urls, json!({"retryCount": 2})).await;
    sink.script("/flaky", [Answer::status(500), Answer::status(200)]);
    sink.script(
        "/limited",
        [
            Answer::status(429).header("retry-after", "1"),
            Answer::status(200),
        ],
    );
    sink.script("/gone", [Answer::status(404)]);
    sink.script(
        "/down",
        [
            Answer::status(503),
            Answer::status(502),
            Answer::status(500),
        ],
    );

    let m = post(&srv, &alice, &rid, "deploy started").await;
    let gap = |hits: &[Hit]| hits[1].at.duration_since(hits[0].at);
    // 500 then 200: retried after the first backoff step (0.1 s, half of it at least).
    let flaky = sink.wait_for("/flaky", 2, WAIT).await;
    assert!(
        gap(&flaky) >= Duration::from_millis(50),
        "retried after {:?}",
        gap(&flaky)
    );
    // 429 with Retry-After: 1 — not before a second.
    let limited = sink.wait_for("/limited", 2, WAIT).await;
    assert!(
        gap(&limited) >= Duration::from_millis(950),
        "Retry-After ignored: {:?}",
        gap(&limited)
    );
    // Three attempts in all (retryCount 2), each later than the one before.
    let down = sink.wait_for("/down", 3, WAIT).await;
    assert!(
        down[2].at.duration_since(down[1].at) >= Duration::from_millis(500),
        "second retry waits longer (1 s step): {down:?}"
    );

    // 404 and the exhausted 5xx end as dead letters; 404 without a retry.
    let q = stats_until(&srv, &admin, |q| q["dead"] == 2 && q["pending"] == 0).await;
    assert!(q["oldestPendingAt"].is_null(), "{q}");
    let dead = srv.get_ok("palaver.outbox.dead?kind=webhook", &admin).await;
    assert_eq!(dead["total"], 2, "{dead}");
    let by_url: BTreeMap<String, Value> = dead["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["payload"]["url"].as_str().unwrap().to_string(), i.clone()))
        .collect();
    let gone = &by_url[&sink.url("/gone")];
    assert_eq!(gone["attempts"], 1, "a 404 is not retried: {gone}");
    assert!(
        gone["lastError"].as_str().unwrap().starts_with("HTTP 404"),
        "{gone}"
    );
    assert_eq!(gone["payload"]["body"]["message_id"], m["_id"]);
    let down_item = &by_url[&sink.url("/down")];
    assert_eq!(down_item["attempts"], 3, "{down_item}");
    assert!(
        down_item["lastError"]
            .as_str()
            .unwrap()
            .contains("HTTP 500"),
        "{down_item}"
    );
    assert_eq!(sink.hits_on("/gone").len(), 1);
    assert_eq!(sink.hits_on("/flaky").len(), 2, "no call after a 2xx");
    assert_eq!(sink.hits_on("/limited").len(), 2);

    let metrics = srv.scrape_metrics("metrics-secret-0123456789").await;
    assert!(
        metrics
            .text
            .contains("palaver_outbox_dead{kind=\"webhook\"} 2"),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("palaver_outbox_depth{kind=\"webhook\"} 0"),
        "{}",
        metrics.text
    );

    // Admins only.
    let (status, body) = srv.get("palaver.outbox.stats", &alice).await;
    assert_error(status, &body, 403, None, "stats as a user");
    let (status, body) = srv
        .post("palaver.outbox.retry", &alice, json!({"all": true}))
        .await;
    assert_error(status, &body, 403, None, "retry as a user");

    // Retry one from dead: delivered this time, and gone from the dead letters.
    let gone_id = gone["_id"].as_str().unwrap();
    let r = srv
        .post_ok("palaver.outbox.retry", &admin, json!({"id": gone_id}))
        .await;
    assert_eq!(r["retried"], 1);
    let hits = sink.wait_for("/gone", 2, WAIT).await;
    assert_eq!(hits[1].body["message_id"], m["_id"]);
    stats_until(&srv, &admin, |q| q["dead"] == 1 && q["pending"] == 0).await;
    let (status, body) = srv
        .post("palaver.outbox.retry", &admin, json!({"id": gone_id}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-outbox-item-not-found"),
        "retry of a delivered item",
    );
    let (status, body) = srv.post("palaver.outbox.drop", &admin, json!({})).await;
    assert_error(status, &body, 400, None, "drop without a selection");
    // Drop the rest.
    let d = srv
        .post_ok(
            "palaver.outbox.drop",
            &admin,
            json!({"all": true, "kind": "webhook"}),
        )
        .await;
    assert_eq!(d["dropped"], 1);
    stats_until(&srv, &admin, |q| q["dead"] == 0).await;
    assert_eq!(
        sink.hits_on("/down").len(),
        3,
        "a dropped item is not delivered"
    );
}

#[tokio::test]
async fn posting_does_not_wait_for_a_target_that_hangs() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder().envs([sink.allow_env()]).start().await;
    let (admin, alice, rid) = setup(&srv, "slow").await;
    create_outgoing(&srv, &admin, "#slow", &[sink.url("/hang")], json!({})).await;
    sink.set_default(Answer::status(200).held());

    post(&srv, &alice, &rid, "first").await;
    let held = sink.wait_for("/hang", 1, WAIT).await;
    assert_eq!(held[0].body["text"], "first");
    // The target holds the first call open; further posts are acknowledged anyway.
    for i in 0..5 {
        let m = post(&srv, &alice, &rid, &format!("while held {i}")).await;
        assert_eq!(m["msg"], format!("while held {i}"));
    }
    let q = srv.get_ok("palaver.outbox.stats", &admin).await;
    assert!(q["queues"][0]["pending"].as_u64().unwrap() >= 1, "{q}");
    sink.release();
    let hits = sink.wait_for("/hang", 6, WAIT).await;
    assert_eq!(hits.len(), 6, "{hits:?}");
    stats_until(&srv, &admin, |q| q["pending"] == 0).await;
}

#[tokio::test]
async fn queued_items_survive_kill9_and_are_delivered_once_after_restart() {
    let sink = HookSink::start().await;
    let mut srv = Palaver::builder()
        .envs([sink.allow_env()])
        .env("PALAVER_OUTBOX__BACKOFF_MAX_SECS", "1")
        .env("PALAVER_OUTBOX__LEASE_SECS", "3")
        .env("PALAVER_OUTBOX__HTTP_TIMEOUT_SECS", "2")
        .start()
        .await;
    let (admin, alice, rid) = setup(&srv, "durable").await;
    create_outgoing(
        &srv,
        &admin,
        "#durable",
        &[sink.url("/later")],
        json!({"retryCount": 50}),
    )
    .await;
    // The target is down while the messages are posted: everything stays queued.
    sink.set_default(Answer::status(503));
    const N: usize = 20;
    let mut ids = Vec::new();
    for i in 0..N {
        let m = post(&srv, &alice, &rid, &format!("queued {i}")).await;
        ids.push(m["_id"].as_str().unwrap().to_string());
    }
    stats_until(&srv, &admin, |q| q["pending"] == N).await;
    srv.kill9();
    sink.set_default(Answer::status(200));
    srv.start_again().await;

    let deadline = Instant::now() + WAIT;
    let delivered = loop {
        let ok: Vec<Hit> = sink
            .hits_on("/later")
            .into_iter()
            .filter(|h| h.status == 200)
            .collect();
        if ok.len() >= N {
            break ok;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {N} delivered after restart",
            ok.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stats_until(&srv, &admin, |q| q["pending"] == 0 && q["dead"] == 0).await;
    let mut per_message: BTreeMap<String, usize> = BTreeMap::new();
    for h in sink.hits_on("/later").iter().filter(|h| h.status == 200) {
        *per_message
            .entry(h.body["message_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(delivered.len(), N, "{per_message:?}");
    for id in &ids {
        assert_eq!(
            per_message.get(id),
            Some(&1),
            "{id} delivered once: {per_message:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_mongodb_deliver_each_item_once() {
    let sink = HookSink::start().await;
    let uri = mongo_uri("outbox_two_instances");
    // Short polls: each instance also leases what the other enqueued.
    let start = |uri: String| {
        Palaver::builder()
            .envs([sink.allow_env()])
            .storage_uri(uri)
            .env("PALAVER_OUTBOX__POLL_INTERVAL_MS", "20")
            .start()
    };
    let a = start(uri.clone()).await;
    let b = start(uri).await;
    let (admin_a, alice_a, rid) = setup(&a, "shared").await;
    let alice_b = b.login("alice", &password_for("alice")).await;
    create_outgoing(&a, &admin_a, "#shared", &[sink.url("/both")], json!({})).await;
    // The target is slow to answer the first calls, so both instances are busy.
    sink.script("/both", (0..8).map(|_| Answer::status(200)));
    const N: usize = 40;
    let mut ids = Vec::new();
    for i in 0..N {
        let (srv, who) = if i % 2 == 0 {
            (&a, &alice_a)
        } else {
            (&b, &alice_b)
        };
        let m = post(srv, who, &rid, &format!("both {i}")).await;
        ids.push(m["_id"].as_str().unwrap().to_string());
    }
    sink.wait_for("/both", N, WAIT).await;
    stats_until(&a, &admin_a, |q| q["pending"] == 0).await;
    let hits = sink.hits_on("/both");
    let mut per_message: BTreeMap<String, usize> = BTreeMap::new();
    for h in &hits {
        *per_message
            .entry(h.body["message_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for id in &ids {
        assert_eq!(per_message.get(id), Some(&1), "{id}: {per_message:?}");
    }
    assert_eq!(hits.len(), N);
}

#[tokio::test]
async fn a_graceful_stop_gives_back_deliveries_cut_short() {
    let sink = HookSink::start().await;
    // The grace period (1 s) is shorter than the target takes: the delivery is cut
    // short at shutdown and its lease given back, so the next start delivers it at
    // once rather than after the lease (60 s) expired.
    let mut srv = Palaver::builder()
        .envs([sink.allow_env()])
        .env("PALAVER_SHUTDOWN_GRACE_SECS", "1")
        .env("PALAVER_OUTBOX__LEASE_SECS", "60")
        .start()
        .await;
    let (admin, alice, rid) = setup(&srv, "stopping").await;
    create_outgoing(&srv, &admin, "#stopping", &[sink.url("/slow")], json!({})).await;
    sink.script("/slow", [Answer::status(200).held()]);
    let m = post(&srv, &alice, &rid, "cut short").await;
    sink.wait_for("/slow", 1, WAIT).await;
    assert!(
        srv.stop(Duration::from_secs(15)).await,
        "stopped within its grace"
    );
    assert!(
        srv.log().contains("gave back unfinished deliveries"),
        "{}",
        srv.log()
    );
    srv.start_again().await;
    let hits = sink.wait_for("/slow", 2, Duration::from_secs(20)).await;
    assert_eq!(hits[1].body["message_id"], m["_id"]);
    assert_eq!(hits[1].status, 200);
    stats_until(&srv, &admin, |q| q["pending"] == 0).await;
}

#[tokio::test]
async fn edits_trigger_with_run_on_edits_and_reactions_never_do() {
    let sink = HookSink::start().await;
    let srv = Palaver::builder().envs([sink.allow_env()]).start().await;
    let (admin, alice, rid) = setup(&srv, "edits").await;
    create_outgoing(
        &srv,
        &admin,
        "#edits",
        &[sink.url("/edits")],
        json!({"runOnEdits": true}),
    )
    .await;
    let m = post(&srv, &alice, &rid, "typo").await;
    let mid = str_of(&m["_id"], "message id").to_string();
    sink.wait_for("/edits", 1, WAIT).await;
    stats_until(&srv, &admin, |q| q["pending"] == 0).await;
    // A reaction changes the message too, but is not an edit.
    srv.post_ok(
        "chat.react",
        &alice,
        json!({"messageId": mid, "emoji": ":tada:"}),
    )
    .await;
    srv.post_ok(
        "chat.update",
        &alice,
        json!({"roomId": rid, "msgId": mid, "text": "fixed"}),
    )
    .await;
    let hits = sink.wait_for("/edits", 2, WAIT).await;
    assert_eq!(hits[1].body["text"], "fixed", "{:?}", hits[1].body);
    assert_eq!(hits[1].body["isEdited"], true);
    assert_eq!(hits[1].body["message_id"], mid.as_str());
    stats_until(&srv, &admin, |q| q["pending"] == 0).await;
    let texts: Vec<Value> = sink
        .hits_on("/edits")
        .iter()
        .map(|h| h.body["text"].clone())
        .collect();
    assert_eq!(
        texts,
        vec![json!("typo"), json!("fixed")],
        "the reaction triggered nothing"
    );
}
