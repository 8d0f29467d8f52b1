//! The Matrix bridge's profiles and richer messages against a real Synapse:
//! avatars both ways (and their `updateAvatar` to Palaver clients), images with
//! `info` and a thumbnail, several files in one message, edits carrying
//! `m.mentions`, and Matrix messages sent while Palaver is killed arriving once,
//! in order, after it restarts.

use std::time::{Duration, Instant};

use palaver_tests::ddp::Ddp;
use palaver_tests::images;
use palaver_tests::server::Session;
use palaver_tests::synapse::{enc, MatrixUser};
use serde_json::{json, Value};

use crate::matrix_bridge::{
    bodies, bridged_room, by_text, matrix_download, matrix_upload_typed, start_pair, texts,
    wait_history, Pair, SERVER_NAME,
};

/// `users.setAvatar` with an uploaded image.
async fn set_avatar(pair: &Pair, who: &Session, bytes: Vec<u8>) {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name("me.png")
        .mime_str("image/png")
        .expect("mime");
    let r = reqwest::Client::new()
        .post(pair.palaver.url("users.setAvatar"))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .multipart(reqwest::multipart::Form::new().part("image", part))
        .send()
        .await
        .expect("setAvatar");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
}

/// `GET /avatar/<username>`: (content type, bytes).
async fn palaver_avatar(pair: &Pair, username: &str) -> (String, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(pair.palaver.url(&format!("/avatar/{username}")))
        .send()
        .await
        .expect("avatar");
    assert_eq!(r.status().as_u16(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (ct, r.bytes().await.expect("bytes").to_vec())
}

/// A Matrix user's `avatar_url` as the homeserver has it ("" when none).
async fn matrix_avatar_url(pair: &Pair, viewer: &MatrixUser, mxid: &str) -> String {
    let v = pair
        .synapse
        .call(
            Some(viewer),
            reqwest::Method::GET,
            &format!("/_matrix/client/v3/profile/{}", enc(mxid)),
            None,
        )
        .await;
    v["avatar_url"].as_str().unwrap_or_default().to_string()
}

/// Polls until `pred` holds for the puppet's `avatar_url`; returns it.
async fn wait_matrix_avatar(
    pair: &Pair,
    viewer: &MatrixUser,
    mxid: &str,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = matrix_avatar_url(pair, viewer, mxid).await;
        if pred(&url) {
            return url;
        }
        assert!(
            Instant::now() < deadline,
            "{mxid}'s avatar never showed {what}: {url:?}\nlog:\n{}",
            pair.palaver.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls until `pred` holds for a Palaver user's `/avatar` content type.
async fn wait_palaver_avatar(
    pair: &Pair,
    username: &str,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ct, bytes) = palaver_avatar(pair, username).await;
        if pred(&ct) {
            return bytes;
        }
        assert!(
            Instant::now() < deadline,
            "{username}'s Palaver avatar never showed {what}: {ct}\nlog:\n{}",
            pair.palaver.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sets `user`'s Matrix avatar (`""` removes it).
async fn set_matrix_avatar(pair: &Pair, user: &MatrixUser, mxc: &str) {
    pair.synapse
        .call(
            Some(user),
            reqwest::Method::PUT,
            &format!("/_matrix/client/v3/profile/{}/avatar_url", enc(&user.mxid)),
            Some(json!({ "avatar_url": mxc })),
        )
        .await;
}

/// The `updateAvatar` event for `username` on a `stream-notify-logged` subscription.
async fn update_avatar_event(ddp: &mut Ddp, username: &str) -> Value {
    ddp.wait_for(&format!("updateAvatar of {username}"), |v| {
        v["msg"] == "changed"
            && v["collection"] == "stream-notify-logged"
            && v["fields"]["eventName"] == "updateAvatar"
            && v["fields"]["args"][0]["username"] == username
    })
    .await
}

/// `rooms.media`: an upload waiting for its message; its id.
async fn stage_upload(
    pair: &Pair,
    who: &Session,
    rid: &str,
    name: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> String {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(ct)
        .expect("mime");
    let r = reqwest::Client::new()
        .post(pair.palaver.url(&format!("rooms.media/{rid}")))
        .header("X-User-Id", &who.user_id)
        .header("X-Auth-Token", &who.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("rooms.media");
    let v: Value = r.json().await.expect("json");
    v["file"]["_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

/// Avatars both ways; images with `info` and a thumbnail; several files in one
/// message; edits with `m.mentions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_avatars_images_several_files_and_edit_mentions() {
    let pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let (rid, mroom) = bridged_room(&pair, &admin, &alice, "profiles").await;
    let puppet = format!("@palaver_admin:{SERVER_NAME}");
    let mut ddp = Ddp::connect_as(&pair.palaver, &admin).await;
    ddp.sub("stream-notify-logged", json!(["updateAvatar", false]))
        .await;

    // The puppet exists (it posted) and has no avatar yet.
    pair.palaver
        .post_ok(
            "chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": "first" }),
        )
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "first", |e| {
            bodies(e, &puppet).contains(&"first".to_string())
        })
        .await;
    assert_eq!(matrix_avatar_url(&pair, &alice, &puppet).await, "");

    // Palaver → Matrix: the admin's new avatar becomes the puppet's, the same
    // image; Palaver clients are told.
    set_avatar(&pair, &admin, images::png(64, 64)).await;
    let changed = update_avatar_event(&mut ddp, "admin").await;
    assert!(
        changed["fields"]["args"][0]["etag"].is_string(),
        "{changed}"
    );
    let mxc = wait_matrix_avatar(&pair, &alice, &puppet, "an avatar", |u| {
        u.starts_with("mxc://")
    })
    .await;
    let (_, palaver_bytes) = palaver_avatar(&pair, "admin").await;
    assert_eq!(matrix_download(&pair, &alice, &mxc).await, palaver_bytes);
    // Not uploaded again while unchanged: more messages keep the same avatar.
    pair.palaver
        .post_ok(
            "chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": "second" }),
        )
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "second", |e| {
            bodies(e, &puppet).contains(&"second".to_string())
        })
        .await;
    assert_eq!(matrix_avatar_url(&pair, &alice, &puppet).await, mxc);
    // Reset: the puppet's avatar goes too.
    pair.palaver
        .post_ok("users.resetAvatar", &admin, json!({}))
        .await;
    let reset = update_avatar_event(&mut ddp, "admin").await;
    assert!(reset["fields"]["args"][0]["etag"].is_null(), "{reset}");
    wait_matrix_avatar(&pair, &alice, &puppet, "no avatar", |u| u.is_empty()).await;

    // Matrix → Palaver: alice (a remote user once she posts) sets an avatar; it
    // becomes her Palaver avatar, and Palaver clients are told.
    pair.synapse
        .send(
            &alice,
            &mroom,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "hello from alice" }),
        )
        .await;
    wait_history(&pair, &admin, &rid, "alice's message", |m| {
        texts(m).contains(&"hello from alice".to_string())
    })
    .await;
    let (ct, _) = palaver_avatar(&pair, "alice_localhost").await;
    assert!(ct.starts_with("image/svg"), "initials first: {ct}");
    let picture = images::png(96, 96);
    let alice_mxc =
        matrix_upload_typed(&pair, &alice, "alice.png", "image/png", picture.clone()).await;
    set_matrix_avatar(&pair, &alice, &alice_mxc).await;
    update_avatar_event(&mut ddp, "alice_localhost").await;
    let stored = wait_palaver_avatar(&pair, "alice_localhost", "an image", |ct| {
        ct == "image/png" || ct == "image/jpeg"
    })
    .await;
    let (_, w, h) = images::dimensions(&stored);
    assert_eq!(w, h, "a square avatar");
    let info = pair
        .palaver
        .get_ok("users.info?username=alice_localhost", &admin)
        .await;
    assert!(info["user"]["avatarETag"].is_string(), "{info}");
    assert_eq!(
        info["user"]["services"]["matrix"]["id"],
        alice.mxid.as_str(),
        "{info}"
    );

    // Beyond 10 MiB: refused with a clear reason, the avatar kept.
    let huge = vec![0u8; 11 << 20];
    let huge_mxc = matrix_upload_typed(&pair, &alice, "huge.png", "image/png", huge).await;
    set_matrix_avatar(&pair, &alice, &huge_mxc).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pair
        .palaver
        .log()
        .contains("larger than the limit of 10485760 bytes")
    {
        assert!(
            Instant::now() < deadline,
            "no refusal logged:\n{}",
            pair.palaver.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(palaver_avatar(&pair, "alice_localhost").await.1, stored);

    // Removed on Matrix: back to the initials in Palaver.
    set_matrix_avatar(&pair, &alice, "").await;
    wait_palaver_avatar(&pair, "alice_localhost", "the initials", |ct| {
        ct.starts_with("image/svg")
    })
    .await;

    // An image: `info` with its dimensions, type and size, and the thumbnail
    // Palaver made (uploaded too, with its own info).
    let photo = images::png(800, 600);
    let part = reqwest::multipart::Part::bytes(photo.clone())
        .file_name("photo.png")
        .mime_str("image/png")
        .expect("mime");
    let r = reqwest::Client::new()
        .post(pair.palaver.url(&format!("rooms.upload/{rid}")))
        .header("X-User-Id", &admin.user_id)
        .header("X-Auth-Token", &admin.token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 200);
    let events = pair
        .synapse
        .wait_for(&alice, &mroom, "the image", |e| {
            e.iter()
                .any(|e| e["sender"] == puppet.as_str() && e["content"]["msgtype"] == "m.image")
        })
        .await;
    let image = events
        .iter()
        .find(|e| e["sender"] == puppet.as_str() && e["content"]["msgtype"] == "m.image")
        .expect("image event");
    let info = &image["content"]["info"];
    assert_eq!(info["w"], 800, "{image}");
    assert_eq!(info["h"], 600, "{image}");
    assert_eq!(info["mimetype"], "image/png", "{image}");
    assert_eq!(info["size"], photo.len(), "{image}");
    let url = image["content"]["url"].as_str().expect("url");
    assert_eq!(matrix_download(&pair, &alice, url).await, photo);
    let thumb_url = info["thumbnail_url"].as_str().expect("thumbnail_url");
    let thumb = matrix_download(&pair, &alice, thumb_url).await;
    let (_, tw, th) = images::dimensions(&thumb);
    assert_eq!(
        (
            info["thumbnail_info"]["w"].clone(),
            info["thumbnail_info"]["h"].clone()
        ),
        (json!(tw), json!(th)),
        "{image}"
    );
    assert!(tw <= 480 && th <= 360, "thumbnail {tw}×{th}");
    assert_eq!(info["thumbnail_info"]["size"], thumb.len(), "{image}");
    assert!(info["thumbnail_info"]["mimetype"].is_string(), "{image}");
    // The thumbnail is no file of its own on Matrix.
    assert_eq!(
        events
            .iter()
            .filter(|e| e["sender"] == puppet.as_str() && e["content"]["url"].is_string())
            .count(),
        1,
        "one file event"
    );

    // Several files in one message (Rocket.Chat 7's `sendMessage` with
    // `filesToConfirm`): the text, then one event per file, in order.
    let a = stage_upload(
        &pair,
        &admin,
        &rid,
        "a.txt",
        "text/plain",
        b"file a".to_vec(),
    )
    .await;
    let b = stage_upload(
        &pair,
        &admin,
        &rid,
        "b.png",
        "image/png",
        images::png(40, 30),
    )
    .await;
    let c = stage_upload(
        &pair,
        &admin,
        &rid,
        "c.txt",
        "text/plain",
        b"file c".to_vec(),
    )
    .await;
    let sent = ddp
        .call_ok(
            "sendMessage",
            json!([{ "rid": rid, "msg": "three files" }, [], [a, b, c]]),
        )
        .await;
    let mid = sent["_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{sent}"))
        .to_string();
    assert_eq!(sent["files"].as_array().map(Vec::len), Some(3), "{sent}");
    let events = pair
        .synapse
        .wait_for(&alice, &mroom, "the three files", |e| {
            bodies(e, &puppet).contains(&"c.txt".to_string())
        })
        .await;
    let after = bodies(&events, &puppet);
    let from = after
        .iter()
        .position(|b| b == "three files")
        .expect("the text");
    assert_eq!(
        after[from..].to_vec(),
        vec!["three files", "a.txt", "b.png", "c.txt"],
        "the text, then each file in order"
    );
    let files: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["sender"] == puppet.as_str()
                && ["a.txt", "b.png", "c.txt"]
                    .contains(&e["content"]["body"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(files[1]["content"]["msgtype"], "m.image");
    assert_eq!(files[1]["content"]["info"]["w"], 40);
    assert_eq!(
        matrix_download(
            &pair,
            &alice,
            files[2]["content"]["url"].as_str().expect("url")
        )
        .await,
        b"file c"
    );
    let mut parts: Vec<String> = files
        .iter()
        .map(|e| e["event_id"].as_str().expect("id").to_string())
        .collect();
    let text_event = events
        .iter()
        .find(|e| e["sender"] == puppet.as_str() && e["content"]["body"] == "three files")
        .and_then(|e| e["event_id"].as_str())
        .expect("text event");
    parts.push(text_event.to_string());
    // Deleting the message redacts every event it became.
    pair.palaver
        .post_ok(
            "chat.delete",
            &admin,
            json!({ "roomId": rid, "msgId": mid }),
        )
        .await;
    pair.synapse
        .wait_for(&alice, &mroom, "the message's events redacted", |e| {
            parts.iter().all(|id| {
                e.iter().any(|e| {
                    e["event_id"] == id.as_str() && e["unsigned"]["redacted_because"].is_object()
                })
            })
        })
        .await;

    // Edits: the new content names everyone it mentions, the edit only whom the
    // original did not; in Palaver the edited message mentions carol now.
    pair.palaver.create_user(&admin, "carol").await;
    let carol_mxid = format!("@palaver_carol:{SERVER_NAME}");
    let posted = pair
        .palaver
        .post_ok(
            "chat.postMessage",
            &admin,
            json!({ "roomId": rid, "text": "hi @alice_localhost" }),
        )
        .await;
    let mid = posted["message"]["_id"].as_str().expect("id").to_string();
    pair.synapse
        .wait_for(&alice, &mroom, "the mention", |e| {
            bodies(e, &puppet).contains(&"hi @alice_localhost".to_string())
        })
        .await;
    let edited = pair
        .palaver
        .post_ok(
            "chat.update",
            &admin,
            json!({ "roomId": rid, "msgId": mid, "text": "hi @alice_localhost and @carol" }),
        )
        .await;
    let mentioned: Vec<&str> = edited["message"]["mentions"]
        .as_array()
        .expect("mentions")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert_eq!(mentioned, ["alice_localhost", "carol"], "{edited}");
    let stored = pair
        .palaver
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &admin)
        .await;
    assert_eq!(
        stored["message"]["mentions"][1]["username"], "carol",
        "{stored}"
    );
    let events = pair
        .synapse
        .wait_for(&alice, &mroom, "the edit", |e| {
            e.iter().any(|e| {
                e["content"]["m.relates_to"]["rel_type"] == "m.replace"
                    && e["content"]["m.new_content"]["body"] == "hi @alice_localhost and @carol"
            })
        })
        .await;
    let edit = events
        .iter()
        .find(|e| e["content"]["m.new_content"]["body"] == "hi @alice_localhost and @carol")
        .expect("edit");
    assert_eq!(
        edit["content"]["m.new_content"]["m.mentions"]["user_ids"],
        json!([alice.mxid, carol_mxid]),
        "{edit}"
    );
    assert_eq!(
        edit["content"]["m.mentions"]["user_ids"],
        json!([carol_mxid]),
        "only the newly mentioned: {edit}"
    );
    let history = wait_history(&pair, &admin, &rid, "history", |_| true).await;
    assert_eq!(
        by_text(&history, "hi @alice_localhost and @carol")["_id"],
        mid.as_str()
    );
}

/// Synapse retries its transactions (2, 4, 8 s … apart) while Palaver is down:
/// what Matrix users sent meanwhile arrives after the restart, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_messages_sent_while_palaver_is_killed_arrive_once_in_order() {
    let mut pair = start_pair(None).await;
    let admin = pair.palaver.admin().await;
    let alice = pair.synapse.create_user("alice").await;
    let (rid, mroom) = bridged_room(&pair, &admin, &alice, "palaver-outage").await;
    let send = |text: &str| json!({ "msgtype": "m.text", "body": text });
    pair.synapse
        .send(&alice, &mroom, "m.room.message", send("before"))
        .await;
    wait_history(&pair, &admin, &rid, "before", |m| {
        texts(m).contains(&"before".to_string())
    })
    .await;

    pair.palaver.kill9();
    let during: Vec<String> = (1..=4).map(|n| format!("while down {n}")).collect();
    for text in &during {
        pair.synapse
            .send(&alice, &mroom, "m.room.message", send(text))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Long enough for Synapse to have failed and backed off a few times.
    tokio::time::sleep(Duration::from_secs(4)).await;
    pair.palaver.start_again().await;
    let admin = pair.palaver.admin().await;
    let history = wait_history(&pair, &admin, &rid, "the messages sent meanwhile", |m| {
        texts(m).contains(&"while down 4".to_string())
    })
    .await;
    let mut oldest_first = texts(&history);
    oldest_first.reverse();
    let expected: Vec<String> = std::iter::once("before".to_string())
        .chain(during.iter().cloned())
        .collect();
    let got: Vec<String> = oldest_first
        .into_iter()
        .filter(|t| expected.contains(t))
        .collect();
    assert_eq!(got, expected, "each once, in order");

    // And after that, as usual.
    pair.synapse
        .send(&alice, &mroom, "m.room.message", send("after"))
        .await;
    let history = wait_history(&pair, &admin, &rid, "after", |m| {
        texts(m).contains(&"after".to_string())
    })
    .await;
    assert_eq!(
        texts(&history)
            .iter()
            .filter(|t| t.starts_with("while down"))
            .count(),
        4
    );
}
