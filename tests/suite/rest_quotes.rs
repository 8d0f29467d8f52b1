//! Quotes of linked messages, as Rocket.Chat builds them: a message linking to
//! another (`<Site_Url>/…?msg=<id>`) carries it as a quote attachment when its
//! author may read it; editing the text drops the old quotes and quotes again.

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn linked_messages_are_quoted_and_edits_requote() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let channel = create_channel(&srv, &alice, "quotes", &[]).await;
    let rid = str_of(&channel["_id"], "rid").to_string();
    let secret = create_group(&srv, &admin, "secret", &[]).await;
    let sid = str_of(&secret["_id"], "sid").to_string();
    let first = post(&srv, &alice, &rid, "the original").await;
    let hidden = post(&srv, &admin, &sid, "not for alice").await;
    let link = |id: &Value| {
        format!(
            "{}/channel/quotes?msg={}",
            srv.base_url(),
            id.as_str().unwrap()
        )
    };

    let text = format!("look {}", link(&first["_id"]));
    let m = post(&srv, &alice, &rid, &text).await;
    let quotes = m["attachments"].as_array().expect("attachments").clone();
    assert_eq!(quotes.len(), 1, "{m}");
    assert_eq!(quotes[0]["message_link"], json!(link(&first["_id"])), "{m}");
    assert_eq!(quotes[0]["text"], json!("the original"), "{m}");
    assert_eq!(quotes[0]["author_name"], json!("alice"), "{m}");

    // A message its author cannot read is not quoted.
    let m2 = post(
        &srv,
        &alice,
        &rid,
        &format!("peek {}", link(&hidden["_id"])),
    )
    .await;
    assert_eq!(
        m2.get("attachments").cloned().unwrap_or(json!([])),
        json!([]),
        "{m2}"
    );

    // An edit without the link drops the quote.
    let mid = str_of(&m["_id"], "mid").to_string();
    let edited = srv
        .post_ok(
            "chat.update",
            &alice,
            json!({"roomId": rid, "msgId": mid, "text": "no more links"}),
        )
        .await;
    // Answered as an empty list, as Rocket.Chat's chat.update does.
    assert_eq!(edited["message"]["attachments"], json!([]), "{edited}");
}
