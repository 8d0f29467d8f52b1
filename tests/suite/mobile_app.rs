//! Rocket.Chat's mobile app (Rocket.Chat.ReactNative) against Palaver: the calls it
//! makes to add a server, log in and start up, in its order, checking the fields
//! it reads (app/sagas/selectServer.ts, app/sagas/login.js, app/lib/methods/
//! getServerInfo.ts, getSettings.ts, checkSupportedVersions.ts,
//! app/lib/services/connect.ts, sdk.ts).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use palaver_tests::ddp::Ddp;

/// `loginSettings` of the app's getSettings.ts: read before logging in.
const LOGIN_SETTINGS: &[&str] = &[
    "API_Gitlab_URL",
    "CAS_enabled",
    "CAS_login_url",
    "Accounts_EmailVerification",
    "Accounts_ManuallyApproveNewUsers",
    "Accounts_ShowFormLogin",
    "Site_Url",
    "Accounts_RegistrationForm",
    "Accounts_RegistrationForm_LinkReplacementText",
    "Accounts_EmailOrUsernamePlaceholder",
    "Accounts_PasswordPlaceholder",
    "Accounts_PasswordReset",
    "Accounts_iframe_enabled",
    "Accounts_Iframe_api_url",
    "Accounts_Iframe_api_method",
];

/// Settings the app reads after login (a part of its `defaultSettings`), with the
/// JSON type it parses each as.
const STARTUP_SETTINGS: &[(&str, &str)] = &[
    ("uniqueID", "string"),
    ("Site_Name", "string"),
    ("UI_Use_Real_Name", "boolean"),
    ("FileUpload_MediaTypeWhiteList", "string"),
    ("FileUpload_MaxFileSize", "number"),
    ("Force_Screen_Lock", "boolean"),
    ("Force_Screen_Lock_After", "number"),
    ("E2E_Enable", "boolean"),
    ("API_Use_REST_For_DDP_Calls", "boolean"),
    ("Message_AllowEditing", "boolean"),
    ("Message_AllowEditing_BlockEditInMinutes", "number"),
    ("Message_AllowDeleting", "boolean"),
    ("Message_AllowDeleting_BlockDeleteInMinutes", "number"),
    ("Message_GroupingPeriod", "number"),
    ("Threads_enabled", "boolean"),
    ("Accounts_AllowUserProfileChange", "boolean"),
    ("Accounts_AllowDeleteOwnAccount", "boolean"),
    ("Accounts_Password_Policy_Enabled", "boolean"),
    ("Accounts_Password_Policy_MinLength", "number"),
    ("Store_Last_Message", "boolean"),
    ("UTF8_User_Names_Validation", "string"),
];

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// `semver.coerce` as the app applies it to `/api/info`'s version: major.minor(.patch).
fn major_minor(version: &str) -> (u64, u64) {
    let mut parts = version
        .split('.')
        .map(|p| p.parse::<u64>().expect("numeric version"));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The app's settings loop (getSettings.ts): `settings.public?_id=…&offset=n` until
/// `total` is reached; every page must make progress.
async fn fetch_settings_like_the_app(
    srv: &Palaver,
    ids: &[&str],
) -> serde_json::Map<String, Value> {
    let mut all = serde_json::Map::new();
    let mut offset = 0;
    loop {
        let (status, body) = srv
            .get_anon(&format!(
                "settings.public?_id={}&offset={offset}",
                ids.join(",")
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["success"], json!(true), "{body}");
        let page = body["settings"].as_array().expect("settings[]");
        for s in page {
            all.insert(s["_id"].as_str().unwrap().to_string(), s["value"].clone());
        }
        offset += page.len();
        let total = body["total"].as_u64().expect("total") as usize;
        if offset >= total {
            break;
        }
        assert!(
            !page.is_empty(),
            "no progress at offset {offset} of {total}: {body}"
        );
    }
    all
}

#[tokio::test]
async fn mobile_app_adds_the_server_logs_in_and_starts_up() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "alice").await;

    // Add server: /api/info must say success and give a version the app can
    // coerce, of the current major series (the app's built-in supported-versions
    // list is expired, so it asks Rocket.Chat's cloud, which lists current releases).
    let (status, info) = srv.get_anon("/api/info").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["success"], json!(true), "{info}");
    let version = info["version"].as_str().expect("version");
    let (major, _) = major_minor(version);
    assert!(major >= 8, "a current Rocket.Chat version, not {version}");
    assert!(
        info.get("supportedVersions").is_none(),
        "no unsigned supportedVersions: the app would reject it: {info}"
    );
    assert!(
        info["minimumClientVersions"]["mobile"].is_string(),
        "{info}"
    );

    // getWebsocketInfo: the DDP handshake succeeds.
    let probe = Ddp::connect(&srv).await;
    probe.close().await;

    // getLoginServices: settings.oauth answers success with a services list.
    let (status, oauth) = srv.get_anon("settings.oauth").await;
    assert_eq!(status, StatusCode::OK, "{oauth}");
    assert_eq!(oauth, json!({"services": [], "success": true}));

    // getLoginSettings (server ≥ 7.0.0: `_id=a,b,…`): the form is shown.
    let login = fetch_settings_like_the_app(&srv, LOGIN_SETTINGS).await;
    assert_eq!(login["Accounts_ShowFormLogin"], json!(true), "{login:?}");
    assert_eq!(login["Accounts_RegistrationForm"], json!("Disabled"));
    assert_eq!(login["Accounts_iframe_enabled"], json!(false));
    assert_eq!(login["Accounts_PasswordReset"], json!(true));
    assert!(
        login["Site_Url"].as_str().unwrap().starts_with("http"),
        "{login:?}"
    );
    for id in login.keys() {
        assert!(
            LOGIN_SETTINGS.contains(&id.as_str()),
            "only what was asked: {id}"
        );
    }

    // Login: REST `login`, then the DDP login with the token (the SDK's order).
    let r = srv
        .try_login(json!({"user": "alice", "password": password_for("alice")}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let data = &r.json["data"];
    let token = data["authToken"].as_str().expect("authToken").to_string();
    let user_id = data["userId"].as_str().expect("userId").to_string();
    let me = &data["me"];
    assert_eq!(me["username"], json!("alice"));
    assert!(me["roles"].is_array() && me["status"].is_string(), "{me}");
    assert_eq!(
        me["settings"]["preferences"]["alsoSendThreadToChannel"],
        json!("default"),
        "{me}"
    );
    let alice = Session {
        user_id: user_id.clone(),
        token: token.clone(),
        username: "alice".into(),
    };
    let mut ddp = Ddp::connect(&srv).await;
    let result = ddp.call_ok("login", json!([{ "resume": token }])).await;
    assert_eq!(result["id"], json!(user_id));

    // Start-up settings, paged the way the app pages them.
    let ids: Vec<&str> = STARTUP_SETTINGS.iter().map(|(id, _)| *id).collect();
    let settings = fetch_settings_like_the_app(&srv, &ids).await;
    for (id, kind) in STARTUP_SETTINGS {
        let v = settings
            .get(*id)
            .unwrap_or_else(|| panic!("{id} missing from settings.public"));
        assert_eq!(json_type(v), *kind, "{id}: {v}");
    }
    assert!(!settings["uniqueID"].as_str().unwrap().is_empty());
    assert_eq!(settings["E2E_Enable"], json!(false));
    assert_eq!(settings["API_Use_REST_For_DDP_Calls"], json!(true));

    // With API_Use_REST_For_DDP_Calls the app calls methods over REST.
    let body = srv
        .post_ok(
            "method.call/license:getModules",
            &alice,
            json!({"message": json!({"msg": "method", "id": "7", "method": "license:getModules", "params": []}).to_string()}),
        )
        .await;
    let answer: Value = serde_json::from_str(body["message"].as_str().unwrap()).unwrap();
    assert_eq!(answer, json!({"msg": "result", "id": "7", "result": []}));

    // Push token registration (push is off until the notification work lands).
    let body = srv
        .post_ok(
            "push.token",
            &alice,
            json!({"id": "device-1", "type": "gcm", "value": "tok", "appName": "chat.rocket.android"}),
        )
        .await;
    assert_eq!(body["result"]["token"], json!({"gcm": "tok"}), "{body}");

    // Rooms and subscriptions sync, then /me.
    let subs = srv.get_ok("subscriptions.get", &alice).await;
    assert!(
        subs["update"].is_array() && subs["remove"].is_array(),
        "{subs}"
    );
    let rooms = srv.get_ok("rooms.get", &alice).await;
    assert!(rooms["update"].is_array(), "{rooms}");
    let me = srv.get_ok("me", &alice).await;
    assert_eq!(
        me["settings"]["preferences"]["sendOnEnter"],
        json!("normal")
    );
    ddp.close().await;
}

#[tokio::test]
async fn reported_version_is_a_setting_and_admins_see_the_full_one() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let (_, info) = srv.get_anon("/api/info").await;
    let anon = info["version"].as_str().unwrap().to_string();
    assert_eq!(anon.split('.').count(), 2, "anonymous: major.minor: {info}");
    assert!(info.get("info").is_none());

    srv.post_ok(
        "settings/Palaver_RocketChat_Version",
        &admin,
        json!({"value": "8.9.2"}),
    )
    .await;
    let (_, info) = srv.get_anon("/api/info").await;
    assert_eq!(info["version"], json!("8.9"));
    let info = srv.get_ok("/api/info", &admin).await;
    assert_eq!(info["version"], json!("8.9.2"));
    assert_eq!(info["info"]["version"], json!("8.9.2"));

    let (status, body) = srv
        .post(
            "settings/Palaver_RocketChat_Version",
            &admin,
            json!({"value": "latest"}),
        )
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "not a version");
}

#[tokio::test]
async fn settings_public_answers_every_filter_form_clients_send() {
    let srv = Palaver::start().await;
    let ids = |body: &Value| -> Vec<String> {
        body["settings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["_id"].as_str().unwrap().to_string())
            .collect()
    };
    let get = |q: String| {
        let srv = &srv;
        async move {
            let (status, body) = srv.get_anon(&format!("settings.public?{q}")).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            body
        }
    };

    let all = get(String::new()).await;
    let total = all["total"].as_u64().unwrap();
    assert!(total > 40, "every public setting: {total}");
    // Secrets and private settings never show.
    let (_, full) = srv
        .get_anon(&format!("settings.public?count={total}"))
        .await;
    let names = ids(&full);
    assert!(!names
        .iter()
        .any(|n| n == "SMTP_Password" || n == "Accounts_RegistrationForm_SecretURL"));
    assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by id");

    // `_id=a,b` (7.x), `query={"_id":{"$in":[…]}}` (6.x), `query={"_id":"…"}`.
    let body = get("_id=Site_Name,uniqueID".into()).await;
    assert_eq!(ids(&body), ["Site_Name", "uniqueID"]);
    assert_eq!(body["total"], json!(2));
    let q = enc(r#"{"_id":{"$in":["Site_Name","Accounts_ShowFormLogin"]}}"#);
    let body = get(format!("query={q}")).await;
    assert_eq!(ids(&body), ["Accounts_ShowFormLogin", "Site_Name"]);
    let q = enc(r#"{"_id": "uniqueID"}"#);
    let body = get(format!("query={q}")).await;
    assert_eq!(ids(&body), ["uniqueID"]);
    let unique = body["settings"][0]["value"].clone();

    // `fields` adds fields; `offset`/`count` page with the filtered total.
    let f = enc(r#"{"type":1}"#);
    let body = get(format!("_id=Site_Name&fields={f}")).await;
    assert_eq!(body["settings"][0]["type"], json!("string"), "{body}");
    let body = get("_id=Site_Name,uniqueID,Site_Url&offset=1&count=1".to_string()).await;
    assert_eq!(ids(&body), ["Site_Url"]);
    assert_eq!(
        (
            body["total"].clone(),
            body["count"].clone(),
            body["offset"].clone()
        ),
        (json!(3), json!(1), json!(1))
    );

    // uniqueID is generated once and kept.
    let mut srv = srv;
    srv.restart().await;
    let (_, body) = srv.get_anon("settings.public?_id=uniqueID").await;
    assert_eq!(
        body["settings"][0]["value"], unique,
        "stable across restarts"
    );
    let admin = srv.admin().await;
    let (status, body) = srv
        .post("settings/uniqueID", &admin, json!({"value": "mine"}))
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-setting-read-only"),
        "uniqueID",
    );
}

#[tokio::test]
async fn unauthenticated_requests_get_rocket_chat_401() {
    let srv = Palaver::start().await;
    for (method, path) in [
        ("GET", "me"),
        ("GET", "subscriptions.get"),
        ("POST", "push.token"),
        ("POST", "method.call/license:getModules"),
        ("GET", "users.getPreferences"),
        ("GET", "pw.getPolicy"),
    ] {
        let (status, body) = if method == "GET" {
            srv.get_anon(path).await
        } else {
            srv.post_anon(path, json!({})).await
        };
        assert_unauthorized(status, &body, path);
    }
}

#[tokio::test]
async fn push_token_is_checked_as_rocket_chat_checks_it() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    for (body, error_type) in [
        (
            json!({"type": "xyz", "value": "t", "appName": "a"}),
            "error-type-param-not-valid",
        ),
        (
            json!({"type": "apn", "appName": "a"}),
            "error-token-param-not-valid",
        ),
        (
            json!({"type": "apn", "value": "t"}),
            "error-appName-param-not-valid",
        ),
        (
            json!({"id": 5, "type": "apn", "value": "t", "appName": "a"}),
            "error-id-param-not-valid",
        ),
    ] {
        let (status, resp) = srv.post("push.token", &admin, body.clone()).await;
        assert_error(status, &resp, 400, Some(error_type), &body.to_string());
    }
    let r = srv
        .request(
            reqwest::Method::DELETE,
            "push.token",
            Some(&admin),
            Body::Json(json!({"token": "t"})),
        )
        .await;
    // Rocket.Chat answers 404 when no such token was registered.
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = srv
        .request(
            reqwest::Method::DELETE,
            "push.token",
            Some(&admin),
            Body::Json(json!({})),
        )
        .await;
    assert_error(
        r.status,
        &r.json,
        400,
        Some("error-token-param-not-valid"),
        "delete",
    );
}
