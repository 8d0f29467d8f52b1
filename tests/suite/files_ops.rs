//! Operating the file storage: `palaver files migrate` (local → S3, verified,
//! resumable, app packages too), a crash in the middle of an upload (local, and S3
//! mid-multipart), two instances on MongoDB + S3 serving the same files, and the
//! direct-message file listing.

use std::process::Command;
use std::time::{Duration, Instant};

use palaver_tests::mongo::mongo_uri;
use palaver_tests::server::{palaver_bin, ADMIN_PASSWORD, ADMIN_USERNAME};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::{auth, count_files, fetch, media_and_confirm, pattern, set_setting};

/// The S3 connection settings of a fresh prefix on the shared rclone peer (the
/// storage type left as it is).
fn s3_settings() -> Vec<(&'static str, Value)> {
    s3_settings_of(&palaver_tests::rclone::s3().config())
}

/// The S3 connection settings of `peer`.
fn s3_settings_of(peer: &palaver_server::files::S3Config) -> Vec<(&'static str, Value)> {
    vec![
        ("FileUpload_S3_BucketURL", json!(peer.endpoint)),
        ("FileUpload_S3_Bucket", json!(peer.bucket)),
        ("FileUpload_S3_Region", json!(peer.region)),
        ("FileUpload_S3_ForcePathStyle", json!(true)),
        ("FileUpload_S3_AWSAccessKeyId", json!(peer.access_key)),
        ("FileUpload_S3_AWSSecretAccessKey", json!(peer.secret_key)),
        ("FileUpload_S3_Prefix", json!(peer.prefix)),
    ]
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `palaver files migrate --to TO --batch 1` against `srv` as the admin.
fn migrate(srv: &Palaver, to: &str) -> Run {
    let out = Command::new(palaver_bin())
        .args(["files", "migrate", "--to", to, "--batch", "1"])
        .args(["--url", &srv.base_url(), "--user", ADMIN_USERNAME])
        .env("PALAVER_PASSWORD", ADMIN_PASSWORD)
        .env_remove("PALAVER_USER_ID")
        .env_remove("PALAVER_AUTH_TOKEN")
        .output()
        .expect("run palaver files migrate");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The local backend's path of an object key (as `files::local` lays it out).
fn local_object(srv: &Palaver, key: &str) -> std::path::PathBuf {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(key.as_bytes()));
    srv.data_dir().join("uploads").join(&hash[..2]).join(hash)
}

#[tokio::test]
async fn migrate_local_to_s3_verifies_resumes_and_switches() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let channel = create_channel(&srv, &alice, "archive", &[]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();
    let mut files = Vec::new();
    for (i, name) in ["one.bin", "two.bin", "three.txt"].iter().enumerate() {
        let data = pattern(200_000 + i * 1000);
        let (id, url, _) = media_and_confirm(
            &srv,
            &alice,
            &rid,
            name,
            "application/octet-stream",
            data.clone(),
        )
        .await;
        files.push((id, url, data));
    }
    for (id, value) in s3_settings() {
        set_setting(&srv, &admin, id, value).await;
    }

    // The second file's bytes are damaged on disk (same size): the migration copies
    // the first, refuses the second by its sha256 and stops, the setting unchanged.
    let second = local_object(&srv, &format!("uploads/{}", files[1].0));
    let mut damaged = files[1].2.clone();
    damaged[1234] ^= 0xff;
    std::fs::write(&second, &damaged).unwrap();
    let run = migrate(&srv, "s3");
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("migrated 1 file(s), 2 remaining"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("sha256") && run.stderr.contains(&files[1].0),
        "the error names the file and the checksum: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("run the command again"),
        "{}",
        run.stderr
    );
    let setting = srv.get_ok("settings/FileUpload_Storage_Type", &admin).await;
    assert_eq!(setting["value"], json!("FileSystem"), "{setting}");
    // The first file now lives on S3: served with its local copy gone.
    std::fs::remove_file(local_object(&srv, &format!("uploads/{}", files[0].0))).unwrap();
    let (status, _, bytes) = fetch(&srv, &files[0].1, &auth(&alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == files[0].2, "first file after its copy");

    // Repaired, and after a restart (progress is in the store): the next run resumes
    // with the second file, never copies the first again, and switches the storage.
    std::fs::write(&second, &files[1].2).unwrap();
    srv.restart().await;
    let run = migrate(&srv, "s3");
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "migrated 1 file(s), 1 remaining",
            "migrated 2 file(s), 0 remaining",
            "copied 0 app package(s)",
            "storage switched to AmazonS3"
        ],
        "{}",
        run.stdout
    );
    let setting = srv.get_ok("settings/FileUpload_Storage_Type", &admin).await;
    assert_eq!(setting["value"], json!("AmazonS3"), "{setting}");

    // The local directory can go: every file is served from S3, ranges too.
    std::fs::remove_dir_all(srv.data_dir().join("uploads")).unwrap();
    for (_, url, data) in &files {
        let (status, _, bytes) = fetch(&srv, url, &auth(&alice)).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        assert!(&bytes == data, "{url} after the switch");
        let (status, _, part) = fetch(
            &srv,
            url,
            &[auth(&alice)[0], auth(&alice)[1], ("Range", "bytes=10-19")],
        )
        .await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(part, data[10..20]);
    }
    // New uploads go to S3; nothing appears locally.
    let (_, url, _) =
        media_and_confirm(&srv, &alice, &rid, "new.txt", "text/plain", b"new".to_vec()).await;
    assert_eq!(fetch(&srv, &url, &auth(&alice)).await.2, b"new".to_vec());
    assert_eq!(count_files(&srv.data_dir().join("uploads")), 0);
    // Running it again has nothing to do.
    let run = migrate(&srv, "s3");
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("0 remaining"), "{}", run.stdout);

    // Only admins may migrate; an unknown backend is refused.
    let (status, body) = srv
        .post("files.migrate", &alice, json!({"to": "local"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = srv
        .post("files.migrate", &admin, json!({"to": "gridfs"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// The sha256 (hex) of the object `key` on `peer`, read through the S3 API.
async fn s3_object_sha(peer: &palaver_server::files::S3Config, key: &str) -> Option<String> {
    use sha2::Digest;
    let storage = palaver_server::files::Storage::open(&palaver_server::files::StorageConfig::S3(
        peer.clone(),
    ))
    .unwrap();
    let bytes = storage.read_all(key, 64 << 20).await.ok()?;
    Some(hex::encode(sha2::Sha256::digest(&bytes)))
}

#[tokio::test]
async fn migrate_moves_app_packages_and_an_instance_without_them_runs_the_app() {
    use palaver_tests::app_admin::{run_command, upload_ok};
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let hello = std::fs::read(palaver_tests::apps::hello_package(dir.path())).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&hello));
    let key = format!("apps/packages/{sha}.zip");
    // No marketplace: the app can only come from its stored package.
    let market = tempfile::tempdir().unwrap();
    let mut srv = crate::apps_support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = crate::apps_support::channel(&srv, &admin, "lobby", &["alice"]).await;
    upload_ok(&srv, &admin, &hello, None, true).await;
    let (_, url, _) =
        media_and_confirm(&srv, &alice, &rid, "a.txt", "text/plain", b"abc".to_vec()).await;
    assert!(
        local_object(&srv, &key).exists(),
        "the package is in the local storage"
    );

    let peer = palaver_tests::rclone::s3().config();
    for (id, value) in s3_settings_of(&peer) {
        set_setting(&srv, &admin, id, value).await;
    }
    let run = migrate(&srv, "s3");
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "migrated 1 file(s), 0 remaining",
            "copied 1 app package(s)",
            "storage switched to AmazonS3"
        ],
        "{}",
        run.stdout
    );
    assert_eq!(
        s3_object_sha(&peer, &key).await.as_deref(),
        Some(sha.as_str())
    );

    // Again: the package is there whole, nothing is copied.
    let run = migrate(&srv, "s3");
    assert!(
        run.stdout.contains("copied 0 app package(s)"),
        "{}",
        run.stdout
    );
    // A damaged copy on the target is found by its sha256 and replaced.
    let storage = palaver_server::files::Storage::open(&palaver_server::files::StorageConfig::S3(
        peer.clone(),
    ))
    .unwrap();
    let garbage: palaver_server::files::ByteStream = Box::pin(futures::stream::iter([Ok(
        bytes::Bytes::from_static(b"not a package"),
    )]));
    storage.put(&key, garbage, None).await.unwrap();
    let run = migrate(&srv, "s3");
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("copied 1 app package(s)"),
        "{}",
        run.stdout
    );
    assert_eq!(
        s3_object_sha(&peer, &key).await.as_deref(),
        Some(sha.as_str())
    );

    // An instance with neither the local storage nor the package cache (a new one,
    // or this one's disk lost): the app loads from S3 and answers, the file serves.
    assert!(srv.stop(Duration::from_secs(10)).await, "clean stop");
    std::fs::remove_dir_all(srv.data_dir().join("uploads")).unwrap();
    std::fs::remove_dir_all(srv.data_dir().join("apps").join("packages")).unwrap();
    srv.start_again().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = run_command(&srv, &alice, &rid, "hello", "there").await;
        if r.status == StatusCode::OK && r.json["success"] == json!(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/hello never answered: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(fetch(&srv, &url, &auth(&alice)).await.2, b"abc".to_vec());
}

#[tokio::test]
async fn kill_9_during_an_upload_leaves_nothing_and_the_sweeper_removes_the_orphan() {
    // Unconfirmed uploads expire after 1 s; sweeps run at start-up only.
    let mut srv = Palaver::builder()
        .env("PALAVER_UPLOAD_UNCONFIRMED_TTL_SECS", "1")
        .env("PALAVER_UPLOAD_SWEEP_INTERVAL_SECS", "3600")
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let channel = create_channel(&srv, &alice, "crash", &[]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();

    // A body that sends 1 MiB and then waits forever.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    tx.unbounded_send(Ok(pattern(1024 * 1024))).unwrap();
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(rx))
        .file_name("big.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let request = reqwest::Client::new()
        .post(srv.url(&format!("rooms.media/{rid}")))
        .header("X-User-Id", &alice.user_id)
        .header("X-Auth-Token", &alice.token)
        .multipart(form)
        .send();
    let pending = tokio::spawn(request);
    // Wait for the partial object to hold the first bytes, then kill the server.
    let partial = srv.data_dir().join("uploads").join(".partial");
    let deadline = Instant::now() + Duration::from_secs(30);
    let partial_size = || {
        std::fs::read_dir(&partial)
            .map(|d| {
                d.flatten()
                    .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    while partial_size() == 0 {
        assert!(
            Instant::now() < deadline,
            "the upload never reached the storage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv.kill9();
    drop(tx);
    let _ = pending.await;
    assert_eq!(std::fs::read_dir(&partial).unwrap().count(), 1);
    // Past the record's expiry, start again: its start-up sweep removes the orphan.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    srv.start_again().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&partial).map(|d| d.count()).unwrap_or(0) != 0 {
        assert!(
            Instant::now() < deadline,
            "the sweeper left the interrupted upload's partial object"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing of it is visible: no listed file, no object, no message.
    let listed = srv
        .get_ok(&format!("channels.files?roomId={rid}"), &alice)
        .await;
    assert_eq!(listed["total"], json!(0), "{listed}");
    assert_eq!(count_files(&srv.data_dir().join("uploads")), 0);
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &alice)
        .await;
    assert!(
        !history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.get("file").is_some()),
        "{history}"
    );
}

#[tokio::test]
async fn kill_9_mid_multipart_upload_on_s3_and_the_sweeper_aborts_it_once_old() {
    // Unconfirmed uploads expire after 1 s; sweeps at start-up only; unfinished
    // multipart uploads are left alone for an hour at first.
    let peer = palaver_tests::rclone::s3().config();
    let mut srv = Palaver::builder()
        .env("PALAVER_UPLOAD_UNCONFIRMED_TTL_SECS", "1")
        .env("PALAVER_UPLOAD_SWEEP_INTERVAL_SECS", "3600")
        .env("PALAVER_UPLOAD_MULTIPART_MAX_AGE_SECS", "3600")
        .start()
        .await;
    let admin = srv.admin().await;
    let mut settings = s3_settings_of(&peer);
    settings.push(("FileUpload_Storage_Type", json!("AmazonS3")));
    for (id, value) in settings {
        set_setting(&srv, &admin, id, value).await;
    }
    let alice = srv.create_user(&admin, "alice").await;
    let channel = create_channel(&srv, &alice, "crash-s3", &[]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();
    let storage = palaver_server::files::Storage::open(&palaver_server::files::StorageConfig::S3(
        peer.clone(),
    ))
    .unwrap();

    // 9 MiB, then nothing: the first 8 MiB part is on S3 when the server dies.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    tx.unbounded_send(Ok(pattern(9 * 1024 * 1024))).unwrap();
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(rx))
        .file_name("big.bin")
        .mime_str("application/octet-stream")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let pending = tokio::spawn(
        reqwest::Client::new()
            .post(srv.url(&format!("rooms.media/{rid}")))
            .header("X-User-Id", &alice.user_id)
            .header("X-Auth-Token", &alice.token)
            .multipart(form)
            .send(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let unfinished = loop {
        let found = storage.unfinished_uploads("uploads/").await.unwrap();
        if !found.is_empty() {
            break found;
        }
        assert!(Instant::now() < deadline, "no multipart upload was started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Give the first part time to land, then kill.
    tokio::time::sleep(Duration::from_millis(500)).await;
    srv.kill9();
    drop(tx);
    let _ = pending.await;
    assert_eq!(unfinished.len(), 1, "{unfinished:?}");
    assert!(unfinished[0].key.starts_with("uploads/"), "{unfinished:?}");
    assert!(
        unfinished[0].started.is_some(),
        "the service tells when it began"
    );

    // Restarted: the orphan record goes at once, the multipart upload (younger than
    // an hour) stays.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    srv.start_again().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = srv
            .get_ok(&format!("channels.files?roomId={rid}"), &alice)
            .await;
        assert_eq!(listed["total"], json!(0), "{listed}");
        if srv.log().contains("expired unconfirmed uploads removed") {
            break;
        }
        assert!(Instant::now() < deadline, "the start-up sweep never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        storage.unfinished_uploads("uploads/").await.unwrap(),
        unfinished,
        "a young multipart upload is left alone"
    );

    // With a maximum age of 1 s, the next start's sweep aborts it.
    srv.set_env("PALAVER_UPLOAD_MULTIPART_MAX_AGE_SECS", "1");
    srv.restart().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !storage
        .unfinished_uploads("uploads/")
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the sweeper never aborted the multipart upload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing of the upload is visible as an object either.
    assert!(matches!(
        storage.get(&unfinished[0].key, None, None).await,
        Err(palaver_server::files::FilesError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_mongodb_and_s3_serve_the_same_file() {
    let uri = mongo_uri("files_two_instances");
    let a = Palaver::builder().storage_uri(&uri).start().await;
    let b = Palaver::builder().storage_uri(&uri).start().await;
    let admin_a = a.admin().await;
    let admin_b = b.admin().await;
    let mut settings = s3_settings();
    settings.push(("FileUpload_Storage_Type", json!("AmazonS3")));
    for (id, value) in &settings {
        set_setting(&a, &admin_a, id, value.clone()).await;
    }
    // Instance B learns the settings from A.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = b.get_ok("settings/FileUpload_Storage_Type", &admin_b).await;
        if s["value"] == json!("AmazonS3") {
            break;
        }
        assert!(Instant::now() < deadline, "B never saw the storage setting");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alice = a.create_user(&admin_a, "alice").await;
    let bob = a.create_user(&admin_a, "bob").await;
    let channel = create_channel(&a, &alice, "shared-files", &["bob"]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();
    let data = pattern(3 * 1024 * 1024 + 17);
    let (id, url, _) = media_and_confirm(
        &a,
        &alice,
        &rid,
        "report.bin",
        "application/octet-stream",
        data.clone(),
    )
    .await;
    // Uploaded on A, downloaded on B (whole and a range), listed on B.
    let (status, headers, bytes) = fetch(&b, &url, &auth(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == data, "B served other bytes");
    assert_eq!(headers["content-type"], "application/octet-stream");
    let (status, _, part) = fetch(
        &b,
        &url,
        &[auth(&bob)[0], auth(&bob)[1], ("Range", "bytes=100-199")],
    )
    .await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part, data[100..200]);
    let listed = b
        .get_ok(&format!("channels.files?roomId={rid}"), &bob)
        .await;
    assert_eq!(listed["files"][0]["_id"], json!(id), "{listed}");
    // Deleted through B: gone on A too.
    let history = b
        .get_ok(&format!("channels.history?roomId={rid}"), &bob)
        .await;
    let mid = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["file"]["_id"] == json!(id))
        .map(|m| m["_id"].clone())
        .expect("the file's message");
    b.post_ok("chat.delete", &alice, json!({"roomId": rid, "msgId": mid}))
        .await;
    assert_eq!(fetch(&a, &url, &auth(&bob)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn im_files_lists_a_direct_conversations_files() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    let dm = srv
        .post_ok("im.create", &alice, json!({"username": "bob"}))
        .await;
    let rid = str_of(&dm["room"]["_id"], "rid").to_string();
    let (id, url, _) = media_and_confirm(
        &srv,
        &alice,
        &rid,
        "notes.txt",
        "text/plain",
        b"hi bob".to_vec(),
    )
    .await;
    for path in ["im.files", "dm.files"] {
        let listed = srv.get_ok(&format!("{path}?roomId={rid}"), &bob).await;
        assert_eq!(listed["total"], json!(1), "{path}: {listed}");
        assert_eq!(listed["files"][0]["_id"], json!(id), "{listed}");
        assert_eq!(listed["files"][0]["url"], json!(url), "{listed}");
        assert_eq!(listed["files"][0]["name"], json!("notes.txt"), "{listed}");
    }
    // Not a member: refused; the DM through channels.files: refused.
    let (status, _) = srv.get(&format!("im.files?roomId={rid}"), &carol).await;
    assert_ne!(status, StatusCode::OK);
    let (status, _) = srv.get(&format!("channels.files?roomId={rid}"), &bob).await;
    assert_ne!(status, StatusCode::OK);
}

/// The storage "test connection" action's refusal for `settings`, as the admin sees it.
async fn storage_test_error(srv: &Palaver, admin: &Session, settings: &[(&str, Value)]) -> String {
    for (id, value) in settings {
        set_setting(srv, admin, id, value.clone()).await;
    }
    let (status, body) = srv
        .post(
            "settings/FileUpload_Storage_Test",
            admin,
            json!({"execute": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errorType"],
        json!("error-file-storage-test-failed"),
        "{body}"
    );
    body["error"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_storage_test_action_reports_the_exact_error_of_each_backend() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    // Local: a directory that cannot be created (under a regular file).
    let blocker = srv.data_dir().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let error = storage_test_error(
        &srv,
        &admin,
        &[(
            "FileUpload_FileSystemPath",
            json!(blocker.join("files").display().to_string()),
        )],
    )
    .await;
    assert!(
        error.starts_with("The local storage test failed: local storage failed during put: ")
            && error.contains(&blocker.display().to_string())
            && error.contains("Not a directory"),
        "{error}"
    );
    // S3: a wrong secret, then an unknown access key: the service's own code.
    let mut s3 = s3_settings();
    s3.push(("FileUpload_Storage_Type", json!("AmazonS3")));
    s3[5].1 = json!("wrong-secret");
    let error = storage_test_error(&srv, &admin, &s3).await;
    assert!(
        error.starts_with("The s3 storage test failed: s3 storage refused access during put: HTTP 403 Forbidden: "),
        "{error}"
    );
    // WebDAV: a wrong password.
    let dav = palaver_tests::rclone::webdav().config();
    let error = storage_test_error(
        &srv,
        &admin,
        &[
            ("FileUpload_Webdav_Server_URL", json!(dav.url)),
            ("FileUpload_Webdav_Username", json!(dav.username)),
            ("FileUpload_Webdav_Password", json!("wrong")),
            ("FileUpload_Webdav_Upload_Folder_Path", json!(dav.folder)),
            ("FileUpload_Storage_Type", json!("Webdav")),
        ],
    )
    .await;
    assert!(
        error.starts_with("The webdav storage test failed: webdav storage refused access during ")
            && error.contains("401"),
        "{error}"
    );
    // And an S3 endpoint nobody listens on: the connection error.
    let closed = format!("http://127.0.0.1:{}", palaver_tests::net::free_port());
    s3[0].1 = json!(closed);
    s3[5].1 = json!(palaver_tests::rclone::S3_SECRET);
    let error = storage_test_error(&srv, &admin, &s3).await;
    assert!(
        error.starts_with("The s3 storage test failed: s3 storage failed during put: ")
            && error.contains("127.0.0.1"),
        "{error}"
    );
}
