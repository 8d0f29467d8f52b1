//! Apps on several instances (MongoDB + S3): the package lives in the shared file
//! storage, so an app installed or updated on one instance runs on another that
//! never saw the package, and enable, disable, settings and uninstall made on one
//! take effect on the other within 2 s (install and update within the time to
//! compile the component, printed).

use std::time::{Duration, Instant};

use palaver_tests::app_admin::{
    edited_manifest, multipart_body, package_bytes, run_command, set_settings, set_status,
    upload_ok,
};
use palaver_tests::mongo::mongo_uri;
use palaver_tests::server::{Body, Palaver, Session};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::apps_support::{self as support, channel, try_post};
use crate::rest_files::set_setting;

/// The content type of [`multipart_body`]'s bodies (its fixed boundary).
const MULTIPART_TYPE: &str =
    "multipart/form-data; boundary=palaver-tests-boundary-5b1e93c07d2a4f68";

/// Polls `check` until it holds; returns how long that took (panics past `within`).
async fn within<F, Fut>(what: &str, within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{what}: not seen on the other instance within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `/hello` answers on `srv`.
async fn hello_answers(srv: &Palaver, who: &Session, rid: &str) -> bool {
    let r = run_command(srv, who, rid, "hello", "there").await;
    r.status == StatusCode::OK && r.json["success"] == json!(true)
}

async fn version_on(srv: &Palaver, admin: &Session) -> Value {
    let r = srv
        .request(Method::GET, "/api/apps/hello", Some(admin), Body::None)
        .await;
    r.json["app"]["version"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_changes_on_one_instance_reach_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let hello_v1 = std::fs::read(palaver_tests::apps::hello_package(dir.path())).unwrap();
    let manifest_v2 = edited_manifest(&support::app_dir("hello"), |t| {
        t.insert("version".into(), toml::Value::String("0.2.0".into()));
    });
    let hello_v2 = package_bytes(&manifest_v2, &support::wasm("hello"));

    let uri = mongo_uri("apps_two_instances");
    // Neither instance has a marketplace directory: B can only get the package from
    // the file storage.
    let (market_a, market_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = support::server(market_a.path())
        .storage_uri(&uri)
        .start()
        .await;
    let b = support::server(market_b.path())
        .storage_uri(&uri)
        .start()
        .await;
    let admin_a = a.admin().await;
    let admin_b = b.admin().await;
    let peer = palaver_tests::rclone::s3().config();
    for (id, value) in [
        ("FileUpload_S3_BucketURL", json!(peer.endpoint)),
        ("FileUpload_S3_Bucket", json!(peer.bucket)),
        ("FileUpload_S3_Region", json!(peer.region)),
        ("FileUpload_S3_ForcePathStyle", json!(true)),
        ("FileUpload_S3_AWSAccessKeyId", json!(peer.access_key)),
        ("FileUpload_S3_AWSSecretAccessKey", json!(peer.secret_key)),
        ("FileUpload_S3_Prefix", json!(peer.prefix)),
        ("FileUpload_Storage_Type", json!("AmazonS3")),
    ] {
        set_setting(&a, &admin_a, id, value.clone()).await;
        set_setting(&b, &admin_b, id, value).await;
    }
    let alice = a.create_user(&admin_a, "alice").await;
    let rid = channel(&a, &admin_a, "lobby", &["alice"]).await;
    assert!(!hello_answers(&b, &alice, &rid).await);

    // Install on A (enabled): B loads it from S3 and runs it.
    upload_ok(&a, &admin_a, &hello_v1, None, true).await;
    let took = within("the install", Duration::from_secs(30), || {
        hello_answers(&b, &alice, &rid)
    })
    .await;
    println!(
        "install on A → /hello answers on B after {took:?} (includes compiling the component)"
    );
    // The package is not in B's data directory but in the bucket.
    let key_count = std::fs::read_dir(
        peer_root()
            .join(peer.prefix.trim_end_matches('/'))
            .join("apps")
            .join("packages"),
    )
    .map(|d| d.count())
    .unwrap_or(0);
    assert_eq!(key_count, 1, "the package is in the bucket");

    // Settings on A: B's hook refuses the new forbidden word within 2 s.
    let r = set_settings(
        &a,
        &admin_a,
        "hello",
        json!({"forbidden-word": "pineapple"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    within("the settings change", Duration::from_secs(2), || async {
        let (status, _) = try_post(&b, &alice, &rid, "I like PINEAPPLE").await;
        status != StatusCode::OK
    })
    .await;

    // Disable on A: B stops answering within 2 s; enable: B answers again.
    let r = set_status(&a, &admin_a, "hello", false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    within("the disable", Duration::from_secs(2), || async {
        !hello_answers(&b, &alice, &rid).await
    })
    .await;
    let r = set_status(&a, &admin_a, "hello", true).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    within("the enable", Duration::from_secs(2), || {
        hello_answers(&b, &alice, &rid)
    })
    .await;

    // Update on A: B runs the new version.
    let r = a
        .request(
            Method::POST,
            "/api/apps/hello/update",
            Some(&admin_a),
            Body::Raw {
                content_type: MULTIPART_TYPE,
                bytes: multipart_body(&[("app", Some("app.zip"), &hello_v2)]),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let took = within("the update", Duration::from_secs(30), || async {
        version_on(&b, &admin_b).await == json!("0.2.0") && hello_answers(&b, &alice, &rid).await
    })
    .await;
    println!("update on A → B runs 0.2.0 after {took:?} (includes compiling the component)");

    // Uninstall on A: gone from B within 2 s.
    let r = a
        .request(
            Method::DELETE,
            "/api/apps/hello",
            Some(&admin_a),
            Body::None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    within("the uninstall", Duration::from_secs(2), || async {
        let listed = b.get_ok("commands.list", &alice).await;
        !listed.to_string().contains("\"hello\"")
            && b.request(Method::GET, "/api/apps/hello", Some(&admin_b), Body::None)
                .await
                .status
                == StatusCode::NOT_FOUND
    })
    .await;
}

/// Where the shared rclone S3 peer keeps the bucket's objects.
fn peer_root() -> std::path::PathBuf {
    palaver_tests::rclone::s3()
        .root
        .join(palaver_tests::rclone::BUCKET)
}
