//! The chat web client in a real browser (headless Chromium over WebDriver): login
//! with a wrong and a right password, a session that survives a reload, messages
//! arriving live in a second browser with a typing indicator, older history loading
//! on scroll with the view kept in place, text that never becomes HTML, the directory,
//! groups and direct messages, and the client's assets and headers (apps in the client:
//! `browser_chat_apps`). Screenshots go to `target/screenshots/`.

use crate::apps_support::channel;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use palaver_tests::browser::Browser;
use palaver_tests::server::{password_for, Body, Palaver, Session};

/// WebDriver's Enter key.
pub(crate) const ENTER: &str = "\u{E007}";
/// WebDriver's arrow-up key.
const ARROW_UP: &str = "\u{E013}";

pub(crate) fn tid(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Logs in through the form and waits for the app shell.
pub(crate) async fn log_in(b: &Browser, srv: &Palaver, username: &str, password: &str) {
    b.log_in(&srv.base_url(), username, password).await;
    b.wait_text(&tid("connection-status"), "Connected").await;
}

/// The session a logged-in page holds: the `HttpOnly` cookies (WebDriver sees
/// them, the page's scripts do not). Asserts that nothing a script can read —
/// localStorage, sessionStorage, `document.cookie` — holds the token.
pub(crate) async fn browser_session(b: &Browser, username: &str) -> Session {
    let cookie = |name: &'static str| async move {
        b.client()
            .get_named_cookie(name)
            .await
            .unwrap_or_else(|e| panic!("the browser holds no {name} cookie: {e}"))
    };
    let (uid, token) = (cookie("rc_uid").await, cookie("rc_token").await);
    assert_eq!(
        token.http_only(),
        Some(true),
        "the token cookie is HttpOnly"
    );
    let readable = b
        .exec(
            "return JSON.stringify({local: {...localStorage}, session: {...sessionStorage}, cookie: document.cookie})",
            vec![],
        )
        .await;
    let readable = readable.as_str().unwrap_or_default().to_string();
    assert!(
        !readable.contains(token.value()) && !readable.contains("rc_token"),
        "script-readable storage holds the token: {readable}"
    );
    Session {
        user_id: uid.value().to_string(),
        token: token.value().to_string(),
        username: username.into(),
    }
}

/// Opens a channel from the sidebar and waits for its timeline.
pub(crate) async fn open_channel(b: &Browser, name: &str) {
    b.click(&tid(&format!("room-c-{name}"))).await;
    b.wait_text(&tid("room-title"), name).await;
    b.wait_present(&format!("{}[data-loaded=\"true\"]", tid("message-scroll")))
        .await;
}

/// Types `text` in the room's composer and presses Enter.
pub(crate) async fn send(b: &Browser, text: &str) {
    let input = b.wait_for(&tid("composer-input")).await;
    input
        .send_keys(&format!("{text}{ENTER}"))
        .await
        .expect("type in the composer");
}

async fn post(srv: &Palaver, who: &Session, rid: &str, text: &str) -> Value {
    srv.post_ok(
        "chat.postMessage",
        who,
        json!({ "roomId": rid, "text": text }),
    )
    .await["message"]
        .clone()
}

/// Texts of the messages in the room's timeline, in order.
pub(crate) async fn timeline(b: &Browser) -> Vec<String> {
    let v = b
        .exec(
            "return [...document.querySelectorAll('[data-testid=\"message-list\"] [data-testid=\"message-text\"]')].map(e => e.textContent)",
            vec![],
        )
        .await;
    v.as_array()
        .expect("an array of texts")
        .iter()
        .map(|t| t.as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_login_live_messages_history_and_safe_text() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    // #general exists on a fresh server; every new user joined it.
    let rid = "GENERAL".to_string();
    let random = channel(&srv, &admin, "random", &["alice", "bob"]).await;
    for i in 1..=120 {
        post(&srv, &bob, &rid, &format!("history {i:03}")).await;
    }
    post(
        &srv,
        &bob,
        &rid,
        "<img src=x onerror=alert(1)> and [a link](javascript:alert(2)) and *bold* `code`",
    )
    .await;
    post(&srv, &bob, &rid, "hey @alice, see https://example.com/docs").await;

    // A wrong password: a clear error, still on the form.
    let a = Browser::start().await;
    a.goto(&format!("{}/", srv.base_url())).await;
    a.wait_for(&tid("login-username")).await;
    a.screenshot("chat-login").await;
    a.fill(&tid("login-username"), "alice").await;
    a.fill(&tid("login-password"), "not-her-password").await;
    a.click(&tid("login-submit")).await;
    a.wait_text(&tid("login-error"), "Wrong username or password")
        .await;
    a.screenshot("chat-login-error").await;

    log_in(&a, &srv, "alice", &password_for("alice")).await;
    // The mention shows in the sidebar before the room is opened.
    let entry = a.wait_for(&tid("room-c-general")).await;
    let class = entry
        .attr("class")
        .await
        .expect("class")
        .unwrap_or_default();
    assert!(class.contains("mentioned"), "sidebar entry class {class:?}");
    a.wait_text(
        &format!("{} {}", tid("room-c-general"), tid("unread-badge")),
        "@1",
    )
    .await;
    assert!(
        a.find_all(&tid("admin-link")).await.is_empty(),
        "a regular user sees no Administration link"
    );

    open_channel(&a, "general").await;
    a.wait_text(&tid("message-list"), "see https://example.com/docs")
        .await;
    a.wait_gone(&tid("unread-badge")).await;

    // Text is text: the tag is shown, not parsed; the javascript: link is not a link.
    let texts = timeline(&a).await;
    assert!(
        texts
            .iter()
            .any(|t| t.contains("<img src=x onerror=alert(1)> and [a link](javascript:alert(2))")),
        "{texts:?}"
    );
    let unsafe_nodes = a
        .exec(
            "const l = document.querySelector('[data-testid=\"message-list\"]');
             // The client's own avatar pictures are the only images allowed.
             const own = x => x.matches('img[data-avatar-user]')
                 && x.src.startsWith(location.origin + '/avatar/');
             return [...l.querySelectorAll('img')].filter(x => !own(x)).length
                  + l.querySelectorAll('script, iframe, [onerror]').length
                  + [...l.querySelectorAll('a')].filter(x => !/^(https?|mailto):/.test(x.href)).length",
            vec![],
        )
        .await;
    assert_eq!(unsafe_nodes, json!(0), "unsafe nodes in the timeline");
    let markdown = a
        .exec(
            "const l = document.querySelector('[data-testid=\"message-list\"]');
             const link = [...l.querySelectorAll('a')].find(x => x.href === 'https://example.com/docs');
             return {
               bold: [...l.querySelectorAll('strong')].map(e => e.textContent),
               code: [...l.querySelectorAll('code')].map(e => e.textContent),
               rel: link ? link.rel : null,
               mention: [...l.querySelectorAll('.mention-me')].map(e => e.textContent),
             }",
            vec![],
        )
        .await;
    assert_eq!(markdown["bold"], json!(["bold"]), "{markdown}");
    assert_eq!(markdown["code"], json!(["code"]), "{markdown}");
    assert_eq!(markdown["rel"], json!("noopener noreferrer"), "{markdown}");
    assert_eq!(markdown["mention"], json!(["@alice"]), "{markdown}");

    // Only the newest page is loaded at first.
    let first = timeline(&a).await;
    assert!(
        !first.iter().any(|t| t == "history 001"),
        "the first page already holds the oldest message ({} messages)",
        first.len()
    );
    assert!(first.len() < 122, "{} messages loaded at once", first.len());

    // Scrolling to the top loads the page before, and what was on screen stays put.
    let before = a
        .exec(
            "const s = document.querySelector('[data-testid=\"message-scroll\"]');
             s.scrollTop = 0;
             const first = s.querySelector('[data-testid=\"message\"]');
             return { id: first.dataset.id, top: first.getBoundingClientRect().top,
                      count: s.querySelectorAll('[data-testid=\"message\"]').length }",
            vec![],
        )
        .await;
    let count = before["count"].as_u64().expect("count");
    a.wait_js(
        "an older page to be prepended",
        &format!(
            "return document.querySelectorAll('[data-testid=\"message-list\"] [data-testid=\"message\"]').length > {count}"
        ),
    )
    .await;
    let after = a
        .exec(
            "const el = document.querySelector('[data-testid=\"message\"][data-id=\"' + arguments[0] + '\"]');
             return el.getBoundingClientRect().top",
            vec![before["id"].clone()],
        )
        .await;
    let moved = (after.as_f64().expect("top") - before["top"].as_f64().expect("top")).abs();
    assert!(
        moved < 60.0,
        "the message on screen moved {moved}px when older ones loaded"
    );
    // Keep scrolling up until the very first message is there.
    a.wait_js(
        "the oldest message after scrolling up",
        "const s = document.querySelector('[data-testid=\"message-scroll\"]');
         s.scrollTop = 0;
         return [...s.querySelectorAll('[data-testid=\"message-text\"]')].some(e => e.textContent === 'history 001')",
    )
    .await;
    a.wait_text(&tid("history-state"), "beginning").await;
    let all = timeline(&a).await;
    let history: Vec<&String> = all.iter().filter(|t| t.starts_with("history ")).collect();
    assert_eq!(history.len(), 120, "each message once, in order");
    assert!(
        history.windows(2).all(|w| w[0] < w[1]),
        "history out of order"
    );

    // Bob, in a second browser, types (Alice sees it) and sends (Alice gets it live).
    let b = Browser::start().await;
    log_in(&b, &srv, "bob", &password_for("bob")).await;
    open_channel(&b, "general").await;
    let input = b.wait_for(&tid("composer-input")).await;
    input
        .send_keys("hello alice, this is ")
        .await
        .expect("type");
    a.wait_text(&tid("typing-indicator"), "bob is typing").await;
    input
        .send_keys(&format!("**live**{ENTER}"))
        .await
        .expect("send");
    a.wait_text(&tid("message-list"), "hello alice, this is live")
        .await;
    let live = a
        .exec(
            "const items = document.querySelectorAll('[data-testid=\"message-list\"] [data-testid=\"message\"]');
             const last = items[items.length - 1];
             return { author: last.dataset.author, strong: last.querySelector('strong')?.textContent }",
            vec![],
        )
        .await;
    assert_eq!(live["author"], "bob", "{live}");
    assert_eq!(live["strong"], "live", "{live}");
    // The message ends Bob's typing notice at once.
    a.wait_js(
        "the typing indicator to clear",
        "return document.querySelector('[data-testid=\"typing-indicator\"]').textContent === ''",
    )
    .await;
    // Bob's own copy is the stored one (no longer pending) and his composer is empty.
    b.wait_js(
        "Bob's message to be confirmed",
        "const m = [...document.querySelectorAll('[data-testid=\"message\"]')].find(e => e.textContent.includes('hello alice, this is live'));
         return m && !m.classList.contains('pending')",
    )
    .await;
    assert_eq!(b.value(&tid("composer-input")).await, "");

    // Alice answers; Bob sees it.
    send(&a, "hi bob").await;
    b.wait_text(&tid("message-list"), "hi bob").await;
    a.screenshot("chat-room-with-messages").await;
    b.screenshot("chat-room-second-session").await;

    // A post elsewhere: Alice's sidebar counts it live.
    post(&srv, &bob, &random, "over here").await;
    a.wait_text(
        &format!("{} {}", tid("room-c-random"), tid("unread-badge")),
        "1",
    )
    .await;

    // Actions on Bob's message: Alice reacts and replies in a thread; Bob sees both,
    // then edits it (Alice sees the edit mark) and deletes it (gone for Alice).
    let mid = a
        .exec(
            "return [...document.querySelectorAll('[data-testid=\"message-list\"] [data-author=\"bob\"]')]
                 .find(e => e.textContent.includes('this is live')).dataset.id",
            vec![],
        )
        .await;
    let mid = mid.as_str().expect("message id").to_string();
    let on = |id: &str| {
        format!(
            "[data-testid=\"message-list\"] [data-id=\"{mid}\"] {}",
            tid(id)
        )
    };
    // A tap on the message shows its actions (there is no hover on touch screens).
    a.click(&format!("[data-id=\"{mid}\"] {}", tid("message-text")))
        .await;
    a.click(&on("action-react")).await;
    a.click(&tid("pick-thumbsup")).await;
    b.wait_text(&on("reaction"), "1").await;
    a.click(&on("action-thread")).await;
    let reply = a.wait_for(&tid("thread-composer-input")).await;
    reply
        .send_keys(&format!("a reply in the thread{ENTER}"))
        .await
        .expect("reply");
    a.wait_text(&tid("thread-messages"), "a reply in the thread")
        .await;
    b.wait_text(&on("thread-replies"), "1 reply").await;
    b.click(&on("thread-replies")).await;
    b.wait_text(&tid("thread-messages"), "a reply in the thread")
        .await;
    a.screenshot("chat-thread").await;
    b.click(&tid("thread-close")).await;
    // Up in the empty composer edits Bob's last message.
    b.wait_for(&tid("composer-input"))
        .await
        .send_keys(ARROW_UP)
        .await
        .expect("arrow up");
    let edit = b.wait_for(&tid("edit-input")).await;
    edit.send_keys(&format!(" (edited){ENTER}"))
        .await
        .expect("edit");
    a.wait_text(&on("message-edited"), "(edited)").await;
    a.wait_text(
        &format!("[data-id=\"{mid}\"] {}", tid("message-text")),
        "this is live (edited)",
    )
    .await;
    b.click(&format!("[data-id=\"{mid}\"] {}", tid("message-text")))
        .await;
    b.click(&on("action-delete")).await;
    b.click(&tid("confirm-delete")).await;
    a.wait_gone(&format!("[data-id=\"{mid}\"]")).await;

    // The session survives a reload; logging out ends it (the token no longer works).
    a.client().refresh().await.expect("reload");
    a.wait_for(&tid("app-shell")).await;
    a.wait_text(&tid("me"), "alice Name").await;
    let alice_browser = browser_session(&a, "alice").await;
    assert_eq!(alice_browser.user_id, alice.user_id);
    srv.get_ok("me", &alice_browser).await;
    a.click(&tid("logout")).await;
    a.wait_for(&tid("login-page")).await;
    a.client().refresh().await.expect("reload");
    a.wait_for(&tid("login-page")).await;
    let (status, _) = srv.get("me", &alice_browser).await;
    assert_eq!(
        status.as_u16(),
        401,
        "logging out revoked the browser's token"
    );

    // Narrow screens: the sidebar hides behind a toggle.
    b.client()
        .set_window_size(360, 740)
        .await
        .expect("narrow window");
    b.wait_for(&tid("nav-toggle")).await;
    b.wait_js(
        "the sidebar to slide away",
        "return document.getElementById('sidebar').getBoundingClientRect().right <= 0",
    )
    .await;
    b.screenshot("chat-narrow-room").await;
    b.click(&tid("nav-toggle")).await;
    b.wait_for(&tid("room-c-general")).await;
    b.wait_js(
        "the sidebar to slide in",
        "return document.getElementById('sidebar').getBoundingClientRect().left >= 0",
    )
    .await;
    b.screenshot("chat-narrow-sidebar").await;

    // Logged out elsewhere (the token revoked over REST): the page notices at once.
    let bob_browser = browser_session(&b, "bob").await;
    let (status, body) = srv.post("logout", &bob_browser, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    b.wait_text(&tid("login-error"), "Your session has ended")
        .await;
}

/// The client ships inside the binary: `/` and `/assets/*` with their content types,
/// a strict Content-Security-Policy, `nosniff`, revalidation with ETags, and 404s for
/// anything else. Every module the page imports is served.
#[tokio::test]
async fn web_assets_are_served_from_the_binary_with_strict_headers() {
    let srv = Palaver::start().await;
    let get = |path: &'static str, headers: Vec<(&'static str, String)>| {
        let srv = &srv;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            srv.request_with_headers(Method::GET, path, None, Body::None, &h)
                .await
        }
    };
    let page = get("/", vec![]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert!(page.text.contains("/assets/app.js"), "{}", page.text);

    // Every module reachable from app.js is served as JavaScript.
    let mut pending = vec!["app.js".to_string()];
    let mut seen = Vec::new();
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        let url = format!("/assets/{name}");
        let r = srv
            .request_with_headers(Method::GET, &url, None, Body::None, &[])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript; charset=utf-8"),
            "{url}"
        );
        for line in r.text.lines() {
            if let Some(rest) = line.split(" from './").nth(1) {
                if let Some(module) = rest.split('\'').next() {
                    pending.push(module.to_string());
                }
            }
        }
        seen.push(name);
    }
    for module in ["api.js", "ddp.js", "room.js", "composer.js", "markdown.js"] {
        assert!(
            seen.iter().any(|s| s == module),
            "{module} not reached: {seen:?}"
        );
    }
    let admin = get("/assets/admin.js", vec![]).await;
    assert_eq!(admin.status, StatusCode::OK);
    let css = get("/assets/style.css", vec![]).await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));

    // Unchanged assets revalidate to 304.
    let etag = css.header("etag").expect("an ETag").to_string();
    assert_eq!(css.header("cache-control"), Some("no-cache"));
    let again = get("/assets/style.css", vec![("if-none-match", etag.clone())]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    for missing in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/index.html",
        "/web/app.js",
    ] {
        let r = get(missing, vec![]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

/// The sidebar's actions: browse the directory and join a public channel, create a
/// private group with a member, start a direct message; each lands in the room with
/// the sidebar updated, and the other side sees the result over REST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_directory_join_create_group_and_direct_message() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    srv.create_user(&admin, "dave").await;
    let erin = srv.create_user(&admin, "erin").await;
    let news = channel(&srv, &admin, "announcements", &[]).await;
    post(&srv, &admin, &news, "Welcome to the announcements").await;

    let b = Browser::start().await;
    log_in(&b, &srv, "dave", &password_for("dave")).await;
    assert!(b.find_all(&tid("room-c-announcements")).await.is_empty());

    // Browse → Join.
    b.click(&tid("browse-channels")).await;
    b.fill(&tid("directory-search"), "announ").await;
    b.wait_text(&tid("directory-announcements"), "#announcements")
        .await;
    b.screenshot("chat-directory").await;
    b.click(&tid("join-announcements")).await;
    b.wait_text(&tid("room-title"), "announcements").await;
    b.wait_text(&tid("message-list"), "Welcome to the announcements")
        .await;
    b.wait_for(&tid("room-c-announcements")).await;
    b.wait_for(&tid("composer-input")).await;

    // A private group with Erin in it.
    b.click(&tid("new-group")).await;
    b.fill(&tid("create-room-name"), "plans").await;
    b.fill(&tid("create-room-members"), "erin").await;
    b.click(&tid("create-room-submit")).await;
    b.wait_text(&tid("room-title"), "plans").await;
    b.wait_for(&tid("room-p-plans")).await;
    assert!(
        b.url().await.ends_with("#/group/plans"),
        "{}",
        b.url().await
    );
    send(&b, "group plan: ship it").await;
    let groups = srv.get_ok("groups.list", &erin).await;
    assert_eq!(groups["groups"][0]["name"], "plans", "{groups}");

    // A name that is taken: the dialog says so and stays open.
    b.click(&tid("new-channel")).await;
    b.fill(&tid("create-room-name"), "announcements").await;
    b.click(&tid("create-room-submit")).await;
    b.wait_text(&tid("create-room-error"), "exists").await;
    b.client()
        .execute(
            "document.querySelector('[data-testid=\"create-room-dialog\"]').close()",
            vec![],
        )
        .await
        .expect("close the dialog");

    // A direct message to Erin.
    b.click(&tid("new-dm")).await;
    b.fill(&tid("dm-search"), "erin").await;
    b.click(&tid("dm-start-erin")).await;
    b.wait_text(&tid("room-title"), "erin").await;
    b.wait_for(&tid("room-d-erin")).await;
    send(&b, "hi erin, privately").await;
    b.wait_js(
        "the DM to be stored",
        "const m = [...document.querySelectorAll('[data-testid=\"message\"]')].find(e => e.textContent.includes('hi erin, privately'));
         return m && !m.classList.contains('pending')",
    )
    .await;
    let ims = srv.get_ok("im.list", &erin).await;
    let rid = ims["ims"][0]["_id"].as_str().expect("the DM").to_string();
    let history = srv.get_ok(&format!("im.history?roomId={rid}"), &erin).await;
    assert_eq!(
        history["messages"][0]["msg"], "hi erin, privately",
        "{history}"
    );
    b.screenshot("chat-direct-message").await;
}
