//! Driving the apps of a test server the way an admin and a user do: the admin REST
//! API under `/api/apps` (install from the marketplace or by upload, status,
//! settings, logs) and `commands.run`; plus building packages in memory (variants of
//! the test apps with an edited manifest, and deliberately broken ones).
//!
//! ```ignore
//! let app = app_admin::install_ok(&srv, &admin, "hello", None, true).await;
//! let r = app_admin::run_command(&srv, &alice, &rid, "hello", "world").await;
//! let entry = app_admin::wait_log(&srv, &admin, "hostile", "the panic", |e| e["fault"] == "panic").await;
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::server::{Body, Palaver, Resp, Session};

/// The multipart boundary of [`upload`]; never occurs in a package in practice.
const BOUNDARY: &str = "palaver-tests-boundary-5b1e93c07d2a4f68";
const MULTIPART_TYPE: &str =
    "multipart/form-data; boundary=palaver-tests-boundary-5b1e93c07d2a4f68";

/// How long [`wait_log`] and [`wait_status`] wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// A `multipart/form-data` body: `(name, file name, bytes)` per field.
pub fn multipart_body(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, file, data) in fields {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(file) => {
                out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                         Content-Type: application/zip\r\n\r\n"
                    )
                    .as_bytes(),
                );
            }
            None => out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// `POST /api/apps` with a multipart upload of `package` (field `app`), the grant
/// (field `permissionsGranted`, a JSON array; omitted when `None`) and `enable`.
pub async fn upload(
    srv: &Palaver,
    admin: &Session,
    package: &[u8],
    grant: Option<&[&str]>,
    enable: bool,
) -> Resp {
    let grant_text = grant.map(|g| serde_json::to_string(g).expect("grant as JSON"));
    let mut fields: Vec<(&str, Option<&str>, &[u8])> = vec![("app", Some("app.zip"), package)];
    if let Some(g) = &grant_text {
        fields.push(("permissionsGranted", None, g.as_bytes()));
    }
    fields.push((
        "enable",
        None,
        if enable {
            b"true".as_slice()
        } else {
            b"false".as_slice()
        },
    ));
    upload_fields(srv, admin, &fields).await
}

/// `POST /api/apps` with a multipart body of `fields` (name, file name, bytes), e.g.
/// an `app` with a `signature`.
pub async fn upload_fields(
    srv: &Palaver,
    admin: &Session,
    fields: &[(&str, Option<&str>, &[u8])],
) -> Resp {
    srv.request(
        Method::POST,
        "/api/apps",
        Some(admin),
        Body::Raw {
            content_type: MULTIPART_TYPE,
            bytes: multipart_body(fields),
        },
    )
    .await
}

/// [`upload`] that must succeed; returns the `app`.
pub async fn upload_ok(
    srv: &Palaver,
    admin: &Session,
    package: &[u8],
    grant: Option<&[&str]>,
    enable: bool,
) -> Value {
    let r = upload(srv, admin, package, grant, enable).await;
    assert!(
        r.status == StatusCode::OK && r.json["success"] == json!(true),
        "upload of a package → {} {}",
        r.status,
        r.text
    );
    r.json["app"].clone()
}

/// `POST /api/apps {appId, permissionsGranted?, enable}`: installs from the marketplace.
pub async fn install(
    srv: &Palaver,
    admin: &Session,
    app_id: &str,
    grant: Option<&[&str]>,
    enable: bool,
) -> Resp {
    let mut body = json!({ "appId": app_id, "enable": enable });
    if let Some(g) = grant {
        body["permissionsGranted"] = json!(g);
    }
    srv.request(Method::POST, "/api/apps", Some(admin), Body::Json(body))
        .await
}

/// [`install`] that must succeed; returns the `app`. With `enable`, also checks that
/// the app came up enabled.
pub async fn install_ok(
    srv: &Palaver,
    admin: &Session,
    app_id: &str,
    grant: Option<&[&str]>,
    enable: bool,
) -> Value {
    let r = install(srv, admin, app_id, grant, enable).await;
    assert!(
        r.status == StatusCode::OK && r.json["success"] == json!(true),
        "install {app_id} → {} {}",
        r.status,
        r.text
    );
    let app = r.json["app"].clone();
    if enable {
        assert_eq!(
            app["status"], "manually_enabled",
            "install {app_id} with enable: {app}"
        );
    }
    app
}

/// `GET /api/apps/{id}` → `app`.
pub async fn app(srv: &Palaver, admin: &Session, id: &str) -> Value {
    srv.get_ok(&format!("/api/apps/{id}"), admin).await["app"].clone()
}

/// `POST /api/apps/{id}/status` to `manually_enabled` or `manually_disabled`.
pub async fn set_status(srv: &Palaver, admin: &Session, id: &str, enabled: bool) -> Resp {
    let status = if enabled {
        "manually_enabled"
    } else {
        "manually_disabled"
    };
    srv.request(
        Method::POST,
        &format!("/api/apps/{id}/status"),
        Some(admin),
        Body::Json(json!({ "status": status })),
    )
    .await
}

/// `POST /api/apps/{id}/settings {"settings": values}`.
pub async fn set_settings(srv: &Palaver, admin: &Session, id: &str, values: Value) -> Resp {
    srv.request(
        Method::POST,
        &format!("/api/apps/{id}/settings"),
        Some(admin),
        Body::Json(json!({ "settings": values })),
    )
    .await
}

/// The value of setting `setting` from `GET /api/apps/{id}/settings`.
pub async fn setting(srv: &Palaver, admin: &Session, id: &str, setting: &str) -> Value {
    let body = srv.get_ok(&format!("/api/apps/{id}/settings"), admin).await;
    body["settings"]
        .as_array()
        .unwrap_or_else(|| panic!("settings of {id}: no array in {body}"))
        .iter()
        .find(|s| s["id"] == setting)
        .unwrap_or_else(|| panic!("settings of {id}: no {setting} in {body}"))["value"]
        .clone()
}

/// Every log entry of app `id`, newest first (all pages of `GET /api/apps/{id}/logs`).
pub async fn logs(srv: &Palaver, admin: &Session, id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let body = srv
            .get_ok(
                &format!("/api/apps/{id}/logs?offset={}&count=100", all.len()),
                admin,
            )
            .await;
        let page = body["logs"]
            .as_array()
            .unwrap_or_else(|| panic!("logs of {id}: no array in {body}"))
            .clone();
        let total = body["total"].as_u64().unwrap_or(0) as usize;
        let empty = page.is_empty();
        all.extend(page);
        if empty || all.len() >= total {
            return all;
        }
    }
}

/// Waits (up to [`WAIT`]) for a log entry of app `id` matching `pred` (entries are
/// written off the request path) and returns it.
pub async fn wait_log(
    srv: &Palaver,
    admin: &Session,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let entries = logs(srv, admin, id).await;
        if let Some(e) = entries.iter().find(|e| pred(e)) {
            return e.clone();
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "no log entry of {id} for {what} within {WAIT:?}; its log (newest first):\n{}",
                entries
                    .iter()
                    .take(40)
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (up to [`WAIT`]) until app `id` has at least `count` log entries matching
/// `pred`; returns them (newest first). Count the matches before an action and wait
/// for one more to see the entry that action wrote.
pub async fn wait_log_count(
    srv: &Palaver,
    admin: &Session,
    id: &str,
    what: &str,
    count: usize,
    pred: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let entries = logs(srv, admin, id).await;
        let matching: Vec<Value> = entries.iter().filter(|e| pred(e)).cloned().collect();
        if matching.len() >= count {
            return matching;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{} log entries of {id} for {what} within {WAIT:?}, expected {count}; its log (newest first):\n{}",
                matching.len(),
                entries
                    .iter()
                    .take(40)
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many log entries of app `id` match `pred` now.
pub async fn count_logs(
    srv: &Palaver,
    admin: &Session,
    id: &str,
    pred: impl Fn(&Value) -> bool,
) -> usize {
    logs(srv, admin, id)
        .await
        .iter()
        .filter(|e| pred(e))
        .count()
}

/// Whether a log entry's message contains `needle`.
pub fn says(entry: &Value, needle: &str) -> bool {
    entry["message"]
        .as_str()
        .is_some_and(|m| m.contains(needle))
}

/// Waits (up to [`WAIT`]) until app `id` has `status`; returns the app.
pub async fn wait_status(srv: &Palaver, admin: &Session, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let app = app(srv, admin, id).await;
        if app["status"] == status {
            return app;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("app {id} did not reach status {status} within {WAIT:?}: {app}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `POST /api/v1/commands.run {command, roomId, params}` as `who`.
pub async fn run_command(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    command: &str,
    params: &str,
) -> Resp {
    srv.request(
        Method::POST,
        "commands.run",
        Some(who),
        Body::Json(json!({ "command": command, "roomId": rid, "params": params })),
    )
    .await
}

/// [`run_command`] that must succeed; returns `result`.
pub async fn run_ok(srv: &Palaver, who: &Session, rid: &str, command: &str, params: &str) -> Value {
    let r = run_command(srv, who, rid, command, params).await;
    assert!(
        r.status == StatusCode::OK && r.json["success"] == json!(true),
        "/{command} {params} → {} {}",
        r.status,
        r.text
    );
    r.json["result"].clone()
}

/// The ephemeral answer of a command that must succeed.
pub async fn ephemeral(
    srv: &Palaver,
    who: &Session,
    rid: &str,
    command: &str,
    params: &str,
) -> String {
    let result = run_ok(srv, who, rid, command, params).await;
    result["ephemeral"]
        .as_str()
        .unwrap_or_else(|| panic!("/{command} {params}: no ephemeral text in {result}"))
        .to_string()
}

/// The manifest of the app in `app_dir`, edited by `edit`, as TOML text.
pub fn edited_manifest(app_dir: &Path, edit: impl FnOnce(&mut toml::Table)) -> String {
    let path = app_dir.join("app.toml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    edit(&mut table);
    toml::to_string(&table).expect("serialise the edited manifest")
}

/// The `networking` permission of a manifest table, for editing its `hosts`.
pub fn networking(manifest: &mut toml::Table) -> &mut toml::Table {
    manifest
        .get_mut("permissions")
        .and_then(|p| p.as_array_mut())
        .expect("the manifest has permissions")
        .iter_mut()
        .filter_map(|p| p.as_table_mut())
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some("networking"))
        .expect("the manifest asks for networking")
}

/// Appends `hosts` to the `networking` hosts of a manifest table.
pub fn add_hosts(manifest: &mut toml::Table, hosts: &[String]) {
    let list = networking(manifest)
        .get_mut("hosts")
        .and_then(|h| h.as_array_mut())
        .expect("networking has hosts");
    for h in hosts {
        list.push(toml::Value::String(h.clone()));
    }
}

/// A zip of `entries` (name, bytes), deflated, with regular-file permissions.
pub fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = ZipWriter::new(&mut out);
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(0o644);
        for (name, data) in entries {
            zip.start_file(*name, options).expect("start a zip entry");
            zip.write_all(data).expect("write a zip entry");
        }
        zip.finish().expect("finish the zip");
    }
    out.into_inner()
}

/// The `events` of a [`polite_copy_manifest`] that runs its pre-send hook.
pub const PRE_SEND: &str = "[\"pre-message-sent\"]";

/// The manifest of benchmark copy `id` of the `polite` test app, subscribed to
/// `events` (a TOML array, e.g. [`PRE_SEND`]) and allowed to read messages.
pub fn polite_copy_manifest(id: &str, events: &str) -> String {
    format!(
        "id = \"{id}\"\nname = \"Polite {id}\"\nversion = \"0.1.0\"\n\
         description = \"Benchmark copy of polite: a pre-send hook.\"\n\
         api-version = \"0.1.0\"\nevents = {events}\n\
         [author]\nname = \"Palaver benchmarks\"\n\
         [[permissions]]\nname = \"message.read\"\nreason = \"Sees messages before they are stored.\"\n"
    )
}

/// A package: `app.toml` = `manifest`, `app.wasm` = `wasm`.
pub fn package_bytes(manifest: &str, wasm: &[u8]) -> Vec<u8> {
    zip_bytes(&[("app.toml", manifest.as_bytes()), ("app.wasm", wasm)])
}

/// Writes a package of `manifest` and `wasm` into `out_dir` as
/// `<id>-<version>.zip` (atomically) and returns its path.
pub fn write_package(out_dir: &Path, manifest: &str, wasm: &[u8]) -> PathBuf {
    let table: toml::Table = toml::from_str(manifest).expect("the manifest parses");
    let field = |k: &str| table[k].as_str().expect("string field").to_string();
    fs::create_dir_all(out_dir).expect("create the marketplace directory");
    let path = out_dir.join(format!("{}-{}.zip", field("id"), field("version")));
    let partial = out_dir.join(format!(
        ".{}.partial",
        path.file_name().unwrap().to_string_lossy()
    ));
    fs::write(&partial, package_bytes(manifest, wasm)).expect("write the package");
    fs::rename(&partial, &path).expect("move the package into place");
    path
}
