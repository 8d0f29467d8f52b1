//! Realtime API subscriptions: `stream-room-messages` (a room, `__my_messages__`,
//! both `useCollection` modes including the legacy `[name, true]`),
//! `stream-notify-user` (rooms/subscriptions changed, ephemeral `message`,
//! `notification`) and `stream-notify-room` (`deleteMessage`, typing in both forms).
//!
//! "Nothing arrives" is checked with a sentinel: after the event that must not be
//! delivered, one that must is caused, and it has to be the very next frame.

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};

use crate::common::*;

const ROOM_MESSAGES: &str = "stream-room-messages";
const NOTIFY_USER: &str = "stream-notify-user";
const NOTIFY_ROOM: &str = "stream-notify-room";

/// The exact `changed` frame of a stream event.
#[track_caller]
fn assert_event(frame: &Value, collection: &str, event_name: &str, args_len: usize) {
    assert_eq!(frame["msg"], "changed", "{frame}");
    assert_eq!(frame["collection"], collection, "{frame}");
    assert_eq!(frame["id"], "id", "{frame}");
    assert_eq!(
        frame.as_object().map(|o| o.len()),
        Some(4),
        "only msg, collection, id, fields: {frame}"
    );
    let fields = &frame["fields"];
    assert_eq!(fields.as_object().map(|o| o.len()), Some(2), "{frame}");
    assert_eq!(fields["eventName"], event_name, "{frame}");
    assert_eq!(
        fields["args"].as_array().map(Vec::len),
        Some(args_len),
        "{frame}"
    );
}

/// A realtime message document: Rocket.Chat fields with EJSON dates.
#[track_caller]
fn assert_ddp_message(m: &Value, rid: &str, author: &Session, text: &str) {
    assert!(m["_id"].is_string(), "{m}");
    assert_eq!(m["rid"], json!(rid), "{m}");
    assert_eq!(m["msg"], json!(text), "{m}");
    assert_eq!(m["u"]["_id"], json!(author.user_id), "{m}");
    assert_eq!(m["u"]["username"], json!(author.username), "{m}");
    for key in ["ts", "_updatedAt"] {
        assert!(m[key]["$date"].is_i64(), "{key} must be an EJSON date: {m}");
    }
}

fn rid_of(room: &Value) -> String {
    str_of(&room["_id"], "room id").to_string()
}

#[tokio::test]
async fn room_messages_in_both_use_collection_modes() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = rid_of(&create_channel(&srv, &admin, "news", &["alice"]).await);

    let params = [
        json!([rid, false]),
        json!([rid, {"useCollection": false, "args": []}]),
        json!([rid]),
        json!([rid, true]),
        json!([rid, {"useCollection": true, "args": []}]),
    ];
    let mut clients = Vec::new();
    for p in &params {
        let mut ddp = Ddp::connect_as(&srv, &alice).await;
        let id = ddp.sub_start(ROOM_MESSAGES, p.clone()).await;
        let use_collection = p[1] == json!(true) || p[1]["useCollection"] == json!(true);
        if use_collection {
            // Collection compatibility: one `added` before `ready`.
            assert_eq!(
                ddp.recv().await,
                json!({"msg": "added", "collection": ROOM_MESSAGES, "id": "id",
                       "fields": {"eventName": rid}}),
                "{p}"
            );
        }
        assert_eq!(
            ddp.recv().await,
            json!({"msg": "ready", "subs": [id]}),
            "{p}"
        );
        clients.push(ddp);
    }

    let sent = post(&srv, &admin, &rid, "first").await;
    for (ddp, p) in clients.iter_mut().zip(&params) {
        let frame = ddp.recv().await;
        assert_event(&frame, ROOM_MESSAGES, &rid, 1);
        let m = &frame["fields"]["args"][0];
        assert_ddp_message(m, &rid, &admin, "first");
        assert_eq!(m["_id"], sent["_id"], "{p}");
    }
    // Edits and reactions arrive as the updated message, still `changed`.
    srv.post_ok(
        "chat.update",
        &admin,
        json!({"roomId": rid, "msgId": sent["_id"], "text": "first, edited"}),
    )
    .await;
    for ddp in clients.iter_mut() {
        let frame = ddp.recv().await;
        assert_event(&frame, ROOM_MESSAGES, &rid, 1);
        let m = &frame["fields"]["args"][0];
        assert_eq!(m["msg"], "first, edited");
        assert!(m["editedAt"]["$date"].is_i64(), "{m}");
    }
    // A thread reply arrives, then its parent again with the new reply count.
    let reply = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": "in thread", "tmid": sent["_id"]}}),
        )
        .await;
    for ddp in clients.iter_mut() {
        let m = ddp.recv().await["fields"]["args"][0].clone();
        assert_eq!(m["_id"], reply["message"]["_id"], "{m}");
        assert_eq!(m["tmid"], sent["_id"], "{m}");
        let parent = ddp.recv().await["fields"]["args"][0].clone();
        assert_eq!(parent["_id"], sent["_id"], "{parent}");
        assert_eq!(parent["tcount"], 1, "{parent}");
        assert!(parent["tlm"]["$date"].is_i64(), "{parent}");
    }
    // Unsubscribing stops delivery.
    let mut first = clients.remove(0);
    first.send(json!({"msg": "unsub", "id": "t2"})).await;
    assert_eq!(first.recv().await, json!({"msg": "nosub", "id": "t2"}));
    post(&srv, &admin, &rid, "second").await;
    for ddp in clients.iter_mut() {
        assert_eq!(ddp.recv().await["fields"]["args"][0]["msg"], "second");
    }
    assert!(first
        .try_recv(std::time::Duration::from_millis(300))
        .await
        .is_none());
}

#[tokio::test]
async fn my_messages_covers_every_room_of_the_user() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let mine = rid_of(&create_channel(&srv, &admin, "mine", &["alice"]).await);
    let group = rid_of(&create_group(&srv, &admin, "inner", &["alice"]).await);
    let elsewhere = rid_of(&create_channel(&srv, &admin, "elsewhere", &[]).await);

    let mut a = Ddp::connect_as(&srv, &alice).await;
    a.sub(
        ROOM_MESSAGES,
        json!(["__my_messages__", {"useCollection": false, "args": []}]),
    )
    .await;

    // Not a member: nothing. Then a member room: the next frame.
    post(&srv, &admin, &elsewhere, "not for alice").await;
    post(&srv, &admin, &mine, "for alice").await;
    let frame = a.recv().await;
    assert_event(&frame, ROOM_MESSAGES, "__my_messages__", 2);
    assert_ddp_message(&frame["fields"]["args"][0], &mine, &admin, "for alice");
    assert_eq!(
        frame["fields"]["args"][1],
        json!({"roomParticipant": true, "roomType": "c", "roomName": "mine"})
    );

    post(&srv, &admin, &group, "in the group").await;
    let frame = a.recv().await;
    assert_eq!(
        frame["fields"]["args"][1],
        json!({"roomParticipant": true, "roomType": "p", "roomName": "inner"})
    );

    // A DM created after the subscription is covered too; its name is the other user.
    let dm = srv
        .post_ok("im.create", &bob, json!({"username": "alice"}))
        .await;
    let dm_id = str_of(&dm["room"]["_id"], "dm id").to_string();
    post(&srv, &bob, &dm_id, "psst").await;
    let frame = a
        .wait_for("the DM message", |v| {
            v["fields"]["args"][0]["msg"] == "psst"
        })
        .await;
    assert_eq!(
        frame["fields"]["args"][1],
        json!({"roomParticipant": true, "roomType": "d", "roomName": "bob"})
    );
    // Her own messages are included.
    a.call_ok("sendMessage", json!([{"rid": mine, "msg": "mine too"}]))
        .await;
    let frame = a
        .wait_for("her own message", |v| {
            v["fields"]["args"][0]["msg"] == "mine too"
        })
        .await;
    assert_event(&frame, ROOM_MESSAGES, "__my_messages__", 2);

    // Joining a room adds it; leaving removes it.
    let mut a2 = Ddp::connect_as(&srv, &alice).await;
    a2.sub(ROOM_MESSAGES, json!(["__my_messages__", true]))
        .await;
    a2.call_ok("joinRoom", json!([elsewhere])).await;
    post(&srv, &admin, &elsewhere, "now for alice").await;
    a2.wait_for("message of the joined room", |v| {
        v["fields"]["args"][0]["msg"] == "now for alice"
    })
    .await;
    a2.call_ok("leaveRoom", json!([elsewhere])).await;
    post(&srv, &admin, &elsewhere, "gone again").await;
    post(&srv, &admin, &mine, "sentinel").await;
    let next = a2
        .wait_for("a message", |v| {
            v["msg"] == "changed" && v["fields"]["args"][0]["t"].is_null()
        })
        .await;
    assert_eq!(next["fields"]["args"][0]["msg"], "sentinel", "{next}");
}

#[tokio::test]
async fn notify_user_rooms_and_subscriptions_changed() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let uid = alice.user_id.clone();
    let mut a = Ddp::connect_as(&srv, &alice).await;
    a.sub(
        NOTIFY_USER,
        json!([format!("{uid}/subscriptions-changed"), false]),
    )
    .await;
    a.sub(NOTIFY_USER, json!([format!("{uid}/rooms-changed"), false]))
        .await;
    // Another user's stream is refused.
    let error = a
        .sub_refused(
            NOTIFY_USER,
            json!([format!("{}/rooms-changed", bob.user_id), false]),
        )
        .await;
    assert_eq!(error["error"], "not-allowed", "{error}");
    assert_eq!(error["errorType"], "Meteor.Error", "{error}");

    // Added to a group: the subscription and the room are `inserted`.
    let gid = rid_of(&create_group(&srv, &bob, "crew", &["alice"]).await);
    let subs_event = format!("{uid}/subscriptions-changed");
    let rooms_event = format!("{uid}/rooms-changed");
    let frame = a.event(NOTIFY_USER, &subs_event).await;
    assert_event(&frame, NOTIFY_USER, &subs_event, 2);
    assert_eq!(frame["fields"]["args"][0], "inserted");
    let sub = &frame["fields"]["args"][1];
    assert_eq!(sub["rid"], json!(gid), "{sub}");
    assert_eq!(sub["u"]["_id"], json!(uid), "{sub}");
    assert_eq!(sub["t"], "p");
    assert!(sub["_updatedAt"]["$date"].is_i64(), "{sub}");
    let frame = a.event(NOTIFY_USER, &rooms_event).await;
    assert_event(&frame, NOTIFY_USER, &rooms_event, 2);
    assert_eq!(frame["fields"]["args"][0], "inserted");
    assert_eq!(frame["fields"]["args"][1]["_id"], json!(gid));
    assert_eq!(frame["fields"]["args"][1]["t"], "p");

    // A message: the room is `updated` with its last message.
    post(&srv, &bob, &gid, "welcome").await;
    let frame = a.event(NOTIFY_USER, &rooms_event).await;
    assert_eq!(frame["fields"]["args"][0], "updated");
    let room = &frame["fields"]["args"][1];
    assert_eq!(room["_id"], json!(gid));
    assert_eq!(room["lastMessage"]["msg"], "welcome", "{room}");
    assert!(room["lm"]["$date"].is_i64(), "{room}");

    // Reading the room updates the subscription.
    srv.post_ok("subscriptions.read", &alice, json!({"rid": gid}))
        .await;
    let frame = a.event(NOTIFY_USER, &subs_event).await;
    assert_eq!(frame["fields"]["args"][0], "updated");
    assert_eq!(frame["fields"]["args"][1]["rid"], json!(gid));

    // Kicked: both are `removed`.
    srv.post_ok("groups.kick", &bob, json!({"roomId": gid, "userId": uid}))
        .await;
    let removed = |event: &str| {
        let event = event.to_string();
        move |v: &Value| v["fields"]["eventName"] == event && v["fields"]["args"][0] == "removed"
    };
    let frame = a
        .wait_for("subscription removed", removed(&subs_event))
        .await;
    assert_event(&frame, NOTIFY_USER, &subs_event, 2);
    assert_eq!(frame["fields"]["args"][1]["rid"], json!(gid));
    assert_eq!(frame["fields"]["args"][1]["_id"], sub["_id"]);
    let frame = a.wait_for("room removed", removed(&rooms_event)).await;
    assert_eq!(frame["fields"]["args"], json!(["removed", {"_id": gid}]));
}

#[tokio::test]
async fn notifications_for_direct_messages_and_mentions() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = rid_of(&create_channel(&srv, &admin, "hall", &["alice", "bob"]).await);
    let event = format!("{}/notification", alice.user_id);
    let mut a = Ddp::connect_as(&srv, &alice).await;
    a.sub(NOTIFY_USER, json!([event, false])).await;

    let dm = srv
        .post_ok("im.create", &bob, json!({"username": "alice"}))
        .await;
    let dm_id = str_of(&dm["room"]["_id"], "dm id").to_string();
    let m = post(&srv, &bob, &dm_id, "are you there?").await;
    let frame = a.event(NOTIFY_USER, &event).await;
    assert_event(&frame, NOTIFY_USER, &event, 1);
    let n = &frame["fields"]["args"][0];
    assert_eq!(n["title"], "@bob", "{n}");
    assert_eq!(n["text"], "are you there?", "{n}");
    assert_eq!(
        n["payload"],
        json!({"_id": m["_id"], "rid": dm_id, "type": "d",
               "sender": {"_id": bob.user_id, "username": "bob", "name": "bob Name"},
               "message": {"msg": "are you there?"}})
    );

    // In a channel: only when mentioned, and never for your own messages.
    post(&srv, &bob, &rid, "no mention here").await;
    a.call_ok(
        "sendMessage",
        json!([{"rid": rid, "msg": "@alice talking to myself"}]),
    )
    .await;
    post(&srv, &bob, &rid, "hey @alice").await;
    let frame = a.event(NOTIFY_USER, &event).await;
    let n = &frame["fields"]["args"][0];
    assert_eq!(n["title"], "#hall", "{n}");
    assert_eq!(n["text"], "bob: hey @alice", "{n}");
    assert_eq!(n["payload"]["type"], "c");
    assert_eq!(n["payload"]["name"], "hall");
    assert!(
        a.buffered().iter().all(|f| f["msg"] != "changed"),
        "no other notifications: {:?}",
        a.buffered()
    );
}

#[tokio::test]
async fn ephemeral_messages_reach_only_their_user() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    srv.create_user(&admin, "carol").await;
    let rid = rid_of(&create_channel(&srv, &admin, "plaza", &["alice", "bob"]).await);

    let mut a = Ddp::connect_as(&srv, &alice).await;
    let a_event = format!("{}/message", alice.user_id);
    a.sub(NOTIFY_USER, json!([a_event, false])).await;
    a.sub(ROOM_MESSAGES, json!([rid, false])).await;
    let mut b = Ddp::connect_as(&srv, &bob).await;
    b.sub(
        NOTIFY_USER,
        json!([format!("{}/message", bob.user_id), false]),
    )
    .await;
    b.sub(ROOM_MESSAGES, json!([rid, false])).await;

    // Mentioning someone who is not in the room: only the author is told.
    a.call_ok("sendMessage", json!([{"rid": rid, "msg": "ping @carol"}]))
        .await;
    let frame = a.event(NOTIFY_USER, &a_event).await;
    assert_event(&frame, NOTIFY_USER, &a_event, 1);
    let m = &frame["fields"]["args"][0];
    assert_eq!(m["rid"], json!(rid), "{m}");
    assert_eq!(m["private"], json!(true), "{m}");
    assert_eq!(m["groupable"], json!(false), "{m}");
    assert_eq!(
        m["msg"], "You mentioned @carol, but they're not in this room.",
        "{m}"
    );
    assert!(m["_id"].is_string() && m["ts"]["$date"].is_i64(), "{m}");
    assert!(m["u"]["username"].is_string(), "{m}");
    // Bob sees the message itself, then nothing else (the notice was not his).
    let frame = b.recv().await;
    assert_eq!(frame["fields"]["args"][0]["msg"], "ping @carol");
    post(&srv, &admin, &rid, "sentinel").await;
    let frame = b.recv().await;
    assert_eq!(frame["fields"]["args"][0]["msg"], "sentinel", "{frame}");
    // Nor is it stored.
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &alice)
        .await;
    assert!(
        !history.to_string().contains("You mentioned"),
        "ephemeral messages are not stored: {history}"
    );
}

#[tokio::test]
async fn notify_room_delete_message_and_typing() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let dave = srv.create_user(&admin, "dave").await;
    let rid = rid_of(&create_channel(&srv, &admin, "den", &["alice", "bob", "carol"]).await);
    let activity = format!("{rid}/user-activity");
    let typing = format!("{rid}/typing");
    let deleted = format!("{rid}/deleteMessage");

    let mut a = Ddp::connect_as(&srv, &alice).await;
    a.sub(NOTIFY_ROOM, json!([activity, false])).await;
    let mut b = Ddp::connect_as(&srv, &bob).await;
    b.sub(NOTIFY_ROOM, json!([activity, false])).await;
    b.sub(NOTIFY_ROOM, json!([deleted, false])).await;
    let mut c = Ddp::connect_as(&srv, &carol).await;
    c.sub(NOTIFY_ROOM, json!([typing, false])).await;

    // Alice types: bob sees user-activity, carol the legacy typing; alice's own
    // connection does not get it back.
    let frame = a
        .call(
            "stream-notify-room",
            json!([activity, "alice", ["user-typing"], {}]),
        )
        .await;
    assert_eq!(frame, json!({"msg": "result", "id": frame["id"]}));
    let f = b.event(NOTIFY_ROOM, &activity).await;
    assert_event(&f, NOTIFY_ROOM, &activity, 3);
    assert_eq!(f["fields"]["args"], json!(["alice", ["user-typing"], {}]));
    let f = c.event(NOTIFY_ROOM, &typing).await;
    assert_event(&f, NOTIFY_ROOM, &typing, 2);
    assert_eq!(f["fields"]["args"], json!(["alice", true]));
    // Legacy publish, stop typing.
    b.call_ok("stream-notify-room", json!([typing, "bob", false]))
        .await;
    let f = a.event(NOTIFY_ROOM, &activity).await;
    assert_eq!(f["fields"]["args"], json!(["bob", [], {}]));
    assert!(
        a.buffered().is_empty(),
        "alice got her own activity back: {:?}",
        a.buffered()
    );
    let f = c.event(NOTIFY_ROOM, &typing).await;
    assert_eq!(f["fields"]["args"], json!(["bob", false]));

    // Refusals: someone else's name, a non-member, a bad event.
    assert_eq!(
        a.call_err(
            "stream-notify-room",
            json!([activity, "bob", ["user-typing"], {}])
        )
        .await["error"],
        "not-allowed"
    );
    let mut d = Ddp::connect_as(&srv, &dave).await;
    assert_eq!(
        d.call_err(
            "stream-notify-room",
            json!([activity, "dave", ["user-typing"], {}])
        )
        .await["error"],
        "error-user-not-in-room"
    );
    assert_eq!(
        a.call_err(
            "stream-notify-room",
            json!([format!("{rid}/whatever"), "alice"])
        )
        .await["error"],
        "not-allowed"
    );

    // deleteMessage carries the id.
    let m = post(&srv, &alice, &rid, "oops").await;
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({"roomId": rid, "msgId": m["_id"]}),
    )
    .await;
    let f = b.event(NOTIFY_ROOM, &deleted).await;
    assert_event(&f, NOTIFY_ROOM, &deleted, 1);
    assert_eq!(f["fields"]["args"], json!([{"_id": m["_id"]}]));
}
