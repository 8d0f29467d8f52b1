//! Meta's verification handshake, signatures, and customers' messages arriving.

use super::*;
use palaver_tests::app_admin::ephemeral;

#[tokio::test]
async fn sample_whatsapp_handshake_signatures_and_inbound_messages() {
    let mut s = setup(WELCOME, OFFLINE).await;
    let config = s.config();
    let http = reqwest::Client::new();

    // Meta's verification handshake.
    let get = |query: String| {
        let http = http.clone();
        let url = format!("{}?{query}", s.webhook);
        async move {
            let r = http.get(url).send().await.expect("GET webhook");
            let status = r.status();
            (status, r.text().await.unwrap_or_default())
        }
    };
    let (status, body) = get(format!(
        "hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
    ))
    .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "1158201444"));
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1".to_string(),
        format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        "hub.challenge=1".to_string(),
    ] {
        let (status, body) = get(query.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query} → {body}");
        assert!(!body.contains('1'), "{query} echoed the challenge: {body}");
    }

    // Unsigned, forged and tampered calls are refused and change nothing.
    let hello = fake_meta::text_message(
        &config,
        JANE,
        "Jane Doe",
        "wamid.jane-1",
        "Hello, is my order shipped?",
    );
    let bytes = serde_json::to_vec(&hello).expect("json");
    let forged = fake_meta::signature_header("not-the-secret", &bytes);
    let other = fake_meta::signature_header(&config.app_secret, b"{\"object\":\"other\"}");
    for signature in [
        None,
        Some(forged.as_str()),
        Some(other.as_str()),
        Some("sha256=zz"),
        Some("md5=abc"),
    ] {
        let (status, body) = s
            .meta
            .post_webhook(&s.webhook, bytes.clone(), signature)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{signature:?} → {body}");
    }
    assert!(s.customer_rooms(&s.alice).await.is_empty());
    assert!(s.meta.requests().is_empty(), "{:?}", s.meta.requests());
    let status = ephemeral(&s.srv, &s.alice, &s.lobby, "whatsapp", "status").await;
    assert!(status.contains("Messages: 0 received, 0 sent"), "{status}");

    // A signed message: the customer's room appears with the agents, and the message in it.
    s.deliver_ok(&hello).await;
    let rooms = s.customer_rooms(&s.alice).await;
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0]["name"], "wa-15551234567-jane-doe", "{rooms:?}");
    assert_eq!(rooms[0]["t"], "p", "a private group: {rooms:?}");
    let rid = rooms[0]["_id"].as_str().expect("rid").to_string();
    let members = s
        .srv
        .get_ok(&format!("groups.members?roomId={rid}"), &s.alice)
        .await;
    let names: Vec<&str> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    for expected in ["alice", "bob", "whatsapp.bot"] {
        assert!(
            names.contains(&expected),
            "{expected} is not a member: {names:?}"
        );
    }
    assert!(!names.contains(&"carol"), "{names:?}");
    let (status, _) = s
        .srv
        .get(&format!("groups.history?roomId={rid}"), &s.carol)
        .await;
    assert_ne!(status, StatusCode::OK, "carol sees the customer's room");
    let first = s
        .wait_message(&rid, "from Jane", |m| {
            m["msg"] == "Hello, is my order shipped?"
        })
        .await;
    assert_eq!(first["alias"], "Jane Doe", "{first}");
    assert_eq!(first["u"]["username"], "whatsapp.bot", "{first}");
    assert_eq!(
        first["customFields"]["whatsapp"]["id"], "wamid.jane-1",
        "{first}"
    );

    // First contact: the welcome message goes out, exactly as the API wants it, and
    // shows in the room.
    let sent = s.wait_sends(1).await;
    assert_send(&s, &sent[0], JANE, WELCOME);
    s.wait_message(&rid, "welcome", |m| {
        m["msg"] == WELCOME && m["alias"] == "Automatic welcome message"
    })
    .await;
    let welcome_wamid = s.meta.accepted()[0].0.clone();

    // Meta retries: the same message id again changes nothing.
    s.deliver_ok(&hello).await;
    s.deliver_ok(&hello).await;
    let copies = s
        .history(&s.alice, &rid)
        .await
        .iter()
        .filter(|m| m["customFields"]["whatsapp"]["id"] == "wamid.jane-1")
        .count();
    assert_eq!(copies, 1);

    // Later messages of any kind go to the same room.
    let image = fake_meta::message_notification(
        &config,
        JANE,
        "Jane Doe",
        "wamid.jane-2",
        json!({"type": "image", "image": {"caption": "my receipt", "mime_type": "image/jpeg", "sha256": "x", "id": "1479537139650973"}}),
    );
    s.deliver_ok(&image).await;
    let m = s
        .wait_message(&rid, "image", |m| {
            m["customFields"]["whatsapp"]["id"] == "wamid.jane-2"
        })
        .await;
    assert_eq!(
        m["msg"], "📷 [Image] — “my receipt” (open WhatsApp to see it)",
        "{m}"
    );
    assert_eq!(
        m["customFields"]["whatsapp"]["mediaId"], "1479537139650973",
        "{m}"
    );
    let location = fake_meta::message_notification(
        &config,
        JANE,
        "Jane Doe",
        "wamid.jane-3",
        json!({"type": "location", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Office", "address": "Main St 1"}}),
    );
    s.deliver_ok(&location).await;
    let m = s
        .wait_message(&rid, "location", |m| {
            m["customFields"]["whatsapp"]["id"] == "wamid.jane-3"
        })
        .await;
    assert!(
        m["msg"].as_str().is_some_and(
            |t| t.starts_with("📍 [Location] Office, Main St 1 (52.520000, 13.405000)")
        ),
        "{m}"
    );
    let reaction = fake_meta::message_notification(
        &config,
        JANE,
        "Jane Doe",
        "wamid.jane-4",
        json!({"type": "reaction", "reaction": {"message_id": welcome_wamid, "emoji": "👍"}}),
    );
    s.deliver_ok(&reaction).await;
    s.wait_message(&rid, "reaction", |m| {
        m["msg"] == format!("[Reacted 👍 to “{WELCOME}”]")
    })
    .await;
    assert_eq!(s.customer_rooms(&s.alice).await.len(), 1);

    // Something the team cannot see: a placeholder, and the unsupported reply.
    let unsupported = fake_meta::message_notification(
        &config,
        JANE,
        "Jane Doe",
        "wamid.jane-5",
        json!({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown", "error_data": {"details": "Message type is currently not supported."}}]}),
    );
    s.deliver_ok(&unsupported).await;
    let m = s
        .wait_message(&rid, "unsupported", |m| {
            m["customFields"]["whatsapp"]["id"] == "wamid.jane-5"
        })
        .await;
    assert!(
        m["msg"].as_str().is_some_and(|t| t
            .contains("Unsupported message, type unsupported: Message type unknown (code 131051)")),
        "{m}"
    );
    let sent = s.wait_sends(2).await;
    assert_send(&s, &sent[1], JANE, OFFLINE);

    // Another customer: another room (no name: the number alone).
    let sam = fake_meta::text_message(&config, "447700900123", "", "wamid.sam-1", "Hi");
    s.deliver_ok(&sam).await;
    let rooms = s.customer_rooms(&s.bob).await;
    let mut names: Vec<&str> = rooms.iter().filter_map(|r| r["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["wa-15551234567-jane-doe", "wa-447700900123"]);
    let sam_rid = s.room_id(&s.bob, "wa-447700900123").await;
    let m = s
        .wait_message(&sam_rid, "from Sam", |m| m["msg"] == "Hi")
        .await;
    assert_eq!(m["alias"], "+447700900123", "{m}");

    // A notification for another number of the same business account is not ours.
    let mut foreign = fake_meta::text_message(
        &config,
        "15550001111",
        "Other",
        "wamid.other-1",
        "Wrong number",
    );
    foreign["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] =
        json!("999999999999");
    s.deliver_ok(&foreign).await;
    assert_eq!(s.customer_rooms(&s.bob).await.len(), 2);

    // The counts: 6 distinct messages were received (the foreign one is not counted).
    let status = ephemeral(&s.srv, &s.admin, &s.lobby, "whatsapp", "status").await;
    assert!(
        status.contains("Conversations: 2 (2 open, 0 closed)"),
        "{status}"
    );
    assert!(status.contains("Messages: 6 received, 3 sent"), "{status}");

    // After a restart the customer is found again, and old message ids stay handled.
    s.srv.restart().await;
    s.deliver_ok(&hello).await;
    s.text(JANE, "Jane Doe", "wamid.jane-6", "Back again").await;
    s.wait_message(&rid, "after the restart", |m| m["msg"] == "Back again")
        .await;
    assert_eq!(s.customer_rooms(&s.alice).await.len(), 2);
    let copies = s
        .history(&s.alice, &rid)
        .await
        .iter()
        .filter(|m| m["customFields"]["whatsapp"]["id"] == "wamid.jane-1")
        .count();
    assert_eq!(copies, 1);

    // Every call reached graph.facebook.com and was one the API accepted.
    for request in s.meta.requests() {
        assert_eq!(request.host, GRAPH_HOST, "{request:?}");
        assert_eq!(request.status, 200, "{request:?}");
    }
}

/// A new customer's first messages arriving at once: one room, and one welcome (only
/// the call that stored the customer sends it, not every call that found the room).
#[tokio::test]
async fn sample_whatsapp_concurrent_first_messages_welcome_once() {
    let s = setup(WELCOME, OFFLINE).await;
    let config = s.config();
    let texts = ["Hi", "Are you there?", "I need help", "With my order"];
    let deliveries = texts.iter().enumerate().map(|(i, text)| {
        let payload =
            fake_meta::text_message(&config, JANE, "Jane Doe", &format!("wamid.burst-{i}"), text);
        let s = &s;
        async move { s.deliver_ok(&payload).await }
    });
    futures::future::join_all(deliveries).await;

    let rooms = s.customer_rooms(&s.alice).await;
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    let rid = rooms[0]["_id"].as_str().expect("rid").to_string();
    for text in texts {
        s.wait_message(&rid, text, |m| m["msg"] == text).await;
    }
    let sent = s.wait_sends(1).await;
    assert_send(&s, &sent[0], JANE, WELCOME);
    // Give a second welcome the time to show up if one was (wrongly) sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let welcomes = s.meta.message_requests();
    assert_eq!(welcomes.len(), 1, "{welcomes:#?}");
    let shown = s
        .history(&s.alice, &rid)
        .await
        .iter()
        .filter(|m| m["alias"] == "Automatic welcome message")
        .count();
    assert_eq!(shown, 1);
}
