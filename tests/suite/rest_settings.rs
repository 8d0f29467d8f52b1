//! Workspace settings over REST, as Rocket.Chat serves them: `settings` (admins,
//! paginated, `query`/`fields`), `settings/:_id` (read, change, run an action),
//! `settings.public`, `audit.settings`; type validation, permissions, values locked
//! by the configuration, write-only secrets, and changes that apply without a
//! restart.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

/// Every field of one setting (the `fields` projection asks for all of them).
async fn setting(srv: &Palaver, admin: &Session, id: &str) -> Value {
    let query = enc(&json!({"_id": id}).to_string());
    let fields = enc(
        &json!({"type": 1, "group": 1, "section": 1, "packageValue": 1, "public": 1,
                "blocked": 1, "lockedBy": 1, "secret": 1, "set": 1, "values": 1})
        .to_string(),
    );
    let body = srv
        .get_ok(&format!("settings?query={query}&fields={fields}"), admin)
        .await;
    assert_eq!(body["total"], json!(1), "settings?query _id={id}: {body}");
    body["settings"][0].clone()
}

async fn value(srv: &Palaver, admin: &Session, id: &str) -> Value {
    let body = srv.get_ok(&format!("settings/{id}"), admin).await;
    assert_eq!(body["_id"], json!(id), "{body}");
    body["value"].clone()
}

async fn set(srv: &Palaver, who: &Session, id: &str, value: Value) -> (StatusCode, Value) {
    srv.post(&format!("settings/{id}"), who, json!({ "value": value }))
        .await
}

#[tokio::test]
async fn admins_list_read_and_change_settings_as_rocket_chat_does() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;

    // Every setting, page by page (a page is capped by API_Upper_Count_Limit).
    let mut all = Vec::new();
    let total = loop {
        let body = srv
            .get_ok(&format!("settings?count=100&offset={}", all.len()), &admin)
            .await;
        let page = body["settings"].as_array().expect("settings").clone();
        let total = body["total"].as_u64().expect("total");
        assert!(!page.is_empty() || all.len() as u64 == total, "{body}");
        all.extend(page);
        if all.len() as u64 >= total {
            break total;
        }
    };
    assert_eq!(all.len() as u64, total);
    let body = json!({ "settings": all });
    for id in [
        "Site_Name",
        "Site_Url",
        "Language",
        "Message_MaxAllowedSize",
        "Accounts_RegistrationForm",
        "API_Upper_Count_Limit",
        "FileUpload_MaxFileSize",
        "SMTP_Host",
        "SMTP_Password",
        "From_Email",
        "Realtime_Queue_Frames",
    ] {
        assert!(all.iter().any(|s| s["_id"] == id), "{id} is listed: {body}");
    }
    // Without `fields`, Rocket.Chat's projection: `_id` and `value`.
    for s in &all {
        let keys: Vec<&String> = s.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 2, "only _id and value by default: {s}");
    }
    let page = srv.get_ok("settings?count=3&offset=2", &admin).await;
    assert_page(&page, "settings", 3, 2, total, "settings page");
    assert_eq!(page["settings"][0]["_id"], all[2]["_id"]);

    // `query` filters, `fields` adds fields.
    let email = srv
        .get_ok(
            &format!(
                "settings?query={}&fields={}",
                enc(r#"{"group":"Email"}"#),
                enc(r#"{"type":1,"group":1}"#)
            ),
            &admin,
        )
        .await;
    let email = email["settings"].as_array().expect("settings").clone();
    assert!(email.len() >= 5, "{email:?}");
    assert!(email
        .iter()
        .all(|s| s["group"] == "Email" && s["type"].is_string()));
    let (status, bad) = srv
        .get(
            &format!("settings?query={}", enc(r#"{"_id":{"$where":"1"}}"#)),
            &admin,
        )
        .await;
    assert_error(status, &bad, 400, None, "unsupported query operator");

    let site = setting(&srv, &admin, "Site_Name").await;
    assert_eq!(site["type"], "string");
    assert_eq!(site["group"], "General");
    assert_eq!(site["public"], json!(true));
    assert_eq!(site["packageValue"], "Palaver");
    assert_eq!(site["blocked"], json!(false), "{site}");
    let form = setting(&srv, &admin, "Accounts_RegistrationForm").await;
    assert_eq!(form["type"], "select");
    assert!(
        form["values"]
            .as_array()
            .is_some_and(|v| v.iter().any(|k| k["key"] == "Public")),
        "{form}"
    );

    // A change: success, readable at once, public where the setting is public.
    let ok = srv
        .post_ok("settings/Site_Name", &admin, json!({"value": "Acme Chat"}))
        .await;
    assert_eq!(ok, json!({"success": true}));
    assert_eq!(value(&srv, &admin, "Site_Name").await, "Acme Chat");
    let public = srv.get_anon("settings.public?_id=Site_Name").await.1;
    assert_eq!(
        public["settings"],
        json!([{"_id": "Site_Name", "value": "Acme Chat"}])
    );
    let q = enc(r#"{"_id":{"$in":["Site_Name"]}}"#);
    let public = srv.get_anon(&format!("settings.public?query={q}")).await.1;
    assert_eq!(public["settings"][0]["value"], "Acme Chat", "{public}");
    // Private settings are not public.
    let all_public = srv.get_anon("settings.public?count=500").await.1;
    for private in ["SMTP_Host", "SMTP_Password", "Realtime_Queue_Frames"] {
        assert!(
            !all_public["settings"]
                .as_array()
                .expect("settings")
                .iter()
                .any(|s| s["_id"] == private),
            "{private} is not public: {all_public}"
        );
    }

    // Unknown settings and malformed bodies.
    let (status, body) = set(&srv, &admin, "No_Such_Setting", json!(1)).await;
    assert_error(status, &body, 400, None, "unknown setting");
    let (status, body) = srv.get("settings/No_Such_Setting", &admin).await;
    assert_error(status, &body, 400, None, "unknown setting");
    let (status, body) = srv
        .post("settings/Site_Name", &admin, json!({"val": "x"}))
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "no value");

    // An action runs with {execute: true}; it has no value to set. Without an
    // SMTP server configured, the SMTP test says so.
    let (status, body) = srv
        .post(
            "settings/SMTP_Test_Button",
            &admin,
            json!({"execute": true}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-email-send-failed"),
        "action",
    );
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("SMTP_Host")),
        "{body}"
    );
    let (status, body) = set(&srv, &admin, "SMTP_Test_Button", json!("x")).await;
    assert_error(status, &body, 400, Some("invalid-params"), "action value");
}

/// Each type refuses what it cannot hold with a 400 naming the reason, and the
/// stored value stays as it was.
#[tokio::test]
async fn bad_values_are_refused_by_type_and_change_nothing() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let cases: &[(&str, &[Value])] = &[
        (
            "Message_MaxAllowedSize",
            &[
                json!("many"),
                json!(0),
                json!(1.5),
                json!(2_000_000),
                json!(null),
            ],
        ),
        (
            "Message_AllowEditing",
            &[json!("yes"), json!(1), json!(null)],
        ),
        ("Accounts_RegistrationForm", &[json!("Open"), json!(true)]),
        ("Site_Name", &[json!(5), json!("   "), json!(["a"])]),
        ("From_Email", &[json!("nobody"), json!(7)]),
        ("SMTP_Host", &[json!("bad host name")]),
        ("SMTP_Port", &[json!(0), json!(70_000), json!("25x")]),
        ("SMTP_Password", &[json!(12345), json!({"p": 1})]),
        ("UTF8_User_Names_Validation", &[json!("[a-z"), json!("")]),
        ("Realtime_Queue_Frames", &[json!(1)]),
    ];
    for (id, bad) in cases {
        let before = value(&srv, &admin, id).await;
        for v in *bad {
            let (status, body) = set(&srv, &admin, id, v.clone()).await;
            assert_error(
                status,
                &body,
                400,
                Some("invalid-params"),
                &format!("{id}={v}"),
            );
            assert!(
                body["error"].as_str().is_some_and(|e| e.contains(id)),
                "the reason names the setting: {body}"
            );
            assert_eq!(
                value(&srv, &admin, id).await,
                before,
                "{id} unchanged after {v}"
            );
        }
    }
    let audit = srv.get_ok("audit.settings", &admin).await;
    assert_eq!(
        audit["total"],
        json!(0),
        "refused changes are not audited: {audit}"
    );

    // Valid values of every type are accepted (ints given as 25.0 are ints).
    for (id, good) in [
        ("Message_MaxAllowedSize", json!(25.0)),
        ("Message_AllowEditing", json!(false)),
        ("Accounts_RegistrationForm", json!("Public")),
        ("From_Email", json!("noreply@example.com")),
        ("SMTP_Host", json!("smtp.example.com")),
        ("SMTP_Port", json!(465)),
        ("UTF8_User_Names_Validation", json!("[0-9a-z._]+")),
    ] {
        let (status, body) = set(&srv, &admin, id, good.clone()).await;
        assert_eq!(status, StatusCode::OK, "{id}={good}: {body}");
    }
    assert_eq!(
        value(&srv, &admin, "Message_MaxAllowedSize").await,
        json!(25)
    );
}

#[tokio::test]
async fn only_holders_of_the_settings_permissions_may_read_or_change() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    for path in ["settings", "settings/Site_Name", "audit.settings"] {
        let (status, body) = srv.get_anon(path).await;
        assert_unauthorized(status, &body, path);
    }
    for path in ["settings/Site_Name", "audit.settings"] {
        let (status, body) = srv.get(path, &alice).await;
        assert_error(status, &body, 403, None, path);
    }
    // As in Rocket.Chat, the listing shows a user the public settings only.
    let fields = enc(r#"{"public":1}"#);
    let listed = srv
        .get_ok(&format!("settings?count=500&fields={fields}"), &alice)
        .await;
    let listed = listed["settings"].as_array().expect("settings").clone();
    assert!(listed.iter().any(|s| s["_id"] == "Site_Name"), "{listed:?}");
    assert!(
        listed.iter().all(|s| s["public"] == json!(true)),
        "only public settings: {listed:?}"
    );
    let (status, body) = set(&srv, &alice, "Site_Name", json!("Mine")).await;
    assert_error(status, &body, 403, None, "non-admin change");
    let (status, body) = srv
        .post_anon("settings/Site_Name", json!({"value": "Mine"}))
        .await;
    assert_unauthorized(status, &body, "anonymous change");
    assert_eq!(value(&srv, &admin, "Site_Name").await, "Palaver");

    // The permissions are Rocket.Chat's and admins can grant them.
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [
            {"_id": "view-privileged-setting", "roles": ["admin", "user"]},
        ]}),
    )
    .await;
    // Pages of at most `API_Upper_Count_Limit` (100): read them all.
    let mut listed = Vec::new();
    for offset in (0..).step_by(100) {
        let page = srv
            .get_ok(&format!("settings?count=100&offset={offset}"), &alice)
            .await;
        let items = page["settings"].as_array().expect("settings").clone();
        let total = page["total"].as_u64().expect("total") as usize;
        listed.extend(items);
        if offset + 100 >= total {
            break;
        }
    }
    assert!(
        listed.iter().any(|s| s["_id"] == "SMTP_Host"),
        "with the permission, private settings are listed: {listed:?}"
    );
    let (status, body) = set(&srv, &alice, "Site_Name", json!("Mine")).await;
    assert_error(status, &body, 403, None, "view is not edit");
}

/// A secret is write-only: set or unset, never its value, in any listing, single
/// read, the audit log or `settings.public`.
#[tokio::test]
async fn secrets_are_write_only() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    const SECRET: &str = "hunter2-very-secret";
    let before = setting(&srv, &admin, "SMTP_Password").await;
    assert_eq!(before["type"], "password");
    assert_eq!(before["secret"], json!(true));
    assert_eq!(before["set"], json!(false), "{before}");

    srv.post_ok("settings/SMTP_Password", &admin, json!({"value": SECRET}))
        .await;
    let after = setting(&srv, &admin, "SMTP_Password").await;
    assert_eq!(after["set"], json!(true), "{after}");
    assert_eq!(after["value"], "", "{after}");
    assert_eq!(value(&srv, &admin, "SMTP_Password").await, "");

    let fields = enc(r#"{"packageValue":1,"value":1,"set":1}"#);
    for path in [
        "settings?count=500".to_string(),
        format!("settings?count=500&fields={fields}&includeDefaults=true"),
        "settings/SMTP_Password".to_string(),
        "audit.settings".to_string(),
        "settings.public?count=500".to_string(),
    ] {
        let (_, body) = srv.get(&path, &admin).await;
        assert!(
            !body.to_string().contains(SECRET),
            "{path} must not reveal the secret: {body}"
        );
    }
    let audit = srv
        .get_ok("audit.settings?settingId=SMTP_Password", &admin)
        .await;
    assert_eq!(audit["total"], json!(1), "{audit}");
    let data = &audit["events"][0]["data"];
    assert_eq!(data[1], json!({"key": "previous", "value": ""}), "{audit}");
    assert_eq!(
        data[2],
        json!({"key": "current", "value": "********"}),
        "{audit}"
    );
}

/// Values from the environment or the config file win, are shown locked with their
/// source, and a change is refused with the reason.
#[tokio::test]
async fn locked_settings_show_their_source_and_refuse_changes() {
    let srv = Palaver::builder()
        .env("PALAVER_SETTINGS__SMTP_HOST", "mx.locked.example")
        .env("OVERWRITE_SETTING_Message_AllowDeleting", "false")
        .env("PALAVER_MAX_MESSAGE_CHARS", "300")
        .config_toml("[settings]\nFrom_Email = \"ops@example.com\"\nSMTP_Port = 2525\n")
        .start()
        .await;
    let admin = srv.admin().await;
    for (id, locked_value, source) in [
        (
            "SMTP_Host",
            json!("mx.locked.example"),
            "PALAVER_SETTINGS__SMTP_HOST",
        ),
        (
            "Message_AllowDeleting",
            json!(false),
            "OVERWRITE_SETTING_Message_AllowDeleting",
        ),
        (
            "Message_MaxAllowedSize",
            json!(300),
            "PALAVER_MAX_MESSAGE_CHARS",
        ),
        (
            "From_Email",
            json!("ops@example.com"),
            "[settings] From_Email",
        ),
        ("SMTP_Port", json!(2525), "[settings] SMTP_Port"),
        // The harness sets PALAVER_SITE_URL.
        ("Site_Url", json!(srv.base_url()), "PALAVER_SITE_URL"),
    ] {
        let doc = setting(&srv, &admin, id).await;
        assert_eq!(doc["value"], locked_value, "{id}: {doc}");
        assert_eq!(doc["blocked"], json!(true), "{id}: {doc}");
        assert!(
            doc["lockedBy"].as_str().is_some_and(|s| s.contains(source)),
            "{id} names its source {source}: {doc}"
        );
        let (status, body) = set(&srv, &admin, id, doc["packageValue"].clone()).await;
        assert_error(status, &body, 400, Some("error-setting-locked"), id);
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(source)),
            "{id}: the refusal names the source: {body}"
        );
        assert_eq!(
            value(&srv, &admin, id).await,
            locked_value,
            "{id} unchanged"
        );
    }
    // What the configuration does not give stays editable.
    assert_eq!(
        setting(&srv, &admin, "SMTP_Username").await["blocked"],
        json!(false)
    );
    srv.post_ok("settings/SMTP_Username", &admin, json!({"value": "mailer"}))
        .await;
    // The locked limit is the one in force.
    let room = create_channel(&srv, &admin, "locked-limit", &[]).await;
    let rid = room["_id"].as_str().expect("rid");
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &admin,
            json!({"roomId": rid, "text": "x".repeat(301)}),
        )
        .await;
    assert_error(status, &body, 400, None, "301 characters over a locked 300");
}

/// A change applies at once, survives a restart, and is in the audit log with
/// who, when and old → new.
#[tokio::test]
async fn changes_apply_without_restart_and_are_audited() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    let room = create_channel(&srv, &admin, "limits", &[]).await;
    let rid = room["_id"].as_str().expect("rid").to_string();
    let text = "twenty characters!!!";
    post(&srv, &admin, &rid, text).await;

    srv.post_ok(
        "settings/Message_MaxAllowedSize",
        &admin,
        json!({"value": 10}),
    )
    .await;
    let (status, body) = srv
        .post(
            "chat.postMessage",
            &admin,
            json!({"roomId": rid, "text": text}),
        )
        .await;
    assert_error(status, &body, 400, None, "over the new limit");
    post(&srv, &admin, &rid, "ten chars!").await;

    // Page sizes follow API_Default_Count / API_Upper_Count_Limit.
    for name in ["a1", "a2", "a3"] {
        srv.create_user(&admin, name).await;
    }
    srv.post_ok("settings/API_Default_Count", &admin, json!({"value": 2}))
        .await;
    srv.post_ok(
        "settings/API_Upper_Count_Limit",
        &admin,
        json!({"value": 3}),
    )
    .await;
    let users = srv.get_ok("users.list", &admin).await;
    assert_eq!(users["count"], json!(2), "default count 2: {users}");
    let users = srv.get_ok("users.list?count=100", &admin).await;
    assert_eq!(users["count"], json!(3), "upper limit 3: {users}");

    // Setting the same value again changes (and records) nothing.
    srv.post_ok(
        "settings/Message_MaxAllowedSize",
        &admin,
        json!({"value": 10}),
    )
    .await;
    let audit = srv
        .get_ok("audit.settings?settingId=Message_MaxAllowedSize", &admin)
        .await;
    assert_eq!(audit["total"], json!(1), "{audit}");
    let event = &audit["events"][0];
    assert_eq!(event["t"], "settings.changed", "{event}");
    assert_eq!(event["actor"]["type"], "user");
    assert_eq!(event["actor"]["_id"], json!(admin.user_id));
    assert_eq!(event["actor"]["username"], json!(admin.username));
    ts(&event["ts"], "audit ts");
    assert_eq!(
        event["data"],
        json!([
            {"key": "id", "value": "Message_MaxAllowedSize"},
            {"key": "previous", "value": 5000},
            {"key": "current", "value": 10},
        ])
    );
    // (Listings now default to 2 items: ask for all three.)
    let all = srv.get_ok("audit.settings?count=3", &admin).await;
    assert_eq!(all["total"], json!(3), "{all}");
    let newest: Vec<&Value> = all["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["data"][0]["value"])
        .collect();
    // The two page-size changes may share a millisecond; the limit came before.
    assert_eq!(newest[2], "Message_MaxAllowedSize", "newest first: {all}");
    let oldest = srv
        .get_ok(
            &format!("audit.settings?sort={}&count=1", enc(r#"{"ts":1}"#)),
            &admin,
        )
        .await;
    assert_page(&oldest, "events", 1, 0, 3, "audit oldest first");
    assert_eq!(
        oldest["events"][0]["data"][0]["value"],
        "Message_MaxAllowedSize"
    );
    let future = srv
        .get_ok("audit.settings?start=2999-01-01T00:00:00.000Z", &admin)
        .await;
    assert_eq!(future["total"], json!(0), "{future}");
    let (status, body) = srv.get("audit.settings?start=yesterday", &admin).await;
    assert_error(status, &body, 400, None, "bad start date");

    // Stored: a restart keeps the value.
    srv.restart().await;
    let admin = srv.admin().await;
    assert_eq!(
        value(&srv, &admin, "Message_MaxAllowedSize").await,
        json!(10)
    );
    let (status, _) = srv
        .post(
            "chat.postMessage",
            &admin,
            json!({"roomId": rid, "text": text}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the limit holds after a restart"
    );
}

/// `Message_AllowEditing` / `Message_AllowDeleting` apply at once to members;
/// admins keep editing and deleting, as in Rocket.Chat (so do room owners, who hold
/// `edit-message`/`force-delete-message` there: alice is a plain member).
#[tokio::test]
async fn editing_and_deleting_follow_their_settings() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let room = create_channel(&srv, &admin, "edits", &["alice"]).await;
    let rid = room["_id"].as_str().expect("rid").to_string();
    let mine = post(&srv, &alice, &rid, "first").await;
    let mid = mine["_id"].as_str().expect("mid").to_string();
    let edit = json!({"roomId": rid, "msgId": mid, "text": "edited"});
    let delete = json!({"roomId": rid, "msgId": mid});

    srv.post_ok(
        "settings/Message_AllowEditing",
        &admin,
        json!({"value": false}),
    )
    .await;
    srv.post_ok(
        "settings/Message_AllowDeleting",
        &admin,
        json!({"value": false}),
    )
    .await;
    let (status, body) = srv.post("chat.update", &alice, edit.clone()).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "edit off",
    );
    let (status, body) = srv.post("chat.delete", &alice, delete.clone()).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-action-not-allowed"),
        "delete off",
    );
    srv.post_ok("chat.update", &admin, edit.clone()).await;

    srv.post_ok(
        "settings/Message_AllowEditing",
        &admin,
        json!({"value": true}),
    )
    .await;
    srv.post_ok(
        "settings/Message_AllowDeleting",
        &admin,
        json!({"value": true}),
    )
    .await;
    srv.post_ok("chat.update", &alice, edit).await;
    srv.post_ok("chat.delete", &alice, delete).await;
}
