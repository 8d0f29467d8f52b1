//! Thread lists and follows (`chat.getThreadsList`, `chat.followMessage`,
//! `chat.unfollowMessage`, `chat.syncThreadsList`, `chat.syncThreadMessages`,
//! `Threads_enabled`), syncs and tombstones (`chat.syncMessages`,
//! `chat.getDeletedMessages`, realtime `messages/get`), search (`chat.search`,
//! realtime `messageSearch`) and the commands' REST checks (`commands.get`,
//! `commands.run`).

use palaver_tests::ddp::Ddp;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn threads_list_filters_follows_and_syncs() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let rid = create_channel(&srv, &alice, "threads", &["bob"]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let since = iso_now();
    let p1 = post(&srv, &alice, &rid, "Message to create thread").await;
    let p1 = p1["_id"].as_str().unwrap().to_string();
    let p2 = post(&srv, &bob, &rid, "second question").await;
    let p2 = p2["_id"].as_str().unwrap().to_string();
    post(&srv, &bob, &rid, "not a thread").await;
    let reply = |tmid: &str, who: &Session, text: &str| {
        let body = json!({ "roomId": rid, "text": text, "tmid": tmid });
        let (srv, who) = (&srv, who.clone());
        async move { srv.post_ok("chat.postMessage", &who, body).await["message"].clone() }
    };
    tick().await;
    reply(&p1, &bob, "a").await;
    tick().await;
    let r2 = reply(&p2, &alice, "b").await;

    let list = srv
        .get_ok(&format!("chat.getThreadsList?rid={rid}"), &bob)
        .await;
    assert_page(&list, "threads", 2, 0, 2, "threads");
    assert_eq!(
        ids(&list["threads"]),
        vec![p2.clone(), p1.clone()],
        "latest reply first"
    );
    for text in ["MESSAGE", "create", "M", "Message to create thread"] {
        let list = srv
            .get_ok(
                &format!("chat.getThreadsList?rid={rid}&text={text}&count=5&offset=0"),
                &bob,
            )
            .await;
        assert_eq!(ids(&list["threads"]), vec![p1.clone()], "text {text}");
    }
    let list = srv
        .get_ok(&format!("chat.getThreadsList?rid={rid}&text=missing"), &bob)
        .await;
    assert_page(&list, "threads", 0, 0, 0, "no match");

    // Following: the repliers; follow and unfollow change it.
    let following = |who: Session| {
        let srv = &srv;
        let rid = rid.clone();
        async move {
            ids(&srv
                .get_ok(
                    &format!("chat.getThreadsList?rid={rid}&type=following"),
                    &who,
                )
                .await["threads"])
        }
    };
    // The thread's author follows it from its first reply on (Rocket.Chat's `reply`).
    assert_eq!(following(alice.clone()).await, vec![p2.clone(), p1.clone()]);
    srv.post_ok("chat.unfollowMessage", &alice, json!({ "mid": p2 }))
        .await;
    assert_eq!(following(alice.clone()).await, vec![p1.clone()]);
    srv.post_ok("chat.followMessage", &alice, json!({ "mid": p2 }))
        .await;
    assert_eq!(following(alice.clone()).await, vec![p2.clone(), p1.clone()]);
    srv.post_ok("chat.unfollowMessage", &alice, json!({ "mid": p2 }))
        .await;
    assert_eq!(following(alice.clone()).await, vec![p1.clone()]);
    let (status, body) = srv
        .post("chat.followMessage", &alice, json!({ "mid": "nope" }))
        .await;
    assert_error(status, &body, 400, Some("error-invalid-message"), "unknown");
    assert_eq!(body["error"], "Invalid message [error-invalid-message]");

    // Syncs: the changed threads, then a deleted reply and a deleted thread.
    let sync = srv
        .get_ok(
            &format!("chat.syncThreadsList?rid={rid}&updatedSince={since}"),
            &bob,
        )
        .await;
    let mut updated = ids(&sync["threads"]["update"]);
    updated.sort();
    let mut want = vec![p1.clone(), p2.clone()];
    want.sort();
    assert_eq!(updated, want, "{sync}");
    let rid2 = r2["_id"].as_str().unwrap().to_string();
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({ "roomId": rid, "msgId": rid2 }),
    )
    .await;
    let sync = srv
        .get_ok(
            &format!("chat.syncThreadMessages?tmid={p2}&updatedSince={since}"),
            &bob,
        )
        .await;
    assert_eq!(
        ids(&sync["messages"]["remove"]),
        vec![rid2.clone()],
        "{sync}"
    );
    assert_eq!(sync["messages"]["update"], json!([]), "{sync}");
    srv.post_ok("chat.delete", &bob, json!({ "roomId": rid, "msgId": p2 }))
        .await;
    let sync = srv
        .get_ok(
            &format!("chat.syncThreadsList?rid={rid}&updatedSince={since}"),
            &bob,
        )
        .await;
    assert_eq!(ids(&sync["threads"]["remove"]), vec![p2.clone()], "{sync}");
    let (status, body) = srv
        .get(
            &format!("chat.syncThreadsList?rid={rid}&updatedSince=never"),
            &bob,
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-updatedSince-param-invalid"),
        "bad date",
    );

    // Outsiders without `view-c-room` are refused; realtime lists the same.
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({ "permissions": [{ "_id": "view-c-room", "roles": ["admin"] }] }),
    )
    .await;
    let (status, body) = srv
        .get(&format!("chat.getThreadsList?rid={rid}"), &carol)
        .await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "outsider");
    assert_eq!(body["error"], "Not Allowed [error-not-allowed]");
    let mut ddp = Ddp::connect_as(&srv, &bob).await;
    let listed = ddp.call_ok("getThreadsList", json!([{ "rid": rid }])).await;
    assert_eq!(ids(&listed), vec![p1.clone()]);
    let replies = ddp
        .call_ok("getThreadMessages", json!([{ "tmid": p1 }]))
        .await;
    assert_eq!(msg_texts(&replies), vec!["a"]);
    ddp.call_ok("readThreads", json!([p1])).await;

    // Threads off: every thread call is refused.
    srv.post_ok(
        "settings/Threads_enabled",
        &admin,
        json!({ "value": false }),
    )
    .await;
    for path in [
        format!("chat.getThreadsList?rid={rid}"),
        format!("chat.getThreadMessages?tmid={p1}"),
        format!("chat.syncThreadsList?rid={rid}&updatedSince={since}"),
    ] {
        let (status, body) = srv.get(&path, &bob).await;
        assert_error(status, &body, 400, Some("error-not-allowed"), &path);
        assert_eq!(
            body["error"], "Threads Disabled [error-not-allowed]",
            "{path}"
        );
    }
    let (status, body) = srv
        .post("chat.followMessage", &bob, json!({ "mid": p1 }))
        .await;
    assert_error(status, &body, 400, Some("error-not-allowed"), "follow off");
}

#[tokio::test]
async fn syncs_report_changes_and_deletions_and_search_finds_words() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = create_channel(&srv, &alice, "sync", &[]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let old = post(&srv, &alice, &rid, "Deploy the release").await;
    let old_id = old["_id"].as_str().unwrap().to_string();
    tick().await;
    let since = iso_now();
    tick().await;
    let gone = post(&srv, &alice, &rid, "release notes").await;
    let gone_id = gone["_id"].as_str().unwrap().to_string();
    let kept = post(&srv, &alice, &rid, "unrelated words").await;
    let kept_id = kept["_id"].as_str().unwrap().to_string();
    srv.post_ok(
        "chat.delete",
        &alice,
        json!({ "roomId": rid, "msgId": gone_id }),
    )
    .await;

    let sync = srv
        .get_ok(
            &format!("chat.syncMessages?roomId={rid}&lastUpdate={since}"),
            &alice,
        )
        .await;
    assert_eq!(
        ids(&sync["result"]["updated"]),
        vec![kept_id.clone()],
        "{sync}"
    );
    assert_eq!(
        ids(&sync["result"]["deleted"]),
        vec![gone_id.clone()],
        "{sync}"
    );
    ts(&sync["result"]["deleted"][0]["_deletedAt"], "_deletedAt");
    let (status, body) = srv
        .get(&format!("chat.syncMessages?roomId={rid}"), &alice)
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-lastUpdate-param-not-provided"),
        "no date",
    );

    let deleted = srv
        .get_ok(
            &format!("chat.getDeletedMessages?roomId={rid}&since={since}"),
            &alice,
        )
        .await;
    assert_page(&deleted, "messages", 1, 0, 1, "deleted");
    assert_eq!(deleted["messages"][0]["_id"], json!(gone_id));
    let (status, body) = srv
        .get(
            &format!("chat.getDeletedMessages?roomId={rid}&since=InvalidDate"),
            &alice,
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("The \"since\" query parameter must be a valid date."),
        "bad since",
    );

    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    let got = ddp
        .call_ok(
            "messages/get",
            json!([rid, { "lastUpdate": { "$date": 0 } }]),
        )
        .await;
    let updated = id_set(&got["updated"]);
    assert!(
        updated.contains(&old_id) && updated.contains(&kept_id) && !updated.contains(&gone_id),
        "{got}"
    );
    assert_eq!(ids(&got["deleted"]), vec![gone_id.clone()], "{got}");

    // Search: whole words, every word, this room, newest first; a deleted message
    // is gone from the index, an edit is found by its new text.
    let found = srv
        .get_ok(
            &format!("chat.search?roomId={rid}&searchText=release"),
            &alice,
        )
        .await;
    assert_eq!(ids(&found["messages"]), vec![old_id.clone()], "{found}");
    srv.post_ok(
        "chat.update",
        &alice,
        json!({ "roomId": rid, "msgId": kept_id, "text": "the release is out" }),
    )
    .await;
    let found = srv
        .get_ok(
            &format!("chat.search?roomId={rid}&searchText=RELEASE"),
            &alice,
        )
        .await;
    assert_eq!(
        ids(&found["messages"]),
        vec![kept_id.clone(), old_id.clone()]
    );
    let found = srv
        .get_ok(
            &format!("chat.search?roomId={rid}&searchText=release&count=1&offset=1"),
            &alice,
        )
        .await;
    assert_eq!(ids(&found["messages"]), vec![old_id.clone()]);
    let found = srv
        .get_ok(
            &format!("chat.search?roomId={rid}&searchText=deploy%20release"),
            &alice,
        )
        .await;
    assert_eq!(ids(&found["messages"]), vec![old_id.clone()]);
    let found = srv
        .get_ok(
            &format!("chat.search?roomId={rid}&searchText=releas"),
            &alice,
        )
        .await;
    assert_eq!(found["messages"], json!([]), "whole words only");
    let (status, body) = srv.get(&format!("chat.search?roomId={rid}"), &alice).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-searchText-param-not-provided"),
        "no text",
    );
    let r = ddp
        .call_ok("messageSearch", json!(["release", rid, 10]))
        .await;
    assert_eq!(
        r["message"]["docs"].as_array().map(Vec::len),
        Some(2),
        "{r}"
    );
}

#[tokio::test]
async fn commands_get_and_run_check_as_rocket_chat() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = create_channel(&srv, &alice, "cmds", &[]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = create_channel(&srv, &alice, "cmds2", &[]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let got = srv.get_ok("commands.get?command=help", &alice).await;
    assert_eq!(got["command"]["command"], "help", "{got}");
    assert_eq!(got["command"]["clientOnly"], false);
    let (status, body) = srv.get("commands.get", &alice).await;
    assert_error(status, &body, 400, None, "no command");
    assert_eq!(
        body["error"],
        "The query param \"command\" must be provided."
    );
    let (status, body) = srv.get("commands.get?command=nope", &alice).await;
    assert_error(status, &body, 400, None, "unknown");
    assert_eq!(
        body["error"],
        "There is no command in the system by the name of: nope"
    );

    let run = |body: serde_json::Value| srv.post("commands.run", &alice, body);
    let (status, body) = run(json!({ "command": "help", "params": true })).await;
    assert_error(status, &body, 400, None, "params not a string");
    assert_eq!(
        body["error"],
        "The parameters for the command must be a single string."
    );
    let (status, body) = run(json!({ "command": "help", "params": "x" })).await;
    assert_eq!(
        (status.as_u16(), body["error"].clone()),
        (
            400,
            json!("The room's id where to execute this command must be provided and be a string.")
        )
    );
    let (status, body) = run(json!({ "command": "nope", "roomId": rid })).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-command"),
        "unknown command",
    );
    assert_eq!(
        body["error"],
        "The command provided does not exist (or is disabled)."
    );
    let parent = post(&srv, &alice, &other, "elsewhere").await;
    let (status, body) = run(json!({
        "command": "tableflip", "roomId": rid, "tmid": parent["_id"]
    }))
    .await;
    assert_eq!(
        (status.as_u16(), body["error"].clone()),
        (400, json!("Invalid thread."))
    );

    // The ascii-art commands post the text with the face.
    srv.post_ok(
        "commands.run",
        &alice,
        json!({ "command": "shrug", "params": "oh well", "roomId": rid }),
    )
    .await;
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=1"), &alice)
        .await;
    assert_eq!(msg_texts(&history["messages"]), vec!["oh well ¯\\_(ツ)_/¯"]);
}
