//! Rocket.Chat's core slash commands over `commands.run`: `/archive`, `/unarchive`,
//! `/invite-all-from`, `/invite-all-to`, `/invite`, `/kick`, `/mute`, `/unmute`,
//! `/topic`, `/create`, `/join`, `/msg`, `/status`, `/hide`, `/leave` — what each
//! changes, the notices it shows its user (returned as `result.ephemeral`), and
//! where Rocket.Chat fails the command instead (its status and error type).

use serde_json::{json, Value};

use crate::common::*;

/// Runs `/command params` in `rid` as `who`; the status and body.
async fn run(srv: &Palaver, who: &Session, rid: &str, command: &str, params: &str) -> (u16, Value) {
    let (status, body) = srv
        .post(
            "commands.run",
            who,
            json!({"command": command, "params": params, "roomId": rid}),
        )
        .await;
    (status.as_u16(), body)
}

/// Runs a command that must succeed; the notices it showed.
async fn run_ok(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    command: &str,
    params: &str,
) -> Vec<String> {
    let (status, body) = run(srv, who, rid, command, params).await;
    assert_eq!(status, 200, "/{command} {params}: {body}");
    // The notices, one per line, as one text (as an app's notice is).
    body["result"]["ephemeral"]
        .as_str()
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

fn id(v: &Value) -> String {
    str_of(&v["_id"], "_id").to_string()
}

async fn members(srv: &Palaver, who: &Session, kind: &str, rid: &str) -> Vec<String> {
    let body = srv
        .get_ok(&format!("{kind}.members?roomId={rid}"), who)
        .await;
    let mut names: Vec<String> = body["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members: {body}"))
        .iter()
        .filter_map(|m| m["username"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

async fn room_info(srv: &Palaver, who: &Session, rid: &str) -> Value {
    srv.get_ok(&format!("rooms.info?roomId={rid}"), who).await["room"].clone()
}

#[tokio::test]
async fn archive_and_unarchive_follow_the_permission_and_tell_the_user() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let lobby = id(&create_channel(&srv, &admin, "lobby", &["alice"]).await);

    // A member without `archive-room`: the command fails, the room stays.
    let (status, body) = run(&srv, &alice, &lobby, "archive", "").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], "error-not-authorized", "{body}");
    assert_ne!(room_info(&srv, &admin, &lobby).await["archived"], true);

    // The admin archives the room the command is typed in; twice only tells.
    let shown = run_ok(&srv, &admin, &lobby, "archive", "").await;
    assert_eq!(
        shown,
        vec!["Channel with name `#lobby` has been archived successfully"]
    );
    assert_eq!(room_info(&srv, &admin, &lobby).await["archived"], true);
    let shown = run_ok(&srv, &admin, &lobby, "archive", "#lobby").await;
    assert_eq!(shown, vec!["An archived Channel with name `#lobby` exists"]);

    let (status, body) = run(&srv, &alice, &lobby, "unarchive", "").await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (400, json!("error-not-authorized"))
    );
    let shown = run_ok(&srv, &admin, &lobby, "unarchive", "#lobby").await;
    assert_eq!(
        shown,
        vec!["Channel with name `#lobby` has been Unarchived successfully"]
    );
    // (Rocket.Chat leaves `archived` out, or false, once unarchived.)
    assert_ne!(room_info(&srv, &admin, &lobby).await["archived"], true);
    let shown = run_ok(&srv, &admin, &lobby, "unarchive", "").await;
    assert_eq!(
        shown,
        vec!["Channel with name `#lobby` is already in Unarchived state"]
    );
    let shown = run_ok(&srv, &admin, &lobby, "archive", "#nowhere").await;
    assert_eq!(shown, vec!["The channel `#nowhere` does not exist."]);

    // A room the caller cannot see: Rocket.Chat's bare 403 before anything runs.
    let secret = id(&create_group(&srv, &admin, "secret", &[]).await);
    let (status, body) = run(&srv, &alice, &secret, "archive", "").await;
    assert_eq!(
        (status, body),
        (403, json!({"success": false, "error": "unauthorized"}))
    );
}

#[tokio::test]
async fn invite_all_from_and_to_copy_members_the_caller_may_see() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    srv.create_user(&admin, "carol").await;
    let team = create_group(&srv, &bob, "team", &["carol"]).await;
    let hall = id(&create_channel(&srv, &alice, "hall", &[]).await);

    // Alice is not in bob's group: told so, nobody added.
    let shown = run_ok(&srv, &alice, &hall, "invite-all-from", "#team").await;
    assert_eq!(
        shown,
        vec!["The room does not exist or you may not have access permission"]
    );
    assert_eq!(
        members(&srv, &alice, "channels", &hall).await,
        vec!["alice"]
    );

    // Once in it, its members join her channel.
    srv.post_ok(
        "groups.invite",
        &bob,
        json!({"roomId": id(&team), "userId": alice.user_id}),
    )
    .await;
    let shown = run_ok(&srv, &alice, &hall, "invite-all-from", "#team").await;
    assert_eq!(shown, vec!["The users have been added"]);
    assert_eq!(
        members(&srv, &alice, "channels", &hall).await,
        vec!["alice", "bob", "carol"]
    );

    // To a room that does not exist yet: created, with this room's members.
    let shown = run_ok(&srv, &alice, &hall, "invite-all-to", "#annex").await;
    assert_eq!(
        shown,
        vec!["Channel `#annex` created.", "The users have been added"]
    );
    let annex = srv.get_ok("channels.info?roomName=annex", &alice).await;
    assert_eq!(
        members(&srv, &alice, "channels", &id(&annex["channel"])).await,
        vec!["alice", "bob", "carol"]
    );
    let shown = run_ok(&srv, &alice, &hall, "invite-all-from", "#nowhere").await;
    assert_eq!(shown, vec!["The channel `#nowhere` does not exist."]);
}

#[tokio::test]
async fn member_and_room_commands() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let lobby = id(&create_channel(&srv, &alice, "lobby", &[]).await);

    // /invite: the known are added, the rest told.
    let shown = run_ok(&srv, &alice, &lobby, "invite", "@nobody").await;
    assert_eq!(shown, vec!["No user exists by the name of `@nobody`."]);
    assert!(run_ok(&srv, &alice, &lobby, "invite", "@bob")
        .await
        .is_empty());
    assert_eq!(
        members(&srv, &alice, "channels", &lobby).await,
        vec!["alice", "bob"]
    );
    let shown = run_ok(&srv, &alice, &lobby, "invite", "@bob").await;
    assert_eq!(shown, vec!["`@bob` is already in here."]);

    // /mute and /unmute: bob cannot post while muted.
    run_ok(&srv, &alice, &lobby, "mute", "@bob").await;
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &bob,
            json!({"roomId": lobby, "text": "hi"}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-user-muted"), "muted");
    run_ok(&srv, &alice, &lobby, "unmute", "@bob").await;
    post(&srv, &bob, &lobby, "hi").await;
    let shown = run_ok(&srv, &alice, &lobby, "unmute", "@nobody").await;
    assert_eq!(shown, vec!["The username `nobody` doesn't exist."]);
    // Bob may not mute: the command fails.
    let (status, body) = run(&srv, &bob, &lobby, "mute", "@alice").await;
    assert_eq!(status, 400, "{body}");

    // /topic by the owner; bob's is ignored (no edit-room), as in Rocket.Chat.
    run_ok(&srv, &alice, &lobby, "topic", "Weekly sync").await;
    run_ok(&srv, &bob, &lobby, "topic", "bob was here").await;
    assert_eq!(
        room_info(&srv, &alice, &lobby).await["topic"],
        "Weekly sync"
    );

    // /kick, then /join brings bob back; joining twice fails.
    run_ok(&srv, &alice, &lobby, "kick", "@bob").await;
    assert_eq!(
        members(&srv, &alice, "channels", &lobby).await,
        vec!["alice"]
    );
    let general = id(&create_channel(&srv, &admin, "town", &["bob"]).await);
    run_ok(&srv, &bob, &general, "join", "#lobby").await;
    assert_eq!(
        members(&srv, &alice, "channels", &lobby).await,
        vec!["alice", "bob"]
    );
    let (status, body) = run(&srv, &bob, &general, "join", "#lobby").await;
    assert_eq!(
        (status, body["errorType"].clone()),
        (400, json!("error-user-already-in-room"))
    );
    let shown = run_ok(&srv, &bob, &general, "join", "#nowhere").await;
    assert_eq!(shown, vec!["The channel `#nowhere` does not exist."]);

    // /create: a channel, or a private group with --private; an existing name is told.
    run_ok(&srv, &alice, &lobby, "create", "#planning").await;
    run_ok(&srv, &alice, &lobby, "create", "#hush --private").await;
    assert_eq!(
        srv.get_ok("channels.info?roomName=planning", &alice).await["channel"]["t"],
        "c"
    );
    assert_eq!(
        srv.get_ok("groups.info?roomName=hush", &alice).await["group"]["t"],
        "p"
    );
    let shown = run_ok(&srv, &alice, &lobby, "create", "#lobby").await;
    assert_eq!(shown, vec!["The channel `#lobby` already exists."]);

    // /msg: a direct message, opened on the way.
    let shown = run_ok(&srv, &alice, &lobby, "msg", "@bob").await;
    assert_eq!(shown, vec!["Username and message must not be empty."]);
    run_ok(&srv, &alice, &lobby, "msg", "@bob see you at noon").await;
    let ims = srv.get_ok("im.list", &bob).await;
    let dm = id(&ims["ims"][0]);
    let history = srv.get_ok(&format!("im.history?roomId={dm}"), &bob).await;
    assert_eq!(msg_texts(&history["messages"]), vec!["see you at noon"]);

    // /status sets the status text.
    let shown = run_ok(&srv, &bob, &lobby, "status", "on holiday").await;
    assert_eq!(shown, vec!["Status message changed successfully."]);
    let me = srv.get_ok("me", &bob).await;
    assert_eq!(me["statusText"], "on holiday", "{me}");

    // /hide closes the room in the sidebar; /leave leaves it.
    run_ok(&srv, &bob, &lobby, "hide", "").await;
    assert_eq!(
        subscription(&srv, &bob, &lobby).await.unwrap()["open"],
        false
    );
    let shown = run_ok(&srv, &bob, &lobby, "hide", "#planning").await;
    assert_eq!(shown, vec!["You are not in the room `#planning`"]);
    run_ok(&srv, &bob, &lobby, "leave", "").await;
    assert!(subscription(&srv, &bob, &lobby).await.is_none());

    // The list names them all.
    let list = srv.get_ok("commands.list?count=100", &alice).await;
    let names: Vec<&str> = list["commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    for name in [
        "archive",
        "unarchive",
        "create",
        "hide",
        "invite",
        "invite-all-from",
        "invite-all-to",
        "join",
        "kick",
        "leave",
        "part",
        "msg",
        "mute",
        "unmute",
        "status",
        "topic",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}
