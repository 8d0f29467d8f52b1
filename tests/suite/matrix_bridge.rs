//! The Matrix bridge against a real Synapse (see tests/src/synapse.rs): Palaver is
//! the homeserver's application service; messages, edits, redactions and
//! reactions cross both ways, transactions replayed create nothing twice, and
//! what Palaver sends while Synapse is down — or across a `kill -9` of Palaver —
//! arrives once both are back.

use std::path::Path;
use std::time::{Duration, Instant};

use palaver_tests::ddp::Ddp;
use palaver_tests::net::free_port;
use palaver_tests::server::{Palaver, Session};
use palaver_tests::synapse::{enc, MatrixUser, Synapse};
use serde_json::{json, Value};

const SERVER_NAME: &str = "localhost";

/// Palaver with the bridge on a free port, and Synapse with its registration.
struct Pair {
    palaver: Palaver,
    synapse: Synapse,
    bridge_port: u16,
    _dir: tempfile::TempDir,
    registration: std::path::PathBuf,
}

fn matrix_env(bridge_port: u16, hs_url: &str, registration: &Path) -> Vec<(String, String)> {
    vec![
        ("PALAVER_MATRIX__ENABLED".into(), "true".into()),
        ("PALAVER_MATRIX__SERVER_NAME".into(), SERVER_NAME.into()),
        ("PALAVER_MATRIX__HOMESERVER_URL".into(), hs_url.into()),
        (
            "PALAVER_MATRIX__LISTEN".into(),
            format!("127.0.0.1:{bridge_port}"),
        ),
        (
            "PALAVER_MATRIX__REGISTRATION_FILE".into(),
            registration.display().to_string(),
        ),
    ]
}

/// Writes the registration with `palaver matrix registration`.
fn write_registration(bridge_port: u16, hs_port: u16, registration: &Path) {
    let out = std::process::Command::new(palaver_tests::server::palaver_bin())
        .args(["matrix", "registration", "--output"])
        .arg(registration)
        .envs(matrix_env(
            bridge_port,
            &format!("http://127.0.0.1:{hs_port}"),
            registration,
        ))
        .output()
        .expect("run palaver matrix registration");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn start_pair(storage: Option<String>) -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let registration = dir.path().join("registration.yaml");
    let bridge_port = free_port();
    // Synapse needs the registration before it starts; its port is chosen inside,
    // so the registration's homeserver URL does not matter (only the bridge URL).
    write_registration(bridge_port, 0, &registration);
    let synapse = Synapse::start(SERVER_NAME, &registration).await;
    let mut builder =
        Palaver::builder().envs(matrix_env(bridge_port, &synapse.url(), &registration));
    if let Some(uri) = storage {
        builder = builder.storage_uri(uri);
    }
    let palaver = builder.start().await;
    Pair {
        palaver,
        synapse,
        bridge_port,
        _dir: dir,
        registration,
    }
}

fn hs_token(registration: &Path) -> String {
    let text = std::fs::read_to_string(registration).expect("registration");
    text.lines()
        .find_map(|l| l.strip_prefix("hs_token:"))
        .expect("hs_token")
        .trim()
        .trim_matches('\'')
        .to_string()
}

/// A Matrix room made by `owner`, bridged by the admin to a new Palaver channel.
async fn bridged_room(
    pair: &Pair,
    admin: &Session,
    owner: &MatrixUser,
    name: &str,
) -> (String, String) {
    let created = pair
        .synapse
        .call(
            Some(owner),
            reqwest::Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(json!({ "preset": "public_chat", "name": name })),
        )
        .await;
    let matrix_room = created["room_id"].as_str().expect("room_id").to_string();
    let channel = pair
        .palaver
        .post_ok("/api/v1/channels.create", admin, json!({ "name": name }))
        .await;
    let rid = channel["channel"]["_id"].as_str().expect("rid").to_string();
    let bridged = pair
        .palaver
        .post_ok(
            "/api/v1/palaver.matrix.bridgeRoom",
            admin,
            json!({ "roomId": rid, "matrixRoom": matrix_room }),
        )
        .await;
    assert_eq!(
        bridged["room"]["matrixRoomId"],
        matrix_room.as_str(),
        "{bridged}"
    );
    (rid, matrix_room)
}

/// Polls the Palaver room's history until `pred` holds; returns the messages
/// (newest first).
async fn wait_history(
    pair: &Pair,
    who: &Session,
    rid: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = pair
            .palaver
            .get_ok(
                &format!("/api/v1/channels.history?roomId={rid}&count=100"),
                who,
            )
            .await;
        let messages = v["messages"].as_array().cloned().unwrap_or_default();
        if pred(&messages) {
            return messages;
        }
        assert!(
            Instant::now() < deadline,
            "Palaver room never showed {what}: {}\nlog:\n{}",
            serde_json::to_string_pretty(&messages).unwrap_or_default(),
            pair.palaver.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["t"].is_null())
        .map(|m| m["msg"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The `m.room.message` bodies in the room sent by `sender`, oldest first, edits left out.
fn bodies(events: &[Value], sender: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["sender"] == sender)
        .filter(|e| e["content"]["m.relates_to"]["rel_type"] != "m.replace")
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_bridge_both_ways_sqlite() {
    both_ways(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_bridge_both_ways_mongodb() {
    both_ways(Some(palaver_tests::mongo::mongo_uri(&format!(
        "matrix_{}",
        std::process::id()
    ))))
    .await;
}

async fn both_ways(storage: Option<String>) {
    let pair = start_pair(storage).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let (rid, mroom) = bridged_room(&pair, &admin, &alice, "bridged").await;

    // Matrix → Palaver: the message arrives over the realtime API.
    let mut ddp = Ddp::connect_as(&pair.palaver, &admin).await;
    ddp.sub("stream-room-messages", json!([rid, false])).await;
    let hello = pair
        .synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "hello **world** <b>",
                "format": "org.matrix.custom.html",
                "formatted_body": "hello <strong>world</strong> &lt;b&gt;<script>x</script>",
            }),
        )
        .await;
    let frame = ddp
        .wait_for("the Matrix message", |f| {
            f["collection"] == "stream-room-messages"
                && f["fields"]["args"][0]["msg"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("hello"))
        })
        .await;
    let message = &frame["fields"]["args"][0];
    assert_eq!(message["msg"], "hello *world* <b>x", "{message}");
    assert_eq!(message["u"]["username"], "alice_localhost", "{message}");
    let mid = message["_id"].as_str().expect("id").to_string();
    let remote = pair
        .palaver
        .get_ok("/api/v1/users.info?username=alice_localhost", &admin)
        .await;
    assert_eq!(remote["user"]["nickname"], alice.mxid.as_str(), "{remote}");
    // A remote user cannot log in.
    let login = pair
        .palaver
        .try_login(json!({ "user": "alice_localhost", "password": "" }))
        .await;
    assert_ne!(login.status, 200);

    // Edit, reaction, redaction follow.
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "* hello edited",
                "m.new_content": { "msgtype": "m.text", "body": "hello edited" },
                "m.relates_to": { "rel_type": "m.replace", "event_id": hello },
            }),
        )
        .await;
    let reaction = pair
        .synapse
        .send(
            &alice,
            &mroom,
            "m.reaction",
            json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": hello, "key": "👍" } }),
        )
        .await;
    wait_history(&pair, &admin, &rid, "the edit and the reaction", |m| {
        m.iter().any(|m| {
            m["_id"] == mid.as_str()
                && m["msg"] == "hello edited"
                && m["reactions"][":+1:"]["usernames"][0] == "alice_localhost"
        })
    })
    .await;
    pair.synapse
        .call(
            Some(&alice),
            reqwest::Method::PUT,
            &format!(
                "/_matrix/client/v3/rooms/{}/redact/{}/r1",
                enc(&mroom),
                enc(&reaction)
            ),
            Some(json!({})),
        )
        .await;
    wait_history(&pair, &admin, &rid, "the reaction removed", |m| {
        m.iter().any(|m| {
            m["_id"] == mid.as_str() && m["reactions"].as_object().is_none_or(|r| r.is_empty())
        })
    })
    .await;
    pair.synapse
        .call(
            Some(&alice),
            reqwest::Method::PUT,
            &format!(
                "/_matrix/client/v3/rooms/{}/redact/{}/r2",
                enc(&mroom),
                enc(&hello)
            ),
            Some(json!({})),
        )
        .await;
    wait_history(&pair, &admin, &rid, "the message deleted", |m| {
        !m.iter().any(|m| m["_id"] == mid.as_str())
    })
    .await;

    // Palaver → Matrix: posted over REST, read back through the client-server API.
    let puppet = format!("@palaver_admin:{SERVER_NAME}");
    let posted = pair
        .palaver
        .post_ok(
            "/api/v1/chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": "from *palaver* <i>" }),
        )
        .await;
    let pmid = posted["message"]["_id"].as_str().expect("id").to_string();
    let events = pair
        .synapse
        .wait_for(&alice, &mroom, "the Palaver message", |e| {
            bodies(e, &puppet).contains(&"from *palaver* <i>".to_string())
        })
        .await;
    let sent = events
        .iter()
        .find(|e| e["sender"] == puppet.as_str() && e["content"]["body"] == "from *palaver* <i>")
        .expect("sent");
    assert_eq!(
        sent["content"]["formatted_body"], "from <strong>palaver</strong> &lt;i&gt;",
        "{sent}"
    );
    let sent_id = sent["event_id"].as_str().expect("event id").to_string();
    pair.palaver
        .post_ok(
            "/api/v1/chat.update",
            &admin,
            json!({ "roomId": rid, "msgId": pmid, "text": "from palaver, edited" }),
        )
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "the edit", |e| {
            e.iter().any(|e| {
                e["content"]["m.relates_to"]["rel_type"] == "m.replace"
                    && e["content"]["m.relates_to"]["event_id"] == sent_id.as_str()
                    && e["content"]["m.new_content"]["body"] == "from palaver, edited"
            })
        })
        .await;
    pair.palaver
        .post_ok(
            "/api/v1/chat.delete",
            &admin,
            json!({ "roomId": rid, "msgId": pmid }),
        )
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "the redaction", |e| {
            e.iter().any(|e| {
                e["event_id"] == sent_id.as_str() && !e["unsigned"]["redacted_because"].is_null()
            })
        })
        .await;

    // Nothing was echoed back: Palaver's own message is not in Palaver twice.
    let history = wait_history(&pair, &admin, &rid, "history", |_| true).await;
    assert!(
        !texts(&history).iter().any(|t| t.contains("from palaver")),
        "{history:?}"
    );
    ddp.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_transactions_replayed_create_nothing_twice() {
    let pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let (rid, mroom) = bridged_room(&pair, &admin, &alice, "replayed").await;
    let url = |txn: &str| {
        format!(
            "http://127.0.0.1:{}/_matrix/app/v1/transactions/{txn}",
            pair.bridge_port
        )
    };
    let event = |id: &str, body: &str| {
        json!({
            "event_id": id, "type": "m.room.message", "sender": alice.mxid,
            "room_id": mroom, "origin_server_ts": 1, "content": { "msgtype": "m.text", "body": body },
        })
    };
    let http = reqwest::Client::new();
    let token = hs_token(&pair.registration);
    let put = |txn: String, events: Value, token: String| {
        let http = http.clone();
        async move {
            let r = http
                .put(txn)
                .bearer_auth(token)
                .json(&json!({ "events": events }))
                .send()
                .await
                .expect("bridge answers");
            let length = r.headers().get("content-length").cloned();
            (r.status().as_u16(), length)
        }
    };
    // A wrong token is refused, and applies nothing.
    let (status, length) = put(url("t0"), json!([event("$e0", "never")]), "wrong".into()).await;
    assert_eq!(status, 403);
    assert!(length.is_some(), "every answer carries Content-Length");
    let (status, length) = put(
        url("t1"),
        json!([event("$e1", "once"), event("$e2", "twice?")]),
        token.clone(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(length.is_some(), "every answer carries Content-Length");
    // The same transaction again, and the same events in a new transaction.
    assert_eq!(
        put(
            url("t1"),
            json!([event("$e1", "once"), event("$e2", "twice?")]),
            token.clone()
        )
        .await
        .0,
        200
    );
    assert_eq!(
        put(
            url("t2"),
            json!([event("$e2", "twice?"), event("$e3", "last")]),
            token.clone()
        )
        .await
        .0,
        200
    );
    let history = wait_history(&pair, &admin, &rid, "the three messages", |m| {
        texts(m).contains(&"last".to_string())
    })
    .await;
    let mut got = texts(&history);
    got.reverse();
    assert_eq!(
        got,
        vec!["once", "twice?", "last"],
        "each event once, in order"
    );
    // The user and alias queries answer (with Content-Length) for the namespaces.
    let r = http
        .get(format!(
            "http://127.0.0.1:{}/_matrix/app/v1/users/{}",
            pair.bridge_port,
            enc("@palaver_nobody:localhost")
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.headers().get("content-length").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_deliveries_survive_homeserver_outage_and_palaver_kill9() {
    let mut pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let (rid, mroom) = bridged_room(&pair, &admin, &alice, "outage").await;
    let puppet = format!("@palaver_admin:{SERVER_NAME}");
    let post = |text: &'static str| {
        let body = json!({ "roomId": rid, "text": text });
        (text, body)
    };
    let (t, b) = post("before the outage");
    pair.palaver
        .post_ok("/api/v1/chat.postMessage", &admin, b)
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, t, |e| {
            bodies(e, &puppet).contains(&t.to_string())
        })
        .await;

    // Synapse down: what is posted meanwhile waits in the queue.
    pair.synapse.stop();
    for text in ["during 1", "during 2", "during 3"] {
        pair.palaver
            .post_ok(
                "/api/v1/chat.postMessage",
                &admin,
                json!({ "roomId": rid, "text": text }),
            )
            .await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Palaver killed while it waits; its queue is in the store.
    pair.palaver.kill9();
    pair.synapse.start_again().await;
    pair.palaver.start_again().await;
    let events = pair
        .synapse
        .wait_for(
            &alice,
            &mroom,
            "the messages posted during the outage",
            |e| bodies(e, &puppet).contains(&"during 3".to_string()),
        )
        .await;
    assert_eq!(
        bodies(&events, &puppet),
        vec!["before the outage", "during 1", "during 2", "during 3"],
        "everything once, in order"
    );

    // Matrix → Palaver after the restart still works.
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "after" }),
        )
        .await;
    wait_history(&pair, &admin, &rid, "the message after the restart", |m| {
        texts(m).contains(&"after".to_string())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_users_join_public_channels_through_the_alias_namespace() {
    let pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let channel = pair
        .palaver
        .post_ok(
            "/api/v1/channels.create",
            &admin,
            json!({ "name": "lobby" }),
        )
        .await;
    let rid = channel["channel"]["_id"].as_str().expect("rid").to_string();
    pair.palaver
        .post_ok("/api/v1/groups.create", &admin, json!({ "name": "secret" }))
        .await;
    let joined = pair
        .synapse
        .call(
            Some(&alice),
            reqwest::Method::POST,
            &format!(
                "/_matrix/client/v3/join/{}",
                enc("#palaver_lobby:localhost")
            ),
            Some(json!({})),
        )
        .await;
    let mroom = joined["room_id"].as_str().expect("room_id").to_string();
    // A private group is not reachable by its alias.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_matrix/client/v3/join/{}",
            pair.synapse.url(),
            enc("#palaver_secret:localhost")
        ))
        .bearer_auth(&alice.token)
        .json(&json!({}))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 404);
    // Alice's join made her a member; her message arrives.
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "hi lobby" }),
        )
        .await;
    wait_history(&pair, &admin, &rid, "alice's message", |m| {
        texts(m).contains(&"hi lobby".to_string())
    })
    .await;
    // And the Palaver side reaches her.
    pair.palaver
        .post_ok(
            "/api/v1/chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": "welcome" }),
        )
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "the welcome", |e| {
            bodies(e, "@palaver_admin:localhost").contains(&"welcome".to_string())
        })
        .await;
}
