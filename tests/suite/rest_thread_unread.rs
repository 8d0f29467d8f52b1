//! Unread threads (`tunread`, `tunreadUser`, `tunreadGroup` on subscriptions), as
//! Rocket.Chat's mobile app reads them for thread badges: set by thread replies for
//! the thread's followers, cleared by `readThreads`, `getThreadMessages`,
//! unfollowing, `subscriptions.read` with `readThreads` and deleting the thread;
//! served over REST and realtime, with `subscriptions-changed` events.

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};

use crate::common::*;

/// `who`'s subscription to `rid` from `subscriptions.getOne`.
async fn sub_one(srv: &Palaver, who: &Session, rid: &str) -> Value {
    srv.get_ok(&format!("subscriptions.getOne?roomId={rid}"), who)
        .await["subscription"]
        .clone()
}

/// Replies `text` in thread `tmid` of room `rid`.
async fn reply(srv: &Palaver, who: &Session, rid: &str, tmid: &str, text: &str) -> Value {
    srv.post_ok(
        "chat.sendMessage",
        who,
        json!({ "message": { "rid": rid, "msg": text, "tmid": tmid } }),
    )
    .await["message"]
        .clone()
}

#[tokio::test]
async fn thread_replies_mark_threads_unread_for_followers_until_read() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let dave = srv.create_user(&admin, "dave").await;
    let chan = create_channel(&srv, &alice, "threads", &["bob", "carol", "dave"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();
    let pid = post(&srv, &alice, &rid, "parent").await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    srv.post_ok("subscriptions.read", &alice, json!({ "rid": rid }))
        .await;
    srv.post_ok("subscriptions.read", &dave, json!({ "rid": rid }))
        .await;

    // Alice follows her thread from its first reply: it is unread for her, not
    // for the sender, not for members who do not follow it; unread stays 0.
    let mut a = Ddp::connect_as(&srv, &alice).await;
    let subs_event = format!("{}/subscriptions-changed", alice.user_id);
    a.sub("stream-notify-user", json!([subs_event, false]))
        .await;
    reply(&srv, &bob, &rid, &pid, "first reply").await;
    let s = sub_one(&srv, &alice, &rid).await;
    assert_eq!(s["tunread"], json!([pid]), "{s}");
    assert!(s.get("tunreadUser").is_none(), "{s}");
    assert_eq!(
        s["unread"],
        json!(0),
        "thread replies leave unread alone: {s}"
    );
    assert_eq!(s["alert"], json!(true), "{s}");
    let frame = a
        .wait_for("alice's subscription with the unread thread", |v| {
            v["fields"]["args"][1]["tunread"] == json!([pid])
        })
        .await;
    assert_eq!(frame["fields"]["args"][0], "updated", "{frame}");
    assert!(sub_one(&srv, &bob, &rid).await.get("tunread").is_none());
    let d = sub_one(&srv, &dave, &rid).await;
    assert!(d.get("tunread").is_none(), "dave does not follow: {d}");
    assert_eq!(d["unread"], json!(0), "{d}");

    // A mention makes the thread a user-mention unread for the one named, who
    // follows it from then on; an `@all` is a group mention for the others.
    reply(&srv, &carol, &rid, &pid, "@alice @dave look").await;
    let s = sub_one(&srv, &alice, &rid).await;
    assert_eq!(
        (&s["tunread"], &s["tunreadUser"]),
        (&json!([pid]), &json!([pid])),
        "{s}"
    );
    let s = sub_one(&srv, &bob, &rid).await;
    assert_eq!(s["tunread"], json!([pid]), "bob replied, so follows: {s}");
    assert!(s.get("tunreadUser").is_none(), "{s}");
    assert_eq!(
        sub_one(&srv, &dave, &rid).await["tunreadUser"],
        json!([pid])
    );
    assert!(sub_one(&srv, &carol, &rid).await.get("tunread").is_none());
    reply(&srv, &alice, &rid, &pid, "@all news").await;
    assert_eq!(
        sub_one(&srv, &bob, &rid).await["tunreadGroup"],
        json!([pid])
    );
    assert_eq!(
        sub_one(&srv, &carol, &rid).await["tunreadGroup"],
        json!([pid])
    );
    assert!(sub_one(&srv, &carol, &rid)
        .await
        .get("tunreadUser")
        .is_none());

    // Served by DDP `subscriptions/get` and listed as unread by chat.getThreadsList.
    let mut b = Ddp::connect_as(&srv, &bob).await;
    let subs = b.call_ok("subscriptions/get", json!([])).await;
    let mine = subs
        .as_array()
        .and_then(|l| l.iter().find(|s| s["rid"] == json!(rid)))
        .unwrap_or_else(|| panic!("{subs}"));
    assert_eq!(mine["tunread"], json!([pid]), "{mine}");
    let unread = srv
        .get_ok(&format!("chat.getThreadsList?rid={rid}&type=unread"), &bob)
        .await;
    assert_eq!(ids(&unread["threads"]), vec![pid.clone()], "{unread}");
    let unread = srv
        .get_ok(
            &format!("chat.getThreadsList?rid={rid}&type=unread"),
            &alice,
        )
        .await;
    // Replying is not reading: the client reads the thread it shows.
    assert_eq!(ids(&unread["threads"]), vec![pid.clone()], "{unread}");

    // Opening the thread over DDP reads it.
    b.call_ok("getThreadMessages", json!([{ "tmid": pid }]))
        .await;
    let s = sub_one(&srv, &bob, &rid).await;
    assert!(
        s.get("tunread").is_none() && s.get("tunreadGroup").is_none(),
        "{s}"
    );

    // Reading the room keeps its threads unread (and the alert) unless asked.
    reply(&srv, &bob, &rid, &pid, "again").await;
    srv.post_ok(
        "subscriptions.read",
        &alice,
        json!({ "rid": rid, "readThreads": false }),
    )
    .await;
    let s = sub_one(&srv, &alice, &rid).await;
    assert_eq!(s["tunread"], json!([pid]), "{s}");
    assert_eq!(s["alert"], json!(true), "{s}");
    // `readThreads` reads one thread, and tells the client.
    a.call("readThreads", json!([pid])).await;
    a.wait_for("alice's subscription without the thread", |v| {
        v["fields"]["args"][1]["rid"] == json!(rid)
            && v["fields"]["args"][1].get("tunread").is_none()
    })
    .await;
    let s = sub_one(&srv, &alice, &rid).await;
    assert!(
        s.get("tunread").is_none() && s.get("tunreadUser").is_none(),
        "{s}"
    );
    assert_eq!(s["alert"], json!(false), "the last unread thread: {s}");

    // `subscriptions.read` with `readThreads` reads them all.
    reply(&srv, &bob, &rid, &pid, "and again").await;
    assert_eq!(sub_one(&srv, &alice, &rid).await["tunread"], json!([pid]));
    srv.post_ok(
        "subscriptions.read",
        &alice,
        json!({ "roomId": rid, "readThreads": true }),
    )
    .await;
    assert!(sub_one(&srv, &alice, &rid).await.get("tunread").is_none());
    let (status, body) = srv
        .post(
            "subscriptions.read",
            &alice,
            json!({ "rid": rid, "readThreads": "yes" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "readThreads: \"yes\"",
    );

    // Unfollowing reads the thread; deleting it reads it for everyone.
    assert_eq!(sub_one(&srv, &carol, &rid).await["tunread"], json!([pid]));
    srv.post_ok("chat.unfollowMessage", &carol, json!({ "mid": pid }))
        .await;
    assert!(sub_one(&srv, &carol, &rid).await.get("tunread").is_none());
    assert_eq!(sub_one(&srv, &dave, &rid).await["tunread"], json!([pid]));
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({ "roomId": rid, "msgId": pid }),
    )
    .await;
    assert!(sub_one(&srv, &dave, &rid).await.get("tunread").is_none());
}
