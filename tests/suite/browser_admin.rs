//! The admin console in a real browser (headless Chromium over WebDriver): an admin
//! logs in through the chat client's form, installs an app from the marketplace
//! through the permission review, fills its settings, enables it, reads its log
//! live; updates it with the permission diff and uninstalls it; manages users.
//! What the UI shows is checked against what the REST API says happened.
//!
//! Screenshots of the main screens go to `target/screenshots/admin-*.png`.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::apps_support::{self as support, assert_prevented, channel, try_post};
use palaver_tests::app_admin::{self, edited_manifest, write_package};
use palaver_tests::browser::Browser;
use palaver_tests::server::{Palaver, Session, ADMIN_PASSWORD, ADMIN_USERNAME};

/// Logs in through the chat client's login form and waits for the shell.
async fn log_in(b: &Browser, srv: &Palaver, username: &str, password: &str) {
    b.goto(&format!("{}/", srv.base_url())).await;
    b.fill("[data-testid=login-username]", username).await;
    b.fill("[data-testid=login-password]", password).await;
    b.click("[data-testid=login-submit]").await;
    b.wait_for("[data-testid=app-shell]").await;
}

/// Goes to `#/admin/<route>` inside the running client (no reload).
async fn admin_route(b: &Browser, route: &str) {
    b.exec(
        "location.hash = arguments[0]",
        vec![json!(format!("#/admin/{route}"))],
    )
    .await;
    b.wait_for("[data-testid=admin]").await;
}

/// A marketplace with `hello` 0.1.0 given two more settings (a required whole
/// number without a default, so it cannot run until configured, and a password),
/// `hello` 0.2.0 that also asks for `persistence`, and a file that is not a zip.
fn admin_marketplace() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("palaver-admin-market-")
        .tempdir()
        .expect("create a marketplace directory");
    let extra_settings = |m: &mut toml::Table| {
        let settings = m
            .get_mut("settings")
            .and_then(|s| s.as_array_mut())
            .expect("hello has settings");
        let limit: toml::Table = toml::from_str(
            r#"id = "greeting-limit"
type = "int"
label = "Greeting limit"
description = "Greetings per day."
required = true"#,
        )
        .expect("setting toml");
        let key: toml::Table = toml::from_str(
            r#"id = "api-key"
type = "password"
label = "API key"
required = false"#,
        )
        .expect("setting toml");
        let more: toml::Table = toml::from_str(
            r#"[[s]]
id = "style"
type = "select"
label = "Greeting style"
default = "short"
options = [{ value = "short", label = "Short" }, { value = "long", label = "Long" }]
[[s]]
id = "shout"
type = "bool"
label = "Shout"
default = false
[[s]]
id = "footer"
type = "multiline"
label = "Footer"
"#,
        )
        .expect("settings toml");
        settings.push(toml::Value::Table(limit));
        settings.push(toml::Value::Table(key));
        settings.extend(more["s"].as_array().expect("settings").iter().cloned());
    };
    let wasm = support::wasm("hello");
    let v1 = edited_manifest(&support::app_dir("hello"), extra_settings);
    write_package(dir.path(), &v1, &wasm);
    let v2 = edited_manifest(&support::app_dir("hello"), |m| {
        extra_settings(m);
        m.insert("version".into(), "0.2.0".into());
        let persistence: toml::Table =
            toml::from_str("name = \"persistence\"\nreason = \"Remembers who it greeted.\"")
                .expect("permission toml");
        m.get_mut("permissions")
            .and_then(|p| p.as_array_mut())
            .expect("hello has permissions")
            .push(toml::Value::Table(persistence));
    });
    write_package(dir.path(), &v2, &wasm);
    std::fs::write(dir.path().join("broken-1.0.0.zip"), b"this is not a zip")
        .expect("write the broken package");
    dir
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

async fn settings_of(srv: &Palaver, admin: &Session) -> Vec<Value> {
    srv.get_ok("/api/apps/hello/settings", admin).await["settings"]
        .as_array()
        .expect("settings array")
        .clone()
}

fn setting<'a>(settings: &'a [Value], id: &str) -> &'a Value {
    settings
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no setting {id} in {settings:?}"))
}

/// The harness itself: the server's page loads in Chromium and a screenshot is saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_harness_opens_the_client() {
    let srv = Palaver::start().await;
    let b = Browser::start().await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.wait_present("body").await;
    let shot = b.screenshot("harness-smoke").await;
    let png = std::fs::read(&shot).expect("read the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
}

/// A step that times out fails naming its selector and the page, with a screenshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_harness_names_what_it_waited_for() {
    let srv = Palaver::start().await;
    let url = format!("{}/", srv.base_url());
    let failed = tokio::spawn(async move {
        let mut b = Browser::start().await;
        b.set_timeout(std::time::Duration::from_millis(300));
        b.goto(&url).await;
        b.wait_for("[data-testid=no-such-element]").await;
    })
    .await
    .expect_err("waiting for a missing element fails");
    let panic = failed.into_panic();
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| "(not a string)".into());
    assert!(
        message.contains("[data-testid=no-such-element]") && message.contains(&srv.base_url()),
        "{message}"
    );
    let shot = message
        .lines()
        .find_map(|l| l.trim().strip_prefix("screenshot: "))
        .unwrap_or_else(|| panic!("no screenshot path in {message}"));
    assert!(std::path::Path::new(shot).is_file(), "{shot} exists");
    let _ = std::fs::remove_file(shot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_installs_configures_enables_an_app_and_reads_its_log() {
    let market = admin_marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let b = Browser::start().await;
    log_in(&b, &srv, ADMIN_USERNAME, ADMIN_PASSWORD).await;

    // The shell's link leads to the marketplace.
    b.click("[data-testid=admin-link]").await;
    let card = "[data-testid=market-app][data-app-id=hello][data-version='0.1.0']";
    let text = b.wait_text(card, "Greets people").await;
    for needle in [
        "Hello",
        "0.1.0",
        "by Palaver",
        "Unsigned",
        "networking",
        "OPTIONAL",
        "example.com",
        "The app says: Fetches a status page for /hello fetch.",
        "/hello",
    ] {
        assert!(
            text.contains(needle),
            "the hello card shows {needle:?}: {text}"
        );
    }
    // An invalid package is listed with the server's reason.
    let listing = srv.get_ok("/api/apps/marketplace", &admin).await;
    let broken = listing["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|l| l["file"] == "broken-1.0.0.zip")
        .expect("the broken package is listed")
        .clone();
    let reason = broken["error"].as_str().expect("a reason").to_string();
    let broken_card = b
        .wait_text(
            "[data-testid=market-app][data-file='broken-1.0.0.zip']",
            "Invalid",
        )
        .await;
    assert!(
        broken_card.contains(&reason),
        "{broken_card:?} shows {reason:?}"
    );
    assert!(
        b.find_all(
            "[data-testid=market-app][data-file='broken-1.0.0.zip'] [data-testid=market-install]"
        )
        .await
        .is_empty(),
        "an invalid package offers no install"
    );
    b.screenshot("admin-marketplace").await;

    // The permission review: every permission explained, required ones locked.
    b.click(&format!("{card} [data-testid=market-install]"))
        .await;
    let dialog = "[data-testid=permission-dialog]";
    b.wait_count(&format!("{dialog} [data-testid=permission-item]"), 4)
        .await;
    let explained = b.text(dialog).await;
    let hello_listing = listing["apps"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|l| l["id"] == "hello" && l["version"] == "0.1.0")
        .expect("hello 0.1.0 is listed")
        .clone();
    for p in hello_listing["permissions"]
        .as_array()
        .expect("permissions")
    {
        let explanation = p["explanation"].as_str().expect("an explanation");
        assert!(
            explained
                .to_lowercase()
                .contains(&explanation.to_lowercase()),
            "the dialog explains {}: {explained}",
            p["name"]
        );
    }
    for required in ["slashcommand", "message.write", "message.read"] {
        let el = b
            .wait_for(&format!("[data-testid='perm-{required}']"))
            .await;
        assert!(
            !el.is_enabled().await.expect("is_enabled"),
            "{required} is locked"
        );
        assert!(
            el.is_selected().await.expect("is_selected"),
            "{required} is ticked"
        );
    }
    b.click("[data-testid='perm-networking']").await;
    b.screenshot("admin-permission-dialog").await;
    b.click("[data-testid=install-confirm]").await;

    // Installed without networking; it cannot be enabled before its required setting.
    b.wait_for("[data-testid=settings-form]").await;
    b.wait_text("[data-testid=admin-notice]", "not enabled")
        .await;
    b.wait_text("[data-testid=app-status-reason]", "greeting-limit")
        .await;
    let app = app_admin::app(&srv, &admin, "hello").await;
    assert_eq!(app["status"], "invalid_settings_disabled", "{app}");
    assert_eq!(
        sorted(&app["permissionsGranted"]),
        ["message.read", "message.write", "slashcommand"],
        "{app}"
    );

    // Inline validation: the required field stays empty → nothing is sent.
    b.click("[data-testid=settings-save]").await;
    b.wait_text("[data-testid=setting-error-greeting-limit]", "Required")
        .await;
    b.screenshot("admin-settings-validation").await;
    assert_eq!(
        setting(&settings_of(&srv, &admin).await, "greeting-limit")["isSet"],
        false
    );

    b.fill("[data-testid=setting-input-greeting-limit]", "3")
        .await;
    b.wait_gone("[data-testid=setting-error-greeting-limit]")
        .await;
    b.fill("[data-testid=setting-input-api-key]", "s3cret-key")
        .await;
    b.fill("[data-testid=setting-input-forbidden-word]", "darn")
        .await;
    b.select("[data-testid=setting-input-style]", "long").await;
    b.click("[data-testid=setting-input-shout]").await;
    b.fill("[data-testid=setting-input-footer]", "line one\nline two")
        .await;
    b.screenshot("admin-settings-form").await;
    b.click("[data-testid=settings-save]").await;
    b.wait_text("[data-testid=admin-notice]", "saved").await;
    let settings = settings_of(&srv, &admin).await;
    assert_eq!(setting(&settings, "greeting-limit")["value"], 3);
    assert_eq!(setting(&settings, "forbidden-word")["value"], "darn");
    assert_eq!(setting(&settings, "style")["value"], "long");
    assert_eq!(setting(&settings, "shout")["value"], true);
    assert_eq!(setting(&settings, "footer")["value"], "line one\nline two");
    assert_eq!(setting(&settings, "api-key")["isSet"], true);
    assert_eq!(setting(&settings, "api-key")["value"], Value::Null);
    // Password fields are write-only: the form does not show the saved value.
    assert_eq!(b.value("[data-testid=setting-input-api-key]").await, "");
    b.wait_text("[data-testid=setting-api-key]", "A value is saved")
        .await;
    b.wait_js(
        "the status badge to leave invalid_settings_disabled",
        "return document.querySelector('[data-testid=app-status]').dataset.status === 'manually_disabled'",
    )
    .await;

    // Enable from the console; the saved setting is what the running app uses.
    b.click("[data-testid=app-toggle]").await;
    b.wait_js(
        "the status badge to say enabled",
        "return document.querySelector('[data-testid=app-status]').dataset.status === 'manually_enabled'",
    )
    .await;
    app_admin::wait_status(&srv, &admin, "hello", "manually_enabled").await;
    let rid = channel(&srv, &admin, "browser-admin", &[]).await;
    let (status, body) = try_post(&srv, &admin, &rid, "well darn it").await;
    assert_prevented(status, &body, "Hello", "darn");

    // The log, refreshed live while the app writes to it.
    b.click("[data-testid=app-tab-logs]").await;
    b.wait_text("[data-testid=log-entry]", "enabled").await;
    b.click("[data-testid=logs-live]").await;
    let url = "https://example.com/browser-status";
    app_admin::run_ok(&srv, &admin, &rid, "hello", &format!("fetch {url}")).await;
    b.wait_text("[data-testid=log-entry]", &format!("fetches {url}"))
        .await;
    // Networking was declined: the refusal is a warning in the log.
    b.select("[data-testid=logs-level]", "warn").await;
    let levels = b
        .wait_js(
            "only warnings and errors after filtering",
            "const rows = [...document.querySelectorAll('[data-testid=log-entry]')];\
             const levels = rows.map(r => r.dataset.level);\
             return rows.length > 0 && levels.every(l => l === 'warn' || l === 'error') ? levels : null;",
        )
        .await;
    let api_warn = srv
        .get_ok("/api/apps/hello/logs?level=warn&count=100", &admin)
        .await;
    assert_eq!(
        levels.as_array().map(Vec::len),
        api_warn["logs"].as_array().map(Vec::len),
        "the filtered view shows what the API returns for level=warn: {api_warn}"
    );
    b.wait_text("[data-testid=logs-table]", url).await;
    b.screenshot("admin-logs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_updates_an_app_with_the_permission_diff_and_uninstalls_it() {
    let market = admin_marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let r = srv
        .request(
            reqwest::Method::POST,
            "/api/apps",
            Some(&admin),
            palaver_tests::server::Body::Json(json!({
                "appId": "hello", "version": "0.1.0",
                "permissionsGranted": ["slashcommand", "message.write", "message.read"],
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let saved = app_admin::set_settings(
        &srv,
        &admin,
        "hello",
        json!({ "greeting-limit": 7, "forbidden-word": "heck" }),
    )
    .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);

    let b = Browser::start().await;
    log_in(&b, &srv, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    admin_route(&b, "apps/installed").await;
    let row = "[data-testid=installed-app][data-app-id=hello]";
    b.wait_for(&format!("{row} [data-testid=row-status]")).await;
    b.click(&format!("{row} [data-testid=row-update]")).await;

    // The diff: persistence is new (and required); nothing was dropped.
    let dialog = "[data-testid=update-dialog]";
    let added = b
        .wait_text(
            &format!("{dialog} [data-testid=update-added]"),
            "persistence",
        )
        .await;
    assert!(
        added.contains("The app says: Remembers who it greeted."),
        "{added}"
    );
    assert!(b.find_all("[data-testid=update-removed]").await.is_empty());
    let lock = b.wait_for("[data-testid='perm-persistence']").await;
    assert!(
        !lock.is_enabled().await.expect("is_enabled"),
        "a required permission is locked"
    );
    b.screenshot("admin-update-dialog").await;
    b.click("[data-testid=update-confirm]").await;
    b.wait_text("[data-testid=admin-notice]", "updated to 0.2.0")
        .await;
    b.wait_text("[data-testid=admin-notice]", "added persistence")
        .await;
    b.wait_text(row, "0.2.0").await;
    let app = app_admin::app(&srv, &admin, "hello").await;
    assert_eq!(app["version"], "0.2.0", "{app}");
    assert_eq!(
        sorted(&app["permissionsGranted"]),
        [
            "message.read",
            "message.write",
            "persistence",
            "slashcommand"
        ],
        "the old grant is kept (networking still declined) plus the new permission: {app}"
    );
    let settings = settings_of(&srv, &admin).await;
    assert_eq!(
        setting(&settings, "greeting-limit")["value"],
        7,
        "settings survive"
    );
    assert_eq!(setting(&settings, "forbidden-word")["value"], "heck");

    // Uninstall asks first; cancelling keeps the app.
    b.click(&format!("{row} [data-testid=row-uninstall]")).await;
    b.click("[data-testid=uninstall-dialog-cancel]").await;
    b.wait_gone("[data-testid=uninstall-dialog]").await;
    assert_eq!(app_admin::app(&srv, &admin, "hello").await["id"], "hello");
    b.click(&format!("{row} [data-testid=row-uninstall]")).await;
    b.wait_text("[data-testid=uninstall-dialog]", "cannot be undone")
        .await;
    b.click("[data-testid=uninstall-dialog-confirm]").await;
    b.wait_for("[data-testid=installed-empty]").await;
    b.wait_text("[data-testid=admin-notice]", "uninstalled")
        .await;
    let (status, _) = srv.get("/api/apps/hello", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_creates_deactivates_reactivates_users_and_grants_admin() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let b = Browser::start().await;
    log_in(&b, &srv, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    b.click("[data-testid=admin-link]").await;
    b.click("[data-testid=admin-tab-users]").await;
    let me = "[data-testid=user-row][data-username=admin]";
    b.wait_text(me, "admin").await;
    let own = b.wait_for(&format!("{me} [data-testid=user-active]")).await;
    assert!(
        !own.is_enabled().await.expect("is_enabled"),
        "an admin cannot deactivate themself"
    );

    // Create: the dialog refuses an incomplete form, then creates the account.
    b.click("[data-testid=users-create]").await;
    b.fill("[data-testid=user-new-name]", "Carol Jones").await;
    b.click("[data-testid=create-user-confirm]").await;
    b.wait_text(
        "[data-testid=create-user-dialog-error]",
        "Username is required",
    )
    .await;
    b.fill("[data-testid=user-new-username]", "carol").await;
    b.fill("[data-testid=user-new-email]", "carol@palaver.test")
        .await;
    b.fill("[data-testid=user-new-password]", "Carol-Pa55word")
        .await;
    b.click("[data-testid=create-user-confirm]").await;
    b.wait_gone("[data-testid=create-user-dialog]").await;
    let carol = "[data-testid=user-row][data-username=carol]";
    let row = b.wait_text(carol, "Carol Jones").await;
    assert!(
        row.contains("carol@palaver.test") && row.contains("Active"),
        "{row}"
    );
    let info = srv.get_ok("users.info?username=carol", &admin).await;
    assert_eq!(info["user"]["name"], "Carol Jones", "{info}");
    assert_eq!(info["user"]["active"], true, "{info}");
    let carol_id = info["user"]["_id"].as_str().expect("id").to_string();
    srv.login("carol", "Carol-Pa55word").await;

    // A duplicate username is refused with the server's message, in the dialog.
    b.click("[data-testid=users-create]").await;
    b.fill("[data-testid=user-new-name]", "Carol Two").await;
    b.fill("[data-testid=user-new-username]", "carol").await;
    b.fill("[data-testid=user-new-email]", "carol2@palaver.test")
        .await;
    b.fill("[data-testid=user-new-password]", "Carol-Pa55word")
        .await;
    b.click("[data-testid=create-user-confirm]").await;
    b.wait_for("[data-testid=create-user-dialog-error]").await;
    b.click("[data-testid=create-user-dialog-cancel]").await;
    b.wait_gone("[data-testid=create-user-dialog]").await;

    // Admin role on and off.
    b.click(&format!("{carol} [data-testid=user-admin]")).await;
    b.wait_text(&format!("{carol} [data-testid=user-roles]"), "admin")
        .await;
    let roles = srv.get_ok("users.info?username=carol", &admin).await["user"]["roles"].clone();
    assert!(sorted(&roles).contains(&"admin".to_string()), "{roles}");

    // Deactivate (confirmed): carol can no longer log in.
    b.click(&format!("{carol} [data-testid=user-active]")).await;
    b.click("[data-testid=deactivate-dialog-confirm]").await;
    b.wait_text(&format!("{carol} [data-testid=user-status]"), "Deactivated")
        .await;
    b.screenshot("admin-users").await;
    // Usable on a phone: the table scrolls inside its box, the page does not.
    b.client()
        .set_window_size(360, 780)
        .await
        .expect("resize the window");
    b.wait_for(carol).await;
    b.wait_js(
        "the shell's sidebar to slide away at 360 px",
        "const s = document.querySelector('.sidebar');\
         return !s || s.getBoundingClientRect().right <= 0;",
    )
    .await;
    b.screenshot("admin-users-narrow").await;
    let overflow = b
        .exec(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await;
    assert_eq!(overflow, json!(0), "no horizontal page scroll at 360 px");
    b.client()
        .set_window_size(1280, 900)
        .await
        .expect("resize the window");
    let info = srv
        .get_ok(&format!("users.info?userId={carol_id}"), &admin)
        .await;
    assert_eq!(info["user"]["active"], false, "{info}");
    let refused = srv
        .try_login(json!({ "user": "carol", "password": "Carol-Pa55word" }))
        .await;
    assert!(
        refused.status.is_client_error() && refused.json["status"] != "success",
        "a deactivated user cannot log in: {} {}",
        refused.status,
        refused.text
    );

    // Reactivate: she can log in again.
    b.click(&format!("{carol} [data-testid=user-active]")).await;
    b.wait_text(&format!("{carol} [data-testid=user-status]"), "Active")
        .await;
    srv.login("carol", "Carol-Pa55word").await;
    b.click(&format!("{carol} [data-testid=user-admin]")).await;
    b.wait_js(
        "carol's roles to lose admin",
        "const c = document.querySelector('[data-testid=user-row][data-username=carol] [data-testid=user-roles]');\
         return c && !c.textContent.split(', ').includes('admin');",
    )
    .await;
    let roles = srv.get_ok("users.info?username=carol", &admin).await["user"]["roles"].clone();
    assert!(!sorted(&roles).contains(&"admin".to_string()), "{roles}");
}
