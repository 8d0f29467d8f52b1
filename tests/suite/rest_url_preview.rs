//! Link previews as Rocket.Chat makes them: `chat.getURLPreview` (the page's Open
//! Graph and title metadata, camel-cased, with its content type; required
//! parameters; readers of the room only) and the `urls` of posted messages, listed
//! when sent and filled shortly after, as the sender chose (`previewUrls`) and the
//! embed settings allow (`API_Embed`, `API_EmbedIgnoredHosts`,
//! `API_EmbedSafePorts`). Pages come through the guarded client: a loopback page
//! only when the operator's allow-list names it.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;
use palaver_tests::ddp::Ddp;

/// A server answering every request with `html`.
pub(crate) async fn html_server(html: &'static str) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    html.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(html.as_bytes()).await;
            });
        }
    });
    (port, task)
}

#[tokio::test]
async fn url_previews_read_the_pages_metadata() {
    let page = r#"<html><head><title>The page</title>
        <meta property="og:title" content="Open title">
        <meta name="viewport" content="width=device-width"></head></html>"#;
    let (allowed, _a) = html_server(page).await;
    let (refused, _r) = html_server(page).await;
    let srv = Palaver::builder()
        .config_toml(format!("[apps]\nhttp_allow = [\"127.0.0.1:{allowed}\"]\n"))
        .start()
        .await;
    let admin = srv.admin().await;
    allow_loopback_previews(&srv, &admin, &[allowed, refused]).await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let group = create_group(&srv, &alice, "links", &[]).await;
    let gid = str_of(&group["_id"], "gid").to_string();
    let url = format!("http://127.0.0.1:{allowed}/page");
    let query = |rid: &str, url: &str| {
        format!(
            "chat.getURLPreview?roomId={rid}&url={}",
            url.replace(':', "%3A").replace('/', "%2F")
        )
    };

    let body = srv.get_ok(&query(&gid, &url), &alice).await;
    let preview = &body["urlPreview"];
    assert_eq!(preview["url"], json!(url), "{body}");
    assert_eq!(
        preview["meta"],
        json!({"pageTitle": "The page", "ogTitle": "Open title"}),
        "{body}"
    );
    assert_eq!(
        preview["headers"]["contentType"],
        json!("text/html; charset=utf-8"),
        "{body}"
    );
    // A loopback page the operator did not allow: the URL alone.
    let other = format!("http://127.0.0.1:{refused}/page");
    let body = srv.get_ok(&query(&gid, &other), &alice).await;
    assert_eq!(body["urlPreview"]["meta"], json!({}), "{body}");
    assert!(body["urlPreview"].get("headers").is_none(), "{body}");

    // Both parameters are required; a room one cannot read is refused.
    let (status, body) = srv
        .get(&format!("chat.getURLPreview?url={url}"), &alice)
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "no roomId");
    let (status, body) = srv
        .get(&format!("chat.getURLPreview?roomId={gid}"), &alice)
        .await;
    assert_error(status, &body, 400, Some("invalid-params"), "no url");
    let (status, body) = srv.get(&query(&gid, &url), &bob).await;
    assert_error(
        status,
        &body,
        400,
        Some("error-not-allowed"),
        "not a member",
    );
}

/// Lets the embed settings read loopback pages on `ports` (Rocket.Chat's defaults
/// ignore private hosts and allow ports 80 and 443 only), as Rocket.Chat's own
/// tests do for its port.
pub(crate) async fn allow_loopback_previews(srv: &Palaver, admin: &Session, ports: &[u16]) {
    srv.post_ok(
        "settings/API_EmbedIgnoredHosts",
        admin,
        json!({"value": ""}),
    )
    .await;
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    srv.post_ok(
        "settings/API_EmbedSafePorts",
        admin,
        json!({"value": format!("80, 443, {}", ports.join(", "))}),
    )
    .await;
}

/// The message `mid` once `done` holds for it (previews are read after sending).
async fn message_when(
    srv: &Palaver,
    who: &Session,
    mid: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..100 {
        last = srv
            .get_ok(&format!("chat.getMessage?msgId={mid}"), who)
            .await["message"]
            .clone();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the message never got there: {last}");
}

#[tokio::test]
async fn posted_links_get_their_previews_as_the_sender_chose() {
    let page = r#"<html><head><title>Linked page</title>
        <meta property="og:description" content="What it is about"></head></html>"#;
    let (port, _server) = html_server(page).await;
    let (ignored_port, _other) = html_server(page).await;
    let srv = Palaver::builder()
        .config_toml(format!(
            "[apps]\nhttp_allow = [\"127.0.0.1:{port}\", \"127.0.0.1:{ignored_port}\"]\n"
        ))
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let room = create_channel(&srv, &alice, "linked", &[]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    let url = format!("http://127.0.0.1:{port}/page");

    // Rocket.Chat's defaults ignore loopback hosts and other ports: listed,
    // never read.
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": format!("see {url} `http://in.code/`")}}),
        )
        .await;
    let m = &sent["message"];
    assert_eq!(m["urls"], json!([{"url": url, "meta": {}}]), "{m}");
    let mid = str_of(&m["_id"], "mid").to_string();

    // With loopback allowed but `localhost` still ignored, one message with both:
    // what a reader over the websocket sees is the message changed with its
    // previews.
    allow_loopback_previews(&srv, &admin, &[port, ignored_port]).await;
    srv.post_ok(
        "settings/API_EmbedIgnoredHosts",
        &admin,
        json!({"value": "localhost, 10.0.0.0/8"}),
    )
    .await;
    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    ddp.sub("stream-room-messages", json!([rid, false])).await;
    let ignored = format!("http://localhost:{port}/page");
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": format!("see {ignored} and {url}")}}),
        )
        .await;
    let mid2 = str_of(&sent["message"]["_id"], "mid").to_string();
    let frame = ddp
        .wait_for("the message with its previews", |f| {
            f["collection"] == "stream-room-messages"
                && f["fields"]["args"][0]["_id"] == json!(mid2)
                && f["fields"]["args"][0]["urls"][1]["meta"] != json!({})
        })
        .await;
    let m = &frame["fields"]["args"][0];
    assert_eq!(m["urls"][0]["url"], json!(ignored), "{m}");
    assert_eq!(m["urls"][0]["meta"], json!({}), "an ignored host: {m}");
    assert_eq!(
        m["urls"][1]["meta"],
        json!({"pageTitle": "Linked page", "ogDescription": "What it is about"}),
        "{m}"
    );
    assert_eq!(
        m["urls"][1]["headers"]["contentType"],
        json!("text/html; charset=utf-8"),
        "{m}"
    );
    let stored = srv
        .get_ok(&format!("chat.getMessage?msgId={mid2}"), &alice)
        .await;
    assert_eq!(stored["message"]["urls"], m["urls"], "{stored}");
    let first = srv
        .get_ok(&format!("chat.getMessage?msgId={mid}"), &alice)
        .await;
    assert_eq!(
        first["message"]["urls"].as_array().map(Vec::len),
        Some(1),
        "{first}"
    );

    // previewUrls: only the chosen links are read; the others are marked.
    let other = format!("http://127.0.0.1:{ignored_port}/other");
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({
                "message": {"rid": rid, "msg": format!("{other} and {url}")},
                "previewUrls": [url],
            }),
        )
        .await;
    let m = &sent["message"];
    assert_eq!(m["urls"][0]["ignoreParse"], json!(true), "{m}");
    assert!(m["urls"][1].get("ignoreParse").is_none(), "{m}");
    let mid3 = str_of(&m["_id"], "mid").to_string();
    let m = message_when(&srv, &alice, &mid3, |m| m["urls"][1]["meta"] != json!({})).await;
    assert_eq!(m["urls"][0]["meta"], json!({}), "{m}");

    // An edit lists the new text's links and reads them again.
    srv.post_ok(
        "chat.update",
        &alice,
        json!({"roomId": rid, "msgId": mid3, "text": format!("now only {url}#part")}),
    )
    .await;
    let m = message_when(&srv, &alice, &mid3, |m| {
        m["urls"].as_array().is_some_and(|u| u.len() == 1) && m["urls"][0]["meta"] != json!({})
    })
    .await;
    assert_eq!(m["urls"][0]["url"], json!(format!("{url}#part")), "{m}");

    // More than five external links, or API_Embed off: listed, none read.
    let many: Vec<String> = (0..6).map(|i| format!("{url}?n={i}")).collect();
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": many.join(" ")}, "previewUrls": many}),
        )
        .await;
    let many_id = str_of(&sent["message"]["_id"], "mid").to_string();
    srv.post_ok("settings/API_Embed", &admin, json!({"value": false}))
        .await;
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": format!("{url}?off")}}),
        )
        .await;
    let off_id = str_of(&sent["message"]["_id"], "mid").to_string();
    // A message sent after them is read: the queue is past both.
    srv.post_ok("settings/API_Embed", &admin, json!({"value": true}))
        .await;
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &alice,
            json!({"message": {"rid": rid, "msg": format!("{url}?last")}}),
        )
        .await;
    let last = str_of(&sent["message"]["_id"], "mid").to_string();
    message_when(&srv, &alice, &last, |m| m["urls"][0]["meta"] != json!({})).await;
    for id in [many_id, off_id] {
        let m = srv
            .get_ok(&format!("chat.getMessage?msgId={id}"), &alice)
            .await;
        let urls = m["message"]["urls"].as_array().expect("urls").clone();
        assert!(!urls.is_empty(), "{m}");
        assert!(
            urls.iter()
                .all(|u| u["meta"] == json!({}) && u.get("ignoreParse").is_none()),
            "{m}"
        );
    }
}

/// A YouTube link is previewed from YouTube's oEmbed answer (a fake of it over
/// TLS at its real host name): the player's markup sized as Rocket.Chat sizes it,
/// its title and thumbnail as `oembed*` fields.
#[tokio::test]
async fn provider_links_get_the_providers_embed() {
    use axum::routing::get;
    use palaver_tests::fake_tls::TlsFake;

    let router = axum::Router::new().route(
        "/oembed",
        get(|| async {
            axum::Json(json!({
                "type": "video",
                "title": "A film",
                "thumbnail_url": "https://i.ytimg.com/vi/T2v29gK8fP4/hqdefault.jpg",
                "html": "<iframe width=\"356\" height=\"200\" src=\"https://www.youtube.com/embed/T2v29gK8fP4\"></iframe>",
                "width": 356,
            }))
        }),
    );
    let youtube = TlsFake::start(&["www.youtube.com"], router).await;
    let srv = Palaver::builder().envs(youtube.palaver_env()).start().await;
    let admin = srv.admin().await;
    let room = create_channel(&srv, &admin, "films", &[]).await;
    let rid = str_of(&room["_id"], "rid").to_string();
    let link = "https://www.youtube.com/watch?v=T2v29gK8fP4";
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &admin,
            json!({"message": {"rid": rid, "msg": link}}),
        )
        .await;
    let mid = str_of(&sent["message"]["_id"], "mid").to_string();
    let m = message_when(&srv, &admin, &mid, |m| m["urls"][0]["meta"] != json!({})).await;
    let meta = &m["urls"][0]["meta"];
    assert_eq!(meta["oembedUrl"], json!(link), "{m}");
    assert_eq!(meta["oembedTitle"], json!("A film"), "{m}");
    assert_eq!(
        meta["oembedThumbnailUrl"],
        json!("https://i.ytimg.com/vi/T2v29gK8fP4/hqdefault.jpg"),
        "{m}"
    );
    assert!(
        meta["oembedHtml"].as_str().is_some_and(
            |h| h.starts_with("<iframe style=\"max-width: 100%;width:400px;height:225px\"")
        ),
        "{m}"
    );
    assert_eq!(
        m["urls"][0]["headers"]["contentType"],
        json!("application/json"),
        "{m}"
    );
    // YouTube was asked for the embed of the link, as Rocket.Chat asks it.
    let asked = youtube.requests_to("www.youtube.com", "/oembed");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].query_param("url").as_deref(), Some(link));
    assert_eq!(asked[0].query_param("maxheight").as_deref(), Some("200"));
    assert!(
        asked[0]
            .header("user-agent")
            .is_some_and(|ua| ua.contains("Palaver/")),
        "{asked:?}"
    );

    // The same link again is not asked twice (the previews kept).
    let sent = srv
        .post_ok(
            "chat.sendMessage",
            &admin,
            json!({"message": {"rid": rid, "msg": format!("again {link}")}}),
        )
        .await;
    let again = str_of(&sent["message"]["_id"], "mid").to_string();
    message_when(&srv, &admin, &again, |m| m["urls"][0]["meta"] != json!({})).await;
    assert_eq!(youtube.requests_to("www.youtube.com", "/oembed").len(), 1);
}
