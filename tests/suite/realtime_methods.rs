//! Realtime API methods: every login form, logout, messages (send with a client id,
//! update, delete, react), rooms (join, leave, DMs, lookups), `rooms/get`,
//! `subscriptions/get` and `loadHistory` — each checked for its exact shape and for
//! going through the same rules as REST.

use palaver_tests::ddp::Ddp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::*;

/// A Meteor error object with this `error` and `reason`.
fn meteor_error(error: Value, reason: &str) -> Value {
    let text = match &error {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    json!({"isClientSafe": true, "error": error, "reason": reason,
           "message": format!("{reason} [{text}]"), "errorType": "Meteor.Error"})
}

#[track_caller]
fn ejson_ms(v: &Value, ctx: &str) -> i64 {
    assert_eq!(
        v.as_object().map(|o| o.len()),
        Some(1),
        "{ctx}: expected an EJSON date, got {v}"
    );
    v["$date"]
        .as_i64()
        .unwrap_or_else(|| panic!("{ctx}: expected {{\"$date\": ms}}, got {v}"))
}

#[track_caller]
fn assert_login_result(result: &Value, user_id: &str, kind: &str) -> String {
    let token = str_of(&result["token"], "login token").to_string();
    let expires = ejson_ms(&result["tokenExpires"], "tokenExpires");
    assert!(expires > chrono::Utc::now().timestamp_millis(), "{result}");
    assert_eq!(
        *result,
        json!({"id": user_id, "token": token, "tokenExpires": {"$date": expires}, "type": kind})
    );
    token
}

#[tokio::test]
async fn login_in_every_form_with_rest_tokens() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let password = password_for("alice");
    let digest = hex::encode(Sha256::digest(password.as_bytes()));

    let mut ddp = Ddp::connect(&srv).await;
    // Before login, methods that need a user are refused.
    assert_eq!(
        ddp.call_err("rooms/get", json!([])).await,
        meteor_error(json!("error-invalid-user"), "Invalid user")
    );

    let forms = [
        json!({"user": {"username": "alice"}, "password": {"digest": digest, "algorithm": "sha-256"}}),
        json!({"user": {"email": "alice@palaver.test"}, "password": {"digest": digest.to_uppercase(), "algorithm": "sha-256"}}),
        json!({"user": {"username": "alice"}, "password": password}),
        json!({"user": {"id": alice.user_id}, "password": password}),
        json!({"user": "alice@palaver.test", "password": password}),
    ];
    let mut tokens = Vec::new();
    for form in forms {
        let result = ddp.call_ok("login", json!([form])).await;
        tokens.push(assert_login_result(&result, &alice.user_id, "password"));
    }
    // A DDP token is a REST token.
    let me = srv
        .get_ok(
            "me",
            &Session {
                user_id: alice.user_id.clone(),
                token: tokens[0].clone(),
                username: "alice".into(),
            },
        )
        .await;
    assert_eq!(me["username"], "alice");
    // And a REST token resumes over DDP, keeping the same token.
    let mut other = Ddp::connect(&srv).await;
    let result = other
        .call_ok("login", json!([{"resume": alice.token}]))
        .await;
    assert_eq!(
        assert_login_result(&result, &alice.user_id, "resume"),
        alice.token
    );
    assert_eq!(
        other
            .call_ok("getRoomIdByNameOrId", json!(["nowhere"]))
            .await,
        Value::Null
    );

    // Refusals.
    let wrong = ddp
        .call_err(
            "login",
            json!([{"user": {"username": "alice"}, "password": "nope"}]),
        )
        .await;
    assert_eq!(
        wrong,
        meteor_error(json!(401), "Incorrect login or password")
    );
    let unknown = ddp
        .call_err(
            "login",
            json!([{"user": {"username": "nobody"}, "password": "nope"}]),
        )
        .await;
    assert_eq!(
        unknown, wrong,
        "an unknown user is answered as a wrong password"
    );
    assert_eq!(
        ddp.call_err("login", json!([{"resume": "not-a-token"}]))
            .await,
        meteor_error(
            json!(403),
            "You've been logged out by the server. Please log in again."
        )
    );
    assert_eq!(
        ddp.call_err("login", json!([{"user": {"username": "alice"}, "password": {"digest": digest, "algorithm": "md5"}}]))
            .await,
        meteor_error(json!(400), "Match failed")
    );
    assert_eq!(
        ddp.call_err("login", json!([{"ldap": true}])).await,
        meteor_error(json!(400), "Unrecognized options for login request")
    );
    assert_eq!(
        ddp.call_err("login", json!(["alice"])).await,
        meteor_error(json!(400), "Match failed")
    );
    // Deactivated users cannot log in.
    srv.post_ok(
        "users.setActiveStatus",
        &admin,
        json!({"userId": alice.user_id, "activeStatus": false}),
    )
    .await;
    let refused = ddp
        .call_err(
            "login",
            json!([{"user": {"username": "alice"}, "password": password}]),
        )
        .await;
    assert_eq!(refused["error"], "error-user-is-not-activated", "{refused}");
}

#[tokio::test]
async fn logout_revokes_the_token_and_ends_subscriptions() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let room = create_channel(&srv, &alice, "lobby", &[]).await;
    let rid = str_of(&room["_id"], "rid").to_string();

    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    let sub = ddp.sub("stream-room-messages", json!([rid, false])).await;
    let frame = ddp.call("logout", json!([])).await;
    assert_eq!(frame, json!({"msg": "result", "id": frame["id"]}));
    let nosub = ddp
        .wait_for("nosub after logout", |v| v["msg"] == "nosub")
        .await;
    assert_eq!(
        nosub,
        json!({"msg": "nosub", "id": sub, "error": meteor_error(json!("not-allowed"), "Logged out")})
    );
    // The token is gone for REST too, and the session is anonymous again.
    let (status, body) = srv.get("me", &alice).await;
    assert_unauthorized(status, &body, "me after DDP logout");
    assert_eq!(
        ddp.call_err("sendMessage", json!([{"rid": rid, "msg": "hi"}]))
            .await["error"],
        "error-invalid-user"
    );
    // Messages no longer arrive.
    let bob = srv.create_user(&admin, "bob").await;
    srv.post_ok("channels.join", &bob, json!({"roomId": rid}))
        .await;
    post(&srv, &bob, &rid, "anyone?").await;
    assert!(
        ddp.try_recv(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "no events after logout: {:?}",
        ddp.buffered()
    );
    // Logging out twice is fine.
    assert_eq!(ddp.call_ok("logout", json!([])).await, Value::Null);
}

#[tokio::test]
async fn messages_send_update_react_delete() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let room = create_channel(&srv, &alice, "talk", &["bob"]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    let mut a = Ddp::connect_as(&srv, &alice).await;
    let mut b = Ddp::connect_as(&srv, &bob).await;

    // sendMessage honours the client's _id and answers the stored message (EJSON dates).
    let m = a
        .call_ok(
            "sendMessage",
            json!([{"_id": "client-chosen-id-1", "rid": rid, "msg": "hello @bob"}]),
        )
        .await;
    assert_eq!(m["_id"], "client-chosen-id-1", "{m}");
    assert_eq!(m["rid"], json!(rid));
    assert_eq!(m["msg"], "hello @bob");
    assert_eq!(m["u"]["_id"], json!(alice.user_id));
    assert_eq!(m["u"]["username"], "alice");
    let ts = ejson_ms(&m["ts"], "ts");
    assert_eq!(ejson_ms(&m["_updatedAt"], "_updatedAt"), ts);
    assert_eq!(m["mentions"][0]["username"], "bob", "{m}");
    // Same message over REST.
    let rest = srv
        .get_ok("chat.getMessage?msgId=client-chosen-id-1", &alice)
        .await;
    assert_eq!(rest["message"]["msg"], "hello @bob");
    // A retry with the same id returns the same message; another text is refused.
    let again = a
        .call_ok(
            "sendMessage",
            json!([{"_id": "client-chosen-id-1", "rid": rid, "msg": "hello @bob"}]),
        )
        .await;
    assert_eq!(again["_id"], m["_id"]);
    assert_eq!(
        a.call_err(
            "sendMessage",
            json!([{"_id": "client-chosen-id-1", "rid": rid, "msg": "other"}])
        )
        .await["error"],
        "error-duplicate-message-id"
    );
    // Same validation as REST.
    assert_eq!(
        a.call_err("sendMessage", json!([{"rid": rid, "msg": "   "}]))
            .await["error"],
        "invalid-params"
    );
    assert_eq!(
        a.call_err("sendMessage", json!([{"msg": "no room"}])).await,
        meteor_error(json!(400), "Match failed")
    );
    assert_eq!(
        a.call_err("sendMessage", json!([{"rid": "nope", "msg": "x"}]))
            .await["error"],
        "error-room-not-found"
    );

    // updateMessage: only the author (or an admin).
    let frame = a
        .call(
            "updateMessage",
            json!([{"_id": "client-chosen-id-1", "rid": rid, "msg": "hello, edited"}]),
        )
        .await;
    assert_eq!(frame, json!({"msg": "result", "id": frame["id"]}));
    let rest = srv
        .get_ok("chat.getMessage?msgId=client-chosen-id-1", &alice)
        .await;
    assert_eq!(rest["message"]["msg"], "hello, edited");
    assert_eq!(rest["message"]["editedBy"]["username"], "alice");
    let refused = b
        .call_err(
            "updateMessage",
            json!([{"_id": "client-chosen-id-1", "rid": rid, "msg": "bob was here"}]),
        )
        .await;
    assert_eq!(
        refused,
        // Rocket.Chat's `updateMessage`: without `edit-message` only one's own.
        meteor_error(
            json!("error-action-not-allowed"),
            "Message editing not allowed"
        )
    );

    // setReaction: add, toggle off, explicit.
    assert_eq!(
        b.call_ok("setReaction", json!([":thumbsup:", "client-chosen-id-1"]))
            .await,
        Value::Null
    );
    let rest = srv
        .get_ok("chat.getMessage?msgId=client-chosen-id-1", &alice)
        .await;
    assert_eq!(
        rest["message"]["reactions"],
        json!({":thumbsup:": {"usernames": ["bob"]}})
    );
    b.call_ok("setReaction", json!(["thumbsup", "client-chosen-id-1"]))
        .await;
    let rest = srv
        .get_ok("chat.getMessage?msgId=client-chosen-id-1", &alice)
        .await;
    assert!(
        rest["message"]
            .get("reactions")
            .is_none_or(|r| r == &json!({})),
        "{rest}"
    );
    b.call_ok(
        "setReaction",
        json!([":smile:", "client-chosen-id-1", true]),
    )
    .await;
    assert_eq!(
        b.call_err("setReaction", json!(["<b>", "client-chosen-id-1"]))
            .await["error"],
        "error-not-allowed"
    );

    // deleteMessage: not bob's to delete (Rocket.Chat's `error-action-not-allowed`);
    // alice may.
    assert_eq!(
        b.call_err("deleteMessage", json!([{"_id": "client-chosen-id-1"}]))
            .await["error"],
        "error-action-not-allowed"
    );
    a.call_ok("deleteMessage", json!([{"_id": "client-chosen-id-1"}]))
        .await;
    let (status, _) = srv
        .get("chat.getMessage?msgId=client-chosen-id-1", &alice)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        a.call_err("deleteMessage", json!([{"_id": "client-chosen-id-1"}]))
            .await["error"],
        "error-message-not-found"
    );

    // Thread replies.
    let parent = a
        .call_ok("sendMessage", json!([{"rid": rid, "msg": "parent"}]))
        .await;
    let reply = b
        .call_ok(
            "sendMessage",
            json!([{"rid": rid, "msg": "reply", "tmid": parent["_id"]}]),
        )
        .await;
    assert_eq!(reply["tmid"], parent["_id"]);
}

#[tokio::test]
async fn rooms_join_leave_direct_and_lookups() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.create_user(&admin, "bob").await;
    let channel = create_channel(&srv, &admin, "general-talk", &[]).await;
    let cid = str_of(&channel["_id"], "rid").to_string();
    let group = create_group(&srv, &admin, "secret-plans", &[]).await;
    let gid = str_of(&group["_id"], "rid").to_string();
    let mut a = Ddp::connect_as(&srv, &alice).await;

    assert_eq!(a.call_ok("joinRoom", json!([cid])).await, json!(true));
    assert!(subscription(&srv, &alice, &cid).await.is_some());
    assert_eq!(a.call_ok("joinRoom", json!([cid])).await, json!(true));
    // Private groups cannot be joined, nor seen.
    assert_eq!(
        a.call_err("joinRoom", json!([gid])).await["error"],
        "error-room-not-found"
    );
    let frame = a.call("leaveRoom", json!([cid])).await;
    assert_eq!(frame, json!({"msg": "result", "id": frame["id"]}));
    assert!(subscription(&srv, &alice, &cid).await.is_none());
    assert_eq!(
        a.call_err("leaveRoom", json!([cid])).await["error"],
        "error-user-not-in-room"
    );

    // createDirectMessage → the same DM every time.
    let dm = a.call_ok("createDirectMessage", json!(["bob"])).await;
    let dm_id = str_of(&dm["rid"], "dm rid").to_string();
    assert_eq!(
        dm,
        json!({"t": "d", "rid": dm_id, "_id": dm_id, "usernames": ["alice", "bob"]})
    );
    assert_eq!(a.call_ok("createDirectMessage", json!(["bob"])).await, dm);
    assert_eq!(
        a.call_err("createDirectMessage", json!(["nobody"])).await["error"],
        "error-invalid-user"
    );
    assert_eq!(
        a.call_err("createDirectMessage", json!([])).await,
        meteor_error(json!(400), "Match failed")
    );

    // Lookups.
    assert_eq!(
        a.call_ok("getRoomIdByNameOrId", json!(["general-talk"]))
            .await,
        json!(cid)
    );
    assert_eq!(
        a.call_ok("getRoomIdByNameOrId", json!([cid])).await,
        json!(cid)
    );
    assert_eq!(
        a.call_ok("getRoomIdByNameOrId", json!(["secret-plans"]))
            .await,
        Value::Null
    );
    assert_eq!(
        a.call_ok("getRoomNameById", json!([cid])).await,
        json!("general-talk")
    );
    assert_eq!(
        a.call_err("getRoomNameById", json!([gid])).await,
        meteor_error(json!("error-not-allowed"), "Not allowed")
    );
    assert_eq!(
        a.call_err("getRoomNameById", json!(["missing"])).await,
        meteor_error(json!("error-not-allowed"), "Not allowed")
    );
    let frame = a.call("getRoomNameById", json!([dm_id])).await;
    assert_eq!(
        frame,
        json!({"msg": "result", "id": frame["id"]}),
        "DMs have no name"
    );
}

#[tokio::test]
async fn rooms_and_subscriptions_get_with_and_without_a_date() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let one = create_channel(&srv, &admin, "one", &["alice"]).await;
    let two = create_channel(&srv, &admin, "two", &["alice"]).await;
    let (one_id, two_id) = (one["_id"].clone(), two["_id"].clone());
    let mut a = Ddp::connect_as(&srv, &alice).await;

    let rooms = a.call_ok("rooms/get", json!([])).await;
    let ids: Vec<&Value> = rooms
        .as_array()
        .unwrap_or_else(|| panic!("rooms/get: {rooms}"))
        .iter()
        .map(|r| &r["_id"])
        .collect();
    assert!(ids.contains(&&one_id) && ids.contains(&&two_id), "{rooms}");
    for r in rooms.as_array().into_iter().flatten() {
        ejson_ms(&r["ts"], "room ts");
        ejson_ms(&r["_updatedAt"], "room _updatedAt");
    }
    let subs = a.call_ok("subscriptions/get", json!([])).await;
    let subs = subs.as_array().unwrap_or_else(|| panic!("{subs}"));
    // The two channels and #general, which every new user joins.
    assert_eq!(subs.len(), 3, "{subs:?}");
    for s in subs {
        assert_eq!(s["u"]["_id"], json!(alice.user_id));
        assert_eq!(s["t"], "c");
        ejson_ms(&s["_updatedAt"], "subscription _updatedAt");
    }

    let since = chrono::Utc::now().timestamp_millis();
    tick().await;
    srv.post_ok("channels.leave", &alice, json!({"roomId": two_id}))
        .await;
    post(&srv, &admin, str_of(&one_id, "rid"), "news").await;

    let delta = a.call_ok("rooms/get", json!([{"$date": since}])).await;
    assert_eq!(delta["update"].as_array().map(Vec::len), Some(1), "{delta}");
    assert_eq!(delta["update"][0]["_id"], one_id);
    assert_eq!(delta["remove"].as_array().map(Vec::len), Some(1), "{delta}");
    assert_eq!(delta["remove"][0]["_id"], two_id);
    ejson_ms(&delta["remove"][0]["_deletedAt"], "_deletedAt");

    let delta = a
        .call_ok("subscriptions/get", json!([{"$date": since}]))
        .await;
    assert_eq!(delta["remove"].as_array().map(Vec::len), Some(1), "{delta}");
    assert_eq!(delta["remove"][0]["rid"], two_id);
    ejson_ms(&delta["remove"][0]["_deletedAt"], "_deletedAt");
    assert!(delta["update"].is_array(), "{delta}");

    let later = chrono::Utc::now().timestamp_millis() + 60_000;
    assert_eq!(
        a.call_ok("rooms/get", json!([{"$date": later}])).await,
        json!({"update": [], "remove": []})
    );
    assert_eq!(
        a.call_err("rooms/get", json!([true])).await,
        meteor_error(json!(400), "Match failed")
    );
}

#[tokio::test]
async fn load_history_pages_newest_first() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.create_user(&admin, "bob").await;
    let room = create_channel(&srv, &admin, "history", &["alice"]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    let mut stamps = Vec::new();
    for i in 0..6 {
        let m = post(&srv, &admin, &rid, &format!("m{i}")).await;
        stamps.push(ts(&m["ts"], "ts").timestamp_millis());
        tick().await;
    }
    let mut a = Ddp::connect_as(&srv, &alice).await;

    let page = a.call_ok("loadHistory", json!([rid, null, 3, null])).await;
    let texts: Vec<&str> = page["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|m| m["msg"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(texts, ["m5", "m4", "m3"], "{page}");
    assert_eq!(page.as_object().map(|o| o.len()), Some(1), "{page}");
    ejson_ms(&page["messages"][0]["ts"], "message ts");

    // Older than m3.
    let older = a
        .call_ok("loadHistory", json!([rid, {"$date": stamps[3]}, 2, null]))
        .await;
    assert_eq!(msg_texts(&older["messages"]), ["m2", "m1"], "{older}");

    // Last seen before m1: m2..m5 are unread, and m2 is not on this page.
    let unread = a
        .call_ok("loadHistory", json!([rid, null, 3, {"$date": stamps[1]}]))
        .await;
    assert_eq!(unread["unreadNotLoaded"], 1, "{unread}");
    assert_eq!(unread["firstUnread"]["msg"], "m2", "{unread}");

    // Private rooms stay private.
    let group = create_group(&srv, &admin, "hidden", &[]).await;
    assert_eq!(
        a.call_err("loadHistory", json!([group["_id"], null, 10, null]))
            .await["error"],
        "error-room-not-found"
    );
    assert_eq!(
        a.call_err("loadHistory", json!([rid, "yesterday", 10, null]))
            .await,
        meteor_error(json!(400), "Match failed")
    );
}
