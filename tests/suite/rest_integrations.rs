//! Incoming webhooks: `integrations.*` (admins only) and `POST /hooks/{id}/{token}`
//! with Slack-style payloads, as JSON and as a form with a `payload=` field. Messages
//! are read back over REST history and the realtime API.

use palaver_tests::ddp::Ddp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

const INVALID_HOOK: &str = "Invalid integration id or token provided.";

/// Creates an incoming webhook as `admin`; returns the `integration` object.
async fn create_hook(srv: &Palaver, admin: &Session, extra: Value) -> Value {
    let mut body = json!({
        "type": "webhook-incoming",
        "name": "CI",
        "enabled": true,
        "channel": "#ops",
        "username": "ci.bot",
        "scriptEnabled": false,
        // Rocket.Chat's default is false; these tests override the channel.
        "overrideDestinationChannelEnabled": true,
    });
    for (k, v) in extra.as_object().expect("extra fields object") {
        body[k] = v.clone();
    }
    srv.post_ok("integrations.create", admin, body).await["integration"].clone()
}

fn hook_path(integration: &Value) -> String {
    format!(
        "/hooks/{}/{}",
        str_of(&integration["_id"], "integration id"),
        str_of(&integration["token"], "integration token")
    )
}

/// Posts a JSON payload to a hook path; returns status and body.
async fn call_hook(srv: &Palaver, path: &str, payload: Value) -> (StatusCode, Value) {
    let r = srv
        .request(Method::POST, path, None, Body::Json(payload))
        .await;
    (r.status, r.json)
}

/// Posts `payload=<json>` form-encoded, as Slack senders do.
async fn call_hook_form(srv: &Palaver, path: &str, form: &str) -> (StatusCode, Value) {
    let r = srv
        .request(
            Method::POST,
            path,
            None,
            Body::Raw {
                content_type: "application/x-www-form-urlencoded",
                bytes: form.as_bytes().to_vec(),
            },
        )
        .await;
    (r.status, r.json)
}

/// The user messages of a channel's history, newest first.
async fn channel_messages(srv: &Palaver, who: &Session, rid: &str) -> Vec<Value> {
    let body = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=100"), who)
        .await;
    user_messages(&body["messages"])
}

async fn update_hook(srv: &Palaver, admin: &Session, body: Value) -> (StatusCode, Value) {
    let r = srv
        .request(
            Method::PUT,
            "integrations.update",
            Some(admin),
            Body::Json(body),
        )
        .await;
    (r.status, r.json)
}

#[tokio::test]
async fn json_and_form_payloads_post_as_the_integration_user() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bot = srv.create_user(&admin, "ci.bot").await;
    let ops = create_channel(&srv, &admin, "ops", &["alice"]).await;
    let rid = str_of(&ops["_id"], "room id").to_string();

    let hook = create_hook(
        &srv,
        &admin,
        json!({"alias": "Jenkins", "emoji": ":robot:"}),
    )
    .await;
    assert_rc_id(&hook["_id"], "integration _id");
    let token = str_of(&hook["token"], "token");
    assert!(
        token.len() >= 24 && token.chars().all(|c| c.is_ascii_alphanumeric()),
        "token: {hook}"
    );
    assert_eq!(hook["type"], "webhook-incoming", "{hook}");
    assert_eq!(hook["name"], "CI", "{hook}");
    assert_eq!(hook["enabled"], true, "{hook}");
    assert_eq!(hook["channel"], json!(["#ops"]), "{hook}");
    assert_eq!(hook["username"], "ci.bot", "{hook}");
    assert_eq!(hook["userId"], json!(bot.user_id), "{hook}");
    assert_eq!(hook["alias"], "Jenkins", "{hook}");
    assert_eq!(hook["emoji"], ":robot:", "{hook}");
    assert_eq!(hook["scriptEnabled"], false, "{hook}");
    assert_eq!(
        hook["_createdBy"]["username"],
        json!(admin.username),
        "{hook}"
    );
    ts(&hook["_createdAt"], "_createdAt");
    ts(&hook["_updatedAt"], "_updatedAt");

    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    ddp.sub("stream-room-messages", json!([rid, false])).await;

    // JSON, Slack-style.
    let (status, body) = call_hook(
        &srv,
        &hook_path(&hook),
        json!({
            "text": "Build 42 passed",
            "attachments": [{
                "title": "Build 42",
                "title_link": "https://ci.example.com/42",
                "text": "All 311 tests green",
                "color": "good",
                "image_url": "https://ci.example.com/42/graph.png",
                "author_name": "jenkins",
                "fields": [
                    {"title": "Branch", "value": "main", "short": true},
                    {"title": "Duration", "value": 93}
                ],
                "mrkdwn_in": ["text"]
            }]
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"success": true}));

    let frame = ddp
        .wait_for("the webhook message over the realtime API", |f| {
            f["msg"] == "changed" && f["fields"]["args"][0]["msg"] == "Build 42 passed"
        })
        .await;
    let live = &frame["fields"]["args"][0];
    assert_eq!(live["u"]["_id"], json!(bot.user_id), "{live}");
    assert_eq!(live["alias"], "Jenkins", "{live}");

    let expected_attachments = json!([{
        "title": "Build 42",
        "title_link": "https://ci.example.com/42",
        "text": "All 311 tests green",
        "color": "#2eb886",
        "image_url": "https://ci.example.com/42/graph.png",
        "author_name": "jenkins",
        "fields": [
            {"title": "Branch", "value": "main", "short": true},
            {"title": "Duration", "value": "93", "short": false}
        ]
    }]);
    assert_eq!(live["attachments"], expected_attachments, "{live}");

    let messages = channel_messages(&srv, &alice, &rid).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_message_shape(m, &rid, &bot, "Build 42 passed", "webhook message");
    assert_eq!(m["alias"], "Jenkins", "{m}");
    assert_eq!(m["emoji"], ":robot:", "{m}");
    assert!(m.get("avatar").is_none_or(Value::is_null), "{m}");
    assert_eq!(m["attachments"], expected_attachments, "{m}");

    // Form-encoded `payload=`, with the sender's name and icon overriding the
    // integration's alias and emoji; the trailing-slash form of the URL. A name and
    // icon from the payload (not the admin's configuration) need the posting user
    // to hold `message-impersonate`, as in Rocket.Chat: ci.bot is a person until
    // made a bot.
    let payload = json!({
        "text": "Deployed v1.2 to production",
        "username": "Deployer",
        "icon_url": "https://ci.example.com/deploy.png"
    });
    let form = format!("payload={}", enc(&payload.to_string()));
    let (status, body) = call_hook_form(&srv, &format!("{}/", hook_path(&hook)), &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorType"], "error-action-not-allowed", "{body}");
    assert_eq!(channel_messages(&srv, &alice, &rid).await.len(), 1);
    srv.post_ok(
        "users.update",
        &admin,
        json!({"userId": bot.user_id, "data": {"roles": ["bot"]}}),
    )
    .await;
    let (status, body) = call_hook_form(&srv, &format!("{}/", hook_path(&hook)), &form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"success": true}));
    ddp.wait_for("the form-encoded webhook message", |f| {
        f["fields"]["args"][0]["msg"] == "Deployed v1.2 to production"
    })
    .await;
    let messages = channel_messages(&srv, &alice, &rid).await;
    assert_eq!(messages.len(), 2, "{messages:?}");
    let m = &messages[0];
    assert_message_shape(m, &rid, &bot, "Deployed v1.2 to production", "form message");
    assert_eq!(m["alias"], "Deployer", "{m}");
    assert_eq!(m["avatar"], "https://ci.example.com/deploy.png", "{m}");
    assert!(
        m.get("emoji").is_none_or(Value::is_null),
        "avatar wins: {m}"
    );

    // The integration's user was joined to the channel to post there.
    let members = srv
        .get_ok(&format!("channels.members?roomId={rid}"), &admin)
        .await;
    let names: Vec<&str> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(names.contains(&"ci.bot"), "{members}");
}

#[tokio::test]
async fn channel_override_and_refusals_store_nothing() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bot = srv.create_user(&admin, "ci.bot").await;
    let ops = create_channel(&srv, &admin, "ops", &["alice", "ci.bot"]).await;
    let rid = str_of(&ops["_id"], "room id").to_string();
    let alerts = create_channel(&srv, &admin, "alerts", &["alice"]).await;
    let alerts_rid = str_of(&alerts["_id"], "room id").to_string();
    create_group(&srv, &admin, "secret", &["alice"]).await;
    let hook = create_hook(&srv, &admin, json!({})).await;
    let path = hook_path(&hook);

    // The payload's channel wins: another public channel, and a DM by @username.
    let (status, body) = call_hook(
        &srv,
        &path,
        json!({"text": "disk 91% full", "channel": "#alerts"}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let msgs = channel_messages(&srv, &alice, &alerts_rid).await;
    assert_eq!(msg_texts(&json!(msgs)), vec!["disk 91% full"]);
    assert_message_shape(&msgs[0], &alerts_rid, &bot, "disk 91% full", "override");

    let (status, body) = call_hook(
        &srv,
        &path,
        json!({"text": "your build broke", "channel": "@alice"}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let ims = srv.get_ok("im.list", &alice).await;
    let dm = ims["ims"]
        .as_array()
        .expect("ims")
        .iter()
        .find(|r| {
            r["usernames"]
                .as_array()
                .is_some_and(|u| u.contains(&json!("ci.bot")))
        })
        .unwrap_or_else(|| panic!("no DM with ci.bot in {ims}"))
        .clone();
    let dm_rid = str_of(&dm["_id"], "dm id");
    let history = srv
        .get_ok(&format!("im.history?roomId={dm_rid}"), &alice)
        .await;
    assert_eq!(msg_texts(&history["messages"]), vec!["your build broke"]);

    // Refusals: none of them stores anything.
    let before = channel_messages(&srv, &admin, &rid).await.len();
    let wrong_token = format!("/hooks/{}/{}", str_of(&hook["_id"], "id"), "x".repeat(48));
    let unknown_id = format!("/hooks/NoSuchIntegration/{}", str_of(&hook["token"], "t"));
    for bad in [&wrong_token, &unknown_id] {
        let (status, body) = call_hook(&srv, bad, json!({"text": "nope"})).await;
        assert_error(status, &body, 404, None, bad);
        assert_eq!(body["error"], INVALID_HOOK, "{body}");
    }
    for (payload, ctx) in [
        (json!({}), "empty payload"),
        (json!({"text": "   "}), "blank text"),
        (
            json!({"text": "x", "attachments": {"title": "t"}}),
            "attachments not an array",
        ),
        (
            json!({"attachments": [{"title": "t", "title_link": "javascript:alert(1)"}]}),
            "script link",
        ),
        (
            json!({"text": "x", "channel": "#secret"}),
            "private group it is not in",
        ),
        (
            json!({"text": "x", "channel": "#no-such-room"}),
            "unknown room",
        ),
    ] {
        let (status, body) = call_hook(&srv, &path, payload).await;
        assert_error(status, &body, 400, None, ctx);
    }
    let (status, body) = call_hook(&srv, &path, json!({})).await;
    assert_error(status, &body, 400, Some("invalid-params"), "empty payload");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("text")),
        "the error names what is missing: {body}"
    );
    let (status, body) = call_hook_form(&srv, &path, "payload=%7Bnot+json").await;
    assert_error(
        status,
        &body,
        400,
        Some("invalid-params"),
        "form payload not JSON",
    );

    // Overriding the channel can be switched off.
    let id = str_of(&hook["_id"], "id").to_string();
    let (status, body) = update_hook(
        &srv,
        &admin,
        json!({"type": "webhook-incoming", "integrationId": id,
               "overrideDestinationChannelEnabled": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call_hook(&srv, &path, json!({"text": "x", "channel": "#alerts"})).await;
    assert_error(status, &body, 400, None, "override disabled");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("overriding destination channel is disabled")),
        "{body}"
    );

    // A disabled integration answers 503.
    let (status, body) = update_hook(
        &srv,
        &admin,
        json!({"type": "webhook-incoming", "integrationId": id, "enabled": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["integration"]["enabled"], false, "{body}");
    let (status, body) = call_hook(&srv, &path, json!({"text": "while disabled"})).await;
    assert_error(status, &body, 503, None, "disabled");

    assert_eq!(channel_messages(&srv, &admin, &rid).await.len(), before);
    assert_eq!(channel_messages(&srv, &alice, &alerts_rid).await.len(), 1);

    // Re-enabled, it posts again.
    update_hook(&srv, &admin, json!({"integrationId": id, "enabled": true})).await;
    let (status, _) = call_hook(&srv, &path, json!({"text": "back"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        msg_texts(&json!(channel_messages(&srv, &admin, &rid).await))[0],
        "back"
    );
}

/// Whether `username` is a member of the channel `rid`.
async fn is_member(srv: &Palaver, admin: &Session, rid: &str, username: &str) -> bool {
    let members = srv
        .get_ok(&format!("channels.members?roomId={rid}"), admin)
        .await;
    members["members"]
        .as_array()
        .expect("members")
        .iter()
        .any(|u| u["username"] == username)
}

#[tokio::test]
async fn a_bad_destination_among_several_joins_and_opens_nothing() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.create_user(&admin, "ci.bot").await;
    create_channel(&srv, &admin, "ops", &["ci.bot"]).await;
    let lobby = create_channel(&srv, &admin, "lobby", &["alice"]).await;
    let lobby_rid = str_of(&lobby["_id"], "room id").to_string();
    let hook = create_hook(&srv, &admin, json!({})).await;
    let path = hook_path(&hook);

    for (channel, error_type) in [
        ("#lobby, @alice, #no-such-room", "error-invalid-channel"),
        ("@alice, #lobby, @nobody", "error-invalid-user"),
    ] {
        let (status, body) = call_hook(&srv, &path, json!({"text": "x", "channel": channel})).await;
        assert_error(status, &body, 400, Some(error_type), channel);
        assert!(
            !is_member(&srv, &admin, &lobby_rid, "ci.bot").await,
            "{channel}: not joined"
        );
        let ims = srv.get_ok("im.list", &alice).await;
        assert_eq!(ims["ims"], json!([]), "{channel}: no DM opened: {ims}");
        assert!(
            channel_messages(&srv, &alice, &lobby_rid).await.is_empty(),
            "{channel}: nothing posted"
        );
    }

    // Every destination good: the channel is joined, the DM opened, both posted to.
    let (status, body) = call_hook(
        &srv,
        &path,
        json!({"text": "both", "channel": "#lobby, @alice"}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    assert!(is_member(&srv, &admin, &lobby_rid, "ci.bot").await);
    let msgs = channel_messages(&srv, &alice, &lobby_rid).await;
    assert_eq!(msg_texts(&json!(msgs)), vec!["both"]);
    let ims = srv.get_ok("im.list", &alice).await;
    assert_eq!(ims["ims"].as_array().map(Vec::len), Some(1), "{ims}");
}

#[tokio::test]
async fn only_admins_manage_and_bad_definitions_are_refused() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.create_user(&admin, "ci.bot").await;
    create_channel(&srv, &admin, "ops", &[]).await;

    let valid = json!({"type": "webhook-incoming", "name": "CI", "enabled": true,
                       "channel": "#ops", "username": "ci.bot", "scriptEnabled": false});
    let (status, body) = srv.post("integrations.create", &alice, valid.clone()).await;
    // Rocket.Chat's `addIncomingIntegration` refusal.
    assert_error(
        status,
        &body,
        400,
        Some("not_authorized"),
        "non-admin create",
    );
    let (status, body) = srv.get("integrations.list", &alice).await;
    assert_error(status, &body, 403, None, "non-admin list");
    let r = srv
        .request(
            Method::POST,
            "integrations.create",
            None,
            Body::Json(valid.clone()),
        )
        .await;
    assert_unauthorized(r.status, &r.json, "anonymous create");

    let with = |k: &str, v: Value| {
        let mut b = valid.clone();
        b[k] = v;
        b
    };
    for (body, error_type) in [
        (
            with("channel", json!("#no-such-room")),
            "error-invalid-room",
        ),
        (with("channel", json!("@nobody")), "error-invalid-user"),
        (with("channel", json!("")), "error-invalid-channel"),
        (with("username", json!("nobody")), "error-invalid-user"),
        (with("username", json!("")), "error-invalid-username"),
        (
            {
                let mut b = with("scriptEnabled", json!(true));
                b["script"] = json!("class Script { process_incoming_request() {} }");
                b
            },
            "error-scripts-not-supported",
        ),
        (with("type", json!("webhook-sideways")), "invalid-params"),
        (
            with("avatar", json!("javascript:alert(1)")),
            "error-invalid-avatar",
        ),
        (with("name", json!("")), "invalid-params"),
    ] {
        let (status, resp) = srv.post("integrations.create", &admin, body.clone()).await;
        assert_error(status, &resp, 400, Some(error_type), &body.to_string());
    }
    let listed = srv.get_ok("integrations.list", &admin).await;
    assert_eq!(listed["total"], 0, "nothing was stored: {listed}");
}

async fn list_get_update_remove_and_restart(mut srv: Palaver) {
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.create_user(&admin, "ci.bot").await;
    srv.create_user(&admin, "monitor").await;
    let ops = create_channel(&srv, &admin, "ops", &["alice"]).await;
    let rid = str_of(&ops["_id"], "room id").to_string();
    create_channel(&srv, &admin, "alerts", &[]).await;

    let mut hooks = Vec::new();
    for name in ["one", "two", "three"] {
        hooks.push(create_hook(&srv, &admin, json!({"name": name})).await);
    }
    let all = srv.get_ok("integrations.list", &admin).await;
    assert_eq!(all["total"], 3, "{all}");
    // Creation order: by `_createdAt`, ties (same millisecond) broken by `_id`.
    let mut created = hooks.clone();
    created.sort_by(|a, b| {
        let key = |h: &Value| (h["_createdAt"].to_string(), h["_id"].to_string());
        key(a).cmp(&key(b))
    });
    assert_eq!(
        ids(&all["integrations"]),
        ids(&json!(created)),
        "creation order"
    );
    let page = srv
        .get_ok("integrations.list?offset=1&count=1", &admin)
        .await;
    assert_page(&page, "integrations", 1, 1, 3, "second page");
    assert_eq!(page["integrations"][0]["name"], "two", "{page}");

    let two = &hooks[1];
    let two_id = str_of(&two["_id"], "id").to_string();
    let got = srv
        .get_ok(&format!("integrations.get?integrationId={two_id}"), &admin)
        .await;
    assert_eq!(&got["integration"], two);
    let (status, body) = srv
        .get(&format!("integrations.get?integrationId={two_id}"), &alice)
        .await;
    assert_error(status, &body, 400, None, "non-admin get");
    assert_eq!(body["error"], "not-authorized", "{body}");
    let (status, body) = srv
        .get("integrations.get?integrationId=NoSuchIntegration", &admin)
        .await;
    assert_error(status, &body, 400, None, "unknown get");
    assert_eq!(body["error"], "The integration does not exists.", "{body}");
    let (status, body) = srv.get("integrations.get", &admin).await;
    assert_error(status, &body, 400, Some("invalid-params"), "no id");
    assert_eq!(
        body["error"],
        "must have required property 'integrationId' [invalid-params]"
    );

    // Update: new name, user, destination and alias; the token stays.
    let (status, body) = update_hook(
        &srv,
        &admin,
        json!({"type": "webhook-incoming", "integrationId": two_id, "name": "monitoring",
               "username": "monitor", "channel": "#alerts", "alias": "Nagios",
               "emoji": "warning", "scriptEnabled": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = body["integration"].clone();
    assert_eq!(updated["name"], "monitoring", "{updated}");
    assert_eq!(updated["username"], "monitor", "{updated}");
    assert_eq!(updated["channel"], json!(["#alerts"]), "{updated}");
    assert_eq!(updated["alias"], "Nagios", "{updated}");
    assert_eq!(updated["emoji"], ":warning:", "{updated}");
    assert_eq!(updated["token"], two["token"], "{updated}");
    assert_eq!(updated["_createdAt"], two["_createdAt"], "{updated}");
    assert!(
        ts(&updated["_updatedAt"], "updated") >= ts(&two["_updatedAt"], "created"),
        "{updated}"
    );
    // A script to run is refused (Palaver runs none); `scriptEnabled` with an
    // empty script is kept, as Rocket.Chat keeps it, and runs nothing.
    let (status, body) = update_hook(
        &srv,
        &admin,
        json!({"integrationId": two_id, "scriptEnabled": true, "script": "return 1;"}),
    )
    .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-scripts-not-supported"),
        "script",
    );
    let (status, body) = update_hook(
        &srv,
        &admin,
        json!({"integrationId": two_id, "scriptEnabled": true, "script": ""}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["integration"]["scriptEnabled"], true, "{body}");
    let (status, body) = update_hook(
        &srv,
        &admin,
        json!({"integrationId": two_id, "scriptEnabled": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = body["integration"].clone();
    assert_eq!(updated["scriptEnabled"], false, "{body}");
    let (status, body) =
        update_hook(&srv, &alice, json!({"integrationId": two_id, "name": "x"})).await;
    assert_error(status, &body, 403, None, "non-admin update");

    // Everything is still there after a restart, and the hooks still work.
    srv.restart().await;
    let admin = srv.admin().await;
    let after = srv.get_ok("integrations.list", &admin).await;
    assert_eq!(after["total"], 3, "{after}");
    assert_eq!(after["integrations"][1], updated, "{after}");
    let (status, body) = call_hook(
        &srv,
        &hook_path(&hooks[0]),
        json!({"text": "after restart"}),
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let alice = srv.login("alice", &password_for("alice")).await;
    assert_eq!(
        msg_texts(&json!(channel_messages(&srv, &alice, &rid).await)),
        vec!["after restart"]
    );

    // Remove: the answer is the removed integration; its hook is gone.
    let (status, body) = srv
        .post(
            "integrations.remove",
            &alice,
            json!({"type": "webhook-incoming", "integrationId": two_id}),
        )
        .await;
    assert_error(status, &body, 403, None, "non-admin remove");
    let removed = srv
        .post_ok(
            "integrations.remove",
            &admin,
            json!({"type": "webhook-incoming", "integrationId": two_id}),
        )
        .await;
    assert_eq!(removed["integration"], updated, "{removed}");
    let (status, body) = srv
        .post(
            "integrations.remove",
            &admin,
            json!({"type": "webhook-incoming", "integrationId": two_id}),
        )
        .await;
    assert_error(status, &body, 400, None, "removed twice");
    assert_eq!(body["error"], "No integration found.", "{body}");
    let (status, body) = srv
        .post(
            "integrations.remove",
            &admin,
            json!({"type": "webhook-sideways", "integrationId": two_id}),
        )
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "bad type");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("must match exactly one schema in oneOf")),
        "{body}"
    );
    let (status, body) = call_hook(&srv, &hook_path(&updated), json!({"text": "gone"})).await;
    assert_error(status, &body, 404, None, "removed hook");
    let left = srv.get_ok("integrations.list", &admin).await;
    assert_eq!(left["total"], 2, "{left}");
}

#[tokio::test]
async fn list_get_update_remove_and_restart_on_sqlite() {
    list_get_update_remove_and_restart(Palaver::builder().sqlite().start().await).await;
}

#[tokio::test]
async fn list_get_update_remove_and_restart_on_mongodb() {
    let db = format!(
        "palaver_integrations_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let uri = tokio::task::spawn_blocking(move || palaver_tests::mongo::mongo_uri(&db))
        .await
        .expect("mongo_uri");
    list_get_update_remove_and_restart(Palaver::builder().storage_uri(uri).start().await).await;
}

async fn set_roles(srv: &Palaver, admin: &Session, perms: &[&str], roles: &[&str]) {
    let updates: Vec<Value> = perms
        .iter()
        .map(|p| json!({"_id": p, "roles": roles}))
        .collect();
    srv.post_ok("permissions.update", admin, json!({"permissions": updates}))
        .await;
}

/// Rocket.Chat's defaults and its words for refusals: overriding the channel is off
/// unless asked for; without any integrations permission, listing, removing and
/// reading history are its bare 403; creating without one is `not_authorized`.
#[tokio::test]
async fn rocket_chat_defaults_and_permission_refusals() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "ci.bot").await;
    let ops = create_channel(&srv, &admin, "ops", &[]).await;
    let alerts = create_channel(&srv, &admin, "alerts", &[]).await;
    let hook = srv
        .post_ok(
            "integrations.create",
            &admin,
            json!({"type": "webhook-incoming", "name": "CI", "enabled": true,
                   "channel": "#ops", "username": "ci.bot", "scriptEnabled": false}),
        )
        .await["integration"]
        .clone();
    assert_eq!(hook["overrideDestinationChannelEnabled"], false, "{hook}");
    let path = hook_path(&hook);
    for payload in [
        json!({"text": "x", "channel": ["alerts"]}),
        json!({"text": "x", "roomId": alerts["_id"]}),
    ] {
        let (status, body) = call_hook(&srv, &path, payload.clone()).await;
        assert_error(status, &body, 400, None, &payload.to_string());
        assert_eq!(
            body["error"], "overriding destination channel is disabled for this integration",
            "{body}"
        );
    }
    let (status, body) = call_hook(&srv, &path, json!({"text": "to ops"})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let ops_rid = str_of(&ops["_id"], "room id").to_string();
    assert_eq!(
        msg_texts(&json!(channel_messages(&srv, &admin, &ops_rid).await)),
        vec!["to ops"]
    );

    let incoming = [
        "manage-incoming-integrations",
        "manage-own-incoming-integrations",
    ];
    let outgoing = [
        "manage-outgoing-integrations",
        "manage-own-outgoing-integrations",
    ];
    set_roles(&srv, &admin, &incoming, &[]).await;
    let (status, body) = srv
        .post(
            "integrations.create",
            &admin,
            json!({"type": "webhook-incoming", "name": "x", "enabled": true,
                   "channel": "#ops", "username": "ci.bot", "scriptEnabled": false}),
        )
        .await;
    assert_error(status, &body, 400, Some("not_authorized"), "create");
    // Still managing outgoing ones: the list answers, without the incoming hook.
    let listed = srv.get_ok("integrations.list", &admin).await;
    assert_eq!(listed["integrations"], json!([]), "{listed}");
    let id = str_of(&hook["_id"], "id").to_string();
    let (status, body) = srv
        .get(&format!("integrations.get?integrationId={id}"), &admin)
        .await;
    assert_error(status, &body, 400, None, "get");
    assert_eq!(body["error"], "not-authorized");

    set_roles(&srv, &admin, &outgoing, &[]).await;
    let bare = json!({"success": false, "error": "unauthorized"});
    let (status, body) = srv.get("integrations.list", &admin).await;
    assert_eq!((status.as_u16(), body), (403, bare.clone()), "list");
    let (status, body) = srv
        .get(&format!("integrations.history?id={id}"), &admin)
        .await;
    assert_eq!((status.as_u16(), body), (403, bare.clone()), "history");
    let (status, body) = srv
        .post(
            "integrations.remove",
            &admin,
            json!({"type": "webhook-incoming", "integrationId": id}),
        )
        .await;
    assert_eq!((status.as_u16(), body), (403, bare), "remove");

    set_roles(&srv, &admin, &incoming, &["admin"]).await;
    set_roles(&srv, &admin, &outgoing, &["admin"]).await;
    srv.post_ok(
        "integrations.remove",
        &admin,
        json!({"type": "webhook-incoming", "integrationId": id}),
    )
    .await;
}

/// Who may point an incoming integration at a private room, as Rocket.Chat's
/// `addIncomingIntegration`/`updateIncomingIntegration`: a member of it, or whoever
/// may manage every incoming integration and their own; whether the integration's
/// user can post there is found when the hook is called.
#[tokio::test]
async fn private_destinations_need_the_creator_in_them_or_both_permissions() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    srv.create_user(&admin, "ci.bot").await;
    let secret = create_group(&srv, &bob, "secret", &[]).await;
    let secret_rid = str_of(&secret["_id"], "room id").to_string();
    let body = |name: &str| {
        json!({"type": "webhook-incoming", "name": name, "enabled": true,
               "channel": "#secret", "username": "ci.bot", "scriptEnabled": false})
    };

    // Alice may manage her own integrations only: not into a room she is not in.
    set_roles(
        &srv,
        &admin,
        &["manage-own-incoming-integrations"],
        &["admin", "user"],
    )
    .await;
    let (status, resp) = srv.post("integrations.create", &alice, body("mine")).await;
    assert_error(
        status,
        &resp,
        400,
        Some("error-invalid-channel"),
        "alice, not a member",
    );
    srv.post_ok(
        "groups.invite",
        &bob,
        json!({"roomId": secret_rid, "username": "alice"}),
    )
    .await;
    let mine = srv
        .post_ok("integrations.create", &alice, body("mine"))
        .await;
    assert_eq!(mine["integration"]["channel"], json!(["#secret"]), "{mine}");

    // The admin holds both permissions: a private room they are not in is accepted,
    // and the hook's call is refused while its user cannot post there.
    let hook = srv
        .post_ok("integrations.create", &admin, body("admin's"))
        .await["integration"]
        .clone();
    let (status, resp) = call_hook(&srv, &hook_path(&hook), json!({"text": "hello"})).await;
    assert_error(status, &resp, 400, None, "ci.bot is not in #secret");
    srv.post_ok(
        "groups.invite",
        &bob,
        json!({"roomId": secret_rid, "username": "ci.bot"}),
    )
    .await;
    let (status, resp) = call_hook(&srv, &hook_path(&hook), json!({"text": "hello"})).await;
    assert_eq!((status, resp), (StatusCode::OK, json!({"success": true})));
    let history = srv
        .get_ok(&format!("groups.history?roomId={secret_rid}"), &bob)
        .await;
    assert_eq!(
        msg_texts(&json!(user_messages(&history["messages"]))),
        vec!["hello"]
    );
}
