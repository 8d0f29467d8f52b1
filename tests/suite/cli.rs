//! The `palaver` command line, run as a real binary: `palaver app new` → `app build`
//! → `app validate` / `app pack` turn a fresh scaffold into a valid package;
//! `app validate` refuses broken packages with the reason; and `palaver apps …`
//! drives the admin API of a running server through a whole app lifecycle.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use palaver_tests::apps;
use palaver_tests::server::{palaver_bin, Palaver, ADMIN_PASSWORD, ADMIN_USERNAME};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Variables of the outer environment that would change what the CLI does.
const CLI_ENV: &[&str] = &[
    "PALAVER_URL",
    "PALAVER_USER",
    "PALAVER_PASSWORD",
    "PALAVER_USER_ID",
    "PALAVER_AUTH_TOKEN",
];

/// Flags of the outer cargo that must not reach the wasm build (as in
/// `palaver_tests::apps`, so the build shares its dependencies).
const BUILD_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_BUILD_DIR",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

/// What one run of the CLI did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "the command failed: {self:#?}");
        self
    }

    /// Exit code 1, with `needle` in what it printed on stderr.
    #[track_caller]
    fn refused(self, needle: &str) -> Run {
        assert_eq!(self.code, Some(1), "expected exit code 1: {self:#?}");
        assert!(
            self.stderr.starts_with("palaver: ") && self.stderr.contains(needle),
            "expected {needle:?} on stderr: {self:#?}"
        );
        self
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// The whitespace-separated cells of the first output line starting with `first`.
    #[track_caller]
    fn row(&self, first: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cells| cells.first() == Some(&first))
            .unwrap_or_else(|| panic!("no row starting with {first:?}: {self:#?}"))
    }
}

fn palaver(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(palaver_bin());
    command.args(args);
    for var in CLI_ENV {
        command.env_remove(var);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run palaver {args:?}: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A run that builds or finds wasm: in the shared wasm target directory, without the
/// outer cargo's flags.
fn palaver_wasm(args: &[&str]) -> Run {
    let target = apps::wasm_target_dir();
    let mut command = Command::new(palaver_bin());
    command.args(args).env("CARGO_TARGET_DIR", &target);
    for var in CLI_ENV.iter().chain(BUILD_ENV) {
        command.env_remove(var);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("run palaver {args:?}: {e}"));
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn sha256_of(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    hex::encode(Sha256::digest(bytes))
}

fn s(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn app_new_build_validate_and_pack() {
    apps::ensure_wasm_target();
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().join("demo");

    let created = palaver(&["app", "new", "Cli Demo", "--dir", s(&dir)], &[]).ok();
    assert!(
        created.stdout.contains("id cli-demo, command /cli-demo"),
        "{created:#?}"
    );
    for file in [
        "Cargo.toml",
        "app.toml",
        "src/lib.rs",
        "README.md",
        ".gitignore",
    ] {
        assert!(dir.join(file).is_file(), "the scaffold has no {file}");
    }
    palaver(&["app", "new", "Cli Demo", "--dir", s(&dir)], &[]).refused("already exists");

    // The dependencies' versions of the sample apps, so the build reuses their
    // compiled dependencies in the shared target directory.
    fs::copy(
        apps::sample_apps_dir().join("Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .expect("copy Cargo.lock");
    let market = tmp.path().join("market");
    let built = palaver_wasm(&["app", "build", s(&dir), "--marketplace", s(&market)]).ok();
    let package = dir
        .canonicalize()
        .expect("canonical app dir")
        .join("dist/cli-demo-0.1.0.zip");
    let sha = sha256_of(&package);
    assert!(
        built
            .stdout
            .contains(&format!("Packed cli-demo 0.1.0 into {}", package.display())),
        "{built:#?}"
    );
    assert!(
        built.stdout.contains(&format!("sha256 {sha}")),
        "{built:#?}"
    );
    assert_eq!(sha256_of(&market.join("cli-demo-0.1.0.zip")), sha);
    let wasm = apps::wasm_target_dir().join("wasm32-wasip2/release/cli_demo.wasm");
    assert!(
        apps::is_component(&fs::read(&wasm).expect("read the component")),
        "{} is not a component",
        wasm.display()
    );

    let valid = palaver(&["app", "validate", s(&package)], &[]).ok();
    for needle in [
        "valid: cli-demo 0.1.0",
        "name:        Cli Demo",
        "permissions: slashcommand, message.write, message.read",
        "commands:    /cli-demo [name]",
        "events:      pre-message-sent",
        "signed:      no",
    ] {
        assert!(valid.stdout.contains(needle), "{needle:?}: {valid:#?}");
    }
    assert!(valid.stdout.contains(&sha), "{valid:#?}");
    let summary = palaver(&["app", "validate", "--json", s(&package)], &[])
        .ok()
        .json();
    assert_eq!(summary["valid"], true, "{summary}");
    assert_eq!(summary["id"], "cli-demo", "{summary}");
    assert_eq!(summary["sha256"], sha.as_str(), "{summary}");
    assert_eq!(summary["commands"][0]["name"], "cli-demo", "{summary}");

    // Packing the built component again gives the same package.
    let again = tmp.path().join("again.zip");
    palaver_wasm(&["app", "pack", s(&dir), "--out", s(&again)]).ok();
    assert_eq!(sha256_of(&again), sha, "packing is reproducible");
}

#[test]
fn app_validate_refuses_broken_packages() {
    use palaver_server::apps::package;

    let tmp = tempfile::tempdir().expect("temporary directory");
    let manifest = fs::read_to_string(apps::sample_apps_dir().join("hello/app.toml"))
        .expect("read hello's app.toml");
    let write = |name: &str, bytes: &[u8]| {
        let path = tmp.path().join(name);
        fs::write(&path, bytes).expect("write a package");
        path
    };

    let not_zip = write("not-zip.zip", b"this is not a zip");
    palaver(&["app", "validate", s(&not_zip)], &[])
        .refused(&format!("invalid package {}", not_zip.display()))
        .refused("not a zip file");

    let bad_manifest = write(
        "bad-manifest.zip",
        &package::write(
            &manifest.replacen("version = \"0.1.0\"", "version = \"one\"", 1),
            b"\0asm",
            &[],
        )
        .expect("pack"),
    );
    palaver(&["app", "validate", s(&bad_manifest)], &[]).refused("is not semver");

    // A well-formed package whose component is not one.
    let junk = write(
        "junk.zip",
        &package::write(&manifest, b"\0asm\x0d\0\x01\0junk", &[]).expect("pack"),
    );
    let refused = palaver(&["app", "validate", "--json", s(&junk)], &[])
        .refused("app.wasm is not a valid component");
    let json = refused.json();
    assert_eq!(json["valid"], false, "{json}");
    assert!(
        json["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a valid component")),
        "{json}"
    );

    // A signature is checked against trusted keys; none were given.
    fs::write(tmp.path().join("junk.zip.sig"), [7u8; 64]).expect("write a signature");
    palaver(&["app", "validate", s(&junk)], &[]).refused("no publisher keys are trusted");

    palaver(
        &["app", "validate", s(&tmp.path().join("missing.zip"))],
        &[],
    )
    .refused("cannot read");
}

#[tokio::test]
async fn apps_commands_drive_the_admin_api() {
    let market = tempfile::tempdir().expect("temporary marketplace");
    let hello = apps::hello_package(market.path());
    let srv = Palaver::builder()
        .env("PALAVER_MARKETPLACE_DIR", s(market.path()))
        .start()
        .await;
    let url = srv.base_url();
    let env = [
        ("PALAVER_URL", url.as_str()),
        ("PALAVER_USER", ADMIN_USERNAME),
        ("PALAVER_PASSWORD", ADMIN_PASSWORD),
    ];
    let cli = |args: &[&str]| palaver(args, &env);

    // The marketplace.
    let listed = cli(&["apps", "list", "--marketplace"]).ok();
    assert_eq!(
        listed.row("FILE"),
        ["FILE", "ID", "VERSION", "VALID", "SIGNED", "ERROR"]
    );
    assert_eq!(
        listed.row("hello-0.1.0.zip"),
        ["hello-0.1.0.zip", "hello", "0.1.0", "yes", "no"]
    );
    let listed = cli(&["apps", "list", "--marketplace", "--json"])
        .ok()
        .json();
    assert_eq!(listed["apps"][0]["sha256"], sha256_of(&hello), "{listed}");
    let none = cli(&["apps", "list"]).ok();
    assert_eq!(none.stdout, "No apps are installed.\n");

    // Install from the marketplace with a partial grant, enabled.
    let installed = cli(&[
        "apps",
        "install",
        "hello",
        "--grant",
        "slashcommand,message.write,message.read",
        "--enable",
        "--json",
    ])
    .ok()
    .json();
    let app = &installed["app"];
    assert_eq!(app["status"], "manually_enabled", "{installed}");
    let mut granted: Vec<&str> = app["permissionsGranted"]
        .as_array()
        .expect("permissionsGranted")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    granted.sort_unstable();
    assert_eq!(granted, ["message.read", "message.write", "slashcommand"]);
    let listed = cli(&["apps", "list"]).ok();
    assert_eq!(listed.row("hello"), ["hello", "0.1.0", "manually_enabled"]);
    let info = cli(&["apps", "info", "hello"]).ok();
    assert!(info.stdout.contains("networking (optional)"), "{info:#?}");
    cli(&["apps", "install", "hello"]).refused("already installed");

    // Settings: values as JSON when they parse, else strings.
    let set = cli(&[
        "apps",
        "settings",
        "hello",
        "--set",
        "forbidden-word=banana",
        "--set",
        "replace-from=colour",
    ])
    .ok();
    assert_eq!(
        set.row("forbidden-word"),
        [
            "forbidden-word",
            "string",
            "no",
            "banana",
            "Forbidden",
            "word"
        ]
    );
    let settings = cli(&["apps", "settings", "hello", "--json"]).ok().json();
    let value = |id: &str| {
        settings["settings"]
            .as_array()
            .expect("settings")
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["value"].clone())
            .unwrap_or_else(|| panic!("no setting {id}: {settings}"))
    };
    assert_eq!(value("forbidden-word"), "banana");
    assert_eq!(value("replace-from"), "colour");
    cli(&["apps", "settings", "hello", "--set", "no-such-setting=1"]).refused("no-such-setting");

    // Logs (written asynchronously: wait for the enable entry).
    let started = Instant::now();
    loop {
        let logs = cli(&["apps", "logs", "hello", "--json"]).ok().json();
        let messages: Vec<&str> = logs["logs"]
            .as_array()
            .expect("logs")
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        if messages.contains(&"enabled") && messages.contains(&"installed version 0.1.0") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the install and enable never reached the log: {logs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = cli(&["apps", "logs", "hello"]).ok();
    assert_eq!(logs.row("TIME"), ["TIME", "LEVEL", "HANDLER", "MESSAGE"]);
    assert!(
        logs.stdout.contains("  info  ") && logs.stdout.contains("installed version 0.1.0"),
        "{logs:#?}"
    );
    let warn = cli(&["apps", "logs", "hello", "--level", "warn"]).ok();
    assert_eq!(warn.stdout, "No log entries.\n");
    let one = cli(&["apps", "logs", "hello", "--count", "1", "--json"])
        .ok()
        .json();
    assert_eq!(one["logs"].as_array().map(Vec::len), Some(1), "{one}");
    assert!(one["total"].as_u64() >= Some(2), "{one}");

    // Disable, enable.
    let disabled = cli(&["apps", "disable", "hello"]).ok();
    assert_eq!(disabled.stdout, "hello: manually_disabled\n");
    let listed = cli(&["apps", "list", "--json"]).ok().json();
    assert_eq!(listed["apps"][0]["status"], "manually_disabled", "{listed}");
    let enabled = cli(&["apps", "enable", "hello"]).ok();
    assert_eq!(enabled.stdout, "hello: manually_enabled\n");

    // Uninstall; then the app is gone.
    let gone = cli(&["apps", "uninstall", "hello"]).ok();
    assert_eq!(gone.stdout, "Uninstalled hello\n");
    let listed = cli(&["apps", "list", "--json"]).ok().json();
    assert_eq!(listed["apps"], Value::Array(Vec::new()), "{listed}");
    cli(&["apps", "enable", "hello"]).refused("not installed");

    // Upload a package (multipart): everything granted, disabled.
    let uploaded = cli(&["apps", "install", "--file", s(&hello), "--json"])
        .ok()
        .json();
    let app = &uploaded["app"];
    assert_ne!(app["enabled"], true, "{uploaded}");
    assert!(
        app["permissionsGranted"]
            .as_array()
            .is_some_and(|g| g.iter().any(|p| p == "networking")),
        "{uploaded}"
    );

    // Scripts log in once and reuse the session.
    let session = cli(&["apps", "login", "--json"]).ok().json();
    let user_id = session["userId"].as_str().expect("userId");
    let token = session["authToken"].as_str().expect("authToken");
    let listed = palaver(
        &["apps", "list"],
        &[
            ("PALAVER_URL", url.as_str()),
            ("PALAVER_USER_ID", user_id),
            ("PALAVER_AUTH_TOKEN", token),
        ],
    )
    .ok();
    assert_eq!(listed.row("hello")[..2], ["hello", "0.1.0"]);
    cli(&["apps", "uninstall", "hello"]).ok();

    // Refusals: a wrong password, no server.
    cli(&["apps", "list", "--password", "wrong"]).refused("cannot log in");
    palaver(
        &["apps", "list"],
        &[
            ("PALAVER_URL", "http://127.0.0.1:9"),
            ("PALAVER_PASSWORD", "x"),
        ],
    )
    .refused("cannot reach the server");
}
