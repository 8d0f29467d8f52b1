//! The app lifecycle through the admin REST API, with a restart in the middle, on
//! both storage backends: the marketplace listing, grants (and refused grants),
//! install disabled then enable, settings, an update, persistence, a disabled app;
//! after the restart everything is back; then uninstall and install again.
//!
//! Scheduled jobs are not covered: no test app keeps a job it could show (hostile
//! schedules only one-hour jobs, and nothing lists an app's jobs over REST).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::apps_support::{self as support, assert_prevented, channel, post, try_post};
use palaver_tests::app_admin::{
    self, edited_manifest, ephemeral, install, install_ok, run_command, run_ok, says, set_settings,
    setting, wait_log, write_package,
};
use palaver_tests::server::{Body, Palaver, PalaverBuilder, Session};

/// The persistence byte quota of these tests (keys count, and hostile's are 12
/// bytes): three 30-byte values fit (126), a fourth does not (168).
const MAX_BYTES: u64 = 140;

fn names(apps: &Value) -> Vec<String> {
    let mut ids: Vec<String> = apps
        .as_array()
        .unwrap_or_else(|| panic!("expected an apps array, got {apps}"))
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids
}

/// How many messages in the channel `rid` read exactly `text`.
async fn count_texts(srv: &Palaver, who: &Session, rid: &str, text: &str) -> usize {
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=100"), who)
        .await;
    history["messages"]
        .as_array()
        .map_or(0, |m| m.iter().filter(|m| m["msg"] == text).count())
}

async fn installed(srv: &Palaver, admin: &Session) -> Value {
    srv.get_ok("/api/apps", admin).await["apps"].clone()
}

async fn command_names(srv: &Palaver, who: &Session) -> Vec<String> {
    let body = srv.get_ok("commands.list?count=100", who).await;
    body["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .map(|c| c["command"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn lifecycle(builder: impl FnOnce(&std::path::Path) -> PalaverBuilder) {
    let market = support::marketplace();
    // hello 0.2.0 (same component) for the update, and 0.3.0 asking for more.
    let v2 = edited_manifest(&support::app_dir("hello"), |m| {
        m.insert("version".into(), "0.2.0".into());
    });
    write_package(market.path(), &v2, &support::wasm("hello"));
    let v3 = edited_manifest(&support::app_dir("hello"), |m| {
        m.insert("version".into(), "0.3.0".into());
        let perms = m
            .get_mut("permissions")
            .and_then(|p| p.as_array_mut())
            .expect("permissions");
        let mut extra = toml::Table::new();
        extra.insert("name".into(), "persistence".into());
        extra.insert("reason".into(), "Remembers things.".into());
        perms.push(toml::Value::Table(extra));
    });
    write_package(market.path(), &v3, &support::wasm("hello"));
    let mut srv = builder(market.path())
        .env(
            "PALAVER_APPS__LIMITS__PERSISTENCE_MAX_BYTES",
            MAX_BYTES.to_string(),
        )
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "life", &["alice"]).await;

    // The marketplace lists every package with what it asks for and its sha256.
    let listing = srv.get_ok("/api/apps/marketplace", &admin).await;
    let apps = listing["apps"].as_array().expect("apps").clone();
    let hello = apps
        .iter()
        .find(|a| a["id"] == "hello" && a["version"] == "0.1.0")
        .unwrap_or_else(|| panic!("hello 0.1.0 is not listed: {listing}"));
    assert_eq!(hello["valid"], true, "{hello}");
    assert_eq!(hello["name"], "Hello", "{hello}");
    let file = std::fs::read(market.path().join("hello-0.1.0.zip")).expect("read the package");
    assert_eq!(
        hello["sha256"],
        json!(hex::encode(Sha256::digest(&file))),
        "{hello}"
    );
    let networking = hello["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .find(|p| p["name"] == "networking")
        .expect("networking is asked for");
    assert_eq!(networking["hosts"], json!(["example.com"]), "{networking}");
    assert_eq!(networking["required"], false, "{networking}");
    assert_eq!(hello["commands"][0]["name"], "hello", "{hello}");
    assert!(
        hello["settings"]
            .as_array()
            .expect("settings")
            .iter()
            .any(|s| s["id"] == "forbidden-word"),
        "{hello}"
    );
    for v in ["0.2.0", "0.3.0"] {
        assert!(
            apps.iter().any(|a| a["id"] == "hello" && a["version"] == v),
            "hello {v} is listed separately: {listing}"
        );
    }
    for id in ["hostile", "polite", "guard"] {
        assert!(apps.iter().any(|a| a["id"] == id), "{id}: {listing}");
    }
    // Admins only.
    let (status, _) = srv.get("/api/apps/marketplace", &alice).await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
        "{status}"
    );

    // A grant must be a subset of what is asked for, with everything required.
    let r = install(&srv, &admin, "hello", Some(&["filesystem"]), true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("filesystem"), "{}", r.text);
    let r = install(&srv, &admin, "hello", Some(&["message.read"]), true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("slashcommand"), "{}", r.text);
    assert_eq!(r.json["errorType"], "error-app-grant-invalid", "{}", r.text);
    let r = install(&srv, &admin, "nosuchapp", None, true).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json["errorType"], "error-app-not-found", "{}", r.text);
    assert!(
        r.json["error"]
            .as_str()
            .is_some_and(|e| e.contains("the marketplace has no app \"nosuchapp\"")),
        "{}",
        r.text
    );
    assert_eq!(names(&installed(&srv, &admin).await), Vec::<String>::new());

    // Installed disabled: no command yet.
    // The newest version is the default; this one is asked for by version.
    let grant = ["slashcommand", "message.write", "message.read"];
    let r = srv
        .request(
            Method::POST,
            "/api/apps",
            Some(&admin),
            Body::Json(json!({"appId": "hello", "version": "0.1.0", "permissionsGranted": grant})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let app = r.json["app"].clone();
    assert_eq!(app["version"], "0.1.0", "{app}");
    assert_eq!(app["enabled"], false, "{app}");
    assert_ne!(app["status"], "manually_enabled", "{app}");
    let mut granted: Vec<String> = serde_json::from_value(app["permissionsGranted"].clone())
        .expect("permissionsGranted is a list");
    granted.sort();
    assert_eq!(granted, ["message.read", "message.write", "slashcommand"]);
    assert!(!command_names(&srv, &alice)
        .await
        .contains(&"hello".to_string()));
    let r = install(&srv, &admin, "hello", None, true).await;
    assert_eq!(
        r.json["errorType"], "error-app-already-installed",
        "{}",
        r.text
    );

    // Enabled: the command appears.
    let r = app_admin::set_status(&srv, &admin, "hello", true).await;
    assert_eq!(r.json["status"], "manually_enabled", "{}", r.text);
    assert!(command_names(&srv, &alice)
        .await
        .contains(&"hello".to_string()));
    run_ok(&srv, &alice, &rid, "hello", "there").await;

    // Settings.
    let r = set_settings(&srv, &admin, "hello", json!({"forbidden-word": "kumquat"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (status, body) = try_post(&srv, &alice, &rid, "a kumquat").await;
    assert_prevented(status, &body, "Hello", "kumquat");

    // An update keeps settings and the enabled state…
    let r = srv
        .request(
            Method::POST,
            "/api/apps/hello/update",
            Some(&admin),
            // The same grant again (see `an_update_asking_nothing_new_keeps_the_grant`).
            Body::Json(json!({"version": "0.2.0", "permissionsGranted": grant})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["app"]["version"], "0.2.0", "{}", r.text);
    assert_eq!(r.json["app"]["status"], "manually_enabled", "{}", r.text);
    assert_eq!(
        setting(&srv, &admin, "hello", "forbidden-word").await,
        "kumquat"
    );
    // …and one asking for more permissions needs them granted again.
    let r = srv
        .request(
            Method::POST,
            "/api/apps/hello/update",
            Some(&admin),
            Body::Json(json!({"version": "0.3.0"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.json["errorType"], "error-app-permissions-changed",
        "{}",
        r.text
    );
    assert!(
        r.json["permissionDiff"]["added"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("persistence"))),
        "{}",
        r.text
    );
    assert_eq!(
        app_admin::app(&srv, &admin, "hello").await["version"],
        "0.2.0"
    );

    // Persistence: three 30-byte values fit under the 100-byte quota.
    install_ok(
        &srv,
        &admin,
        "hostile",
        Some(&["slashcommand", "persistence", "scheduler", "message.write"]),
        true,
    )
    .await;
    assert_eq!(
        ephemeral(&srv, &alice, &rid, "hostile", "persist-fill 30").await,
        "wrote 3 keys (90 bytes) then limit-exceeded(persistence-bytes)"
    );
    // A disabled app stays disabled.
    support::install_polite(&srv, &admin).await;
    let r = app_admin::set_status(&srv, &admin, "polite", false).await;
    assert_eq!(r.json["status"], "manually_disabled", "{}", r.text);

    // A job due after the restart: it is stored, so it runs then.
    assert_eq!(
        ephemeral(&srv, &alice, &rid, "hostile", "remind 3").await,
        "scheduled"
    );

    // ------------------------------------------------------------ restart
    srv.restart().await;
    let admin = srv.admin().await;
    let alice = srv
        .login("alice", &palaver_tests::server::password_for("alice"))
        .await;

    let apps = installed(&srv, &admin).await;
    assert_eq!(names(&apps), ["hello", "hostile", "polite"], "{apps}");
    let by_id = |id: &str| {
        apps.as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()
            .clone()
    };
    let hello = by_id("hello");
    assert_eq!(hello["status"], "manually_enabled", "{hello}");
    assert_eq!(hello["version"], "0.2.0", "{hello}");
    let mut granted: Vec<String> =
        serde_json::from_value(hello["permissionsGranted"].clone()).expect("list");
    granted.sort();
    assert_eq!(granted, ["message.read", "message.write", "slashcommand"]);
    assert_eq!(by_id("polite")["status"], "manually_disabled");
    assert_eq!(by_id("hostile")["status"], "manually_enabled");

    // Settings, hooks and commands are back.
    assert_eq!(
        setting(&srv, &admin, "hello", "forbidden-word").await,
        "kumquat"
    );
    let (status, body) = try_post(&srv, &alice, &rid, "kumquat again").await;
    assert_prevented(status, &body, "Hello", "kumquat");
    let result = run_ok(&srv, &alice, &rid, "hello", "again").await;
    assert_eq!(
        result["ephemeral"], "Said hello to again in life.",
        "{result}"
    );
    let commands = command_names(&srv, &alice).await;
    assert!(commands.contains(&"hello".to_string()), "{commands:?}");
    assert!(commands.contains(&"hostile".to_string()), "{commands:?}");
    assert!(!commands.contains(&"polite".to_string()), "{commands:?}");
    let r = run_command(&srv, &alice, &rid, "polite", "").await;
    assert_eq!(r.json["errorType"], "error-invalid-command", "{}", r.text);

    // Persistence is back: the 126 stored bytes still count, so replacing the first
    // 30-byte value with 40 bytes fits (136) and the second does not (146); with an
    // empty store two would fit.
    assert_eq!(
        ephemeral(&srv, &alice, &rid, "hostile", "persist-fill 40").await,
        "wrote 1 keys (40 bytes) then limit-exceeded(persistence-bytes)"
    );
    // The job scheduled before the restart ran after it, once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while count_texts(&srv, &alice, &rid, "hostile job ran").await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the job scheduled before the restart never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        count_texts(&srv, &alice, &rid, "hostile job ran").await,
        1,
        "a once job runs once"
    );

    // The log is back too.
    wait_log(&srv, &admin, "hello", "the install entry", |e| {
        says(e, "installed version 0.1.0")
    })
    .await;
    wait_log(&srv, &admin, "hello", "the update entry", |e| {
        says(e, "updated from 0.1.0 to 0.2.0")
    })
    .await;

    // Uninstall: the app, its command, hook and settings are gone.
    let r = srv
        .request(Method::DELETE, "/api/apps/hello", Some(&admin), Body::None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .request(Method::GET, "/api/apps/hello", Some(&admin), Body::None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.json["errorType"], "error-app-not-found", "{}", r.text);
    let r = run_command(&srv, &alice, &rid, "hello", "").await;
    assert_eq!(r.json["errorType"], "error-invalid-command", "{}", r.text);
    post(&srv, &alice, &rid, "kumquat is fine now").await;
    assert_eq!(names(&installed(&srv, &admin).await), ["hostile", "polite"]);
    // Installed again (the newest version, everything it asks for granted), it
    // starts from its defaults.
    let app = install_ok(&srv, &admin, "hello", None, true).await;
    assert_eq!(app["version"], "0.3.0", "{app}");
    assert!(
        app["permissionsGranted"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("persistence")) && p.contains(&json!("networking"))),
        "{app}"
    );
    assert_eq!(
        setting(&srv, &admin, "hello", "forbidden-word").await,
        "forbidden"
    );
    post(&srv, &alice, &rid, "kumquat is still fine").await;
    let (status, body) = try_post(&srv, &alice, &rid, "forbidden again").await;
    assert_prevented(status, &body, "Hello", "forbidden");
}

#[tokio::test]
async fn lifecycle_survives_a_restart_on_sqlite() {
    lifecycle(|market| support::server(market).sqlite()).await;
}

#[tokio::test]
async fn lifecycle_survives_a_restart_on_mongodb() {
    let db = format!(
        "palaver_apps_lifecycle_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let uri = tokio::task::spawn_blocking(move || palaver_tests::mongo::mongo_uri(&db))
        .await
        .expect("mongo_uri");
    lifecycle(move |market| support::server(market).storage_uri(uri)).await;
}

/// An update whose manifest asks for nothing new must not need the grant again, even
/// when the admin declined an optional permission at install (hello's `networking`).
#[tokio::test]
async fn an_update_asking_nothing_new_keeps_the_grant() {
    let market = support::marketplace();
    let v2 = edited_manifest(&support::app_dir("hello"), |m| {
        m.insert("version".into(), "0.2.0".into());
    });
    write_package(market.path(), &v2, &support::wasm("hello"));
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let grant = ["slashcommand", "message.write", "message.read"];
    let r = srv
        .request(
            Method::POST,
            "/api/apps",
            Some(&admin),
            Body::Json(
                json!({"appId": "hello", "version": "0.1.0", "permissionsGranted": grant, "enable": true}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = srv
        .request(
            Method::POST,
            "/api/apps/hello/update",
            Some(&admin),
            Body::Json(json!({"version": "0.2.0"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["app"]["version"], "0.2.0", "{}", r.text);
    let mut granted: Vec<String> =
        serde_json::from_value(r.json["app"]["permissionsGranted"].clone()).expect("list");
    granted.sort();
    assert_eq!(granted, ["message.read", "message.write", "slashcommand"]);
    assert_eq!(
        r.json["permissionDiff"],
        json!({"added": [], "removed": []}),
        "{}",
        r.text
    );
}
