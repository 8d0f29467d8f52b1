//! Apps in the chat web client (headless Chromium over WebDriver): an app's slash
//! command run from the autocomplete with its reply and private notice, an app's
//! preview items picked by keyboard and by click, an app's `prevent` reason shown
//! to the sender, and messages under an alias shown with their real sender and a
//! Bot/App/Alias badge. Screenshots go to `target/screenshots/`.

use serde_json::{json, Value};

use crate::apps_support::channel;
use crate::browser_chat::{log_in, open_channel, send, tid, timeline, ENTER};
use palaver_tests::app_admin::install_ok;
use palaver_tests::apps;
use palaver_tests::browser::Browser;
use palaver_tests::server::{password_for, Palaver, Session};

/// WebDriver's arrow-down key.
const ARROW_DOWN: &str = "\u{E015}";

/// The preview item `id` of the composer's previews.
fn preview_item(id: &str) -> String {
    format!("{}[data-item-id=\"{id}\"]", tid("command-preview-item"))
}

/// Waits for the preview item `id` to say `text` (the answer for everything typed,
/// not for a part of it); returns the texts of all items.
async fn preview_items(b: &Browser, id: &str, text: &str) -> Value {
    b.wait_text(&preview_item(id), text).await;
    b.exec(
        "return [...document.querySelectorAll('[data-testid=\"command-preview-item\"]')].map(e => e.textContent)",
        vec![],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_app_command_from_autocomplete_and_prevent_reason() {
    let market = tempfile::Builder::new()
        .prefix("palaver-marketplace-")
        .tempdir()
        .expect("marketplace dir");
    apps::hello_package(market.path());
    apps::polite_package(market.path());
    let srv = Palaver::builder()
        .env(
            "PALAVER_MARKETPLACE_DIR",
            market.path().display().to_string(),
        )
        .start()
        .await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "carol").await;
    let rid = channel(&srv, &admin, "lobby", &["carol"]).await;
    install_ok(&srv, &admin, "hello", None, true).await;
    install_ok(&srv, &admin, "polite", None, true).await;
    // A message with an attachment, as apps and integrations post them. A
    // `javascript:` link is refused by the server, so the stored one has none.
    let mut attachment = json!({
        "title": "Pipeline <b>42</b>",
        "title_link": "javascript:alert(1)",
        "text": "All *green*",
        "color": "#2e7d32",
        "fields": [
            {"title": "Status", "value": "passed", "short": true},
            {"title": "Took", "value": "`3m 12s`", "short": true}
        ]
    });
    let report = |a: &Value| json!({"roomId": rid, "text": "Build report", "attachments": [a]});
    let (status, body) = srv
        .post("chat.postMessage", &admin, report(&attachment))
        .await;
    assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{body}");
    attachment.as_object_mut().unwrap().remove("title_link");
    srv.post_ok("chat.postMessage", &admin, report(&attachment))
        .await;

    let b = Browser::start().await;
    log_in(&b, &srv, "carol", &password_for("carol")).await;
    open_channel(&b, "lobby").await;
    let att = b
        .exec(
            "const a = document.querySelector('[data-testid=\"attachment\"]');
             return { title: a.querySelector('.att-title').textContent,
                      links: a.querySelectorAll('a').length,
                      bold: a.querySelector('strong')?.textContent,
                      fields: [...a.querySelectorAll('[data-testid=\"attachment-field\"]')].map(f => f.innerText.replace(/\\s+/g, ' ')),
                      color: getComputedStyle(a).borderLeftColor }",
            vec![],
        )
        .await;
    assert_eq!(att["title"], "Pipeline <b>42</b>", "{att}");
    assert_eq!(
        att["links"], 0,
        "the title without a link is no link: {att}"
    );
    assert_eq!(att["bold"], "green", "{att}");
    assert_eq!(
        att["fields"],
        json!(["Status passed", "Took 3m 12s"]),
        "{att}"
    );
    assert_eq!(att["color"], "rgb(46, 125, 50)", "{att}");

    // "/he" lists /hello with its description, params and app.
    let input = b.wait_for(&tid("composer-input")).await;
    input.send_keys("/he").await.expect("type");
    let option = b.wait_for(&tid("command-option-hello")).await;
    let text = option.text().await.expect("option text");
    assert!(text.contains("/hello"), "{text}");
    assert!(text.contains("[name]"), "{text}");
    assert!(text.contains("hello"), "{text}");
    b.screenshot("chat-command-autocomplete").await;
    // Enter takes the highlighted command; then the argument and Enter run it.
    input.send_keys(ENTER).await.expect("choose");
    b.wait_gone(&tid("command-autocomplete")).await;
    assert_eq!(b.value(&tid("composer-input")).await, "/hello ");
    input
        .send_keys(&format!("Browser{ENTER}"))
        .await
        .expect("run");
    // The bot's reply in the room, and the private notice, shown once and marked.
    b.wait_text(&tid("message-list"), "Hello, Browser!").await;
    let notice = b
        .wait_text(&tid("ephemeral-message"), "Said hello to Browser")
        .await;
    assert!(notice.contains("Only you can see this"), "{notice}");
    b.wait_count(&tid("ephemeral-message"), 1).await;
    let bot = b
        .exec(
            "const m = [...document.querySelectorAll('[data-testid=\"message\"]')].find(e => e.textContent.includes('Hello, Browser!'));
             return m.dataset.author",
            vec![],
        )
        .await;
    assert_eq!(bot, "hello.bot");
    b.screenshot("chat-command-reply").await;

    // A command with previews: the app's items for the text typed so far, above the
    // composer; arrows and Enter run one (posted by the bot, the composer cleared)…
    input
        .send_keys("/polite-pick bring cake")
        .await
        .expect("type");
    assert_eq!(
        preview_items(&b, "kindly", "Would you kindly bring cake?").await,
        json!([
            "Please, bring cake",
            "Would you kindly bring cake?",
            "Thank you for bring cake!"
        ])
    );
    b.screenshot("chat-command-previews").await;
    input
        .send_keys(&format!("{ARROW_DOWN}{ARROW_DOWN}{ENTER}"))
        .await
        .expect("pick by keyboard");
    b.wait_text(&tid("message-list"), "Would you kindly bring cake?")
        .await;
    b.wait_gone(&tid("command-previews")).await;
    assert_eq!(b.value(&tid("composer-input")).await, "");
    // …and so does a click.
    input.send_keys("/polite-pick share").await.expect("type");
    preview_items(&b, "thanks", "Thank you for share!").await;
    b.click(&preview_item("thanks")).await;
    b.wait_text(&tid("message-list"), "Thank you for share!")
        .await;
    assert_eq!(b.value(&tid("composer-input")).await, "");
    let bot = b
        .exec(
            "const m = [...document.querySelectorAll('[data-testid=\"message\"]')].find(e => e.textContent.includes('Thank you for share!'));
             return m.dataset.author",
            vec![],
        )
        .await;
    assert_eq!(bot, "polite.bot");

    // Shift+Enter starts a new line; Enter sends both lines as one message.
    send(&b, "line one\u{E008}\u{E007}\u{E000}line two").await;
    b.wait_js(
        "a two-line message",
        "return [...document.querySelectorAll('[data-testid=\"message-text\"]')].some(e => e.textContent === 'line one\\nline two')",
    )
    .await;

    // A message the app refuses: its reason at the composer, the text given back.
    send(&b, "this is forbidden talk").await;
    let error = b.wait_text(&tid("composer-error"), "Not sent").await;
    assert!(
        error.contains("The word \"forbidden\" is not allowed here."),
        "{error}"
    );
    assert_eq!(
        b.value(&tid("composer-input")).await,
        "this is forbidden talk"
    );
    assert!(
        !timeline(&b)
            .await
            .iter()
            .any(|t| t.contains("forbidden talk")),
        "the refused message is not in the timeline"
    );
    b.screenshot("chat-prevent-notice").await;
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &admin)
        .await;
    assert!(
        !history.to_string().contains("forbidden talk"),
        "the refused message was not stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_aliased_messages_show_the_real_sender_and_a_badge() {
    let (_market, srv, admin) = server_with_polite().await;
    let alice = srv.create_user(&admin, "alice").await;
    srv.post_ok(
        "users.create",
        &admin,
        json!({"username": "robo", "name": "Robo", "email": "robo@palaver.test",
               "password": password_for("robo"), "roles": ["bot"]}),
    )
    .await;
    let robo = srv.login("robo", &password_for("robo")).await;
    let rid = channel(&srv, &admin, "aliases", &["alice", "robo"]).await;
    srv.post_ok(
        "chat.postMessage",
        &robo,
        json!({"roomId": rid, "text": "deploy finished", "alias": "admin"}),
    )
    .await;
    srv.post_ok(
        "permissions.update",
        &admin,
        json!({"permissions": [{"_id": "message-impersonate", "roles": ["bot", "user"]}]}),
    )
    .await;
    srv.post_ok(
        "chat.postMessage",
        &alice,
        json!({"roomId": rid, "text": "signed as the team", "alias": "Support"}),
    )
    .await;

    // An app's bot under an alias.
    let said = palaver_tests::app_admin::ephemeral(&srv, &alice, &rid, "polite-big", "alias").await;
    assert!(said.starts_with("sent "), "{said}");

    let b = Browser::start().await;
    log_in(&b, &srv, "alice", &password_for("alice")).await;
    open_channel(&b, "aliases").await;
    b.wait_text(&tid("message-list"), "signed as the team")
        .await;
    let heads = b
        .exec(
            "return [...document.querySelectorAll('[data-testid=\"message\"]')]
               .filter(m => m.querySelector('[data-testid=\"bot-tag\"]'))
               .map(m => [m.querySelector('[data-testid=\"message-author\"]').textContent,
                          m.querySelector('[data-testid=\"message-sender\"]').textContent,
                          m.querySelector('[data-testid=\"bot-tag\"]').textContent])",
            vec![],
        )
        .await;
    assert_eq!(
        heads,
        json!([
            ["admin", "via @robo", "Bot"],
            ["Support", "via @alice", "Alias"],
            ["admin", "via @polite.bot", "App"]
        ]),
        "aliased messages in the timeline"
    );
    b.screenshot("chat-aliased-messages").await;
}

/// An app's page opened by a logged-in admin cannot reach the session: the page
/// (whose script reads localStorage, sessionStorage and `document.cookie` and calls
/// `/api/v1/me` with credentials, putting what it got in the title) is served
/// sandboxed, so the script never runs, in an opaque origin; the cookie the app
/// tried to plant is not set; the admin is still logged in afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_pages_cannot_reach_the_web_session() {
    let (_market, srv, _admin) = server_with_polite().await;

    let b = Browser::start().await;
    log_in(
        &b,
        &srv,
        palaver_tests::server::ADMIN_USERNAME,
        palaver_tests::server::ADMIN_PASSWORD,
    )
    .await;
    let session = crate::browser_chat::browser_session(&b, "admin").await;

    for path in [
        "/api/apps/public/polite/page",
        "/api/apps/public/polite/fail",
    ] {
        b.goto(&srv.url(path)).await;
        // Inline script runs while the page loads: had it run, the title would
        // already say what it stole.
        let title = b.client().title().await.unwrap_or_default();
        let source = b.client().source().await.unwrap_or_default();
        assert!(
            !title.starts_with("stolen") && !source.contains(&session.token),
            "{path}: the app's script ran in the page: title {title:?}"
        );
        b.screenshot(&format!(
            "app-page-{}",
            path.rsplit('/').next().unwrap_or("x")
        ))
        .await;
    }
    b.goto(&srv.url("/api/apps/public/polite/page")).await;
    assert_eq!(b.client().title().await.unwrap_or_default(), "polite page");

    // The app's `Set-Cookie: rc_token=planted` did not land; the session goes on.
    let token = b
        .client()
        .get_named_cookie("rc_token")
        .await
        .expect("the session cookie is still there");
    assert_eq!(token.value(), session.token);
    b.goto(&format!("{}/", srv.base_url())).await;
    b.wait_for(&crate::browser_chat::tid("app-shell")).await;
    srv.get_ok("me", &session).await;
}

/// A server whose marketplace holds the `polite` test app, installed and enabled by
/// the admin; the marketplace folder lives as long as the returned guard.
async fn server_with_polite() -> (tempfile::TempDir, Palaver, Session) {
    let market = tempfile::Builder::new()
        .prefix("palaver-marketplace-")
        .tempdir()
        .expect("marketplace dir");
    apps::polite_package(market.path());
    let srv = Palaver::builder()
        .env(
            "PALAVER_MARKETPLACE_DIR",
            market.path().display().to_string(),
        )
        .start()
        .await;
    let admin = srv.admin().await;
    install_ok(&srv, &admin, "polite", None, true).await;
    (market, srv, admin)
}
