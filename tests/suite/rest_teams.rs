//! Teams (`teams.*`, `channels.convertToTeam`, `groups.convertToTeam`): a team is
//! its main room (`teamMain`, `teamId`); its shape, members, rooms, permissions,
//! conversions and deletion, and what `rooms.info` says about a team's rooms.

use serde_json::{json, Value};

use crate::common::*;

fn id_of(v: &Value) -> String {
    v["_id"].as_str().expect("an _id").to_string()
}

async fn user_id(srv: &Palaver, who: &Session) -> String {
    let me = srv.get_ok("me", who).await;
    id_of(&me)
}

#[tokio::test]
async fn teams_members_and_rooms() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let bob_id = user_id(&srv, &bob).await;
    let carol_id = user_id(&srv, &carol).await;

    let created = srv
        .post_ok(
            "teams.create",
            &alice,
            json!({ "name": "core", "type": 0, "members": [bob_id] }),
        )
        .await;
    let team = &created["team"];
    let team_id = id_of(team);
    let main_id = str_of(&team["roomId"], "roomId").to_string();
    assert_eq!(team["name"], "core", "{team}");
    assert_eq!(team["type"], 0, "{team}");
    assert_eq!(team["createdBy"]["username"], "alice", "{team}");
    ts(&team["createdAt"], "createdAt");
    let info = srv
        .get_ok(&format!("rooms.info?roomId={main_id}"), &bob)
        .await;
    assert_eq!(info["room"]["teamMain"], true, "{info}");
    assert_eq!(info["room"]["teamId"], json!(team_id), "{info}");
    assert_eq!(info["room"]["t"], "c", "{info}");
    assert_eq!(info["team"]["_id"], json!(team_id), "{info}");
    assert!(
        info.get("parent").is_none(),
        "a main room has no parent: {info}"
    );

    // Errors: a taken name, no create-team, no such team.
    let (status, body) = srv
        .post("teams.create", &alice, json!({ "name": "core", "type": 1 }))
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({ "permissions": [{ "_id": "create-team", "roles": ["admin"] }] }),
    )
    .await;
    let (status, body) = srv
        .post("teams.create", &carol, json!({ "name": "mine", "type": 0 }))
        .await;
    assert_eq!(status.as_u16(), 403, "{body}");
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({ "permissions": [{ "_id": "create-team", "roles": ["admin", "user"] }] }),
    )
    .await;
    let (status, body) = srv.get("teams.info?teamId=nope", &alice).await;
    assert_error(
        status,
        &body,
        400,
        Some("team-does-not-exist"),
        "unknown team",
    );

    // Info by id and by name; members; lists.
    for q in [format!("teamId={team_id}"), "teamName=core".to_string()] {
        let info = srv.get_ok(&format!("teams.info?{q}"), &carol).await;
        assert_eq!(info["teamInfo"]["_id"], json!(team_id), "{info}");
        assert_eq!(info["teamInfo"]["roomId"], json!(main_id), "{info}");
    }
    let members = srv
        .get_ok(&format!("teams.members?teamId={team_id}"), &alice)
        .await;
    assert_page(&members, "members", 2, 0, 2, "members");
    let names: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["alice", "bob"]);
    assert_eq!(members["members"][0]["roles"], json!(["owner"]));
    let list = srv.get_ok("teams.list", &bob).await;
    assert_eq!(ids(&list["teams"]), vec![team_id.clone()]);
    let list = srv.get_ok("teams.list", &carol).await;
    assert_page(&list, "teams", 0, 0, 0, "carol's teams");
    let all = srv.get_ok("teams.listAll", &admin).await;
    assert_eq!(ids(&all["teams"]), vec![team_id.clone()]);
    let (status, _) = srv.get("teams.listAll", &carol).await;
    assert_eq!(status.as_u16(), 403);

    // Members come and go.
    srv.post_ok(
        "teams.addMembers",
        &alice,
        json!({ "teamId": team_id, "members": [{ "userId": carol_id, "roles": ["member"] }] }),
    )
    .await;
    let list = srv.get_ok("teams.list", &carol).await;
    assert_eq!(ids(&list["teams"]), vec![team_id.clone()]);
    let (status, _) = srv
        .post(
            "teams.removeMember",
            &bob,
            json!({ "teamId": team_id, "userId": carol_id }),
        )
        .await;
    assert_eq!(status.as_u16(), 403, "a plain member removes nobody");
    srv.post_ok(
        "teams.removeMember",
        &alice,
        json!({ "teamId": team_id, "userId": carol_id }),
    )
    .await;
    assert!(subscription(&srv, &carol, &main_id).await.is_none());
    srv.post_ok("teams.leave", &bob, json!({ "teamName": "core" }))
        .await;
    assert!(subscription(&srv, &bob, &main_id).await.is_none());

    // Rooms join and leave the team.
    let side = id_of(&create_channel(&srv, &alice, "side", &[]).await);
    let added = srv
        .post_ok(
            "teams.addRooms",
            &alice,
            json!({ "teamId": team_id, "rooms": [side] }),
        )
        .await;
    assert_eq!(added["rooms"][0]["teamId"], json!(team_id), "{added}");
    let rooms = srv
        .get_ok(&format!("teams.listRooms?teamId={team_id}"), &alice)
        .await;
    assert_page(&rooms, "rooms", 1, 0, 1, "team rooms");
    assert_eq!(ids(&rooms["rooms"]), vec![side.clone()]);
    let info = srv
        .get_ok(&format!("rooms.info?roomId={side}"), &alice)
        .await;
    assert_eq!(info["team"]["_id"], json!(team_id), "{info}");
    assert_eq!(info["parent"]["_id"], json!(main_id), "{info}");
    let removed = srv
        .post_ok(
            "teams.removeRoom",
            &alice,
            json!({ "teamId": team_id, "roomId": side }),
        )
        .await;
    assert!(removed["room"].get("teamId").is_none(), "{removed}");
    let info = srv
        .get_ok(&format!("rooms.info?roomId={side}"), &alice)
        .await;
    assert!(
        info.get("team").is_none() && info.get("parent").is_none(),
        "{info}"
    );

    // Deleting the team: the rooms named go with it, the others stay, teamless.
    let keep = id_of(&create_channel(&srv, &alice, "keep", &[]).await);
    let drop = id_of(&create_channel(&srv, &alice, "drop", &[]).await);
    srv.post_ok(
        "teams.addRooms",
        &alice,
        json!({ "teamName": "core", "rooms": [keep, drop] }),
    )
    .await;
    let (status, _) = srv
        .post("teams.delete", &bob, json!({ "teamId": team_id }))
        .await;
    assert!(status.is_client_error(), "no delete-team: {status}");
    srv.post_ok(
        "teams.delete",
        &alice,
        json!({ "teamId": team_id, "roomsToRemove": [drop] }),
    )
    .await;
    let (status, _) = srv
        .get(&format!("rooms.info?roomId={main_id}"), &alice)
        .await;
    assert_eq!(status.as_u16(), 400, "main room deleted");
    let (status, _) = srv.get(&format!("rooms.info?roomId={drop}"), &alice).await;
    assert_eq!(status.as_u16(), 400, "removed room deleted");
    let info = srv
        .get_ok(&format!("rooms.info?roomId={keep}"), &alice)
        .await;
    assert!(info["room"].get("teamId").is_none(), "{info}");
    let (status, body) = srv.get("teams.info?teamName=core", &alice).await;
    assert_error(status, &body, 400, Some("team-does-not-exist"), "gone");
}

#[tokio::test]
async fn conversions_and_private_teams() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = id_of(&create_channel(&srv, &alice, "plaza", &["bob"]).await);

    let (status, body) = srv
        .post(
            "channels.convertToTeam",
            &alice,
            json!({ "channelId": rid, "channelName": "plaza" }),
        )
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert!(
        str_of(&body["error"], "error").contains("must match exactly one schema in oneOf"),
        "{body}"
    );
    let (status, _) = srv.post("channels.convertToTeam", &alice, json!({})).await;
    assert_eq!(status.as_u16(), 400);
    let (status, body) = srv
        .post("channels.convertToTeam", &bob, json!({ "channelId": rid }))
        .await;
    assert_eq!(status.as_u16(), 403, "bob may not edit the room: {body}");
    let converted = srv
        .post_ok(
            "channels.convertToTeam",
            &alice,
            json!({ "channelId": rid }),
        )
        .await;
    assert_eq!(converted["team"]["roomId"], json!(rid), "{converted}");
    assert_eq!(converted["team"]["name"], "plaza", "{converted}");
    let members = srv.get_ok("teams.members?teamName=plaza", &alice).await;
    assert_eq!(members["total"], 2, "the room's members are the team's");
    let (status, _) = srv
        .post(
            "channels.convertToTeam",
            &alice,
            json!({ "channelId": rid }),
        )
        .await;
    assert_eq!(status.as_u16(), 400, "already a team");
    srv.post_ok(
        "teams.convertToChannel",
        &alice,
        json!({ "teamName": "plaza" }),
    )
    .await;
    let info = srv
        .get_ok(&format!("rooms.info?roomId={rid}"), &alice)
        .await;
    assert!(info["room"].get("teamMain").is_none(), "{info}");
    srv.post_ok(
        "channels.convertToTeam",
        &alice,
        json!({ "channelName": "plaza" }),
    )
    .await;

    // A group converts through groups.convertToTeam into a private team; a
    // channel in a private team gets private discussions.
    let gid = id_of(&create_group(&srv, &alice, "backroom", &[]).await);
    let team = srv
        .post_ok("groups.convertToTeam", &alice, json!({ "roomId": gid }))
        .await;
    assert_eq!(team["team"]["type"], 1, "{team}");
    let team_id = id_of(&team["team"]);
    let lobby = id_of(&create_channel(&srv, &alice, "lobby", &[]).await);
    srv.post_ok(
        "teams.addRooms",
        &alice,
        json!({ "teamId": team_id, "rooms": [lobby] }),
    )
    .await;
    let d = srv
        .post_ok(
            "rooms.createDiscussion",
            &alice,
            json!({ "prid": lobby, "t_name": "quiet" }),
        )
        .await;
    assert_eq!(d["discussion"]["t"], "p", "{d}");
    // bob does not see the private team.
    let (status, body) = srv.get(&format!("teams.info?teamId={team_id}"), &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("team-does-not-exist"),
        "private team",
    );
}

/// `directory` with `type: teams`: the teams' main rooms a person may see (public
/// ones, private ones they are in), by name, each with its number of rooms.
#[tokio::test]
async fn directory_lists_the_teams_one_may_see() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let open = srv
        .post_ok(
            "teams.create",
            &alice,
            json!({ "name": "alpha-team", "type": 0 }),
        )
        .await;
    srv.post_ok(
        "teams.create",
        &alice,
        json!({ "name": "beta-team", "type": 1 }),
    )
    .await;
    let side = create_channel(&srv, &alice, "alpha-side", &[]).await;
    srv.post_ok(
        "teams.addRooms",
        &alice,
        json!({ "teamName": "alpha-team", "rooms": [side["_id"]] }),
    )
    .await;
    let teams = |text: &str| {
        let query = serde_json::to_string(&json!({"text": text, "type": "teams"})).unwrap();
        format!(
            "directory?query={}&sort={}",
            enc(&query),
            enc(r#"{"name":1}"#)
        )
    };
    let names = |body: &Value| -> Vec<String> {
        body["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .iter()
            .map(|r| r["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let body = srv.get_ok(&teams(""), &alice).await;
    assert_eq!(names(&body), vec!["alpha-team", "beta-team"], "{body}");
    assert_eq!(body["total"], json!(2));
    let row = &body["result"][0];
    assert_eq!(row["_id"], open["team"]["roomId"], "{row}");
    assert_eq!(row["teamId"], open["team"]["_id"], "{row}");
    assert_eq!(row["teamMain"], json!(true), "{row}");
    assert_eq!(
        row["roomsCount"],
        json!(2),
        "the main room and alpha-side: {row}"
    );
    assert_eq!(row["default"], json!(false), "{row}");
    for key in ["fname", "t", "usersCount", "ts"] {
        assert!(row.get(key).is_some(), "{key} in {row}");
    }
    // Bob is in neither: only the public one; a filter by name.
    assert_eq!(
        names(&srv.get_ok(&teams(""), &bob).await),
        vec!["alpha-team"]
    );
    assert_eq!(
        names(&srv.get_ok(&teams("BETA"), &alice).await),
        vec!["beta-team"]
    );
    assert!(names(&srv.get_ok(&teams("beta"), &bob).await).is_empty());
}
