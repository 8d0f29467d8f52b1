//! Room shapes and member listings in the forms Rocket.Chat's own tests read:
//! `rooms.info` with `customFields` and `sysMes` on a new room, `lastMessage`
//! following reactions, member listings filtered by text (per
//! `Accounts_SearchFields`) and by status, and `channels.online` seeing a status
//! set over REST (a presence lease of one TTL).

use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::set_setting;

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("an object").keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn room_shapes_member_filters_and_rest_presence() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let channel = create_channel(&srv, &alice, "shapes", &["bob"]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();

    // A new room has Rocket.Chat's keys, `sysMes: true` and `customFields: {}`.
    let info = srv
        .get_ok(&format!("rooms.info?roomId={rid}"), &alice)
        .await;
    let room = &info["room"];
    let mut want: Vec<String> = [
        "_id",
        "name",
        "fname",
        "t",
        "msgs",
        "usersCount",
        "u",
        "customFields",
        "ts",
        "ro",
        "sysMes",
        "default",
        "_updatedAt",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    want.sort();
    assert_eq!(keys(room), want, "{room}");
    assert_eq!(room["sysMes"], json!(true), "{room}");
    assert_eq!(room["customFields"], json!({}), "{room}");
    // Hidden system messages chosen for the room are still a list.
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": rid, "systemMessages": ["uj"]}),
    )
    .await;
    let info = srv
        .get_ok(&format!("rooms.info?roomId={rid}"), &alice)
        .await;
    assert_eq!(info["room"]["sysMes"], json!(["uj"]), "{info}");

    // The room's last message carries its reactions.
    let m = post(&srv, &alice, &rid, "react here").await;
    let mid = str_of(&m["_id"], "mid").to_string();
    srv.post_ok(
        "chat.react",
        &bob,
        json!({"messageId": mid, "emoji": ":tada:"}),
    )
    .await;
    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &alice)
        .await;
    let last = &info["channel"]["lastMessage"];
    assert_eq!(last["_id"], json!(mid), "{last}");
    assert_eq!(
        last["reactions"][":tada:"]["usernames"],
        json!(["bob"]),
        "{last}"
    );

    // Member listings by text (username or name, per Accounts_SearchFields) and
    // by status.
    let members = |query: &str| members_of(&srv, &alice, &rid, query.to_string());
    assert_eq!(
        members("filter=BO").await,
        (vec!["bob".to_string()], json!(1))
    );
    assert_eq!(
        members("filter=alice%20name").await,
        (vec!["alice".to_string()], json!(1))
    );
    set_setting(&srv, &admin, "Accounts_SearchFields", json!("username")).await;
    assert_eq!(members("filter=alice%20name").await, (vec![], json!(0)));
    assert_eq!(
        members("status%5B%5D=online").await,
        (vec![], json!(0)),
        "nobody connected"
    );

    // A status set over REST shows as present, in member lists and online lists.
    srv.post_ok(
        "users.setStatus",
        &bob,
        json!({"status": "online", "message": ""}),
    )
    .await;
    assert_eq!(
        members("status%5B%5D=online").await,
        (vec!["bob".to_string()], json!(1))
    );
    let online = srv
        .get_ok(
            &format!("channels.online?query=%7B%22_id%22%3A%22{rid}%22%7D"),
            &alice,
        )
        .await;
    assert_eq!(
        online["online"],
        json!([{"_id": bob.user_id, "username": "bob"}]),
        "{online}"
    );
}

/// A room's member usernames (and total) for a `channels.members` query.
async fn members_of(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    query: String,
) -> (Vec<String>, Value) {
    let body = srv
        .get_ok(&format!("channels.members?roomId={rid}&{query}"), who)
        .await;
    let names: Vec<String> = body["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["username"].as_str().map(str::to_string))
        .collect();
    (names, body["total"].clone())
}

#[tokio::test]
async fn team_sidepanel_is_saved_and_validated() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let team = srv
        .post_ok("teams.create", &alice, json!({"name": "panel", "type": 0}))
        .await;
    let main = str_of(&team["team"]["roomId"], "main").to_string();
    srv.post_ok(
        "rooms.saveRoomSettings",
        &alice,
        json!({"rid": main, "sidepanel": {"items": ["channels", "discussions"]}}),
    )
    .await;
    let info = srv
        .get_ok(&format!("channels.info?roomId={main}"), &alice)
        .await;
    assert_eq!(
        info["channel"]["sidepanel"],
        json!({"items": ["channels", "discussions"]}),
        "{info}"
    );
    for bad in [
        json!(["wrong"]),
        json!(["channels", "discussions", "extra"]),
        json!(["channels", "channels"]),
    ] {
        let (status, body) = srv
            .post(
                "rooms.saveRoomSettings",
                &alice,
                json!({"rid": main, "sidepanel": {"items": bad}}),
            )
            .await;
        assert_error(
            status,
            &body,
            400,
            Some("error-invalid-sidepanel"),
            "bad items",
        );
    }
    // Only a team's main room has one.
    let other = create_channel(&srv, &alice, "plain", &[]).await;
    let (status, body) = srv
        .post(
            "rooms.saveRoomSettings",
            &alice,
            json!({"rid": other["_id"], "sidepanel": {"items": ["channels"]}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "not a team",
    );
}
