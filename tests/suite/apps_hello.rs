//! `sample-apps/hello` end to end: its `/hello` command through `commands.run` (the
//! bot's message in the room, the ephemeral notice over REST and over DDP), its
//! pre-send hook refusing and rewriting messages sent over REST and over DDP, its
//! settings changing that behaviour, and its one outbound call reaching a local fake
//! service that the operator allow-listed.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::apps_support::{
    self as support, assert_prevented, channel, history, history_texts, post, try_post,
};
use palaver_tests::app_admin::{
    self, add_hosts, edited_manifest, install_ok, run_command, run_ok, says, set_settings, setting,
    wait_log, write_package,
};
use palaver_tests::ddp::Ddp;
use palaver_tests::fake_http::FakeHttp;

const NOTIFY_USER: &str = "stream-notify-user";

#[tokio::test]
async fn hello_answers_refuses_and_rewrites_over_rest_and_realtime() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "lobby", &["alice"]).await;

    // Before the install there is no /hello.
    let r = run_command(&srv, &alice, &rid, "hello", "world").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json["errorType"], "error-invalid-command", "{}", r.text);

    let app = install_ok(&srv, &admin, "hello", None, true).await;
    assert_eq!(app["botUserId"].as_str().map(str::len), Some(17), "{app}");
    let listed = srv.get_ok("commands.list", &alice).await;
    let hello = listed["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .find(|c| c["command"] == "hello")
        .unwrap_or_else(|| panic!("/hello is not listed: {listed}"))
        .clone();
    assert_eq!(hello["appId"], "hello", "{hello}");
    assert_eq!(hello["params"], "[name] | fetch [url]", "{hello}");
    assert_eq!(hello["clientOnly"], false, "{hello}");

    // Alice listens for her ephemeral notices over DDP.
    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    let event = format!("{}/message", alice.user_id);
    ddp.sub(NOTIFY_USER, json!([event, false])).await;

    // The command: a message from the bot in the room, and a notice for Alice only.
    let result = run_ok(&srv, &alice, &rid, "hello", "world").await;
    assert_eq!(result["appId"], "hello", "{result}");
    assert_eq!(
        result["ephemeral"], "Said hello to world in lobby.",
        "{result}"
    );
    let message_id = result["messageId"]
        .as_str()
        .unwrap_or_else(|| panic!("no messageId: {result}"));
    let messages = history(&srv, &alice, &rid).await;
    let greeting = messages
        .iter()
        .find(|m| m["_id"] == message_id)
        .unwrap_or_else(|| panic!("the greeting {message_id} is not in the history: {messages:?}"));
    assert_eq!(greeting["msg"], "Hello, world!", "{greeting}");
    assert_eq!(greeting["u"]["username"], "hello.bot", "{greeting}");
    assert_eq!(greeting["u"]["_id"], app["botUserId"], "{greeting}");
    assert_eq!(greeting["emoji"], ":wave:", "{greeting}");
    let frame = ddp.event(NOTIFY_USER, &event).await;
    let notice = &frame["fields"]["args"][0];
    assert_eq!(notice["msg"], "Said hello to world in lobby.", "{frame}");
    assert_eq!(notice["rid"], json!(rid), "{frame}");
    assert_eq!(notice["private"], true, "{frame}");
    assert_eq!(notice["u"]["username"], "hello.bot", "{frame}");
    // Without a name it greets the sender by name.
    let result = run_ok(&srv, &alice, &rid, "hello", "").await;
    let mid = result["messageId"].as_str().expect("messageId");
    let texts: Vec<Value> = history(&srv, &alice, &rid)
        .await
        .into_iter()
        .filter(|m| m["_id"] == mid)
        .collect();
    assert_eq!(texts[0]["msg"], "Hello, alice Name!", "{texts:?}");

    // The hook refuses the default forbidden word ("forbidden", any case), over REST…
    let (status, body) = try_post(&srv, &alice, &rid, "this is FORBIDDEN fruit").await;
    assert_prevented(
        status,
        &body,
        "Hello",
        "The word \"forbidden\" is not allowed here.",
    );
    // …and over DDP, as a method error.
    let err = ddp
        .call_err(
            "sendMessage",
            json!([{"rid": rid, "msg": "forbidden over ddp"}]),
        )
        .await;
    assert_eq!(err["error"], "error-app-prevented", "{err}");
    assert!(
        err.to_string()
            .contains("The app Hello prevented this message"),
        "{err}"
    );
    let texts = history_texts(&srv, &alice, &rid).await;
    assert!(
        !texts.iter().any(|t| t.to_lowercase().contains("forbidden")),
        "a refused message was stored: {texts:?}"
    );

    // Settings: another forbidden word, and a replacement.
    let r = set_settings(
        &srv,
        &admin,
        "hello",
        json!({"forbidden-word": "banana", "replace-from": "colour", "replace-to": "color"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        setting(&srv, &admin, "hello", "forbidden-word").await,
        "banana"
    );
    assert_eq!(
        setting(&srv, &admin, "hello", "replace-from").await,
        "colour"
    );
    // An unknown setting or a wrong type is refused with the reason.
    let r = set_settings(&srv, &admin, "hello", json!({"no-such": "x"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("no-such: no such setting"), "{}", r.text);

    // "forbidden" is fine now; "banana" is not, over REST and DDP.
    let m = post(&srv, &alice, &rid, "forbidden is allowed now").await;
    assert_eq!(m["msg"], "forbidden is allowed now");
    let (status, body) = try_post(&srv, &alice, &rid, "Banana split").await;
    assert_prevented(
        status,
        &body,
        "Hello",
        "The word \"banana\" is not allowed here.",
    );
    let err = ddp
        .call_err("sendMessage", json!([{"rid": rid, "msg": "one BANANA"}]))
        .await;
    assert_eq!(err["error"], "error-app-prevented", "{err}");
    assert!(err.to_string().contains("banana"), "{err}");

    // The rewrite, over REST and DDP: what is stored and answered is the new text.
    let m = post(&srv, &alice, &rid, "my favourite colour").await;
    assert_eq!(m["msg"], "my favourite color", "{m}");
    let sent = ddp
        .call_ok(
            "sendMessage",
            json!([{"rid": rid, "msg": "colour over ddp, colour twice"}]),
        )
        .await;
    assert_eq!(sent["msg"], "color over ddp, color twice", "{sent}");
    let texts = history_texts(&srv, &alice, &rid).await;
    assert_eq!(texts[0], "color over ddp, color twice", "{texts:?}");
    assert_eq!(texts[1], "my favourite color", "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("colour")),
        "the unmodified text was stored: {texts:?}"
    );

    // Disabled, the hook and the command are gone.
    let r = app_admin::set_status(&srv, &admin, "hello", false).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["status"], "manually_disabled", "{}", r.text);
    let m = post(&srv, &alice, &rid, "banana colour").await;
    assert_eq!(m["msg"], "banana colour");
    let r = run_command(&srv, &alice, &rid, "hello", "").await;
    assert_eq!(r.json["errorType"], "error-invalid-command", "{}", r.text);
}

#[tokio::test]
async fn hello_fetches_from_an_allow_listed_fake_service() {
    let fake = FakeHttp::start().await;
    // Granted to the app, but not allow-listed by the operator.
    let closed = FakeHttp::start().await;
    let market = support::marketplace();
    // hello asks for example.com only; this variant also asks for the two fakes
    // (grants without a port mean the scheme's default port).
    let manifest = edited_manifest(&support::app_dir("hello"), |m| {
        add_hosts(
            m,
            &[
                format!("127.0.0.1:{}", fake.port()),
                format!("127.0.0.1:{}", closed.port()),
            ],
        )
    });
    write_package(market.path(), &manifest, &support::wasm("hello"));
    let srv = support::server(market.path())
        .env(
            "PALAVER_APPS__HTTP_ALLOW",
            support::http_allow(&[fake.addr().to_string()]),
        )
        .start()
        .await;
    let admin = srv.admin().await;
    let rid = channel(&srv, &admin, "status", &[]).await;
    install_ok(&srv, &admin, "hello", None, true).await;

    // The call reaches the fake, and the app posts what it answered.
    let url = fake.url("/status?from=hello");
    let result = run_ok(&srv, &admin, &rid, "hello", &format!("fetch {url}")).await;
    let mid = result["messageId"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {result}"));
    let messages = history(&srv, &admin, &rid).await;
    let answer = messages
        .iter()
        .find(|m| m["_id"] == mid)
        .expect("the app's message");
    assert_eq!(
        answer["msg"],
        json!(format!(
            "{url} answered 200: fake ok: GET /status?from=hello"
        )),
        "{answer}"
    );
    let got = fake.requests();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].method, "GET");
    assert_eq!(got[0].path, "/status?from=hello");
    assert_eq!(
        got[0].header("host"),
        Some(fake.addr().to_string().as_str()),
        "{got:?}"
    );
    for spoof in ["x-forwarded-for", "forwarded", "x-real-ip", "via"] {
        assert_eq!(got[0].header(spoof), None, "{spoof} sent: {got:?}");
    }
    assert!(got[0].body.is_empty(), "{got:?}");

    // The URL can come from the settings.
    let from_setting = fake.url("/from-setting");
    let r = set_settings(&srv, &admin, "hello", json!({"status-url": from_setting})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    run_ok(&srv, &admin, &rid, "hello", "fetch").await;
    let texts = history_texts(&srv, &admin, &rid).await;
    assert_eq!(
        texts[0],
        format!("{from_setting} answered 200: fake ok: GET /from-setting")
    );
    assert_eq!(fake.requests().len(), 2);

    // Granted but not allow-listed: refused before connecting, shown to the sender.
    let refused = closed.url("/secret");
    let text = app_admin::ephemeral(&srv, &admin, &rid, "hello", &format!("fetch {refused}")).await;
    assert!(
        text.starts_with(&format!(
            "Could not fetch {refused}: the request was refused or failed:"
        )) && text.contains("refused (loopback"),
        "{text}"
    );
    assert!(
        closed.requests().is_empty(),
        "the fake that is not allow-listed was reached: {:?}",
        closed.requests()
    );
    let entry = wait_log(&srv, &admin, "hello", "the refused address", |e| {
        e["fault"] == "address-refused" && says(e, &refused)
    })
    .await;
    assert_eq!(entry["handler"], "execute-command", "{entry}");

    // A port that is not granted: permission denied.
    let other = "http://127.0.0.1:9/".to_string();
    let text = app_admin::ephemeral(&srv, &admin, &rid, "hello", &format!("fetch {other}")).await;
    assert!(
        text.contains("this app was not granted the `networking` permission"),
        "{text}"
    );
    wait_log(&srv, &admin, "hello", "the host not granted", |e| {
        e["fault"] == "permission-denied" && says(e, "is not granted to this app")
    })
    .await;

    // Installed again without `networking`: every fetch is refused with the
    // permission's name, and the refusal is in the app's log.
    let r = srv
        .request(
            reqwest::Method::DELETE,
            "/api/apps/hello",
            Some(&admin),
            palaver_tests::server::Body::None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    install_ok(
        &srv,
        &admin,
        "hello",
        Some(&["slashcommand", "message.write", "message.read"]),
        true,
    )
    .await;
    let text = app_admin::ephemeral(&srv, &admin, &rid, "hello", &format!("fetch {url}")).await;
    assert_eq!(
        text,
        format!("Could not fetch {url}: this app was not granted the `networking` permission; an admin can grant it.")
    );
    let entry = wait_log(&srv, &admin, "hello", "networking refused", |e| {
        e["fault"] == "permission-denied"
            && says(
                e,
                "http.request refused: the app was not granted networking",
            )
    })
    .await;
    assert_eq!(entry["level"], "warn", "{entry}");
    assert_eq!(fake.requests().len(), 2, "no request without the grant");
}
