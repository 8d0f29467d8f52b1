//! What the apps end-to-end tests share: a marketplace directory holding the built
//! apps, a server with small limits (so faults come fast), and the check that the
//! server and the well-behaved `polite` app still work.

#![allow(dead_code)]

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use palaver_tests::app_admin::{self, run_ok};
use palaver_tests::apps;
use palaver_tests::server::{Palaver, PalaverBuilder, Session};

/// The small limits the apps tests run with.
pub const COMMAND_DEADLINE_MS: u64 = 1_500;
pub const PRE_SEND_DEADLINE_MS: u64 = 500;
pub const MEMORY_MIB: u64 = 32;
pub const FAULTS_BEFORE_DISABLE: u32 = 3;

/// A fresh marketplace directory with `hello`, `hostile`, `polite` and `guard` packed
/// in it (the apps are built once per test process).
pub fn marketplace() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("palaver-marketplace-")
        .tempdir()
        .expect("create a marketplace directory");
    apps::hello_package(dir.path());
    apps::hostile_package(dir.path());
    apps::polite_package(dir.path());
    apps::guard_package(dir.path());
    dir
}

/// The component of an app crate (`hello` from `sample-apps/`, the others from
/// `tests/apps/`).
pub fn wasm(crate_name: &str) -> Vec<u8> {
    let workspace = if crate_name == "hello" {
        apps::sample_apps_dir()
    } else {
        apps::test_apps_dir()
    };
    std::fs::read(apps::wasm_path(&workspace, crate_name)).expect("read the built component")
}

/// The directory of an app crate's sources (its `app.toml`).
pub fn app_dir(crate_name: &str) -> std::path::PathBuf {
    if crate_name == "hello" {
        apps::sample_apps_dir().join("hello")
    } else {
        apps::test_apps_dir().join(crate_name)
    }
}

/// A server builder reading `marketplace`, with the small limits.
pub fn server(marketplace: &Path) -> PalaverBuilder {
    Palaver::builder()
        .env("PALAVER_MARKETPLACE_DIR", marketplace.display().to_string())
        .env(
            "PALAVER_APPS__LIMITS__COMMAND_DEADLINE_MS",
            COMMAND_DEADLINE_MS.to_string(),
        )
        .env(
            "PALAVER_APPS__LIMITS__PRE_SEND_DEADLINE_MS",
            PRE_SEND_DEADLINE_MS.to_string(),
        )
        .env("PALAVER_APPS__LIMITS__MEMORY_MIB", MEMORY_MIB.to_string())
        .env(
            "PALAVER_APPS__LIMITS__FAULTS_BEFORE_DISABLE",
            FAULTS_BEFORE_DISABLE.to_string(),
        )
}

/// `PALAVER_APPS__HTTP_ALLOW` for `addresses` (a TOML-ish array figment reads).
pub fn http_allow(addresses: &[String]) -> String {
    let quoted: Vec<String> = addresses.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Creates a public channel as `owner` with `members`; returns its id.
pub async fn channel(srv: &Palaver, owner: &Session, name: &str, members: &[&str]) -> String {
    let body = srv
        .post_ok(
            "channels.create",
            owner,
            json!({ "name": name, "members": members }),
        )
        .await;
    body["channel"]["_id"]
        .as_str()
        .expect("channel id")
        .to_string()
}

/// Posts over REST; returns the status and body.
pub async fn try_post(srv: &Palaver, who: &Session, rid: &str, text: &str) -> (StatusCode, Value) {
    srv.post(
        "chat.postMessage",
        who,
        json!({ "roomId": rid, "text": text }),
    )
    .await
}

/// Posts over REST and must succeed; returns the stored message.
pub async fn post(srv: &Palaver, who: &Session, rid: &str, text: &str) -> Value {
    let (status, body) = try_post(srv, who, rid, text).await;
    assert!(
        status == StatusCode::OK && body["success"] == json!(true),
        "post {text:?} → {status} {body}"
    );
    body["message"].clone()
}

/// Asserts a post was prevented by app `app_name` (400 `error-app-prevented`,
/// the error naming the app and containing `reason`).
#[track_caller]
pub fn assert_prevented(status: StatusCode, body: &Value, app_name: &str, reason: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["errorType"], "error-app-prevented", "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(app_name) && error.contains(reason),
        "the refusal must name the app {app_name:?} and say {reason:?}: {body}"
    );
}

/// The texts of the latest messages of a public channel (newest first).
pub async fn history(srv: &Palaver, who: &Session, rid: &str) -> Vec<Value> {
    let body = srv
        .get_ok(&format!("channels.history?roomId={rid}&count=100"), who)
        .await;
    body["messages"]
        .as_array()
        .expect("messages array")
        .to_vec()
}

pub async fn history_texts(srv: &Palaver, who: &Session, rid: &str) -> Vec<String> {
    history(srv, who, rid)
        .await
        .iter()
        .filter_map(|m| m["msg"].as_str().map(str::to_string))
        .collect()
}

/// The server still serves, and `polite` still answers its command and its hook still
/// rewrites messages (`ctx` says after what).
pub async fn assert_polite_still_works(srv: &Palaver, who: &Session, rid: &str, ctx: &str) {
    let (status, info) = srv.get_anon("/api/info").await;
    assert_eq!(status, StatusCode::OK, "{ctx}: /api/info → {info}");
    let result = run_ok(srv, who, rid, "polite", "").await;
    assert_eq!(
        result["ephemeral"], "polite reply",
        "{ctx}: /polite → {result}"
    );
    assert_eq!(result["appId"], "polite", "{ctx}: {result}");
    let m = post(srv, who, rid, &format!("please, after {ctx}")).await;
    assert_eq!(
        m["msg"],
        json!(format!("please, after {ctx} (polite)")),
        "{ctx}: polite's hook: {m}"
    );
}

/// Installs `polite` (enabled) from the marketplace.
pub async fn install_polite(srv: &Palaver, admin: &Session) {
    app_admin::install_ok(srv, admin, "polite", None, true).await;
}
