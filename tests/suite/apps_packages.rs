//! The bad-package corpus: every package the server must refuse, uploaded as an
//! admin would (multipart `POST /api/apps`), each refused with its reason and
//! nothing installed; bad packages in the marketplace folder are listed as invalid
//! with their reason; and signatures when the server requires them.

use std::io::Write;

use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::apps_support::{self as support, channel};
use palaver_tests::app_admin::{
    edited_manifest, ephemeral, install_ok, package_bytes, upload, upload_fields, upload_ok,
    zip_bytes,
};
use palaver_tests::server::{Palaver, Session};

/// The first bytes of a core WebAssembly module (not a component).
const CORE_MODULE: &[u8] = b"\0asm\x01\0\0\0";

/// A component with no imports and no exports: it does not export the app world.
const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

/// A component importing a function `do-thing: func()` that the host does not
/// provide (type section: one `func()`; import section: `do-thing` of that type).
const FOREIGN_IMPORT_COMPONENT: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, // component header
    0x07, 0x05, 0x01, 0x40, 0x00, 0x01, 0x00, // type section: func() -> ()
    0x0a, 0x0d, 0x01, 0x00, 0x08, b'd', b'o', b'-', b't', b'h', b'i', b'n', b'g', 0x01,
    0x00, // import section: "do-thing" (func, type 0)
];

/// hello's manifest as another app: id `id`, its command renamed to `id`.
fn manifest_as(id: &str, edit: impl FnOnce(&mut toml::Table)) -> String {
    edited_manifest(&support::app_dir("hello"), |m| {
        m.insert("id".into(), id.into());
        m["commands"].as_array_mut().expect("commands")[0]
            .as_table_mut()
            .expect("command")
            .insert("name".into(), id.into());
        edit(m);
    })
}

/// `n` bytes that deflate does not shrink (xorshift).
fn incompressible(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

fn zip_with(build: impl FnOnce(&mut ZipWriter<&mut std::io::Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = ZipWriter::new(&mut out);
        build(&mut zip);
        zip.finish().expect("finish the zip");
    }
    out.into_inner()
}

fn options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644)
}

async fn installed_ids(srv: &Palaver, admin: &Session) -> Vec<String> {
    srv.get_ok("/api/apps", admin).await["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn bad_packages_are_refused_with_their_reason() {
    let market = support::marketplace();
    // Bad packages in the marketplace folder are listed, invalid, with the reason.
    std::fs::write(
        market.path().join("badver-1.zip"),
        package_bytes(
            &manifest_as("badver", |m| {
                m.insert("version".into(), "1.0".into());
            }),
            &support::wasm("hello"),
        ),
    )
    .expect("write a bad package");
    std::fs::write(
        market.path().join("slip-1.zip"),
        zip_bytes(&[("../app.toml", b"x"), ("app.wasm", CORE_MODULE)]),
    )
    .expect("write a bad package");
    std::fs::write(market.path().join("junk-1.zip"), b"not a zip at all").expect("write junk");

    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    install_ok(&srv, &admin, "hello", None, true).await;

    let listing = srv.get_ok("/api/apps/marketplace", &admin).await;
    let listed = |file: &str| -> Value {
        listing["apps"]
            .as_array()
            .expect("apps")
            .iter()
            .find(|a| a["file"] == file)
            .unwrap_or_else(|| panic!("{file} is not listed: {listing}"))
            .clone()
    };
    for (file, reason) in [
        ("badver-1.zip", "version \"1.0\" is not semver"),
        ("slip-1.zip", "path escapes the package"),
        ("junk-1.zip", "not a zip file"),
    ] {
        let entry = listed(file);
        assert_eq!(entry["valid"], false, "{entry}");
        assert!(
            entry["error"].as_str().is_some_and(|e| e.contains(reason)),
            "{file}: expected {reason:?}: {entry}"
        );
    }
    assert_eq!(listed("hello-0.1.0.zip")["valid"], true);

    let wasm = support::wasm("hello");
    let good = manifest_as("fresh", |_| {});
    let bomb_wasm = vec![0u8; 16 << 20];
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "zip-slip",
            zip_bytes(&[("../app.toml", good.as_bytes()), ("app.wasm", &wasm)]),
            "error-app-package-invalid",
            "unsafe entry \"../app.toml\": path escapes the package",
        ),
        (
            "zip-slip inside a folder",
            zip_bytes(&[
                ("app.toml", good.as_bytes()),
                ("i18n/../../app.wasm", &wasm),
            ]),
            "error-app-package-invalid",
            "path escapes the package",
        ),
        (
            "absolute path",
            zip_bytes(&[("/app.toml", good.as_bytes()), ("app.wasm", &wasm)]),
            "error-app-package-invalid",
            "unsafe entry \"/app.toml\": absolute or non-portable path",
        ),
        (
            "backslash path",
            zip_bytes(&[("app.toml", good.as_bytes()), ("..\\app.wasm", &wasm)]),
            "error-app-package-invalid",
            "absolute or non-portable path",
        ),
        (
            "symlink entry",
            zip_with(|zip| {
                zip.start_file("app.toml", options()).unwrap();
                zip.write_all(good.as_bytes()).unwrap();
                zip.add_symlink("app.wasm", "/etc/passwd", options())
                    .unwrap();
            }),
            "error-app-package-invalid",
            "unsafe entry \"app.wasm\": links are not allowed",
        ),
        (
            "zip bomb",
            zip_bytes(&[("app.toml", good.as_bytes()), ("app.wasm", &bomb_wasm)]),
            "error-app-package-invalid",
            "entry \"app.wasm\" is too large or too compressed (zip bomb protection)",
        ),
        (
            "unexpected entry",
            zip_bytes(&[
                ("app.toml", good.as_bytes()),
                ("app.wasm", &wasm),
                ("run.sh", b"#!/bin/sh\n"),
            ]),
            "error-app-package-invalid",
            "unexpected entry \"run.sh\"",
        ),
        (
            "not a zip",
            b"PK but not really".to_vec(),
            "error-app-package-invalid",
            "the package is not a zip file",
        ),
        (
            "missing manifest",
            zip_bytes(&[("app.wasm", &wasm)]),
            "error-app-package-invalid",
            "the package has no app.toml",
        ),
        (
            "missing component",
            zip_bytes(&[("app.toml", good.as_bytes())]),
            "error-app-package-invalid",
            "the package has no app.wasm",
        ),
        (
            "manifest that is not TOML",
            package_bytes("id = \"x\"\nname = [unclosed", &wasm),
            "error-app-package-invalid",
            "invalid app manifest: app.toml",
        ),
        (
            "bad semver",
            package_bytes(
                &manifest_as("fresh", |m| {
                    m.insert("version".into(), "1.0".into());
                }),
                &wasm,
            ),
            "error-app-package-invalid",
            "version \"1.0\" is not semver",
        ),
        (
            "bad id",
            package_bytes(
                &manifest_as("fresh", |m| {
                    m.insert("id".into(), "Not_An_Id".into());
                }),
                &wasm,
            ),
            "error-app-package-invalid",
            "id \"Not_An_Id\" must be 2-63 lower-case letters",
        ),
        (
            "unknown permission",
            package_bytes(
                &manifest_as("fresh", |m| {
                    let mut p = toml::Table::new();
                    p.insert("name".into(), "telepathy".into());
                    m["permissions"].as_array_mut().unwrap().push(p.into());
                }),
                &wasm,
            ),
            "error-app-package-invalid",
            "unknown permission \"telepathy\"",
        ),
        (
            "bad networking host",
            package_bytes(
                &manifest_as("fresh", |m| {
                    support_hosts(m, "*");
                }),
                &wasm,
            ),
            "error-app-package-invalid",
            "networking host \"*\"",
        ),
        (
            "unknown API version",
            package_bytes(
                &manifest_as("fresh", |m| {
                    m.insert("api-version".into(), "9.9.0".into());
                }),
                &wasm,
            ),
            "error-app-package-invalid",
            "api-version \"9.9.0\" is not served by this Palaver (it serves 0.1.0)",
        ),
        (
            "not WebAssembly",
            package_bytes(&good, b"#!/bin/sh\necho hi\n"),
            "error-app-package-invalid",
            "app.wasm is not WebAssembly",
        ),
        (
            "a core module, not a component",
            package_bytes(&good, CORE_MODULE),
            "error-app-package-invalid",
            "app.wasm is not a valid component",
        ),
        (
            "a component importing what the host does not provide",
            package_bytes(&good, FOREIGN_IMPORT_COMPONENT),
            "error-app-package-invalid",
            "the component's imports do not match the palaver:apps world",
        ),
        (
            "a component exporting nothing",
            package_bytes(&good, EMPTY_COMPONENT),
            "error-app-package-invalid",
            "the component's exports do not match the palaver:apps world",
        ),
        (
            "a command another app has",
            package_bytes(
                &edited_manifest(&support::app_dir("hello"), |m| {
                    m.insert("id".into(), "hello-two".into());
                }),
                &wasm,
            ),
            "error-app-clash",
            "command /hello is already provided by the app hello",
        ),
        (
            "a core command",
            package_bytes(&manifest_as("join", |_| {}), &wasm),
            "error-app-clash",
            "command /join is a core command",
        ),
        (
            "already installed",
            package_bytes(
                &std::fs::read_to_string(support::app_dir("hello").join("app.toml"))
                    .expect("hello's manifest"),
                &wasm,
            ),
            "error-app-already-installed",
            "app \"hello\" is already installed; update it instead",
        ),
    ];
    for (what, package, error_type, reason) in &cases {
        let r = upload(&srv, &admin, package, None, true).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
        assert_eq!(r.json["success"], false, "{what}: {}", r.text);
        assert_eq!(r.json["errorType"], json!(error_type), "{what}: {}", r.text);
        let error = r.json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason),
            "{what}: the refusal should say {reason:?}: {error}"
        );
    }
    assert_eq!(installed_ids(&srv, &admin).await, ["hello"]);

    // None of that disturbed the installed app, and a good upload still installs.
    assert_eq!(installed_ids(&srv, &admin).await, ["hello"]);
    let app = upload_ok(
        &srv,
        &admin,
        &package_bytes(&good, &wasm),
        Some(&["slashcommand", "message.write", "message.read"]),
        true,
    )
    .await;
    assert_eq!(app["id"], "fresh", "{app}");
    assert_eq!(app["status"], "manually_enabled", "{app}");
    let rid = channel(&srv, &admin, "after", &[]).await;
    assert_eq!(
        ephemeral(&srv, &admin, &rid, "fresh", "world").await,
        "Said hello to world in after."
    );
}

/// A package over the size limit (32 MiB), uploaded and in the marketplace folder:
/// refused, and the refusal says it is too large.
#[tokio::test]
async fn oversize_packages_are_refused_as_too_large() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let good = manifest_as("fresh", |_| {});
    let huge = zip_with(|zip| {
        zip.start_file("app.toml", options()).unwrap();
        zip.write_all(good.as_bytes()).unwrap();
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        zip.start_file("app.wasm", stored).unwrap();
        zip.write_all(&incompressible(33 << 20)).unwrap();
    });
    // The same package in the marketplace folder is listed as too large.
    std::fs::write(market.path().join("huge-1.zip"), &huge).expect("write the huge package");
    let listing = srv.get_ok("/api/apps/marketplace", &admin).await;
    let entry = listing["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["file"] == "huge-1.zip")
        .unwrap_or_else(|| panic!("huge-1.zip is not listed: {listing}"))
        .clone();
    assert_eq!(entry["valid"], false, "{entry}");
    assert!(
        entry["error"]
            .as_str()
            .is_some_and(|e| e.contains("over the 33554432-byte limit")),
        "{entry}"
    );

    // Uploaded: refused before it is read.
    let r = upload(&srv, &admin, &huge, None, true).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.json["success"], false, "{}", r.text);
    assert_eq!(r.json["errorType"], "error-request-too-large", "{}", r.text);
    assert!(
        r.json["error"]
            .as_str()
            .is_some_and(|e| e.contains("larger than 33554432 bytes")),
        "over-size package: the refusal should say it is too large: {}",
        r.text
    );
    assert!(installed_ids(&srv, &admin).await.is_empty());
}

/// Replaces the `networking` hosts of a manifest table with `host`.
fn support_hosts(m: &mut toml::Table, host: &str) {
    palaver_tests::app_admin::networking(m)
        .insert("hosts".into(), toml::Value::Array(vec![host.into()]));
}

/// A zip with two entries named `app.toml`: the zip writer refuses duplicate names,
/// so the second is written as `app.tomX` and renamed in the bytes (names are not
/// covered by the CRC).
#[tokio::test]
async fn duplicate_entries_are_refused() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let first = manifest_as("dup-one", |_| {});
    let second = manifest_as("dup-two", |_| {});
    let mut package = zip_bytes(&[
        ("app.toml", first.as_bytes()),
        ("app.wasm", &support::wasm("hello")),
        ("app.tomX", second.as_bytes()),
    ]);
    let mut renamed = 0;
    for i in 0..package.len() - 8 {
        if &package[i..i + 8] == b"app.tomX" {
            package[i + 7] = b'l';
            renamed += 1;
        }
    }
    assert_eq!(renamed, 2, "the local header and the central directory");
    let r = upload(&srv, &admin, &package, None, false).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.json["errorType"], "error-app-package-invalid",
        "{}",
        r.text
    );
    assert!(
        r.json["error"]
            .as_str()
            .is_some_and(|e| e.contains("entry \"app.toml\" appears twice")),
        "{}",
        r.text
    );
    assert!(installed_ids(&srv, &admin).await.is_empty());
}

#[tokio::test]
async fn signatures_are_checked_when_required() {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    let market = support::marketplace();
    let hello = std::fs::read(market.path().join("hello-0.1.0.zip")).expect("hello package");
    std::fs::write(
        market.path().join("hello-0.1.0.zip.sig"),
        key.sign(&hello).to_bytes(),
    )
    .expect("write the signature");
    let srv = support::server(market.path())
        .env("PALAVER_APPS__REQUIRE_SIGNATURES", "true")
        .env("PALAVER_APPS__TRUSTED_KEYS", format!("[\"{public}\"]"))
        .start()
        .await;
    let admin = srv.admin().await;

    // The marketplace shows which packages are signed by a trusted key.
    let listing = srv.get_ok("/api/apps/marketplace", &admin).await;
    let find = |id: &str| -> Value {
        listing["apps"]
            .as_array()
            .expect("apps")
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed: {listing}"))
            .clone()
    };
    assert_eq!(find("hello")["signed"], true, "{listing}");
    assert_eq!(find("polite")["signed"], false, "{listing}");

    // Uploads: unsigned, badly signed, signed by someone else: refused.
    let polite = std::fs::read(market.path().join("polite-0.1.0.zip")).expect("polite package");
    let r = upload(&srv, &admin, &polite, None, true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("requires signed packages"), "{}", r.text);
    let stranger = SigningKey::from_bytes(&[9u8; 32]).sign(&polite).to_bytes();
    for (what, sig) in [
        ("garbage", vec![0xA5u8; 64]),
        ("another key", stranger.to_vec()),
        ("hello's signature", key.sign(&hello).to_bytes().to_vec()),
    ] {
        let r = upload_fields(
            &srv,
            &admin,
            &[
                ("app", Some("polite.zip"), &polite),
                ("signature", Some("polite.zip.sig"), &sig),
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
        assert!(
            r.text
                .contains("the signature does not match any trusted publisher key"),
            "{what}: {}",
            r.text
        );
    }
    // From the marketplace: the unsigned package is refused, the signed one installs.
    let r = palaver_tests::app_admin::install(&srv, &admin, "polite", None, true).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(installed_ids(&srv, &admin).await.is_empty());
    install_ok(&srv, &admin, "hello", None, true).await;
    // A correctly signed upload installs.
    let sig = key.sign(&polite).to_bytes();
    let r = upload_fields(
        &srv,
        &admin,
        &[
            ("app", Some("polite.zip"), &polite),
            ("signature", Some("polite.zip.sig"), &sig),
            ("enable", None, b"true"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["app"]["status"], "manually_enabled", "{}", r.text);
    let mut ids = installed_ids(&srv, &admin).await;
    ids.sort();
    assert_eq!(ids, ["hello", "polite"]);
}

/// A package's README, icon and translations are extracted beneath the app's own
/// asset directory (and nowhere else); the icon is served; uninstalling removes them.
#[tokio::test]
async fn package_assets_are_extracted_and_the_icon_served() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let icon: &[u8] = b"\x89PNG\r\n\x1a\nnot really an image";
    let manifest = manifest_as("assets", |_| {});
    let package = zip_bytes(&[
        ("app.toml", manifest.as_bytes()),
        ("app.wasm", &support::wasm("hello")),
        ("README.md", b"# Assets\nRead me."),
        ("icon.png", icon),
        ("i18n/de.toml", b"hello = \"Hallo\""),
    ]);
    let r = upload(&srv, &admin, &package, None, false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let assets = srv.data_dir().join("apps").join("assets").join("assets");
    assert_eq!(
        std::fs::read_to_string(assets.join("README.md")).expect("README extracted"),
        "# Assets\nRead me."
    );
    assert_eq!(
        std::fs::read_to_string(assets.join("i18n").join("de.toml")).expect("i18n extracted"),
        "hello = \"Hallo\""
    );
    let client = reqwest::Client::new();
    let got = client
        .get(srv.url("/api/apps/assets/icon"))
        .send()
        .await
        .expect("icon request");
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(
        got.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(got.bytes().await.expect("icon body").as_ref(), icon);
    // hello's own package has no icon.
    install_ok(&srv, &admin, "hello", None, false).await;
    let none = client
        .get(srv.url("/api/apps/hello/icon"))
        .send()
        .await
        .expect("icon request");
    assert_eq!(none.status(), StatusCode::NOT_FOUND);

    let r = srv
        .request(
            reqwest::Method::DELETE,
            "/api/apps/assets",
            Some(&admin),
            palaver_tests::server::Body::None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!assets.exists(), "uninstall removes the assets");
}
