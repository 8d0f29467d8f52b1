//! Discussions (`rooms.createDiscussion`, `rooms.getDiscussions`,
//! `chat.getDiscussions`, the realtime `createDiscussion`): their shape, the
//! parent's `discussion-created` message and its activity (`dcount`, `dlm`), the
//! setting, permissions and errors, and what deleting a parent, a linking message
//! or a discussion does.

use palaver_tests::ddp::Ddp;
use serde_json::{json, Value};

use crate::common::*;

fn id_of(v: &Value) -> String {
    v["_id"].as_str().expect("an _id").to_string()
}

/// The texts of `discussion-created` messages, in order.
fn link_texts(arr: &Value) -> Vec<String> {
    arr.as_array()
        .expect("a messages array")
        .iter()
        .map(|m| {
            assert_eq!(m["t"], "discussion-created", "{m}");
            m["msg"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

/// The parent room's `discussion-created` message linking to `drid`.
async fn linking_message(srv: &Palaver, who: &Session, rid: &str, drid: &str) -> Value {
    let list = srv
        .get_ok(&format!("chat.getDiscussions?roomId={rid}"), who)
        .await;
    list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["drid"] == json!(drid))
        .cloned()
        .unwrap_or_else(|| panic!("no message links to {drid}: {list}"))
}

#[tokio::test]
async fn discussions_of_a_room_and_of_a_message() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let parent = create_channel(&srv, &alice, "town-square", &["bob"]).await;
    let rid = id_of(&parent);

    // Rocket.Chat's body checks, in its order.
    let (status, body) = srv.post("rooms.createDiscussion", &alice, json!({})).await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(body["error"], "Body parameter \"prid\" is required.");
    let (status, body) = srv
        .post("rooms.createDiscussion", &alice, json!({ "prid": rid }))
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(body["error"], "Body parameter \"t_name\" is required.");
    let (_, body) = srv
        .post(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": rid, "t_name": "x", "users": "bob" }),
        )
        .await;
    assert_eq!(body["error"], "Body parameter \"users\" must be an array.");
    let (status, body) = srv
        .post(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": "no-such-room", "t_name": "x" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-room"),
        "unknown parent",
    );
    let (status, body) = srv
        .post(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": rid, "t_name": "x", "pmid": "no-such-message" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-message"),
        "unknown message",
    );

    // From the room: a channel of its own, owned by its creator, titled `fname`.
    let created = srv
        .post_ok(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": rid, "t_name": "Lunch plans", "users": ["bob"] }),
        )
        .await;
    let d = &created["discussion"];
    let drid = id_of(d);
    assert_eq!(d["rid"], json!(drid), "{d}");
    assert_eq!(d["prid"], json!(rid), "{d}");
    assert_eq!(d["fname"], "Lunch plans", "{d}");
    assert_eq!(d["t"], "c", "{d}");
    assert_eq!(d["topic"], "town-square", "the parent's name: {d}");
    assert_eq!(d["u"]["username"], "alice", "{d}");
    assert_eq!(d["usersCount"], 2, "{d}");
    let name = str_of(&d["name"], "name");
    assert_ne!(name, "Lunch plans");
    assert!(!name.is_empty());
    let sub = subscription(&srv, &alice, &drid).await.expect("alice's");
    assert_eq!(sub["roles"], json!(["owner"]), "{sub}");
    assert_eq!(sub["prid"], json!(rid), "{sub}");
    assert_eq!(sub["fname"], "Lunch plans", "{sub}");
    assert!(
        subscription(&srv, &bob, &drid).await.is_some(),
        "bob invited"
    );
    assert!(subscription(&srv, &carol, &drid).await.is_none());
    let info = srv.get_ok(&format!("rooms.info?roomId={drid}"), &bob).await;
    assert_eq!(info["room"]["prid"], json!(rid), "{info}");

    // The parent announces it, and the announcement follows its activity.
    let link = linking_message(&srv, &bob, &rid, &drid).await;
    assert_eq!(link["t"], "discussion-created", "{link}");
    assert_eq!(link["msg"], "Lunch plans", "{link}");
    assert_eq!(link["u"]["username"], "alice", "{link}");
    assert_eq!(link["rid"], json!(rid), "{link}");
    post(&srv, &bob, &drid, "pizza?").await;
    tick().await;
    post(&srv, &alice, &drid, "sure").await;
    let link = linking_message(&srv, &bob, &rid, &drid).await;
    assert_eq!(link["dcount"], 2, "{link}");
    let dlm = ts(&link["dlm"], "dlm");
    let room = srv.get_ok(&format!("rooms.info?roomId={drid}"), &bob).await;
    assert_eq!(ts(&room["room"]["lm"], "lm"), dlm);

    // From a message: its author is invited, the announcement quotes it, a reply
    // opens the discussion.
    let m = post(&srv, &bob, &rid, "who is bringing the cake").await;
    let pmid = id_of(&m);
    let created = srv
        .post_ok(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": rid, "pmid": pmid, "t_name": "Cake", "reply": "me!" }),
        )
        .await;
    let cake = id_of(&created["discussion"]);
    assert_eq!(
        created["discussion"]["description"],
        "who is bringing the cake"
    );
    assert_eq!(created["discussion"]["msgs"], 1, "{created}");
    assert!(
        subscription(&srv, &bob, &cake).await.is_some(),
        "author invited"
    );
    let link = linking_message(&srv, &alice, &rid, &cake).await;
    assert_eq!(
        link["attachments"][0]["text"], "who is bringing the cake",
        "{link}"
    );
    assert_eq!(link["attachments"][0]["author_name"], "bob", "{link}");
    assert_eq!(link["dcount"], 1, "{link}");
    let history = srv
        .get_ok(&format!("channels.history?roomId={cake}"), &bob)
        .await;
    assert_eq!(msg_texts(&history["messages"]), vec!["me!"]);
    // A second discussion of the message; a parent that does not match it is refused.
    let created = srv
        .post_ok(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": rid, "pmid": pmid, "t_name": "Cake 2" }),
        )
        .await;
    assert_eq!(created["discussion"]["prid"], json!(rid));
    let other = create_channel(&srv, &alice, "elsewhere", &[]).await;
    let (status, body) = srv
        .post(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": id_of(&other), "pmid": pmid, "t_name": "x" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-arguments"),
        "mismatch",
    );

    // No discussion of a discussion.
    let (status, body) = srv
        .post(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": drid, "t_name": "nested" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-nested-discussion"),
        "nested",
    );

    // rooms.getDiscussions: by title, paged, with Rocket.Chat's fields.
    let list = srv
        .get_ok(&format!("rooms.getDiscussions?roomId={rid}"), &carol)
        .await;
    assert_page(&list, "discussions", 3, 0, 3, "discussions");
    let titles: Vec<&str> = list["discussions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["fname"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Cake", "Cake 2", "Lunch plans"]);
    let list = srv
        .get_ok(
            "rooms.getDiscussions?roomName=town-square&count=1&offset=1",
            &bob,
        )
        .await;
    assert_page(&list, "discussions", 1, 1, 3, "page");
    assert_eq!(list["discussions"][0]["fname"], "Cake 2");
    let (status, body) = srv.get("rooms.getDiscussions", &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-roomid-param-not-provided"),
        "no room",
    );

    // chat.getDiscussions: the linking messages, newest first, filtered by text.
    let list = srv
        .get_ok(&format!("chat.getDiscussions?roomId={rid}"), &bob)
        .await;
    assert_page(&list, "messages", 3, 0, 3, "linking messages");
    assert_eq!(
        link_texts(&list["messages"]),
        vec!["Cake 2", "Cake", "Lunch plans"]
    );
    let list = srv
        .get_ok(
            &format!("chat.getDiscussions?roomId={rid}&text=lunch&count=5&offset=0"),
            &bob,
        )
        .await;
    assert_page(&list, "messages", 1, 0, 1, "filtered");
    assert_eq!(list["messages"][0]["drid"], json!(drid));
    let (status, body) = srv.get("chat.getDiscussions", &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-params"),
        "no roomId",
    );
    let (status, body) = srv
        .get("chat.getDiscussions?roomId=no-such-room", &bob)
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(body["error"], "error-not-allowed", "{body}");

    // Deleting the linking message deletes its discussion.
    let cake2 = id_of(&created["discussion"]);
    let link = linking_message(&srv, &alice, &rid, &cake2).await;
    srv.post_ok(
        "chat.delete",
        &admin,
        json!({ "roomId": rid, "msgId": id_of(&link) }),
    )
    .await;
    let (status, _) = srv.get(&format!("rooms.info?roomId={cake2}"), &alice).await;
    assert_eq!(status.as_u16(), 400, "the discussion went with its message");

    // Deleting a discussion unlinks its announcement.
    srv.post_ok("channels.delete", &alice, json!({ "roomId": cake }))
        .await;
    let list = srv
        .get_ok(&format!("chat.getDiscussions?roomId={rid}"), &bob)
        .await;
    assert_eq!(link_texts(&list["messages"]), vec!["Lunch plans"]);

    // Deleting the parent deletes its discussions.
    srv.post_ok("channels.delete", &alice, json!({ "roomId": rid }))
        .await;
    let (status, body) = srv.get(&format!("rooms.info?roomId={drid}"), &alice).await;
    assert_eq!(
        status.as_u16(),
        400,
        "discussion gone with its parent: {body}"
    );
    assert!(subscription(&srv, &bob, &drid).await.is_none());
}

#[tokio::test]
async fn discussions_follow_the_parent_type_permissions_and_setting() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let carol = srv.create_user(&admin, "carol").await;
    let group = create_group(&srv, &alice, "secret-club", &[]).await;
    let gid = id_of(&group);

    // A group's discussion is a group; outsiders may neither start nor list them.
    let created = srv
        .post_ok(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": gid, "t_name": "Plans" }),
        )
        .await;
    assert_eq!(created["discussion"]["t"], "p", "{created}");
    let drid = id_of(&created["discussion"]);
    let (status, body) = srv
        .post(
            "rooms.createDiscussion",
            &carol,
            json!({ "prid": gid, "t_name": "Intrude" }),
        )
        .await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "outsider");
    let (status, body) = srv
        .get(&format!("rooms.getDiscussions?roomId={gid}"), &carol)
        .await;
    assert_error(status, &body, 400, Some("not-allowed"), "outsider lists");
    let (status, body) = srv
        .get(&format!("chat.getDiscussions?roomId={gid}"), &carol)
        .await;
    assert_eq!(
        (status.as_u16(), &body["error"]),
        (400, &json!("error-not-allowed"))
    );
    let list = srv
        .get_ok(&format!("rooms.getDiscussions?roomId={gid}"), &alice)
        .await;
    assert_eq!(ids(&list["discussions"]), vec![drid.clone()]);
    let subs = srv.get_ok("subscriptions.get", &alice).await;
    let sub = subs["update"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rid"] == json!(drid))
        .cloned()
        .expect("subscription to the discussion");
    assert_eq!(sub["prid"], json!(gid), "{sub}");
    assert_eq!(sub["t"], "p");
    let rooms = srv.get_ok("rooms.get", &alice).await;
    let room = rooms["update"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["_id"] == json!(drid))
        .cloned()
        .expect("the discussion among the rooms");
    assert_eq!(room["prid"], json!(gid), "{room}");

    // The setting off: nobody starts one.
    srv.post_ok(
        "settings/Discussion_enabled",
        &admin,
        json!({ "value": false }),
    )
    .await;
    let (status, body) = srv
        .post(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": gid, "t_name": "Off" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "disabled",
    );
    srv.post_ok(
        "settings/Discussion_enabled",
        &admin,
        json!({ "value": true }),
    )
    .await;

    // Without either permission, refused; with the other one alone, allowed.
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({ "permissions": [
            { "_id": "start-discussion", "roles": ["admin"] },
            { "_id": "start-discussion-other-user", "roles": ["admin"] },
        ] }),
    )
    .await;
    let (status, body) = srv
        .post(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": gid, "t_name": "No right" }),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "no right",
    );
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({ "permissions": [
            { "_id": "start-discussion-other-user", "roles": ["admin", "owner"] },
        ] }),
    )
    .await;
    // alice owns the group: the room role grants it there.
    srv.post_ok(
        "rooms.createDiscussion",
        &alice,
        json!({ "prid": gid, "t_name": "As owner" }),
    )
    .await;
}

#[tokio::test]
async fn realtime_create_discussion() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let parent = create_channel(&srv, &alice, "lobby", &["bob"]).await;
    let rid = id_of(&parent);
    let m = post(&srv, &bob, &rid, "shall we?").await;

    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    // The parent named by the message alone.
    let result = ddp
        .call_ok(
            "createDiscussion",
            json!([{ "pmid": id_of(&m), "t_name": "Let's", "users": [] }]),
        )
        .await;
    assert_eq!(result["prid"], json!(rid), "{result}");
    assert_eq!(result["fname"], "Let's", "{result}");
    assert_eq!(result["rid"], result["_id"], "{result}");
    assert!(result["ts"]["$date"].is_i64(), "EJSON dates: {result}");
    let drid = result["_id"].as_str().unwrap().to_string();
    assert!(
        subscription(&srv, &bob, &drid).await.is_some(),
        "author invited"
    );

    let err = ddp
        .call_err(
            "createDiscussion",
            json!([{ "prid": "no-such-room", "t_name": "x" }]),
        )
        .await;
    assert_eq!(err["error"], "error-invalid-room", "{err}");
    let err = ddp
        .call_err("createDiscussion", json!([{ "t_name": "x" }]))
        .await;
    assert_eq!(err["error"], "error-invalid-arguments", "{err}");
}
