//! E-mail notifications and account e-mails against a real SMTP server on loopback
//! (aiosmtpd, STARTTLS with a test CA and AUTH required): missed direct messages and
//! mentions arrive once, batched per room and window, escaped, with the room's link;
//! nothing while the person is connected or chose `nothing`; password reset end to
//! end; the admin's SMTP test reports the server's reply or its refusal; queued mail
//! survives `kill -9` and is delivered once.

use std::time::{Duration, Instant};

use palaver_tests::ddp::Ddp;
use palaver_tests::server::{Palaver, Session};
use palaver_tests::smtp::{Received, SinkOptions, SmtpSink};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{assert_error, create_channel};

/// The batching window the tests run with (seconds).
const WINDOW_SECS: u64 = 2;
const SMTP_USER: &str = "palaver-mailer";
const SMTP_PASSWORD: &str = "s3cret-smtp";

async fn start() -> (Palaver, Session, SmtpSink) {
    let sink = SmtpSink::start(SinkOptions {
        starttls: true,
        credentials: Some((SMTP_USER.into(), SMTP_PASSWORD.into())),
    })
    .await;
    let srv = Palaver::builder()
        .env(
            "PALAVER_SETTINGS__EMAIL_NOTIFICATION_WINDOW_SECONDS",
            WINDOW_SECS.to_string(),
        )
        .start()
        .await;
    let admin = srv.admin().await;
    configure(&srv, &admin, &sink, SMTP_PASSWORD).await;
    (srv, admin, sink)
}

async fn configure(srv: &Palaver, admin: &Session, sink: &SmtpSink, password: &str) {
    for (id, value) in [
        ("SMTP_Host", json!("127.0.0.1")),
        ("SMTP_Port", json!(sink.port())),
        ("SMTP_Username", json!(SMTP_USER)),
        ("SMTP_Password", json!(password)),
        ("From_Email", json!("chat@palaver.test")),
        ("SMTP_CA_Certificate", json!(sink.ca_pem().expect("a CA"))),
        ("Site_Name", json!("Palaver <Test>")),
    ] {
        srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
            .await;
    }
}

/// A user with a verified address `<name>@palaver.test` (Rocket.Chat mails only
/// verified addresses), logged in over REST only (no realtime session).
async fn verified_user(srv: &Palaver, admin: &Session, name: &str) -> Session {
    srv.post_ok(
        "users.create",
        admin,
        json!({
            "username": name,
            "name": format!("{name} Name"),
            "email": format!("{name}@palaver.test"),
            "password": palaver_tests::server::password_for(name),
            "verified": true,
        }),
    )
    .await;
    srv.login(name, &palaver_tests::server::password_for(name))
        .await
}

async fn dm(srv: &Palaver, from: &Session, to: &str) -> String {
    let body = srv
        .post_ok("im.create", from, json!({ "username": to }))
        .await;
    body["room"]["_id"].as_str().expect("dm id").to_string()
}

async fn post(srv: &Palaver, who: &Session, rid: &str, text: &str) {
    srv.post_ok(
        "chat.postMessage",
        who,
        json!({"roomId": rid, "text": text}),
    )
    .await;
}

/// Waits until the clock is early in a batching window, so messages posted
/// back to back fall into one window.
async fn early_in_window() {
    let w = WINDOW_SECS as u128 * 1000;
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis();
        if now % w < w / 4 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn to(mails: &[Received], address: &str) -> Vec<Received> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .cloned()
        .collect()
}

/// Long enough for a window, its grace and the queue's poll, with room to spare.
fn settle() -> Duration {
    Duration::from_secs(WINDOW_SECS * 2 + 8)
}

#[tokio::test]
async fn missed_direct_messages_and_mentions_are_mailed_once_batched_and_escaped() {
    let (srv, admin, sink) = start().await;
    let _bob = verified_user(&srv, &admin, "bob").await;
    let _carol = verified_user(&srv, &admin, "carol").await;
    let room = create_channel(&srv, &admin, "notify-room", &["bob", "carol"]).await;
    let rid = room["_id"].as_str().expect("rid");
    let dm_rid = dm(&srv, &admin, "bob").await;

    early_in_window().await;
    post(&srv, &admin, &dm_rid, "<b>hi</b> & welcome").await;
    post(&srv, &admin, &dm_rid, "second line").await;
    post(&srv, &admin, rid, "@bob look at <script>alert(1)</script>").await;
    // A plain channel message mails nobody by default (mentions only).
    post(&srv, &admin, rid, "nothing for anyone").await;

    let mails = sink.wait_for(2, settle()).await;
    // Nothing more comes later: once per room and window.
    tokio::time::sleep(Duration::from_secs(WINDOW_SECS + 3)).await;
    let mails_after = sink.received();
    assert_eq!(mails_after.len(), 2, "exactly two mails: {mails_after:#?}");
    assert_eq!(mails.len(), 2);
    assert!(
        to(&mails, "carol@palaver.test").is_empty(),
        "carol was not mentioned"
    );

    let bob = to(&mails, "bob@palaver.test");
    assert_eq!(bob.len(), 2, "{bob:#?}");
    let base = srv.base_url();
    let dm_mail = bob
        .iter()
        .find(|m| m.subject.contains("direct messaged"))
        .unwrap_or_else(|| panic!("a DM mail: {bob:#?}"));
    assert_eq!(
        dm_mail.subject,
        "Palaver <Test> - You have been direct messaged by admin"
    );
    assert!(dm_mail.tls, "sent over STARTTLS");
    assert_eq!(dm_mail.from, "chat@palaver.test");
    assert!(
        dm_mail.html.contains("&lt;b&gt;hi&lt;/b&gt; &amp; welcome"),
        "escaped: {}",
        dm_mail.html
    );
    assert!(
        dm_mail.html.contains("second line"),
        "batched: {}",
        dm_mail.html
    );
    assert!(!dm_mail.html.contains("<b>hi</b>"), "{}", dm_mail.html);
    assert!(
        dm_mail.html.contains(&format!("{base}/#/direct/admin")),
        "link to the DM: {}",
        dm_mail.html
    );
    assert!(
        dm_mail.text.contains("<b>hi</b> & welcome"),
        "plain text part: {}",
        dm_mail.text
    );

    let mention = bob
        .iter()
        .find(|m| m.subject.contains("mentioned"))
        .unwrap_or_else(|| panic!("a mention mail: {bob:#?}"));
    assert_eq!(
        mention.subject,
        "Palaver <Test> - You have been mentioned by admin in #notify-room"
    );
    assert!(
        mention
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        mention.html
    );
    assert!(!mention.html.contains("<script>"), "{}", mention.html);
    assert!(
        !mention.html.contains("nothing for anyone"),
        "{}",
        mention.html
    );
    assert!(
        mention
            .html
            .contains(&format!("{base}/#/channel/notify-room")),
        "{}",
        mention.html
    );
}

#[tokio::test]
async fn nobody_connected_or_choosing_nothing_is_mailed() {
    let (srv, admin, sink) = start().await;
    let bob = verified_user(&srv, &admin, "bob").await;
    let carol = verified_user(&srv, &admin, "carol").await;
    let dave = verified_user(&srv, &admin, "dave").await;
    let _erin = verified_user(&srv, &admin, "erin").await;
    let bob_dm = dm(&srv, &admin, "bob").await;
    let carol_dm = dm(&srv, &admin, "carol").await;
    let dave_dm = dm(&srv, &admin, "dave").await;
    let erin_dm = dm(&srv, &admin, "erin").await;

    // Bob is connected; carol chose nothing for the room; dave for every room.
    let ddp = Ddp::connect_as(&srv, &bob).await;
    srv.post_ok(
        "rooms.saveNotification",
        &carol,
        json!({"roomId": carol_dm, "notifications": {"emailNotifications": "nothing", "muteGroupMentions": "1"}}),
    )
    .await;
    let sub = srv
        .get_ok(&format!("subscriptions.getOne?roomId={carol_dm}"), &carol)
        .await;
    assert_eq!(
        sub["subscription"]["emailNotifications"],
        json!("nothing"),
        "{sub}"
    );
    assert_eq!(
        sub["subscription"]["muteGroupMentions"],
        json!(true),
        "{sub}"
    );
    srv.post_ok(
        "users.setPreferences",
        &dave,
        json!({"data": {"emailNotificationMode": "nothing"}}),
    )
    .await;
    let prefs = srv.get_ok("users.getPreferences", &dave).await;
    assert_eq!(
        prefs["preferences"]["emailNotificationMode"],
        json!("nothing"),
        "{prefs}"
    );
    // A bad value is refused and changes nothing.
    let (status, body) = srv
        .post(
            "rooms.saveNotification",
            &carol,
            json!({"roomId": carol_dm, "notifications": {"emailNotifications": "loud"}}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-settings"),
        "bad value",
    );

    for rid in [&bob_dm, &carol_dm, &dave_dm, &erin_dm] {
        post(&srv, &admin, rid, "are you there?").await;
    }
    // Erin, offline with the defaults, is the control: her mail proves the rest
    // had their chance.
    sink.wait_for(1, settle()).await;
    tokio::time::sleep(Duration::from_secs(WINDOW_SECS + 3)).await;
    let mails = sink.received();
    assert_eq!(to(&mails, "erin@palaver.test").len(), 1, "{mails:#?}");
    assert_eq!(mails.len(), 1, "only erin: {mails:#?}");

    // Once bob has left, he is mailed again.
    ddp.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    post(&srv, &admin, &bob_dm, "now you are away").await;
    let mails = sink.wait_for(2, settle()).await;
    assert_eq!(to(&mails, "bob@palaver.test").len(), 1, "{mails:#?}");
}

#[tokio::test]
async fn the_smtp_test_reports_the_servers_reply_and_a_wrong_password() {
    let (srv, admin, sink) = start().await;
    let body = srv
        .post_ok(
            "settings/SMTP_Test_Button",
            &admin,
            json!({"execute": true}),
        )
        .await;
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("admin@palaver.test")
            && message.contains("250")
            && message.contains("palaver-test-1"),
        "the server's reply: {body}"
    );
    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["admin@palaver.test".to_string()]);
    assert!(
        mails[0].subject.contains("SMTP Test Email"),
        "{:?}",
        mails[0].subject
    );

    // Over method.call too (Rocket.Chat's sendSMTPTestEmail).
    let answer = srv
        .post_ok(
            "method.call/sendSMTPTestEmail",
            &admin,
            json!({"message": json!({"msg": "method", "id": "1", "method": "sendSMTPTestEmail", "params": []}).to_string()}),
        )
        .await;
    let result: Value =
        serde_json::from_str(answer["message"].as_str().expect("message")).expect("json");
    assert_eq!(
        result["result"]["params"],
        json!(["admin@palaver.test"]),
        "{result}"
    );

    srv.post_ok("settings/SMTP_Password", &admin, json!({"value": "wrong"}))
        .await;
    let (status, body) = srv
        .post(
            "settings/SMTP_Test_Button",
            &admin,
            json!({"execute": true}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-email-send-failed"),
        "wrong password",
    );
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("535"),
        "the server's refusal, exactly: {body}"
    );
    assert_eq!(
        sink.received().len(),
        2,
        "nothing sent with the wrong password"
    );

    // A user may not run it.
    let bob = verified_user(&srv, &admin, "bob").await;
    let (status, body) = srv
        .post("settings/SMTP_Test_Button", &bob, json!({"execute": true}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

fn reset_token(mail: &Received) -> String {
    let at = mail
        .text
        .find("/reset-password/")
        .unwrap_or_else(|| panic!("a reset link: {}", mail.text));
    mail.text[at + "/reset-password/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect()
}

async fn call_anon(srv: &Palaver, method: &str, params: Value) -> Value {
    let (status, body) = srv
        .post_anon(
            &format!("method.callAnon/{method}"),
            json!({"message": json!({"msg": "method", "id": "7", "method": method, "params": params}).to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(body["message"].as_str().expect("message")).expect("DDP json")
}

#[tokio::test]
async fn password_reset_works_once_by_the_mailed_link() {
    let (srv, admin, sink) = start().await;
    let _bob = verified_user(&srv, &admin, "bob").await;

    // Known and unknown addresses get the same answer; only the known one a mail.
    let (status, body) = srv
        .post_anon(
            "users.forgotPassword",
            json!({"email": "nobody@palaver.test"}),
        )
        .await;
    assert_eq!(
        (status, body["success"].clone()),
        (StatusCode::OK, json!(true)),
        "{body}"
    );
    let (status, body) = srv
        .post_anon("users.forgotPassword", json!({"email": "BOB@palaver.test"}))
        .await;
    assert_eq!(
        (status, body["success"].clone()),
        (StatusCode::OK, json!(true)),
        "{body}"
    );
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.received().len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["bob@palaver.test".to_string()]);
    assert_eq!(mail.subject, "Palaver <Test> - Password Recovery");
    assert!(mail.html.contains("Hello bob Name"), "{}", mail.html);
    assert!(
        mail.text
            .contains(&format!("{}/reset-password/", srv.base_url())),
        "{}",
        mail.text
    );
    let token = reset_token(mail);

    // A forged token is refused.
    let forged = format!("{}0", token);
    let answer = call_anon(&srv, "resetPassword", json!([forged, "N3w-passw0rd!"])).await;
    assert!(answer["error"].is_object(), "{answer}");

    let answer = call_anon(&srv, "resetPassword", json!([token, "N3w-passw0rd!"])).await;
    assert!(answer["result"]["token"].is_string(), "logged in: {answer}");
    let new = srv
        .try_login(json!({"user": "bob", "password": "N3w-passw0rd!"}))
        .await;
    assert_eq!(new.status, StatusCode::OK);
    let old = srv
        .try_login(json!({"user": "bob", "password": palaver_tests::server::password_for("bob")}))
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);

    // The link works once.
    let again = call_anon(&srv, "resetPassword", json!([token, "An0ther-pass!"])).await;
    assert_eq!(
        again["error"]["error"],
        json!("error-invalid-token"),
        "{again}"
    );
}

/// The reset link proves the mailbox it was sent to: that address is verified after
/// the reset, and only that one.
#[tokio::test]
async fn password_reset_verifies_the_address_it_was_mailed_to() {
    let (srv, admin, sink) = start().await;
    let body = srv
        .post_ok(
            "users.create",
            &admin,
            json!({
                "username": "carol",
                "name": "carol Name",
                "email": "carol@palaver.test",
                "password": palaver_tests::server::password_for("carol"),
                "verified": false,
            }),
        )
        .await;
    let uid = body["user"]["_id"].as_str().expect("user id").to_string();
    async fn verified(srv: &Palaver, admin: &Session, uid: &str) -> Value {
        let info = srv.get_ok(&format!("users.info?userId={uid}"), admin).await;
        info["user"]["emails"][0]["verified"].clone()
    }
    assert_eq!(verified(&srv, &admin, &uid).await, json!(false));
    srv.post_anon(
        "users.forgotPassword",
        json!({"email": "carol@palaver.test"}),
    )
    .await;
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    let token = reset_token(&mails[0]);
    // A link for another password (a forged binding) verifies nothing.
    let answer = call_anon(
        &srv,
        "resetPassword",
        json!([format!("{token}0"), "N3w-passw0rd!"]),
    )
    .await;
    assert!(answer["error"].is_object(), "{answer}");
    assert_eq!(verified(&srv, &admin, &uid).await, json!(false));
    let answer = call_anon(&srv, "resetPassword", json!([token, "N3w-passw0rd!"])).await;
    assert!(answer["result"]["token"].is_string(), "logged in: {answer}");
    assert_eq!(verified(&srv, &admin, &uid).await, json!(true));
}

#[tokio::test]
async fn queued_mail_survives_kill_9_and_is_delivered_once() {
    let sink = SmtpSink::start(SinkOptions {
        starttls: true,
        credentials: Some((SMTP_USER.into(), SMTP_PASSWORD.into())),
    })
    .await;
    // A long window: the mail is still queued when the server dies.
    let mut srv = Palaver::builder()
        .env("PALAVER_SETTINGS__EMAIL_NOTIFICATION_WINDOW_SECONDS", "6")
        .start()
        .await;
    let admin = srv.admin().await;
    configure(&srv, &admin, &sink, SMTP_PASSWORD).await;
    let _bob = verified_user(&srv, &admin, "bob").await;
    let rid = dm(&srv, &admin, "bob").await;
    post(&srv, &admin, &rid, "before the crash").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = srv.get_ok("palaver.outbox.stats", &admin).await;
        let depth = stats["queues"]
            .as_array()
            .and_then(|q| q.iter().find(|q| q["kind"] == "email"))
            .map(|q| q["pending"].as_u64().unwrap_or(0))
            .unwrap_or(0);
        if depth >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never queued: {stats}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sink.received().is_empty());
    srv.kill9();
    srv.start_again().await;
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails_after = sink.received();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails_after.len(), 1, "once: {mails_after:#?}");
    assert!(
        mails[0].html.contains("before the crash"),
        "{}",
        mails[0].html
    );
}

#[tokio::test]
async fn registration_with_verification_mails_a_link_that_verifies_the_address() {
    let (srv, admin, sink) = start().await;
    for (id, value) in [
        ("Accounts_RegistrationForm", json!("Public")),
        ("Accounts_EmailVerification", json!(true)),
    ] {
        srv.post_ok(&format!("settings/{id}"), &admin, json!({ "value": value }))
            .await;
    }
    let (status, body) = srv
        .post_anon(
            "users.register",
            json!({"username": "newbie", "email": "newbie@palaver.test", "pass": "Newbie-pass-1!", "name": "New & \"Bie\""}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uid = body["user"]["_id"].as_str().expect("id").to_string();
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, vec!["newbie@palaver.test".to_string()]);
    assert_eq!(mail.subject, "Palaver <Test> - Verify your account");
    assert!(
        mail.html.contains("Hello New &amp; &quot;Bie&quot;"),
        "escaped: {}",
        mail.html
    );
    // A new link on request (`users.sendConfirmationEmail`); either works.
    srv.post_ok(
        "users.sendConfirmationEmail",
        &admin,
        json!({"email": "newbie@palaver.test"}),
    )
    .await;
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(mails[1].to, vec!["newbie@palaver.test".to_string()]);
    assert_eq!(mails[1].subject, "Palaver <Test> - Verify your account");
    let mail = &mails[1];
    let prefix = format!("{}/verify-email/", srv.base_url());
    let at = mail
        .text
        .find(&prefix)
        .unwrap_or_else(|| panic!("{}", mail.text));
    let link: String = mail.text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>')
        .collect();

    let info = srv
        .get_ok(&format!("users.info?userId={uid}"), &admin)
        .await;
    assert_eq!(
        info["user"]["emails"][0]["verified"],
        json!(false),
        "{info}"
    );
    // Not verified yet: no password login (Rocket.Chat's `error-invalid-email`).
    let refused = srv
        .try_login(json!({"user": "newbie", "password": "Newbie-pass-1!"}))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
    assert_eq!(
        refused.json["error"],
        json!("error-invalid-email"),
        "{}",
        refused.text
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let forged = client
        .get(format!("{link}0"))
        .send()
        .await
        .expect("forged link");
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    let res = client.get(&link).send().await.expect("verification link");
    assert!(res.status().is_redirection(), "{}", res.status());
    let info = srv
        .get_ok(&format!("users.info?userId={uid}"), &admin)
        .await;
    assert_eq!(info["user"]["emails"][0]["verified"], json!(true), "{info}");
    let login = srv
        .try_login(json!({"user": "newbie", "password": "Newbie-pass-1!"}))
        .await;
    assert_eq!(login.status, StatusCode::OK, "verified: {}", login.text);
}

/// A message posted just after a window closed, while that window's mail still
/// waits out its grace, belongs to the next window only: each message is listed
/// in exactly one mail, and each mail lists only its window's messages.
#[tokio::test]
async fn a_message_after_the_window_closed_is_mailed_once_in_the_next_window() {
    let (srv, admin, sink) = start().await;
    let _bob = verified_user(&srv, &admin, "bob").await;
    let rid = dm(&srv, &admin, "bob").await;
    let w = WINDOW_SECS as u128 * 1000;
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis()
    };
    early_in_window().await;
    let first_window = now_ms() / w;
    post(&srv, &admin, &rid, "first-window message").await;
    // Into the next window, within the first one's grace (2 s after its end).
    loop {
        let now = now_ms();
        if now / w == first_window + 1 && (100..w / 4).contains(&(now % w)) {
            break;
        }
        assert!(
            now / w <= first_window + 1,
            "missed the next window's start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    post(&srv, &admin, &rid, "second-window message").await;
    let mails = sink.wait_for(2, settle()).await;
    tokio::time::sleep(Duration::from_secs(WINDOW_SECS + 3)).await;
    let mails_after = sink.received();
    assert_eq!(
        mails_after.len(),
        2,
        "one mail per window: {mails_after:#?}"
    );
    let listing = |needle: &str| mails.iter().filter(|m| m.html.contains(needle)).count();
    assert_eq!(listing("first-window message"), 1, "{mails:#?}");
    assert_eq!(
        listing("second-window message"),
        1,
        "never twice: {mails:#?}"
    );
}

/// Admins edit the mails' subjects and bodies as settings; values filled into
/// them are escaped in the HTML part.
#[tokio::test]
async fn admins_edit_the_mail_templates() {
    let (srv, admin, sink) = start().await;
    let _bob = verified_user(&srv, &admin, "bob").await;
    for (id, value) in [
        ("Offline_DM_Email", "[Site_Name] news: [user] wrote to you"),
        (
            "Offline_Message_Email_Body",
            "<h1>Custom body</h1><p>[header]</p>[messages]<a href=\"[room_path]\">Open [room]</a>",
        ),
        ("Forgot_Password_Email_Subject", "Reset at [Site_Name]"),
        (
            "Forgot_Password_Email",
            "<p>Dear [name], <a href=\"[Forgot_Password_Url]\">choose a password</a></p>",
        ),
    ] {
        srv.post_ok(&format!("settings/{id}"), &admin, json!({ "value": value }))
            .await;
    }
    let rid = dm(&srv, &admin, "bob").await;
    post(&srv, &admin, &rid, "<i>styled</i>").await;
    let mails = sink.wait_for(1, settle()).await;
    let mail = &mails[0];
    assert_eq!(mail.subject, "Palaver <Test> news: admin wrote to you");
    assert!(mail.html.contains("<h1>Custom body</h1>"), "{}", mail.html);
    assert!(
        mail.html.contains("&lt;i&gt;styled&lt;/i&gt;"),
        "escaped: {}",
        mail.html
    );
    assert!(
        mail.html
            .contains(&format!("href=\"{}/#/direct/admin\"", srv.base_url())),
        "{}",
        mail.html
    );

    srv.post_anon("users.forgotPassword", json!({"email": "bob@palaver.test"}))
        .await;
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    let reset = &mails[1];
    assert_eq!(reset.subject, "Reset at Palaver <Test>");
    assert!(reset.html.contains("Dear bob Name, "), "{}", reset.html);
    assert!(reset.text.contains("/reset-password/"), "{}", reset.text);
}

/// Password reset end to end in the web client (headless Chromium): "Forgot your
/// password?", the mailed link, the new password, logging in with it; the link
/// works once.
#[tokio::test]
async fn password_reset_end_to_end_in_the_browser() {
    use palaver_tests::browser::Browser;
    let tid = |id: &str| format!("[data-testid=\"{id}\"]");
    let (srv, admin, sink) = start().await;
    let _bob = verified_user(&srv, &admin, "bob").await;
    let b = Browser::start().await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.click(&tid("forgot-password")).await;
    b.fill(&tid("forgot-email"), "bob@palaver.test").await;
    b.click(&tid("forgot-submit")).await;
    b.wait_text(&tid("forgot-done"), "on its way").await;
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    let prefix = format!("{}/reset-password/", srv.base_url());
    let at = mails[0]
        .text
        .find(&prefix)
        .unwrap_or_else(|| panic!("a reset link: {}", mails[0].text));
    let link: String = mails[0].text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>')
        .collect();

    b.goto(&link).await;
    b.wait_for(&tid("reset-page")).await;
    b.fill(&tid("reset-password"), "Br0wser-reset!").await;
    b.fill(&tid("reset-confirm"), "Br0wser-reset!").await;
    b.click(&tid("reset-submit")).await;
    b.wait_text(&tid("login-error"), "Your password was changed")
        .await;
    b.fill(&tid("login-username"), "bob").await;
    b.fill(&tid("login-password"), "Br0wser-reset!").await;
    b.click(&tid("login-submit")).await;
    b.wait_for(&tid("app-shell")).await;
    let old = srv
        .try_login(json!({"user": "bob", "password": palaver_tests::server::password_for("bob")}))
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);

    // The same link again: refused, in words.
    let b2 = Browser::start().await;
    b2.goto(&link).await;
    b2.wait_for(&tid("reset-page")).await;
    b2.fill(&tid("reset-password"), "An0ther-pass!").await;
    b2.fill(&tid("reset-confirm"), "An0ther-pass!").await;
    b2.click(&tid("reset-submit")).await;
    b2.wait_text(&tid("reset-error"), "expired or was already used")
        .await;
}

/// `sendInvitationEmail` (Rocket.Chat's "invite users by e-mail"): needs
/// `bulk-register-user`; mails the workspace's invitation to each well-formed
/// address given, leaving the rest out, and refuses when none is left.
#[tokio::test]
async fn invitation_mails_go_to_each_valid_address() {
    let (srv, admin, sink) = start().await;
    let user = srv.create_user(&admin, "inviter").await;

    let (status, body) = srv.post("sendInvitationEmail", &admin, json!({})).await;
    assert_error(status, &body, 400, Some("invalid-params"), "no emails");
    let (status, body) = srv
        .post("sendInvitationEmail", &admin, json!({"emails": "a@b.test"}))
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "not a list");
    let (status, body) = srv
        .post(
            "sendInvitationEmail",
            &user,
            json!({"emails": ["new@palaver.test"]}),
        )
        .await;
    assert_error(
        status,
        &body,
        403,
        Some("error-unauthorized"),
        "no bulk-register-user",
    );
    let (status, body) = srv
        .post(
            "sendInvitationEmail",
            &admin,
            json!({"emails": ["not an address", ""]}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-email-send-failed"),
        "none valid",
    );
    assert_eq!(
        body["error"],
        json!("No valid email addresses [error-email-send-failed]")
    );

    srv.post_ok(
        "sendInvitationEmail",
        &admin,
        json!({"emails": ["first@palaver.test", "no-at-sign", "second@palaver.test"]}),
    )
    .await;
    let mut mails = sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    mails.sort_by(|a, b| a.to.cmp(&b.to));
    assert_eq!(mails[0].to, vec!["first@palaver.test".to_string()]);
    assert_eq!(mails[1].to, vec!["second@palaver.test".to_string()]);
    assert_eq!(mails[0].subject, "You have been invited to Palaver <Test>");
    assert!(mails[0].html.contains("Join the chat"), "{}", mails[0].html);
}

/// `users.sendWelcomeEmail` (Rocket.Chat's admin welcome): mails the account
/// holding the address (matched without case, sent to the spelling it was given),
/// after the `send-mail` permission, a configured SMTP host and a known address.
#[tokio::test]
async fn welcome_mail_goes_to_a_known_address_when_smtp_is_configured() {
    let (srv, admin, sink) = start().await;
    // Rocket.Chat keeps an address's case; lookups ignore it.
    let created = srv
        .post_ok(
            "users.create",
            &admin,
            json!({
                "username": "welcomed",
                "name": "Wel Comed",
                "email": "Welcomed.Person@Palaver.test",
                "password": palaver_tests::server::password_for("welcomed"),
            }),
        )
        .await;
    assert_eq!(
        created["user"]["emails"][0]["address"],
        json!("Welcomed.Person@Palaver.test"),
        "{created}"
    );
    let welcomed = srv
        .login("welcomed", &palaver_tests::server::password_for("welcomed"))
        .await;

    let (status, body) = srv.post("users.sendWelcomeEmail", &admin, json!({})).await;
    assert_error(status, &body, 400, Some("invalid-params"), "no email");
    assert_eq!(
        body["error"],
        json!("must have required property 'email' [invalid-params]")
    );
    let (status, body) = srv
        .post(
            "users.sendWelcomeEmail",
            &admin,
            json!({"email": "nobody@palaver.test"}),
        )
        .await;
    assert_error(status, &body, 400, Some("error-invalid-user"), "unknown");
    assert_eq!(body["error"], json!("Invalid user [error-invalid-user]"));
    let (status, body) = srv
        .post(
            "users.sendWelcomeEmail",
            &welcomed,
            json!({"email": "welcomed.person@palaver.test"}),
        )
        .await;
    assert_error(
        status,
        &body,
        403,
        Some("error-unauthorized"),
        "no send-mail",
    );

    srv.post_ok(
        "users.sendWelcomeEmail",
        &admin,
        json!({"email": "welcomed.person@palaver.test"}),
    )
    .await;
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(
        mails[0].to,
        vec!["welcomed.person@palaver.test".to_string()]
    );
    assert_eq!(mails[0].subject, "Welcome to Palaver <Test>");
    assert!(mails[0].html.contains("Wel Comed"), "{}", mails[0].html);

    srv.post_ok("settings/SMTP_Host", &admin, json!({"value": ""}))
        .await;
    let (status, body) = srv
        .post(
            "users.sendWelcomeEmail",
            &admin,
            json!({"email": "welcomed.person@palaver.test"}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-email-send-failed"),
        "no SMTP",
    );
    assert_eq!(
        body["error"],
        json!("SMTP is not configured [error-email-send-failed]")
    );
}
