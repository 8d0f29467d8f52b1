//! Who may notify a whole room, as Rocket.Chat rules it (`MentionsServer`,
//! `BeforeSavePreventMention`): a message with `@all` or `@here` is refused in a
//! room above `Message_MaxAll` members, and from a sender without `mention-all` /
//! `mention-here` (globally or in the room). Refused, not sent silently, and
//! nothing of it is stored.

use serde_json::json;

use crate::common::*;

async fn refused(srv: &Palaver, who: &Session, rid: &str, text: &str, needle: &str) {
    let (status, body) = srv
        .post(
            "chat.postMessage",
            who,
            json!({"roomId": rid, "text": text}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-action-not-allowed"), text);
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "{text}: {body}");
}

#[tokio::test]
async fn group_mentions_are_refused_above_message_max_all_and_without_permission() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let _bob = srv.create_user(&admin, "bob").await;
    let room = create_channel(&srv, &admin, "town", &["alice", "bob"]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    let set = |id: &'static str, value: serde_json::Value| {
        let (srv, admin) = (&srv, &admin);
        async move {
            srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
                .await;
        }
    };

    post(&srv, &alice, &rid, "@all welcome").await;
    post(&srv, &alice, &rid, "@here anyone?").await;

    // Three members: above a limit of two, group mentions are refused.
    set("Message_MaxAll", json!(2)).await;
    for text in ["@all too many of us", "(@here) too many of us"] {
        refused(&srv, &alice, &rid, text, "more than 2 members").await;
    }
    refused(
        &srv,
        &admin,
        &rid,
        "@all even admins",
        "more than 2 members",
    )
    .await;
    // Other messages and user mentions are not affected; three is not above three.
    post(&srv, &alice, &rid, "@bob just you").await;
    set("Message_MaxAll", json!(3)).await;
    post(&srv, &alice, &rid, "@all still fits").await;
    set("Message_MaxAll", json!(0)).await;

    // Without mention-all (users lose it here), @all is refused, @here is not.
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [{"_id": "mention-all", "roles": ["admin", "owner", "moderator"]}]}),
    )
    .await;
    refused(
        &srv,
        &alice,
        &rid,
        "@all no right",
        "Notify all in this room not allowed",
    )
    .await;
    post(&srv, &alice, &rid, "@here is fine").await;
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [{"_id": "mention-here", "roles": ["admin"]}]}),
    )
    .await;
    refused(
        &srv,
        &alice,
        &rid,
        "@here no right",
        "Notify here in this room not allowed",
    )
    .await;
    // A room role that has it is enough: a moderator of this room may.
    srv.post_ok(
        "channels.addModerator",
        &admin,
        json!({"roomId": rid, "userId": alice.user_id}),
    )
    .await;
    post(&srv, &alice, &rid, "@all as moderator").await;

    // Nothing refused was stored.
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=100"), &admin)
        .await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["msg"].as_str())
        .collect();
    for gone in ["too many", "even admins", "no right"] {
        assert!(!texts.iter().any(|t| t.contains(gone)), "{texts:?}");
    }
    for kept in [
        "@all welcome",
        "@bob just you",
        "@all still fits",
        "@here is fine",
        "@all as moderator",
    ] {
        assert!(texts.contains(&kept), "{kept}: {texts:?}");
    }
}
