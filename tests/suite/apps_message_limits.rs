//! Message limits and `message-impersonate` on the apps' ways: the `polite` test
//! app sends oversized messages through its host call (`/polite-big <kind>`) and turns
//! other people's messages into oversized ones in its pre-send hook
//! (`polite-bloat-<kind>`, `polite-alias`). The host call is refused to the app; a
//! bad `modify` refuses the post (never stores the sender's original instead), names
//! the app, and is written to the app's log. An app's bot may use an alias, marked
//! `bot: {i: <app id>}`.

use palaver_tests::app_admin::{ephemeral, says, wait_log};
use palaver_tests::ddp::Ddp;
use reqwest::StatusCode;
use serde_json::json;

use crate::apps_support::{self as support, assert_polite_still_works, channel, history, try_post};

const SIZE: &str = "error-message-size-exceeded";

#[tokio::test]
async fn apps_cannot_store_oversized_or_impersonating_messages() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &admin, "limits", &["alice"]).await;
    support::install_polite(&srv, &admin).await;
    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    let sent = |messages: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        messages
            .into_iter()
            .filter(|m| m.get("t").is_none())
            .collect()
    };
    let before = sent(history(&srv, &alice, &rid).await).len();

    // The host call: every oversized kind is refused to the app.
    for kind in ["many", "bytes", "fields"] {
        let said = ephemeral(&srv, &alice, &rid, "polite-big", kind).await;
        assert!(
            said.starts_with("refused:") && said.contains(SIZE),
            "/polite-big {kind} → {said}"
        );
    }

    // The pre-send hook's modify: the post is refused, naming the app, over REST and
    // DDP; the app's log says why.
    for kind in ["many", "bytes", "fields"] {
        let (status, body) = try_post(&srv, &alice, &rid, &format!("hi polite-bloat-{kind}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind}: {body}");
        assert_eq!(body["errorType"], SIZE, "{kind}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("Polite")),
            "the refusal names the app: {body}"
        );
    }
    let err = ddp
        .call_err(
            "sendMessage",
            json!([{"rid": rid, "msg": "over ddp polite-bloat-many"}]),
        )
        .await;
    assert_eq!(err["error"], SIZE, "{err}");
    wait_log(&srv, &admin, "polite", "the refused modify", |e| {
        e["handler"] == "pre-message-sent" && says(e, "modify refused")
    })
    .await;

    // An app may not give a person's message an alias the person may not use.
    let (status, body) = try_post(&srv, &alice, &rid, "hi polite-alias").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorType"], "error-action-not-allowed", "{body}");

    // Nothing of it was stored, and the history stays small.
    let messages = history(&srv, &alice, &rid).await;
    let bytes = json!(messages).to_string().len();
    let messages = sent(messages);
    assert_eq!(messages.len(), before, "{messages:?}");
    assert!(bytes < 16 * 1024, "history is {bytes} bytes");

    // The app's bot may use an alias; the message stays the bot's, marked as the
    // app's.
    let said = ephemeral(&srv, &alice, &rid, "polite-big", "alias").await;
    let id = said
        .strip_prefix("sent ")
        .unwrap_or_else(|| panic!("/polite-big alias → {said}"));
    let m = srv
        .get_ok(&format!("chat.getMessage?msgId={id}"), &alice)
        .await["message"]
        .clone();
    assert_eq!(m["alias"], "admin", "{m}");
    assert_eq!(m["u"]["username"], "polite.bot", "{m}");
    assert_eq!(m["bot"], json!({"i": "polite"}), "{m}");

    assert_polite_still_works(&srv, &alice, &rid, "the refused messages").await;
}
