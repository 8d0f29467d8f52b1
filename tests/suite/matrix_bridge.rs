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

pub(crate) const SERVER_NAME: &str = "localhost";

/// Palaver with the bridge on a free port, and Synapse with its registration.
pub(crate) struct Pair {
    pub(crate) palaver: Palaver,
    pub(crate) synapse: Synapse,
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

pub(crate) async fn start_pair(storage: Option<String>) -> Pair {
    start_pair_with(storage, Vec::new()).await
}

/// [`start_pair`] with more environment for Palaver.
async fn start_pair_with(storage: Option<String>, envs: Vec<(String, String)>) -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let registration = dir.path().join("registration.yaml");
    let bridge_port = free_port();
    // Synapse needs the registration before it starts; its port is chosen inside,
    // so the registration's homeserver URL does not matter (only the bridge URL).
    write_registration(bridge_port, 0, &registration);
    let synapse = Synapse::start(SERVER_NAME, &registration).await;
    let mut builder = Palaver::builder()
        .envs(matrix_env(bridge_port, &synapse.url(), &registration))
        .envs(envs);
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
pub(crate) async fn bridged_room(
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
pub(crate) async fn wait_history(
    pair: &Pair,
    who: &Session,
    rid: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    wait_history_of(
        pair,
        who,
        "channels",
        rid,
        what,
        Duration::from_secs(30),
        pred,
    )
    .await
}

/// [`wait_history`] of a room of the given kind (`channels`, `groups`).
async fn wait_history_of(
    pair: &Pair,
    who: &Session,
    kind: &str,
    rid: &str,
    what: &str,
    patience: Duration,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + patience;
    loop {
        let v = pair
            .palaver
            .get_ok(
                &format!("/api/v1/{kind}.history?roomId={rid}&count=100"),
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

pub(crate) fn texts(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["t"].is_null())
        .map(|m| m["msg"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The `m.room.message` bodies in the room sent by `sender`, oldest first, edits left out.
pub(crate) fn bodies(events: &[Value], sender: &str) -> Vec<String> {
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
    // A wrong token is refused, and applies nothing; so is a missing one, on
    // every route.
    let (status, length) = put(url("t0"), json!([event("$e0", "never")]), "wrong".into()).await;
    assert_eq!(status, 403);
    assert!(length.is_some(), "every answer carries Content-Length");
    for path in [
        "/_matrix/app/v1/transactions/t0".to_string(),
        format!("/_matrix/app/v1/users/{}", enc("@palaver_admin:localhost")),
        format!(
            "/_matrix/app/v1/rooms/{}",
            enc("#palaver_replayed:localhost")
        ),
        "/transactions/t0".to_string(),
    ] {
        let r = http
            .request(
                if path.contains("transactions") {
                    reqwest::Method::PUT
                } else {
                    reqwest::Method::GET
                },
                format!("http://127.0.0.1:{}{path}", pair.bridge_port),
            )
            .json(&json!({ "events": [event("$e0", "never")] }))
            .send()
            .await
            .expect("bridge answers");
        assert_eq!(r.status().as_u16(), 401, "{path}");
        assert!(r.headers().get("content-length").is_some(), "{path}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["errcode"], "M_UNAUTHORIZED", "{path}");
    }
    // The older query parameter still works.
    let r = http
        .get(format!(
            "http://127.0.0.1:{}/_matrix/app/v1/users/{}?access_token={token}",
            pair.bridge_port,
            enc("@palaver_nobody:localhost")
        ))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.headers().get("content-length").is_some());
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

/// The message of `history` whose text is `text`.
pub(crate) fn by_text<'a>(history: &'a [Value], text: &str) -> &'a Value {
    history
        .iter()
        .find(|m| m["msg"] == text)
        .unwrap_or_else(|| panic!("no message {text:?} in {history:?}"))
}

/// The event of `events` with this id.
fn event<'a>(events: &'a [Value], id: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event_id"] == id)
}

/// The usernames of a Palaver room's members.
pub(crate) async fn member_names(
    pair: &Pair,
    admin: &Session,
    kind: &str,
    rid: &str,
) -> Vec<String> {
    let v = pair
        .palaver
        .get_ok(&format!("/api/v1/{kind}.members?roomId={rid}"), admin)
        .await;
    v["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["username"].as_str().map(str::to_string))
        .collect()
}

/// Polls until `pred` holds for the room's member names.
pub(crate) async fn wait_members(
    pair: &Pair,
    admin: &Session,
    kind: &str,
    rid: &str,
    what: &str,
    pred: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let names = member_names(pair, admin, kind, rid).await;
        if pred(&names) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Palaver room members never showed {what}: {names:?}\nlog:\n{}",
            pair.palaver.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Uploads bytes to the homeserver's media repository as `user`; the `mxc://` URL.
async fn matrix_upload(pair: &Pair, user: &MatrixUser, name: &str, bytes: Vec<u8>) -> String {
    matrix_upload_typed(pair, user, name, "text/plain", bytes).await
}

/// [`matrix_upload`] with a content type.
pub(crate) async fn matrix_upload_typed(
    pair: &Pair,
    user: &MatrixUser,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> String {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_matrix/media/v3/upload?filename={}",
            pair.synapse.url(),
            enc(name)
        ))
        .bearer_auth(&user.token)
        .header("Content-Type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("Synapse answers");
    assert!(r.status().is_success(), "upload: {}", r.status());
    let v: Value = r.json().await.expect("json");
    v["content_uri"].as_str().expect("content_uri").to_string()
}

/// Downloads `mxc://server/id` as `user` (authenticated media).
pub(crate) async fn matrix_download(pair: &Pair, user: &MatrixUser, mxc: &str) -> Vec<u8> {
    let rest = mxc.strip_prefix("mxc://").expect("an mxc URL");
    let r = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v1/media/download/{rest}",
            pair.synapse.url()
        ))
        .bearer_auth(&user.token)
        .send()
        .await
        .expect("Synapse answers");
    assert!(r.status().is_success(), "download {mxc}: {}", r.status());
    r.bytes().await.expect("bytes").to_vec()
}

/// Reactions, replies and threads, joins and leaves, people, mentions and files,
/// each both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_bridge_reactions_threads_members_people_and_files_both_ways() {
    let pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let (rid, mroom) = bridged_room(&pair, &admin, &alice, "rich").await;
    let puppet = format!("@palaver_admin:{SERVER_NAME}");

    // A root message from Matrix.
    let root = pair
        .synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "the root" }),
        )
        .await;
    let history = wait_history(&pair, &admin, &rid, "the root", |m| {
        texts(m).contains(&"the root".to_string())
    })
    .await;
    let root_mid = by_text(&history, "the root")["_id"]
        .as_str()
        .expect("id")
        .to_string();

    // Palaver → Matrix: a reaction, then taking it back.
    pair.palaver
        .post_ok(
            "/api/v1/chat.react",
            &admin,
            json!({ "messageId": root_mid, "emoji": ":tada:", "shouldReact": true }),
        )
        .await;
    let events = pair
        .synapse
        .wait_for(&alice, &mroom, "the puppet's reaction", |e| {
            e.iter().any(|e| {
                e["type"] == "m.reaction"
                    && e["sender"] == puppet.as_str()
                    && e["content"]["m.relates_to"]["event_id"] == root.as_str()
                    && e["content"]["m.relates_to"]["key"] == "🎉"
            })
        })
        .await;
    let reaction = events
        .iter()
        .find(|e| e["type"] == "m.reaction" && e["sender"] == puppet.as_str())
        .and_then(|e| e["event_id"].as_str())
        .expect("reaction event")
        .to_string();
    pair.palaver
        .post_ok(
            "/api/v1/chat.react",
            &admin,
            json!({ "messageId": root_mid, "emoji": ":tada:", "shouldReact": false }),
        )
        .await;
    let events = pair
        .synapse
        .wait_for(&alice, &mroom, "the reaction redacted", |e| {
            event(e, &reaction).is_some_and(|e| !e["unsigned"]["redacted_because"].is_null())
        })
        .await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "m.reaction" && e["sender"] == puppet.as_str())
            .count(),
        1,
        "one reaction sent, once"
    );

    // Matrix → Palaver: a thread reply and plain replies become thread messages
    // of the root (a reply to a thread reply stays in that thread).
    let in_thread = pair
        .synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "thread answer",
                "m.relates_to": { "rel_type": "m.thread", "event_id": root, "is_falling_back": true,
                                  "m.in_reply_to": { "event_id": root } },
            }),
        )
        .await;
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": format!("> <{}> the root\n\nplain reply", alice.mxid),
                "m.relates_to": { "m.in_reply_to": { "event_id": root } },
            }),
        )
        .await;
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "reply to the answer",
                "m.relates_to": { "m.in_reply_to": { "event_id": in_thread } },
            }),
        )
        .await;
    let history = wait_history(&pair, &admin, &rid, "the replies", |m| {
        texts(m).contains(&"reply to the answer".to_string())
    })
    .await;
    for text in ["thread answer", "plain reply", "reply to the answer"] {
        assert_eq!(
            by_text(&history, text)["tmid"],
            root_mid.as_str(),
            "{text}: {history:?}"
        );
    }

    // Palaver → Matrix: a thread reply is an m.thread relation to the root.
    pair.palaver
        .post_ok(
            "/api/v1/chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": "palaver in thread", "tmid": root_mid }),
        )
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "the thread reply", |e| {
            e.iter().any(|e| {
                e["content"]["body"] == "palaver in thread"
                    && e["content"]["m.relates_to"]["rel_type"] == "m.thread"
                    && e["content"]["m.relates_to"]["event_id"] == root.as_str()
            })
        })
        .await;

    // Mentions: the Matrix user is mentioned in Palaver, and Matrix is told whom
    // the message mentions.
    let posted = pair
        .palaver
        .post_ok(
            "/api/v1/chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": "hello @alice_localhost" }),
        )
        .await;
    assert_eq!(
        posted["message"]["mentions"][0]["username"], "alice_localhost",
        "{posted}"
    );
    pair.synapse
        .wait_for(&alice, &mroom, "the mention", |e| {
            e.iter().any(|e| {
                e["content"]["body"] == "hello @alice_localhost"
                    && e["content"]["m.mentions"]["user_ids"][0] == alice.mxid.as_str()
            })
        })
        .await;

    // A pill in a Matrix message mentions the Palaver user it points at.
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "Administrator: look",
                "format": "org.matrix.custom.html",
                "formatted_body": format!("<a href=\"https://matrix.to/#/{puppet}\">Administrator</a>: look"),
            }),
        )
        .await;
    let history = wait_history(&pair, &admin, &rid, "the pill", |m| {
        texts(m).contains(&"@admin: look".to_string())
    })
    .await;
    assert_eq!(
        by_text(&history, "@admin: look")["mentions"][0]["username"],
        "admin",
        "{history:?}"
    );

    // People and membership, Matrix → Palaver: a Matrix user joins with their
    // display name, is marked remote and cannot log in; then leaves.
    let bob = pair.synapse.create_user("bob").await;
    pair.synapse
        .call(
            Some(&bob),
            reqwest::Method::PUT,
            &format!("/_matrix/client/v3/profile/{}/displayname", enc(&bob.mxid)),
            Some(json!({ "displayname": "Bob of Matrix" })),
        )
        .await;
    pair.synapse
        .call(
            Some(&bob),
            reqwest::Method::POST,
            &format!("/_matrix/client/v3/join/{}", enc(&mroom)),
            Some(json!({})),
        )
        .await;
    wait_members(&pair, &admin, "channels", &rid, "bob joined", |n| {
        n.contains(&"bob_localhost".to_string())
    })
    .await;
    let info = pair
        .palaver
        .get_ok("/api/v1/users.info?username=bob_localhost", &admin)
        .await;
    assert_eq!(info["user"]["name"], "Bob of Matrix", "{info}");
    assert_eq!(info["user"]["nickname"], bob.mxid.as_str(), "{info}");
    assert!(
        info["user"]["bio"]
            .as_str()
            .is_some_and(|b| b.contains("cannot log in")),
        "{info}"
    );
    pair.synapse
        .call(
            Some(&bob),
            reqwest::Method::POST,
            &format!("/_matrix/client/v3/rooms/{}/leave", enc(&mroom)),
            Some(json!({})),
        )
        .await;
    wait_members(&pair, &admin, "channels", &rid, "bob left", |n| {
        !n.contains(&"bob_localhost".to_string())
    })
    .await;

    // Palaver → Matrix: a Palaver user joins (their puppet joins with their
    // display name), then leaves.
    let carol = pair.palaver.create_user(&admin, "carol").await;
    pair.palaver
        .post_ok(
            "/api/v1/users.update",
            &admin,
            json!({ "userId": carol.user_id, "data": { "name": "Carol Palaver" } }),
        )
        .await;
    pair.palaver
        .post_ok("/api/v1/channels.join", &carol, json!({ "roomId": rid }))
        .await;
    let carol_mxid = format!("@palaver_carol:{SERVER_NAME}");
    let membership = |events: &[Value], state: &str| {
        events.iter().any(|e| {
            e["type"] == "m.room.member"
                && e["state_key"] == carol_mxid.as_str()
                && e["content"]["membership"] == state
        })
    };
    pair.synapse
        .wait_for(&alice, &mroom, "carol's puppet joining", |e| {
            membership(e, "join")
        })
        .await;
    let profile = pair
        .synapse
        .call(
            Some(&alice),
            reqwest::Method::GET,
            &format!(
                "/_matrix/client/v3/profile/{}/displayname",
                enc(&carol_mxid)
            ),
            None,
        )
        .await;
    assert_eq!(profile["displayname"], "Carol Palaver", "{profile}");
    pair.palaver
        .post_ok("/api/v1/channels.leave", &carol, json!({ "roomId": rid }))
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "carol's puppet leaving", |e| {
            membership(e, "leave")
        })
        .await;

    // Files, Matrix → Palaver: downloaded through the application service and
    // stored as a Palaver upload, the message in Rocket.Chat's file shape.
    let bytes = b"notes from matrix\n".repeat(100);
    let mxc = matrix_upload(&pair, &alice, "notes.txt", bytes.clone()).await;
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({
                "msgtype": "m.file", "body": "notes.txt", "url": mxc,
                "info": { "mimetype": "text/plain", "size": bytes.len() },
            }),
        )
        .await;
    let history = wait_history(&pair, &admin, &rid, "the file from Matrix", |m| {
        m.iter().any(|m| m["file"]["name"] == "notes.txt")
    })
    .await;
    let file_msg = history
        .iter()
        .find(|m| m["file"]["name"] == "notes.txt")
        .expect("file message");
    assert_eq!(file_msg["u"]["username"], "alice_localhost", "{file_msg}");
    assert_eq!(file_msg["file"]["type"], "text/plain", "{file_msg}");
    assert_eq!(file_msg["files"][0]["size"], bytes.len(), "{file_msg}");
    let link = file_msg["attachments"][0]["title_link"]
        .as_str()
        .expect("title_link")
        .to_string();
    assert!(link.starts_with("/file-upload/"), "{file_msg}");
    let got = reqwest::Client::new()
        .get(pair.palaver.url(&link))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .send()
        .await
        .expect("download");
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), bytes);

    // Files, Palaver → Matrix: uploaded to the homeserver's media repository and
    // sent as m.file with the text as caption.
    let report = b"palaver report\n".repeat(50);
    let part = reqwest::multipart::Part::bytes(report.clone())
        .file_name("report.txt")
        .mime_str("text/plain")
        .expect("mime");
    let form = reqwest::multipart::Form::new()
        .part("file", part)
        .text("msg", "the report");
    let r = reqwest::Client::new()
        .post(pair.palaver.url(&format!("rooms.upload/{rid}")))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 200);
    let events = pair
        .synapse
        .wait_for(&alice, &mroom, "the Palaver file", |e| {
            e.iter()
                .any(|e| e["sender"] == puppet.as_str() && e["content"]["msgtype"] == "m.file")
        })
        .await;
    let sent = events
        .iter()
        .find(|e| e["sender"] == puppet.as_str() && e["content"]["msgtype"] == "m.file")
        .expect("file event");
    assert_eq!(sent["content"]["body"], "the report", "{sent}");
    assert_eq!(sent["content"]["filename"], "report.txt", "{sent}");
    assert_eq!(sent["content"]["info"]["mimetype"], "text/plain", "{sent}");
    let url = sent["content"]["url"].as_str().expect("url");
    assert_eq!(matrix_download(&pair, &alice, url).await, report);

    // Nothing crossed twice: each Matrix message is in Palaver once.
    let history = wait_history(&pair, &admin, &rid, "history", |_| true).await;
    for text in ["the root", "thread answer", "plain reply"] {
        assert_eq!(
            texts(&history).iter().filter(|t| *t == text).count(),
            1,
            "{text}"
        );
    }
    assert_eq!(
        history
            .iter()
            .filter(|m| m["file"]["name"] == "notes.txt" || m["file"]["name"] == "report.txt")
            .count(),
        2,
        "{history:?}"
    );
}

/// A private group is bridged only explicitly, by the admin; messages from Matrix
/// go through the apps' pre-send hooks like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_private_group_bridged_explicitly_and_app_hooks_apply() {
    let market = tempfile::tempdir().expect("marketplace dir");
    palaver_tests::apps::polite_package(market.path());
    let pair = start_pair_with(
        None,
        vec![(
            "PALAVER_MARKETPLACE_DIR".into(),
            market.path().display().to_string(),
        )],
    )
    .await;
    let admin = pair.palaver.admin().await;
    palaver_tests::app_admin::install_ok(&pair.palaver, &admin, "polite", None, true).await;
    let alice = pair.synapse.create_user("alice").await;

    let group = pair
        .palaver
        .post_ok("/api/v1/groups.create", &admin, json!({ "name": "hidden" }))
        .await;
    let rid = group["group"]["_id"].as_str().expect("rid").to_string();
    // Not reachable through the alias namespace…
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_matrix/client/v3/join/{}",
            pair.synapse.url(),
            enc("#palaver_hidden:localhost")
        ))
        .bearer_auth(&alice.token)
        .json(&json!({}))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status().as_u16(), 404);
    // …but the admin bridges it to a Matrix room by its alias.
    pair.synapse
        .call(
            Some(&alice),
            reqwest::Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(json!({ "preset": "public_chat", "room_alias_name": "hideout" })),
        )
        .await;
    let bridged = pair
        .palaver
        .post_ok(
            "/api/v1/palaver.matrix.bridgeRoom",
            &admin,
            json!({ "roomName": "hidden", "matrixRoom": "#hideout:localhost" }),
        )
        .await;
    assert_eq!(bridged["room"]["roomId"], rid.as_str(), "{bridged}");
    assert_eq!(bridged["room"]["alias"], "#hideout:localhost", "{bridged}");
    let mroom = bridged["room"]["matrixRoomId"]
        .as_str()
        .expect("matrix room")
        .to_string();
    let listed = pair
        .palaver
        .get_ok("/api/v1/palaver.matrix.rooms", &admin)
        .await;
    assert!(
        listed["rooms"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["roomId"] == rid.as_str())),
        "{listed}"
    );

    // The polite app's pre-send hook rewrites the Matrix user's message (apps
    // vet the messages of rooms their bot may read: it is invited).
    pair.palaver
        .post_ok(
            "/api/v1/groups.invite",
            &admin,
            json!({ "roomId": rid, "username": "polite.bot" }),
        )
        .await;
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "let me in please" }),
        )
        .await;
    let history = wait_history_of(
        &pair,
        &admin,
        "groups",
        &rid,
        "alice's message",
        Duration::from_secs(30),
        |m| texts(m).iter().any(|t| t.starts_with("let me in")),
    )
    .await;
    assert_eq!(
        texts(&history)
            .into_iter()
            .filter(|t| t.starts_with("let me in"))
            .collect::<Vec<_>>(),
        vec!["let me in please (polite)"],
        "the hook ran, once"
    );
    wait_members(&pair, &admin, "groups", &rid, "alice in the group", |n| {
        n.contains(&"alice_localhost".to_string())
    })
    .await;

    // Unbridged: Palaver's messages no longer reach Matrix.
    pair.palaver
        .post_ok(
            "/api/v1/palaver.matrix.unbridgeRoom",
            &admin,
            json!({ "roomId": rid }),
        )
        .await;
    let listed = pair
        .palaver
        .get_ok("/api/v1/palaver.matrix.rooms", &admin)
        .await;
    assert_eq!(listed["rooms"], json!([]), "{listed}");
}

/// The console's Matrix page: bridge a room by alias, see it listed, unbridge it;
/// checked against the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_console_bridges_and_unbridges_rooms() {
    use palaver_tests::browser::Browser;
    use palaver_tests::server::{ADMIN_PASSWORD, ADMIN_USERNAME};
    let pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let created = pair
        .synapse
        .call(
            Some(&alice),
            reqwest::Method::POST,
            "/_matrix/client/v3/createRoom",
            Some(json!({ "preset": "public_chat", "room_alias_name": "consoled" })),
        )
        .await;
    let mroom = created["room_id"].as_str().expect("room_id").to_string();
    pair.palaver
        .post_ok("/api/v1/groups.create", &admin, json!({ "name": "staff" }))
        .await;

    let b = Browser::start().await;
    b.goto(&format!("{}/", pair.palaver.base_url())).await;
    b.fill("[data-testid=login-username]", ADMIN_USERNAME).await;
    b.fill("[data-testid=login-password]", ADMIN_PASSWORD).await;
    b.click("[data-testid=login-submit]").await;
    b.wait_for("[data-testid=app-shell]").await;
    b.exec(
        "location.hash = arguments[0]",
        vec![json!("#/admin/matrix")],
    )
    .await;
    b.wait_for("[data-testid=matrix-no-rooms]").await;
    b.fill("[data-testid=matrix-bridge-room]", "staff").await;
    b.fill("[data-testid=matrix-bridge-target]", "#consoled:localhost")
        .await;
    b.click("[data-testid=matrix-bridge-submit]").await;
    b.wait_text("[data-testid=admin-notice]", &format!("Bridged to {mroom}"))
        .await;
    b.wait_text("[data-testid=matrix-room-id]", &mroom).await;
    assert!(b
        .text("[data-testid=matrix-room-name]")
        .await
        .contains("staff"));
    let listed = pair
        .palaver
        .get_ok("/api/v1/palaver.matrix.rooms", &admin)
        .await;
    assert_eq!(
        listed["rooms"][0]["matrixRoomId"],
        mroom.as_str(),
        "{listed}"
    );
    assert_eq!(listed["rooms"][0]["roomName"], "staff", "{listed}");
    b.screenshot("admin-matrix-bridged").await;

    // A refusal is shown: the same Matrix room for another Palaver room.
    pair.palaver
        .post_ok(
            "/api/v1/channels.create",
            &admin,
            json!({ "name": "other" }),
        )
        .await;
    b.fill("[data-testid=matrix-bridge-room]", "other").await;
    b.fill("[data-testid=matrix-bridge-target]", &mroom).await;
    b.click("[data-testid=matrix-bridge-submit]").await;
    b.wait_text("[data-testid=admin-notice]", "bridged to another room")
        .await;

    b.click("[data-testid=matrix-unbridge]").await;
    b.click("[data-testid=matrix-unbridge-dialog-confirm]")
        .await;
    b.wait_text("[data-testid=admin-notice]", "Unbridged").await;
    b.wait_for("[data-testid=matrix-no-rooms]").await;
    let listed = pair
        .palaver
        .get_ok("/api/v1/palaver.matrix.rooms", &admin)
        .await;
    assert_eq!(listed["rooms"], json!([]), "{listed}");
}

/// The appservice listener is a worker stopped in order at shutdown: a SIGTERM
/// while the homeserver sends transactions ends cleanly, and every transaction
/// the bridge acknowledged is in Palaver after the restart, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_sigterm_while_transactions_arrive_loses_nothing_acknowledged() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let (rid, mroom) = bridged_room(&pair, &admin, &alice, "stopping").await;
    let token = hs_token(&pair.registration);
    let port = pair.bridge_port;
    let acked = std::sync::Mutex::new(Vec::<String>::new());
    let count = AtomicUsize::new(0);
    let writer = async {
        let http = reqwest::Client::new();
        // At most 90: the history read back holds them all.
        for i in 0..90 {
            let text = format!("txn {i}");
            let body = json!({ "events": [{
                "event_id": format!("$stop{i}"), "type": "m.room.message", "sender": alice.mxid,
                "room_id": mroom, "origin_server_ts": 1,
                "content": { "msgtype": "m.text", "body": text },
            }]});
            let r = http
                .put(format!(
                    "http://127.0.0.1:{port}/_matrix/app/v1/transactions/s{i}"
                ))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            match r {
                Ok(r) if r.status().as_u16() == 200 => {
                    acked.lock().expect("lock").push(text);
                    count.fetch_add(1, Ordering::SeqCst);
                }
                // Refused while stopping, or the listener is gone: the
                // homeserver would send it again.
                Ok(_) => {}
                Err(_) => break,
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let stopper = async {
        while count.load(Ordering::SeqCst) < 10 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        pair.palaver.stop(Duration::from_secs(20)).await
    };
    let ((), clean) = tokio::join!(writer, stopper);
    assert!(clean, "palaver did not exit on its own within the grace");
    let log = pair.palaver.log();
    assert!(!log.contains("worker ended abnormally"), "{log}");
    assert!(!log.contains("was aborted"), "{log}");
    pair.palaver.start_again().await;
    let acked = acked.into_inner().expect("lock");
    assert!(acked.len() >= 10);
    let last = acked.last().cloned().expect("acknowledged");
    let history = wait_history(&pair, &admin, &rid, "the acknowledged messages", |m| {
        texts(m).contains(&last)
    })
    .await;
    let got = texts(&history);
    for text in &acked {
        assert_eq!(
            got.iter().filter(|t| *t == text).count(),
            1,
            "{text} acknowledged: in Palaver once"
        );
    }
}
