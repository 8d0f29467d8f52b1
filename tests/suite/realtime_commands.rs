//! Slash commands over the realtime API, as Rocket.Chat's DDP methods take them:
//! `slashCommand`, `getSlashCommandPreviews` and `executeSlashCommandPreview`. Core
//! commands (`/me`, `/join`, `/help`), the `polite` test app's `/polite` (its reply in
//! the room, its private notice on the user's stream) and `/polite-pick` (previews
//! listed, one picked and posted by the bot), and Rocket.Chat's refusals: not logged
//! in, no or an unknown command, no previews, no or an incomplete item, no room, a
//! room the user is not in, wrongly typed arguments.

use serde_json::{json, Value};

use crate::apps_support::{self as support, channel, history_texts};
use palaver_tests::app_admin;
use palaver_tests::ddp::Ddp;
use palaver_tests::server::{Palaver, Session};

const NOTIFY_USER: &str = "stream-notify-user";
const ROOM_MESSAGES: &str = "stream-room-messages";

/// A Meteor error as Rocket.Chat throws these: `details` naming a method.
fn refusal(error: &str, reason: &str, method: Option<&str>) -> Value {
    let mut e = json!({"isClientSafe": true, "error": error, "reason": reason,
                       "message": format!("{reason} [{error}]"), "errorType": "Meteor.Error"});
    if let Some(method) = method {
        e["details"] = json!({ "method": method });
    }
    e
}

fn invalid_command() -> Value {
    refusal(
        "error-invalid-command",
        "Invalid Command Provided",
        Some("executeSlashCommandPreview"),
    )
}

fn match_failed() -> Value {
    json!({"isClientSafe": true, "error": 400, "reason": "Match failed",
           "message": "Match failed [400]", "errorType": "Meteor.Error"})
}

/// Calls a method that must succeed and return nothing (Meteor's `undefined`).
async fn call_void(ddp: &mut Ddp, method: &str, params: Value) {
    let frame = ddp.call(method, params.clone()).await;
    assert!(
        frame.get("error").is_none() && frame.get("result").is_none(),
        "{method} {params} → {frame}"
    );
}

/// A DDP client of `who` listening to its private notices and to room `rid`.
async fn listener(srv: &Palaver, who: &Session, rid: &str) -> Ddp {
    let mut ddp = Ddp::connect_as(srv, who).await;
    let notices = format!("{}/message", who.user_id);
    ddp.sub(NOTIFY_USER, json!([notices, false])).await;
    ddp.sub(ROOM_MESSAGES, json!([rid, false])).await;
    ddp
}

/// The next user message (not a system message such as the bot joining) of room
/// `rid` on the stream.
async fn room_message(ddp: &mut Ddp, rid: &str) -> Value {
    let frame = ddp
        .wait_for(&format!("a message in {rid}"), |v| {
            v["msg"] == "changed"
                && v["collection"] == ROOM_MESSAGES
                && v["fields"]["eventName"] == rid
                && v["fields"]["args"][0]["t"].is_null()
        })
        .await;
    frame["fields"]["args"][0].clone()
}

/// The next private notice of `who` on the stream.
async fn notice(ddp: &mut Ddp, who: &Session) -> Value {
    let event = format!("{}/message", who.user_id);
    ddp.event(NOTIFY_USER, &event).await["fields"]["args"][0].clone()
}

#[tokio::test]
async fn core_commands_and_refusals_over_ddp() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "lobby", &["alice"]).await;
    let elsewhere = srv
        .post_ok(
            "groups.create",
            &admin,
            json!({"name": "elsewhere", "members": []}),
        )
        .await["group"]["_id"]
        .as_str()
        .expect("group id")
        .to_string();
    let unjoined = channel(&srv, &admin, "unjoined", &[]).await;
    channel(&srv, &admin, "random", &[]).await;

    // Not logged in: Rocket.Chat's `error-invalid-user`, naming the method it throws in.
    let mut anonymous = Ddp::connect(&srv).await;
    let line = json!({"cmd": "me", "params": "waves", "msg": {"rid": rid}});
    for (method, params, named) in [
        ("slashCommand", json!([line]), "slashCommand"),
        (
            "getSlashCommandPreviews",
            json!([line]),
            "getSlashCommandPreview",
        ),
        (
            "executeSlashCommandPreview",
            json!([line, {"id": "a", "type": "text", "value": "a"}]),
            "getSlashCommandPreview",
        ),
    ] {
        assert_eq!(
            anonymous.call_err(method, params).await,
            refusal("error-invalid-user", "Invalid user", Some(named)),
            "{method}"
        );
    }

    let mut ddp = listener(&srv, &alice, &rid).await;

    // /me: Alice's own message, in italics, on the room's stream; no result.
    call_void(
        &mut ddp,
        "slashCommand",
        json!([{"cmd": "me", "params": "waves", "msg": {"_id": "m1", "rid": rid, "msg": "/me waves"}}]),
    )
    .await;
    let m = room_message(&mut ddp, &rid).await;
    assert_eq!(m["msg"], "_waves_", "{m}");
    assert_eq!(m["u"]["username"], "alice", "{m}");
    assert!(m.get("tmid").is_none(), "{m}");

    // /me typed in a thread stays in that thread.
    let parent = m["_id"].as_str().expect("message id").to_string();
    call_void(
        &mut ddp,
        "slashCommand",
        json!([{"cmd": "me", "params": "nods", "msg": {"rid": rid, "tmid": parent}}]),
    )
    .await;
    // (The parent's thread counters change on the same stream.)
    let frame = ddp
        .wait_for("the /me reply", |v| {
            v["collection"] == ROOM_MESSAGES && v["fields"]["args"][0]["msg"] == "_nods_"
        })
        .await;
    let m = &frame["fields"]["args"][0];
    assert_eq!(m["tmid"], parent.as_str(), "{m}");

    // /join #random (any room the command is typed in).
    call_void(
        &mut ddp,
        "slashCommand",
        json!([{"cmd": "join", "params": "#random", "msg": {"rid": rid}}]),
    )
    .await;
    let joined = srv.get_ok("channels.list.joined", &alice).await;
    assert!(
        joined["channels"]
            .as_array()
            .is_some_and(|c| c.iter().any(|r| r["name"] == "random")),
        "{joined}"
    );

    // /help: the list, privately, on Alice's stream (the name in any case, slash or not).
    call_void(
        &mut ddp,
        "slashCommand",
        json!([{"cmd": "/HELP", "params": "", "msg": {"rid": rid}}]),
    )
    .await;
    let n = notice(&mut ddp, &alice).await;
    assert_eq!(n["rid"], json!(rid), "{n}");
    assert!(
        n["msg"]
            .as_str()
            .is_some_and(|t| t.contains("/me your message")),
        "{n}"
    );

    // No command, an unknown one, a core command asked for previews.
    for params in [
        json!([]),
        json!([null]),
        json!([{"params": "x", "msg": {"rid": rid}}]),
        json!([{"cmd": "", "msg": {"rid": rid}}]),
        json!([{"cmd": "nope", "params": "x", "msg": {"rid": rid}}]),
    ] {
        assert_eq!(
            ddp.call_err("slashCommand", params.clone()).await,
            invalid_command(),
            "{params}"
        );
    }
    assert_eq!(
        ddp.call_err(
            "getSlashCommandPreviews",
            json!([{"cmd": "nope", "msg": {"rid": rid}}])
        )
        .await,
        invalid_command()
    );
    assert_eq!(
        ddp.call_err(
            "getSlashCommandPreviews",
            json!([{"cmd": "me", "msg": {"rid": rid}}])
        )
        .await,
        refusal(
            "error-invalid-command",
            "Command Does Not Provide Previews",
            Some("executeSlashCommandPreview")
        )
    );

    // No room to run it in.
    let no_room = refusal(
        "invalid-command-usage",
        "Executing a command requires at least a message with a room id.",
        None,
    );
    for params in [
        json!([{"cmd": "me", "params": "x"}]),
        json!([{"cmd": "me", "params": "x", "msg": {}}]),
        json!([{"cmd": "me", "params": "x", "msg": {"rid": ""}}]),
    ] {
        assert_eq!(
            ddp.call_err("slashCommand", params.clone()).await,
            no_room,
            "{params}"
        );
    }

    // Wrongly typed arguments.
    for params in [
        json!(["me waves"]),
        json!([{"cmd": 5, "msg": {"rid": rid}}]),
        json!([{"cmd": "me", "params": 5, "msg": {"rid": rid}}]),
        json!([{"cmd": "me", "params": "x", "msg": "lobby"}]),
        json!([{"cmd": "me", "params": "x", "msg": {"rid": 5}}]),
        json!([{"cmd": "me", "params": "x", "msg": {"rid": rid, "tmid": 5}}]),
        json!([{"cmd": "me", "params": "x", "msg": {"rid": rid}, "triggerId": 5}]),
    ] {
        assert_eq!(
            ddp.call_err("slashCommand", params.clone()).await,
            match_failed(),
            "{params}"
        );
    }

    // A private group Alice is not in (not found: its existence does not leak),
    // and a command's own refusal: nothing is posted.
    let group_texts = |rid: String| {
        let srv = &srv;
        let admin = &admin;
        async move {
            let h = srv
                .get_ok(&format!("groups.history?roomId={rid}&count=100"), admin)
                .await;
            h["messages"].to_string()
        }
    };
    let before = group_texts(elsewhere.clone()).await;
    let err = ddp
        .call_err(
            "slashCommand",
            json!([{"cmd": "me", "params": "sneaks in", "msg": {"rid": elsewhere}}]),
        )
        .await;
    assert_eq!(err["error"], "error-room-not-found", "{err}");
    let err = ddp
        .call_err(
            "slashCommand",
            json!([{"cmd": "me", "params": "", "msg": {"rid": rid}}]),
        )
        .await;
    assert_eq!(err["error"], "invalid-params", "{err}");
    assert_eq!(group_texts(elsewhere.clone()).await, before);

    // A public channel Alice has not joined takes her post, as Rocket.Chat's
    // `canSendMessage` (it asks whether she may read the room), and she stays out.
    ddp.call_ok(
        "slashCommand",
        json!([{"cmd": "me", "params": "drops by", "msg": {"rid": unjoined}}]),
    )
    .await;
    assert_eq!(
        history_texts(&srv, &admin, &unjoined).await,
        vec!["_drops by_"]
    );
    let joined = srv
        .get_ok(
            &format!("rooms.isMember?roomId={unjoined}&username=alice"),
            &alice,
        )
        .await;
    assert_eq!(joined["isMember"], false, "{joined}");
}

#[tokio::test]
async fn app_commands_and_previews_over_ddp() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = channel(&srv, &admin, "lobby", &["alice"]).await;
    support::install_polite(&srv, &admin).await;
    let mut ddp = listener(&srv, &alice, &rid).await;

    // /polite: the bot's reply in the room, and the same text privately to Alice.
    call_void(
        &mut ddp,
        "slashCommand",
        json!([{"cmd": "polite", "params": "", "msg": {"rid": rid}, "triggerId": "t-0"}]),
    )
    .await;
    let m = room_message(&mut ddp, &rid).await;
    assert_eq!(m["msg"], "polite reply", "{m}");
    assert_eq!(m["u"]["username"], "polite.bot", "{m}");
    let n = notice(&mut ddp, &alice).await;
    assert_eq!(n["msg"], "polite reply", "{n}");
    assert_eq!(n["rid"], json!(rid), "{n}");
    assert_eq!(n["u"]["username"], "polite.bot", "{n}");

    // Previews for what Alice typed: Rocket.Chat's `SlashCommandPreviews`.
    let typed = json!({"cmd": "polite-pick", "params": "bring cake", "msg": {"rid": rid}});
    let previews = ddp.call_ok("getSlashCommandPreviews", json!([typed])).await;
    assert_eq!(
        previews,
        json!({"i18nTitle": "Pick a polite phrase", "items": [
            {"id": "please", "type": "text", "value": "Please, bring cake"},
            {"id": "kindly", "type": "text", "value": "Would you kindly bring cake?"},
            {"id": "thanks", "type": "text", "value": "Thank you for bring cake!"},
        ]})
    );
    // The app's own refusal reaches her as the method's error.
    let err = ddp
        .call_err(
            "getSlashCommandPreviews",
            json!([{"cmd": "polite-pick", "params": " ", "msg": {"rid": rid}}]),
        )
        .await;
    assert_eq!(err["error"], "error-app-error", "{err}");
    assert!(
        err["reason"]
            .as_str()
            .is_some_and(|r| r.contains("say what to phrase politely")),
        "{err}"
    );

    // She picks one: the bot posts it; the method returns nothing.
    let mut picked = typed.clone();
    picked["triggerId"] = json!("t-1");
    let kindly = json!({"id": "kindly", "type": "text", "value": "Would you kindly bring cake?"});
    call_void(
        &mut ddp,
        "executeSlashCommandPreview",
        json!([picked, kindly]),
    )
    .await;
    let m = room_message(&mut ddp, &rid).await;
    assert_eq!(m["msg"], "Would you kindly bring cake?", "{m}");
    assert_eq!(m["u"]["username"], "polite.bot", "{m}");
    // A trigger id as a third parameter is taken too.
    let thanks = json!({"id": "thanks", "type": "text", "value": "Thank you for bring cake!"});
    call_void(
        &mut ddp,
        "executeSlashCommandPreview",
        json!([typed, thanks, "t-2"]),
    )
    .await;
    let m = room_message(&mut ddp, &rid).await;
    assert_eq!(m["msg"], "Thank you for bring cake!", "{m}");

    // Refusals around previews.
    let no_previews = refusal(
        "error-invalid-command",
        "Command Does Not Provide Previews",
        Some("executeSlashCommandPreview"),
    );
    let plain = json!({"cmd": "polite", "params": "x", "msg": {"rid": rid}});
    assert_eq!(
        ddp.call_err("getSlashCommandPreviews", json!([plain]))
            .await,
        no_previews
    );
    assert_eq!(
        ddp.call_err("executeSlashCommandPreview", json!([plain, kindly]))
            .await,
        no_previews
    );
    assert_eq!(
        ddp.call_err("executeSlashCommandPreview", json!([typed]))
            .await,
        refusal(
            "error-invalid-command-preview",
            "Invalid Preview Provided",
            Some("executeSlashCommandPreview")
        )
    );
    let incomplete = refusal(
        "error-invalid-preview",
        "Preview Item must have an id, type, and value.",
        None,
    );
    for item in [
        json!({"id": "kindly"}),
        json!({"id": "kindly", "type": "text", "value": ""}),
        json!({"id": "", "type": "text", "value": "x"}),
    ] {
        assert_eq!(
            ddp.call_err("executeSlashCommandPreview", json!([typed, item]))
                .await,
            incomplete,
            "{item}"
        );
    }
    for params in [
        json!([typed, "kindly"]),
        json!([typed, {"id": 1, "type": "text", "value": "x"}]),
        json!([typed, kindly, 7]),
    ] {
        assert_eq!(
            ddp.call_err("executeSlashCommandPreview", params.clone())
                .await,
            match_failed(),
            "{params}"
        );
    }
    assert_eq!(
        ddp.call_err(
            "getSlashCommandPreviews",
            json!([{"cmd": "polite-pick", "params": "x"}])
        )
        .await,
        refusal(
            "invalid-command-usage",
            "Executing a command requires at least a message with a room id.",
            None
        )
    );
    // An item the app never offered: the app refuses it.
    let err = ddp
        .call_err(
            "executeSlashCommandPreview",
            json!([typed, {"id": "rude", "type": "text", "value": "x"}]),
        )
        .await;
    assert_eq!(err["error"], "error-app-error", "{err}");
    assert!(err.to_string().contains("no such phrasing: rude"), "{err}");

    // Bob is not in the room: refused everywhere, nothing posted for him.
    let before = history_texts(&srv, &alice, &rid).await;
    let mut bob_ddp = Ddp::connect_as(&srv, &bob).await;
    for (method, params) in [
        ("slashCommand", json!([plain])),
        ("getSlashCommandPreviews", json!([typed])),
        ("executeSlashCommandPreview", json!([typed, kindly])),
    ] {
        let err = bob_ddp.call_err(method, params).await;
        assert_eq!(err["error"], "error-user-not-in-room", "{method}: {err}");
    }
    assert_eq!(history_texts(&srv, &alice, &rid).await, before);

    // Disabled, the app's commands are no more.
    app_admin::set_status(&srv, &admin, "polite", false).await;
    assert_eq!(
        ddp.call_err("slashCommand", json!([plain])).await,
        invalid_command()
    );
    assert_eq!(
        ddp.call_err("getSlashCommandPreviews", json!([typed]))
            .await,
        invalid_command()
    );
}
