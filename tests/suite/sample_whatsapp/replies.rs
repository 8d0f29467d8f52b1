//! Agents' replies reaching the Graph API, statuses, and the API's errors.

use super::*;
use palaver_tests::app_admin::ephemeral;

#[tokio::test]
async fn sample_whatsapp_replies_statuses_and_api_errors() {
    let s = setup("", "").await;
    let config = s.config();
    s.text(JANE, "Jane Doe", "wamid.in-1", "Where is my parcel?")
        .await;
    let rid = s.room_id(&s.alice, "wa-15551234567-jane-doe").await;
    s.wait_message(&rid, "from Jane", |m| m["msg"] == "Where is my parcel?")
        .await;
    let (mut ddp, event) = notices(&s.srv, &s.alice).await;

    // An agent's reply reaches the Graph API with the exact body and token; the bot's
    // own messages in the room were never relayed.
    let reply = "Yes, it shipped today.";
    s.post(&s.alice, &rid, reply).await;
    let sent = s.wait_sends(1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_send(&s, &sent[0], JANE, reply);
    let wamid = s.meta.accepted()[0].0.clone();
    // bob (an agent through #support) is relayed too.
    s.post(&s.bob, &rid, "Tracking number: 1Z999").await;
    let sent = s.wait_sends(2).await;
    assert_send(&s, &sent[1], JANE, "Tracking number: 1Z999");

    // Statuses are recorded against the message (retries too, once).
    for status in ["sent", "delivered", "read", "read"] {
        s.deliver_ok(&fake_meta::status_notification(
            &config, &wamid, JANE, status, None,
        ))
        .await;
    }
    let text = ephemeral(&s.srv, &s.alice, &rid, "whatsapp", "status").await;
    assert!(
        text.contains("*Conversation with +15551234567 (Jane Doe)*"),
        "{text}"
    );
    assert!(
        text.contains("Open: replies here are sent to WhatsApp."),
        "{text}"
    );
    assert!(
        text.contains(&format!("• “{reply}” (alice) → read")),
        "{text}"
    );
    assert!(
        text.contains("• “Tracking number: 1Z999” (bob) → accepted by WhatsApp, no status yet"),
        "{text}"
    );
    assert!(
        text.contains("1 received, 2 sent (1 sent, 1 delivered, 1 read, 0 failed)"),
        "{text}"
    );

    // A failed status is announced in the room for every agent.
    let second = s.meta.accepted()[1].0.clone();
    let failure = fake_meta::status_notification(
        &config,
        &second,
        JANE,
        "failed",
        Some((131026, "Message undeliverable", "Unable to deliver message. Reasons can include: The recipient phone number is not a WhatsApp phone number.")),
    );
    s.deliver_ok(&failure).await;
    s.deliver_ok(&failure).await;
    let expected = "⚠️ WhatsApp could not deliver “Tracking number: 1Z999” to +15551234567: Message undeliverable (code 131026): Unable to deliver message. Reasons can include: The recipient phone number is not a WhatsApp phone number.";
    let notice = s
        .wait_message(&rid, "failure notice", |m| m["msg"] == expected)
        .await;
    assert_eq!(notice["u"]["username"], "whatsapp.bot");
    let in_bob_view = s.history(&s.bob, &rid).await;
    assert_eq!(
        in_bob_view.iter().filter(|m| m["msg"] == expected).count(),
        1
    );
    let text = ephemeral(&s.srv, &s.bob, &rid, "whatsapp", "status").await;
    assert!(
        text.contains(
            "• “Tracking number: 1Z999” (bob) → failed: Message undeliverable (code 131026)"
        ),
        "{text}"
    );
    assert!(
        text.contains("(1 sent, 1 delivered, 1 read, 1 failed)"),
        "{text}"
    );

    // The API refuses (the 24-hour window closed): the agent is told why, privately.
    s.meta.close_window(JANE);
    s.post(&s.alice, &rid, "Are you still there?").await;
    let notice = not_sent_notice(&mut ddp, &event).await;
    let msg = notice["msg"].as_str().unwrap_or_default();
    assert!(msg.starts_with("Not sent to WhatsApp: WhatsApp refused it (HTTP 400, error 131047): (#131047) Re-engagement message — Message failed to send because more than 24 hours have passed"), "{notice}");
    assert_eq!(notice["rid"], json!(rid), "{notice}");
    let sent = s.wait_sends(3).await;
    assert_eq!(sent[2].status, 400);
    assert_send(&s, &sent[2], JANE, "Are you still there?");

    // The token expired: the agent is told to have the token fixed.
    s.meta.expire_token();
    s.post(&s.alice, &rid, "Hello?").await;
    let notice = not_sent_notice(&mut ddp, &event).await;
    let msg = notice["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("(HTTP 401, error 190): Error validating access token"),
        "{notice}"
    );
    assert!(msg.contains("Access token setting"), "{notice}");
    let sent = s.wait_sends(4).await;
    assert_eq!(sent[3].status, 401);
    assert_eq!(s.meta.accepted().len(), 2);

    // Messages elsewhere are not relayed.
    let lobby = s
        .srv
        .post_ok(
            "channels.create",
            &s.alice,
            json!({"name": "elsewhere", "members": []}),
        )
        .await["channel"]["_id"]
        .as_str()
        .expect("lobby")
        .to_string();
    s.srv
        .post_ok(
            "chat.postMessage",
            &s.alice,
            json!({"roomId": lobby, "text": "not for customers"}),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.meta.message_requests().len(), 4);

    // The app may reach graph.facebook.com only: another base URL is refused by the
    // server, and the agent is told.
    let r = set_settings(
        &s.srv,
        &s.admin,
        "whatsapp",
        json!({"graph-api-url": "https://graph.facebook.com.example.net/v21.0"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    s.post(&s.alice, &rid, "Via another host?").await;
    let notice = not_sent_notice(&mut ddp, &event).await;
    assert_eq!(
        notice["msg"],
        "Not sent to WhatsApp: the app may not reach the Graph API: an admin must grant it `networking` for graph.facebook.com",
        "{notice}"
    );
    assert_eq!(
        s.meta
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        4
    );
    ddp.close().await;
}
