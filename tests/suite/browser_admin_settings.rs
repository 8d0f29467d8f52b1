//! The admin console's workspace settings in a real browser: groups from the
//! registry, typed inputs, the server's refusal shown next to the field, a locked
//! value read-only with its source, a secret write-only. What the UI shows is
//! checked against what the REST API says.

use palaver_tests::browser::Browser;
use palaver_tests::server::{Palaver, Session, ADMIN_PASSWORD, ADMIN_USERNAME};
use serde_json::{json, Value};

async fn log_in(b: &Browser, srv: &Palaver) {
    b.log_in(&srv.base_url(), ADMIN_USERNAME, ADMIN_PASSWORD)
        .await;
}

async fn admin_route(b: &Browser, route: &str) {
    b.exec(
        "location.hash = arguments[0]",
        vec![json!(format!("#/admin/{route}"))],
    )
    .await;
    b.wait_for("[data-testid=admin]").await;
}

async fn value(srv: &Palaver, admin: &Session, id: &str) -> Value {
    srv.get_ok(&format!("/api/v1/settings/{id}"), admin).await["value"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_edits_workspace_settings_with_inline_errors_locks_and_secrets() {
    let srv = Palaver::builder()
        .env("PALAVER_SETTINGS__SMTP_HOST", "mx.locked.example")
        .start()
        .await;
    let admin = srv.admin().await;
    let b = Browser::start().await;
    log_in(&b, &srv).await;

    admin_route(&b, "settings").await;
    b.wait_for("[data-testid=admin-tab-settings]").await;
    for group in ["General", "Accounts", "Message", "Email", "Realtime"] {
        b.wait_for(&format!("[data-testid=ws-groupnav-{group}]"))
            .await;
    }

    // A value the server refuses: its reason next to the field, nothing stored.
    b.click("[data-testid=ws-groupnav-Message]").await;
    b.wait_for("[data-testid=ws-group-Message]").await;
    let size = "[data-testid=ws-input-Message_MaxAllowedSize]";
    assert_eq!(b.value(size).await, "5000");
    b.fill(size, "0").await;
    b.click("[data-testid=ws-save]").await;
    b.wait_text(
        "[data-testid=ws-error-Message_MaxAllowedSize]",
        "must be between 1 and",
    )
    .await;
    b.screenshot("admin-workspace-settings-error").await;
    assert_eq!(
        value(&srv, &admin, "Message_MaxAllowedSize").await,
        json!(5000)
    );
    // A good value and a boolean in one save.
    b.fill(size, "42").await;
    b.click("[data-testid=ws-input-Message_AllowEditing]").await;
    b.click("[data-testid=ws-save]").await;
    b.wait_text("[data-testid=admin-notice]", "Message settings saved")
        .await;
    assert_eq!(
        value(&srv, &admin, "Message_MaxAllowedSize").await,
        json!(42)
    );
    assert_eq!(
        value(&srv, &admin, "Message_AllowEditing").await,
        json!(false)
    );
    b.wait_for("[data-testid=ws-group-Message]").await;
    assert_eq!(b.value(size).await, "42", "the form shows the stored value");

    // A select.
    b.click("[data-testid=ws-groupnav-Accounts]").await;
    b.select("[data-testid=ws-input-Accounts_RegistrationForm]", "Public")
        .await;
    b.click("[data-testid=ws-save]").await;
    b.wait_text("[data-testid=admin-notice]", "Accounts settings saved")
        .await;
    assert_eq!(
        value(&srv, &admin, "Accounts_RegistrationForm").await,
        "Public"
    );

    // Email: a locked host, read-only with its source; a write-only password.
    b.click("[data-testid=ws-groupnav-Email]").await;
    let locked = b
        .wait_text(
            "[data-testid=ws-locked-SMTP_Host]",
            "PALAVER_SETTINGS__SMTP_HOST",
        )
        .await;
    assert!(locked.contains("Locked"), "{locked}");
    let disabled = b
        .exec(
            "return document.querySelector('[data-testid=ws-input-SMTP_Host]').disabled",
            vec![],
        )
        .await;
    assert_eq!(disabled, json!(true), "a locked setting is read-only");
    assert_eq!(
        b.value("[data-testid=ws-input-SMTP_Host]").await,
        "mx.locked.example"
    );
    b.fill("[data-testid=ws-input-SMTP_Password]", "pw-in-the-browser")
        .await;
    b.click("[data-testid=ws-save]").await;
    b.wait_text("[data-testid=admin-notice]", "Email settings saved")
        .await;
    b.wait_text("[data-testid=ws-setting-SMTP_Password]", "A value is saved")
        .await;
    assert_eq!(
        b.value("[data-testid=ws-input-SMTP_Password]").await,
        "",
        "the secret is not shown back"
    );
    let page = b.exec("return document.body.innerHTML", vec![]).await;
    assert!(
        !page.to_string().contains("pw-in-the-browser"),
        "the secret is nowhere in the page"
    );
    b.screenshot("admin-workspace-settings-email").await;
    let listed = srv
        .get_ok(
            &format!(
                "/api/v1/settings?query={}&fields={}",
                palaver_tests::server::enc(r#"{"_id":"SMTP_Password"}"#),
                palaver_tests::server::enc(r#"{"set":1}"#)
            ),
            &admin,
        )
        .await;
    assert_eq!(listed["settings"][0]["set"], json!(true), "{listed}");
}
