//! `rooms.export` against a real SMTP server (aiosmtpd): the body checked as
//! Rocket.Chat's schema, its refusals, chosen messages mailed to people and
//! addresses (escaped, with the usernames no address was found for), and a room's
//! messages built into a zip in the background that only the person who asked may
//! download, from the link they are mailed.

use std::io::Read;
use std::time::Duration;

use palaver_tests::smtp::{Received, SinkOptions, SmtpSink};
use serde_json::{json, Value};

use crate::common::*;
use crate::rest_files::{auth, fetch};

async fn smtp(srv: &Palaver, admin: &Session) -> SmtpSink {
    let sink = SmtpSink::start(SinkOptions {
        starttls: true,
        credentials: None,
    })
    .await;
    for (id, value) in [
        ("SMTP_Host", json!("127.0.0.1")),
        ("SMTP_Port", json!(sink.port())),
        ("From_Email", json!("chat@palaver.test")),
        ("SMTP_CA_Certificate", json!(sink.ca_pem().expect("a CA"))),
    ] {
        srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
            .await;
    }
    sink
}

async fn export(srv: &Palaver, who: &Session, body: Value) -> (u16, Value) {
    let (status, body) = srv.post("rooms.export", who, body).await;
    (status.as_u16(), body)
}

/// Waits for a mail with `subject` among the received.
async fn mail_with(sink: &SmtpSink, subject: &str) -> Received {
    for _ in 0..150 {
        if let Some(m) = sink.received().into_iter().find(|m| m.subject == subject) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no mail {subject:?}; got {:?}", sink.received().len());
}

#[tokio::test]
async fn rooms_export_mails_messages_and_builds_a_file_only_its_owner_downloads() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let sink = smtp(&srv, &admin).await;
    let alice = srv.create_user(&admin, "alice").await;
    let chan = create_channel(&srv, &admin, "exported", &["alice"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();
    let m1 = post(&srv, &admin, &rid, "hello <world>").await["_id"].clone();
    tick().await;
    let m2 = post(&srv, &alice, &rid, "second line").await["_id"].clone();

    // The schema, then Rocket.Chat's checks in its order.
    let file = |extra: Value| {
        let mut b = json!({"rid": rid, "type": "file", "format": "html"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, error_type, text) in [
        (
            json!({"type": "file", "format": "html"}),
            "invalid-params",
            "must have required property 'rid'",
        ),
        (
            json!({"rid": rid, "format": "html"}),
            "invalid-params",
            "must have required property 'type'",
        ),
        (
            file(json!({"type": "zip"})),
            "invalid-params",
            "allowed values",
        ),
        (
            file(json!({"format": "pdf"})),
            "invalid-params",
            "allowed values",
        ),
        (
            json!({"rid": rid, "type": "file"}),
            "invalid-params",
            "'format'",
        ),
        (
            file(json!({"dateFrom": "test-date"})),
            "invalid-params",
            "format \"date\"",
        ),
        (
            file(json!({"dateTo": "2024-02-30"})),
            "invalid-params",
            "format \"date\"",
        ),
        (
            file(json!({"extra": 1})),
            "invalid-params",
            "additional properties",
        ),
        (
            file(json!({"dateFrom": "2024-03-22", "dateTo": "2024-03-15"})),
            "error-invalid-dates",
            "From date cannot be after To date [error-invalid-dates]",
        ),
        (
            json!({"rid": "no-such-room", "type": "file", "format": "html"}),
            "error-invalid-room",
            "",
        ),
        (
            json!({"rid": rid, "type": "email", "toUsers": [], "messages": [m1]}),
            "error-invalid-recipient",
            "",
        ),
        (
            json!({"rid": rid, "type": "email", "toUsers": ["alice"], "messages": []}),
            "invalid-params",
            "fewer than 1 items",
        ),
    ] {
        let (status, got) = export(&srv, &admin, body.clone()).await;
        assert_eq!(status, 400, "{body} → {got}");
        assert_eq!(got["errorType"], json!(error_type), "{body} → {got}");
        let error = got["error"].as_str().unwrap_or_default();
        assert!(error.contains(text), "{body} → {got}");
    }
    // Mailing needs `mail-messages` (admins only by default).
    let (status, got) = export(&srv, &alice, file(json!({}))).await;
    assert_eq!(
        (status, got["errorType"].as_str()),
        (400, Some("error-action-not-allowed")),
        "{got}"
    );

    // By e-mail: to a person (by username) and an address, escaped, oldest first.
    let (status, got) = export(
        &srv,
        &admin,
        json!({
            "rid": rid, "type": "email", "subject": "Our talk",
            "toUsers": ["alice", "nobody"], "toEmails": [" friend@example.org "],
            "messages": [m2, m1],
        }),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["missing"], json!(["nobody"]), "{got}");
    let mails = sink.wait_for(2, Duration::from_secs(30)).await;
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec!["alice@palaver.test", "friend@example.org"],
        "{mails:?}"
    );
    for m in &mails {
        assert_eq!(m.subject, "Our talk");
        let first = m.html.find("hello &lt;world&gt;").expect("escaped text");
        let second = m.html.find("second line").expect("the other message");
        assert!(first < second, "oldest first: {}", m.html);
        assert!(m.html.contains("<b>alice</b>"), "{}", m.html);
    }
    let (status, got) = export(
        &srv,
        &admin,
        json!({"rid": rid, "type": "email", "toEmails": ["not an address"], "messages": [m1]}),
    )
    .await;
    assert_eq!(
        (status, &got["errorType"]),
        (400, &json!("error-invalid-email")),
        "{got}"
    );

    // As a file: built in the background, the link mailed to the one who asked.
    let (status, got) = export(&srv, &admin, file(json!({}))).await;
    assert_eq!(status, 200, "{got}");
    let ready = mail_with(&sink, "Channel Export").await;
    assert_eq!(ready.to, vec![ADMIN_EMAIL.to_string()]);
    let start = ready.html.find("/file-upload/").expect("a download link");
    let end = start + ready.html[start..].find('"').expect("the link's end");
    let path = &ready.html[start..end];
    let (status, _, bytes) = fetch(&srv, path, &auth(&admin)).await;
    assert_eq!(status.as_u16(), 200, "{path}");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    assert_eq!(zip.len(), 1);
    let mut inner = zip.by_index(0).expect("the export");
    assert_eq!(inner.name(), format!("{rid}.html"));
    let mut html = String::new();
    inner.read_to_string(&mut html).expect("utf-8");
    let first = html.find("hello &lt;world&gt;").expect("the first message");
    let second = html.find("second line").expect("the second message");
    assert!(first < second, "{html}");
    assert!(html.contains("<strong>alice</strong>"), "{html}");
    let (status, _, _) = fetch(&srv, path, &auth(&alice)).await;
    assert_eq!(status.as_u16(), 403, "an export is its owner's alone");

    // A range that ends before the messages exports none of them.
    export(
        &srv,
        &admin,
        file(json!({"dateTo": "2001-01-01", "format": "json"})),
    )
    .await;
    let mails = loop {
        let got: Vec<Received> = sink
            .received()
            .into_iter()
            .filter(|m| m.subject == "Channel Export")
            .collect();
        if got.len() == 2 {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let link = |m: &Received| {
        let s = m.html.find("/file-upload/").unwrap();
        let e = s + m.html[s..].find('"').unwrap();
        m.html[s..e].to_string()
    };
    let path = mails
        .iter()
        .map(link)
        .find(|p| p != path)
        .expect("a second file");
    let (_, _, bytes) = fetch(&srv, &path, &auth(&admin)).await;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut inner = zip.by_index(0).expect("the export");
    assert_eq!(inner.name(), "exported.json");
    let mut text = String::new();
    inner.read_to_string(&mut text).expect("utf-8");
    assert!(text.is_empty(), "{text}");
}

#[tokio::test]
async fn users_request_data_download_builds_the_persons_own_data() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let sink = smtp(&srv, &admin).await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let chan = create_channel(&srv, &alice, "ours", &["bob"]).await;
    let rid = chan["_id"].as_str().unwrap().to_string();
    post(&srv, &alice, &rid, "mine <1>").await;
    tick().await;
    post(&srv, &bob, &rid, "bob's words").await;

    let (status, body) = srv
        .get("users.requestDataDownload?fullExport=maybe", &alice)
        .await;
    assert_eq!(status.as_u16(), 400, "{body}");
    let body = srv.get_ok("users.requestDataDownload", &alice).await;
    assert_eq!(body["requested"], json!(true), "{body}");
    let op = &body["exportOperation"];
    assert_eq!(op["fullExport"], json!(false), "{op}");
    assert_eq!(op["userId"], json!(alice.user_id), "{op}");
    assert_eq!(op["status"], json!("pending"), "{op}");
    ts(&op["createdAt"], "createdAt");
    let id = op["_id"].as_str().unwrap().to_string();

    // Built in the background: the operation completes, the link is mailed.
    let ready = mail_with(&sink, "Your Data File is Ready to Download").await;
    assert_eq!(ready.to, vec!["alice@palaver.test".to_string()]);
    let again = srv.get_ok("users.requestDataDownload", &alice).await;
    assert_eq!(
        again["requested"],
        json!(false),
        "a day's request stands: {again}"
    );
    assert_eq!(again["exportOperation"]["_id"], json!(id));
    assert_eq!(
        again["exportOperation"]["status"],
        json!("completed"),
        "{again}"
    );
    let url = again["url"].as_str().unwrap_or_else(|| panic!("{again}"));
    assert!(ready.html.contains(url), "{} / {url}", ready.html);
    let (status, _, bytes) = fetch(&srv, url, &auth(&alice)).await;
    assert_eq!(status.as_u16(), 200);
    let (status, _, _) = fetch(&srv, url, &auth(&bob)).await;
    assert_eq!(status.as_u16(), 403, "only alice's");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut user = String::new();
    zip.by_name("user.json")
        .expect("the profile")
        .read_to_string(&mut user)
        .unwrap();
    let user: Value = serde_json::from_str(&user).unwrap();
    assert_eq!(user["username"], "alice");
    let name = format!("ours-{rid}.html");
    let mut html = String::new();
    zip.by_name(&name)
        .unwrap_or_else(|_| panic!("{name} in the zip"))
        .read_to_string(&mut html)
        .unwrap();
    assert!(html.contains("mine &lt;1&gt;"), "{html}");
    assert!(
        !html.contains("bob's words"),
        "only her own messages: {html}"
    );

    // A full export is another kind: requested anew, every message, as JSON.
    let full = srv
        .get_ok("users.requestDataDownload?fullExport=true", &alice)
        .await;
    assert_eq!(full["requested"], json!(true), "{full}");
    assert_eq!(full["exportOperation"]["fullExport"], json!(true));
    for _ in 0..150 {
        let got = srv
            .get_ok("users.requestDataDownload?fullExport=true", &alice)
            .await;
        if got["exportOperation"]["status"] == json!("completed") {
            let url = got["url"].as_str().expect("url").to_string();
            let (_, _, bytes) = fetch(&srv, &url, &auth(&alice)).await;
            let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
            let mut text = String::new();
            zip.by_name(&format!("ours-{rid}.json"))
                .expect("the room")
                .read_to_string(&mut text)
                .unwrap();
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .filter(|m: &Value| m.get("type").is_none())
                .collect();
            let texts: Vec<&str> = lines.iter().filter_map(|m| m["msg"].as_str()).collect();
            assert_eq!(texts, vec!["mine <1>", "bob's words"], "{text}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the full export never completed");
}
