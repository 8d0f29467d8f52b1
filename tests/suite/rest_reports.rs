//! Reporting messages: `chat.reportMessage` (Rocket.Chat's checks and refusals) and
//! `moderation.reports` (the moderators' reading, `view-moderation-console`).

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn reported_messages_reach_the_moderators() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let lobby = create_channel(&srv, &admin, "lobby", &["alice"]).await;
    let lobby = str_of(&lobby["_id"], "room id").to_string();
    let secret = create_group(&srv, &admin, "secret", &[]).await;
    let secret = str_of(&secret["_id"], "room id").to_string();
    let m = post(&srv, &admin, &lobby, "buy cheap watches").await;
    let mid = str_of(&m["_id"], "message id").to_string();
    let hidden = post(&srv, &admin, &secret, "in private").await;

    // Rocket.Chat's own failures first, then its method's.
    let (status, body) = srv
        .post("chat.reportMessage", &alice, json!({"messageId": mid}))
        .await;
    assert_error(status, &body, 400, None, "no description");
    assert_eq!(
        body["error"],
        "The required \"description\" param is missing."
    );
    let (status, body) = srv
        .post("chat.reportMessage", &alice, json!({"description": "spam"}))
        .await;
    assert_eq!(
        body["error"],
        "The required \"messageId\" param is missing."
    );
    assert_eq!(status.as_u16(), 400);
    let (status, body) = srv
        .post(
            "chat.reportMessage",
            &alice,
            json!({"messageId": mid, "description": "   "}),
        )
        .await;
    assert_error(
        status,
        &body,
        400,
        Some("error-invalid-description"),
        "blank",
    );
    // Not there, or in a room alice cannot see: the same refusal.
    for id in ["NoSuchMessage", str_of(&hidden["_id"], "id")] {
        let (status, body) = srv
            .post(
                "chat.reportMessage",
                &alice,
                json!({"messageId": id, "description": "spam"}),
            )
            .await;
        assert_error(status, &body, 400, Some("error-invalid-message_id"), id);
    }

    // A public channel's message may be reported by anyone who can see it.
    for (who, why) in [(&alice, "spam"), (&bob, "advertising")] {
        srv.post_ok(
            "chat.reportMessage",
            who,
            json!({"messageId": mid, "description": why}),
        )
        .await;
        tick().await;
    }

    let (status, body) = srv
        .get(&format!("moderation.reports?msgId={mid}"), &alice)
        .await;
    assert_error(status, &body, 403, None, "not a moderator");
    let reports = srv
        .get_ok(&format!("moderation.reports?msgId={mid}"), &admin)
        .await;
    assert_eq!(reports["total"], 2, "{reports}");
    let first = &reports["reports"][0];
    assert_eq!(
        first["description"], "advertising",
        "newest first: {reports}"
    );
    assert_eq!(first["reportedBy"]["username"], "bob");
    assert_eq!(first["message"]["msg"], "buy cheap watches");
    assert_eq!(first["room"]["_id"], json!(lobby));
    assert_eq!(first["room"]["t"], "c");
    ts(&first["ts"], "report ts");
    let page = srv
        .get_ok(
            &format!("moderation.reports?msgId={mid}&offset=1&count=1"),
            &admin,
        )
        .await;
    assert_page(&page, "reports", 1, 1, 2, "second page");
    assert_eq!(page["reports"][0]["reportedBy"]["username"], "alice");
}
