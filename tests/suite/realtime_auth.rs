//! Realtime API authorization: a user only ever receives events of rooms they may
//! read; leaving, being kicked, the room being deleted, logging out or being
//! deactivated ends the affected subscriptions at once (`nosub` with the reason),
//! and nothing is delivered afterwards.
//!
//! "Nothing is delivered" is checked with a sentinel subscription to another room:
//! after the event that must not arrive, a message is posted there, and it has to
//! be the very next frame.

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};

use crate::common::*;

const ROOM_MESSAGES: &str = "stream-room-messages";
const NOTIFY_ROOM: &str = "stream-notify-room";

fn rid_of(room: &Value) -> String {
    str_of(&room["_id"], "room id").to_string()
}

fn not_allowed(reason: &str) -> Value {
    json!({"isClientSafe": true, "error": "not-allowed", "reason": reason,
           "message": format!("{reason} [not-allowed]"), "errorType": "Meteor.Error"})
}

/// Posts `text` in the sentinel room and asserts it is `ddp`'s very next frame.
async fn assert_next_is_sentinel(
    srv: &Palaver,
    ddp: &mut Ddp,
    who: &Session,
    rid: &str,
    text: &str,
) {
    post(srv, who, rid, text).await;
    let frame = ddp.recv().await;
    assert_eq!(
        frame["fields"]["args"][0]["msg"],
        json!(text),
        "expected only the sentinel, got {frame}"
    );
}

#[tokio::test]
async fn unreadable_rooms_are_refused() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let secret = rid_of(&create_group(&srv, &admin, "secret", &[]).await);
    let public = rid_of(&create_channel(&srv, &admin, "public", &[]).await);

    // Not logged in: nothing.
    let mut anon = Ddp::connect(&srv).await;
    assert_eq!(
        anon.sub_refused(ROOM_MESSAGES, json!([public, false]))
            .await,
        not_allowed("You must be logged in to subscribe")
    );

    let mut b = Ddp::connect_as(&srv, &bob).await;
    let error = b.sub_refused(ROOM_MESSAGES, json!([secret, false])).await;
    assert_eq!(error["error"], "not-allowed", "{error}");
    assert_eq!(error["errorType"], "Meteor.Error", "{error}");
    let error = b
        .sub_refused(
            NOTIFY_ROOM,
            json!([format!("{secret}/deleteMessage"), false]),
        )
        .await;
    assert_eq!(error["error"], "not-allowed", "{error}");
    let error = b
        .sub_refused(
            NOTIFY_ROOM,
            json!([format!("{secret}/user-activity"), false]),
        )
        .await;
    assert_eq!(error["error"], "not-allowed", "{error}");
    let error = b
        .sub_refused(ROOM_MESSAGES, json!(["no-such-room", false]))
        .await;
    assert_eq!(error["error"], "not-allowed", "{error}");
    let error = b.sub_refused(ROOM_MESSAGES, json!(["", false])).await;
    assert_eq!(
        error,
        json!({"isClientSafe": true, "error": "invalid-event-name",
               "message": "[invalid-event-name]", "errorType": "Meteor.Error"})
    );

    // A public channel may be read (as over REST) without joining it.
    b.sub(ROOM_MESSAGES, json!([public, false])).await;
    b.sub(ROOM_MESSAGES, json!(["__my_messages__", false]))
        .await;
    post(&srv, &admin, &secret, "top secret").await;
    assert_next_is_sentinel(&srv, &mut b, &admin, &public, "public news").await;
    assert!(b.buffered().is_empty(), "{:?}", b.buffered());
}

#[tokio::test]
async fn kick_and_leave_stop_delivery_at_once() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let group = rid_of(&create_group(&srv, &admin, "team", &["bob"]).await);
    let channel = rid_of(&create_channel(&srv, &admin, "town", &["bob"]).await);
    let sentinel = rid_of(&create_channel(&srv, &admin, "sentinel", &[]).await);

    let mut b = Ddp::connect_as(&srv, &bob).await;
    let s_msgs = b.sub(ROOM_MESSAGES, json!([group, false])).await;
    let s_del = b
        .sub(
            NOTIFY_ROOM,
            json!([format!("{group}/deleteMessage"), false]),
        )
        .await;
    let s_typing = b
        .sub(
            NOTIFY_ROOM,
            json!([format!("{group}/user-activity"), false]),
        )
        .await;
    b.sub(ROOM_MESSAGES, json!([sentinel, false])).await;
    let s_channel = b.sub(ROOM_MESSAGES, json!([channel, true])).await;
    // `added` came before ready for the useCollection sub.
    b.wait_for("added", |v| v["msg"] == "added").await;

    post(&srv, &admin, &group, "before").await;
    assert_eq!(b.recv().await["fields"]["args"][0]["msg"], "before");

    // Kicked: every stream of that room ends with a reason.
    srv.post_ok(
        "groups.kick",
        &admin,
        json!({"roomId": group, "userId": bob.user_id}),
    )
    .await;
    let reason = not_allowed("You are no longer in this room");
    let mut ended = Vec::new();
    while ended.len() < 3 {
        let frame = b.recv().await;
        if frame["msg"] == "changed" {
            // The `ru` system message announcing the kick may still arrive first.
            assert_eq!(frame["fields"]["args"][0]["t"], "ru", "{frame}");
            continue;
        }
        assert_eq!(frame["msg"], "nosub", "{frame}");
        assert_eq!(frame["error"], reason, "{frame}");
        ended.push(frame["id"].as_str().unwrap_or_default().to_string());
    }
    ended.sort();
    let mut expected = vec![s_msgs, s_del, s_typing];
    expected.sort();
    assert_eq!(ended, expected);
    // Nothing more from the group: not messages, not deletions, not typing.
    let m = post(&srv, &admin, &group, "after the kick").await;
    srv.post_ok(
        "chat.delete",
        &admin,
        json!({"roomId": group, "msgId": m["_id"]}),
    )
    .await;
    let mut a = Ddp::connect_as(&srv, &admin).await;
    a.call_ok(
        "stream-notify-room",
        json!([
            format!("{group}/user-activity"),
            "admin",
            ["user-typing"],
            {}
        ]),
    )
    .await;
    assert_next_is_sentinel(&srv, &mut b, &admin, &sentinel, "sentinel 1").await;
    // And it cannot be subscribed again.
    b.sub_refused(ROOM_MESSAGES, json!([group, false])).await;

    // Leaving a channel ends its streams too.
    b.call_ok("leaveRoom", json!([channel])).await;
    let frame = b
        .wait_for("nosub after leave", |v| v["msg"] == "nosub")
        .await;
    assert_eq!(
        frame,
        json!({"msg": "nosub", "id": s_channel, "error": reason})
    );
    post(&srv, &admin, &channel, "after leaving").await;
    // (The `ul` system message may have been delivered before the nosub.)
    post(&srv, &admin, &sentinel, "sentinel 2").await;
    let next = b
        .wait_for("the sentinel", |v| {
            v["msg"] == "changed" && v["fields"]["args"][0]["t"].is_null()
        })
        .await;
    assert_eq!(next["fields"]["args"][0]["msg"], "sentinel 2", "{next}");
}

#[tokio::test]
async fn deleting_the_room_ends_its_streams() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = rid_of(&create_channel(&srv, &admin, "doomed", &["bob"]).await);
    let mut b = Ddp::connect_as(&srv, &bob).await;
    let sub = b.sub(ROOM_MESSAGES, json!([rid, false])).await;
    srv.post_ok("channels.delete", &admin, json!({"roomId": rid}))
        .await;
    assert_eq!(
        b.recv().await,
        json!({"msg": "nosub", "id": sub, "error": not_allowed("The room was deleted")})
    );
}

#[tokio::test]
async fn deactivation_ends_the_session() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = rid_of(&create_channel(&srv, &admin, "place", &["bob"]).await);
    let mut b = Ddp::connect_as(&srv, &bob).await;
    let s1 = b.sub(ROOM_MESSAGES, json!([rid, false])).await;
    let s2 = b
        .sub(
            "stream-notify-user",
            json!([format!("{}/rooms-changed", bob.user_id), false]),
        )
        .await;
    srv.post_ok(
        "users.setActiveStatus",
        &admin,
        json!({"userId": bob.user_id, "activeStatus": false}),
    )
    .await;
    let reason = not_allowed("The user was deactivated");
    let mut ended = Vec::new();
    for _ in 0..2 {
        let frame = b.recv().await;
        assert_eq!(frame["msg"], "nosub", "{frame}");
        assert_eq!(frame["error"], reason, "{frame}");
        ended.push(frame["id"].clone());
    }
    assert!(
        ended.contains(&json!(s1)) && ended.contains(&json!(s2)),
        "{ended:?}"
    );
    assert_eq!(
        b.call_err("sendMessage", json!([{"rid": rid, "msg": "still here?"}]))
            .await["error"],
        "error-invalid-user"
    );
    assert_eq!(
        b.sub_refused(ROOM_MESSAGES, json!([rid, false])).await,
        not_allowed("You must be logged in to subscribe")
    );
    post(&srv, &admin, &rid, "bob is gone").await;
    assert!(
        b.try_recv(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "{:?}",
        b.buffered()
    );
}
