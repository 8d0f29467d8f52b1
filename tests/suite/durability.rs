//! Durability: what the server acknowledged survives `kill -9` (on SQLite and on
//! MongoDB), and a graceful restart keeps everything.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use crate::common::*;

const N: usize = 200;

/// Posts N messages (each acknowledged with 200 before the next), SIGKILLs the server
/// right after the last acknowledgement, starts it again on the same storage and checks
/// that all N messages — and the session and room — are there.
async fn acknowledged_posts_survive_kill9(mut srv: Palaver) {
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &admin, "durable", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();

    let mut acked = BTreeSet::new();
    for i in 0..N {
        let who = if i % 2 == 0 { &admin } else { &bob };
        let m = post(&srv, who, &rid, &format!("durable message {i:03}")).await;
        acked.insert(m["_id"].as_str().unwrap().to_string());
    }
    assert_eq!(acked.len(), N, "every post got its own id");
    srv.kill9();
    srv.start_again().await;

    // The login tokens issued before the crash still work.
    srv.get_ok("me", &admin).await;
    srv.get_ok("me", &bob).await;

    let mut found = Vec::new();
    for offset in (0..N + 100).step_by(100) {
        let body = srv
            .get_ok(
                &format!("channels.history?roomId={rid}&count=100&offset={offset}"),
                &bob,
            )
            .await;
        for m in user_messages(&body["messages"]) {
            found.push((
                m["_id"].as_str().unwrap().to_string(),
                m["msg"].as_str().unwrap().to_string(),
            ));
        }
    }
    let found_ids: BTreeSet<String> = found.iter().map(|(id, _)| id.clone()).collect();
    let missing: Vec<_> = acked.difference(&found_ids).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages lost after kill -9: {missing:?}",
        missing.len()
    );
    assert_eq!(
        found.len(),
        N,
        "history after restart holds exactly the {N} messages (no duplicates)"
    );
    let texts: BTreeSet<String> = found.into_iter().map(|(_, t)| t).collect();
    let expected: BTreeSet<String> = (0..N).map(|i| format!("durable message {i:03}")).collect();
    assert_eq!(texts, expected);

    let info = srv
        .get_ok(&format!("channels.info?roomId={rid}"), &bob)
        .await;
    assert_eq!(
        info["channel"]["msgs"],
        json!(N),
        "the room's message counter is committed with the messages: {info}"
    );
    assert!(
        subscription(&srv, &bob, &rid).await.is_some(),
        "bob's subscription survived"
    );

    // And the server keeps working.
    post(&srv, &bob, &rid, "after the crash").await;
}

#[tokio::test]
async fn kill9_after_acknowledged_posts_loses_nothing_on_sqlite() {
    let srv = Palaver::builder().sqlite().start().await;
    acknowledged_posts_survive_kill9(srv).await;
}

#[tokio::test]
async fn kill9_after_acknowledged_posts_loses_nothing_on_mongodb() {
    let db = format!(
        "palaver_durability_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let uri = tokio::task::spawn_blocking(move || palaver_tests::mongo::mongo_uri(&db))
        .await
        .expect("mongo_uri");
    let srv = Palaver::builder().storage_uri(uri).start().await;
    acknowledged_posts_survive_kill9(srv).await;
}

#[tokio::test]
async fn graceful_restart_keeps_users_rooms_messages_and_sessions() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &admin, "kept", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();
    let group = create_group(&srv, &bob, "kept-secret", &[]).await;
    let gid = group["_id"].as_str().unwrap().to_string();
    let m = post(&srv, &bob, &rid, "before restart").await;
    let mid = m["_id"].as_str().unwrap().to_string();
    srv.post_ok(
        "chat.react",
        &admin,
        json!({ "messageId": mid, "emoji": ":tada:" }),
    )
    .await;
    srv.post_ok(
        "users.update",
        &admin,
        json!({ "userId": bob.user_id, "data": { "name": "Bobby" } }),
    )
    .await;

    srv.restart().await;

    srv.get_ok("me", &bob).await;
    let info = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_eq!(info["user"]["name"], json!("Bobby"));
    let got = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &bob)
        .await;
    assert_eq!(got["message"]["msg"], json!("before restart"));
    assert_eq!(
        got["message"]["reactions"],
        json!({ ":tada:": { "usernames": [ADMIN_USERNAME] } })
    );
    srv.get_ok(&format!("groups.info?roomId={gid}"), &bob).await;
    // The admin is not created twice.
    let users = srv.get_ok("users.list?count=100", &admin).await;
    let admins = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == json!(ADMIN_USERNAME))
        .count();
    assert_eq!(admins, 1, "{users}");
    // A fresh login still works.
    srv.login("bob", &password_for("bob")).await;

    // And it stops promptly on SIGTERM.
    assert!(
        srv.stop(Duration::from_secs(10)).await,
        "palaver did not exit within 10 s of SIGTERM"
    );
}

/// SIGTERM while clients are posting: in-flight requests finish, and every post the
/// server acknowledged is there after the restart.
#[tokio::test]
async fn sigterm_under_load_keeps_every_acknowledged_post() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    let rid = create_channel(&srv, &admin, "busy", &[]).await["_id"]
        .as_str()
        .unwrap()
        .to_string();

    let writer = |w: usize| {
        let (srv, admin, rid) = (&srv, &admin, &rid);
        async move {
            let mut acked = Vec::new();
            for i in 0..400 {
                let body = json!({ "roomId": rid, "text": format!("w{w} m{i}") });
                match srv.try_post("chat.postMessage", admin, body).await {
                    Ok((status, resp)) if status.is_success() => {
                        acked.push(resp["message"]["_id"].as_str().unwrap().to_string())
                    }
                    Ok((status, resp)) => {
                        // Refused while shutting down is fine (not acknowledged), a 5xx
                        // for an accepted request is not.
                        assert!(
                            status.as_u16() == 503 || status.as_u16() < 500,
                            "post during shutdown answered {status} {resp}"
                        );
                        break;
                    }
                    Err(_) => break, // the listener is gone
                }
            }
            acked
        }
    };
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        srv.signal(libc::SIGTERM);
    };
    let (a, b, c, d, ()) = tokio::join!(writer(0), writer(1), writer(2), writer(3), stopper);
    let acked: BTreeSet<String> = [a, b, c, d].into_iter().flatten().collect();
    assert!(
        !acked.is_empty(),
        "some posts were acknowledged before SIGTERM"
    );
    eprintln!(
        "{} posts acknowledged before the server stopped",
        acked.len()
    );
    // Waited for, not signalled again: a second SIGTERM would force the exit.
    let status = srv.wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "palaver did not exit cleanly within 15 s of SIGTERM: {status:?}"
    );
    srv.start_again().await;

    let mut found = BTreeSet::new();
    let mut offset = 0;
    loop {
        let body = srv
            .get_ok(
                &format!("channels.history?roomId={rid}&count=100&offset={offset}"),
                &admin,
            )
            .await;
        let page = body["messages"].as_array().unwrap().len();
        found.extend(ids(&body["messages"]));
        if page < 100 {
            break;
        }
        offset += 100;
    }
    let missing: Vec<_> = acked.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged posts lost over a graceful shutdown: {missing:?}",
        missing.len(),
        acked.len()
    );
}
