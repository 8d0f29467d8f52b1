//! `/whatsapp help|status|send|close|reopen`.

use super::*;
use palaver_tests::app_admin::{ephemeral, run_ok};

#[tokio::test]
async fn sample_whatsapp_commands() {
    let s = setup("", OFFLINE).await;
    let config = s.config();
    let lobby = s.lobby.clone();

    let help = ephemeral(&s.srv, &s.carol, &lobby, "whatsapp", "help").await;
    assert!(help.contains("`/whatsapp send <number> <text>`"), "{help}");
    assert!(help.contains("`/whatsapp close`"), "{help}");

    // status: the configuration check against the Graph API and the webhook URL.
    let status = ephemeral(&s.srv, &s.alice, &lobby, "whatsapp", "status").await;
    assert!(
        status.contains(&format!(
            "Webhook URL (Meta app dashboard > WhatsApp > Configuration): {}",
            s.webhook
        )),
        "{status}"
    );
    assert!(
        status.contains("✓ Connected: +1 555-010-0199 (Acme Support), quality rating GREEN"),
        "{status}"
    );
    assert!(
        status.contains(&format!("phone number ID `{}`", config.phone_number_id)),
        "{status}"
    );
    assert!(status.contains("Agents: alice, bob"), "{status}");
    assert!(
        status.contains("Conversations: 0 (0 open, 0 closed)"),
        "{status}"
    );
    let check = s
        .meta
        .requests()
        .pop()
        .expect("the status check called the API");
    assert_eq!(check.method, "GET");
    assert_eq!(
        check.route(),
        format!("/{VERSION}/{}", config.phone_number_id)
    );
    assert_eq!(
        check.query_param("fields").as_deref(),
        Some("display_phone_number,verified_name,quality_rating")
    );
    assert_eq!(
        check.header("authorization"),
        Some(format!("Bearer {}", config.access_token).as_str())
    );
    let refused = ephemeral(&s.srv, &s.carol, &lobby, "whatsapp", "status").await;
    assert!(
        refused.starts_with("Only the app's agents and admins"),
        "{refused}"
    );

    // send: starts a conversation.
    let usage = ephemeral(&s.srv, &s.alice, &lobby, "whatsapp", "send 12ab hello").await;
    assert!(
        usage.contains("is not an international phone number"),
        "{usage}"
    );
    // An unquoted number with spaces is not guessed at.
    let usage = ephemeral(
        &s.srv,
        &s.alice,
        &lobby,
        "whatsapp",
        "send +1 555 987-6543 hi",
    )
    .await;
    assert!(
        usage.starts_with("`+1` is not an international phone number"),
        "{usage}"
    );
    let usage = ephemeral(&s.srv, &s.alice, &lobby, "whatsapp", "send +15559876543").await;
    assert!(usage.starts_with("Usage:"), "{usage}");
    let refused = ephemeral(&s.srv, &s.carol, &lobby, "whatsapp", "send +15559876543 hi").await;
    assert!(refused.starts_with("Only the app's agents"), "{refused}");
    assert!(s.meta.message_requests().is_empty());
    let done = ephemeral(
        &s.srv,
        &s.alice,
        &lobby,
        "whatsapp",
        r#"send "+1 555 987-6543" Your repair is ready for pickup."#,
    )
    .await;
    assert_eq!(
        done,
        "Sent to +15559876543. The conversation continues in wa-15559876543."
    );
    let sent = s.wait_sends(1).await;
    assert_send(
        &s,
        &sent[0],
        "15559876543",
        "Your repair is ready for pickup.",
    );
    let rid = s.room_id(&s.alice, "wa-15559876543").await;
    let shown = s
        .wait_message(&rid, "the sent text", |m| {
            m["msg"] == "Your repair is ready for pickup."
        })
        .await;
    assert_eq!(shown["alias"], "alice Name (/whatsapp send)", "{shown}");
    assert_eq!(
        s.meta.message_requests().len(),
        1,
        "the bot's copy was relayed again"
    );

    // The customer answers in the same room; their profile name is learned.
    s.text(
        "15559876543",
        "Sam Lee",
        "wamid.sam-1",
        "Great, coming at 5",
    )
    .await;
    let m = s
        .wait_message(&rid, "Sam's answer", |m| m["msg"] == "Great, coming at 5")
        .await;
    assert_eq!(m["alias"], "Sam Lee", "{m}");
    assert_eq!(s.customer_rooms(&s.alice).await.len(), 1);

    // close: replies stop; the agent is told; the customer gets the offline reply once.
    let outside = ephemeral(&s.srv, &s.alice, &lobby, "whatsapp", "close").await;
    assert_eq!(outside, "Run `/whatsapp close` in a customer's room.");
    let closed = run_ok(&s.srv, &s.alice, &rid, "whatsapp", "close").await;
    let closed_id = closed["messageId"].as_str().expect("a room message");
    s.wait_message(&rid, "closed", |m| {
        m["_id"] == closed_id
            && m["msg"].as_str().is_some_and(|t| {
                t.starts_with("alice Name closed the conversation with +15559876543 (Sam Lee)")
            })
    })
    .await;
    let again = ephemeral(&s.srv, &s.alice, &rid, "whatsapp", "close").await;
    assert!(again.contains("is already closed"), "{again}");
    let (mut ddp, event) = notices(&s.srv, &s.alice).await;
    s.post(&s.alice, &rid, "One more thing").await;
    let notice = not_sent_notice(&mut ddp, &event).await;
    assert_eq!(
        notice["msg"],
        "Not sent to WhatsApp: alice closed this conversation. Run `/whatsapp reopen` to answer +15559876543 (Sam Lee).",
        "{notice}"
    );
    s.text(
        "15559876543",
        "Sam Lee",
        "wamid.sam-2",
        "Are you open tomorrow?",
    )
    .await;
    s.text("15559876543", "Sam Lee", "wamid.sam-3", "Hello?")
        .await;
    s.wait_message(&rid, "Sam's second", |m| m["msg"] == "Hello?")
        .await;
    let sent = s.wait_sends(2).await;
    assert_send(&s, &sent[1], "15559876543", OFFLINE);
    let status = ephemeral(&s.srv, &s.alice, &rid, "whatsapp", "status").await;
    assert!(status.contains("Closed by alice"), "{status}");
    assert!(
        status.contains("Conversations: 1 (0 open, 1 closed)"),
        "{status}"
    );
    assert_eq!(
        s.meta.message_requests().len(),
        2,
        "{:?}",
        s.meta.message_requests()
    );

    // reopen: replies flow again.
    let reopened = run_ok(&s.srv, &s.bob, &rid, "whatsapp", "reopen").await;
    assert!(reopened["messageId"].is_string(), "{reopened}");
    let again = ephemeral(&s.srv, &s.bob, &rid, "whatsapp", "reopen").await;
    assert!(again.contains("is open"), "{again}");
    s.post(&s.bob, &rid, "Yes, 9 to 5.").await;
    let sent = s.wait_sends(3).await;
    assert_send(&s, &sent[2], "15559876543", "Yes, 9 to 5.");
    let status = ephemeral(&s.srv, &s.admin, &lobby, "whatsapp", "status").await;
    assert!(
        status.contains("Conversations: 1 (1 open, 0 closed)"),
        "{status}"
    );
    assert!(status.contains("Messages: 3 received, 3 sent"), "{status}");
    ddp.close().await;
}
