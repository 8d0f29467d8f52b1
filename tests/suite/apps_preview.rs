//! Slash command previews (`commands.preview`, Rocket.Chat's REST contract) with the
//! `polite` test app's `/polite-pick`: the items offered for what was typed, the
//! picked item's reply in the room, and the refusals (missing fields, a command
//! without previews, an unknown command or item, a room the user is not in).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::apps_support::{self as support, channel, history};
use palaver_tests::server::{enc, Palaver, Session};

async fn previews(
    srv: &Palaver,
    who: &Session,
    command: &str,
    params: &str,
    rid: &str,
) -> (StatusCode, Value) {
    srv.get(
        &format!(
            "commands.preview?command={}&params={}&roomId={}",
            enc(command),
            enc(params),
            enc(rid)
        ),
        who,
    )
    .await
}

#[tokio::test]
async fn preview_items_are_offered_and_the_picked_one_is_posted() {
    let market = support::marketplace();
    let srv = support::server(market.path()).start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let rid = channel(&srv, &admin, "lobby", &["alice"]).await;

    // No app answers yet.
    let (status, body) = previews(&srv, &alice, "polite-pick", "x", &rid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["success"], false, "{body}");

    support::install_polite(&srv, &admin).await;
    let listed = srv.get_ok("commands.list", &alice).await;
    let flags: Vec<(String, bool)> = listed["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter(|c| c["appId"] == "polite")
        .map(|c| {
            let name = c["command"].as_str().unwrap_or_default().to_string();
            (name, c["providesPreview"] == true)
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ("polite".to_string(), false),
            ("polite-big".to_string(), false),
            ("polite-pick".to_string(), true)
        ],
        "{listed}"
    );

    // The items for what Alice typed so far.
    let (status, body) = previews(&srv, &alice, "/polite-pick", "bring cake", &rid).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true, "{body}");
    assert_eq!(
        body["preview"]["i18nTitle"], "Pick a polite phrase",
        "{body}"
    );
    assert_eq!(
        body["preview"]["items"],
        json!([
            {"id": "please", "type": "text", "value": "Please, bring cake"},
            {"id": "kindly", "type": "text", "value": "Would you kindly bring cake?"},
            {"id": "thanks", "type": "text", "value": "Thank you for bring cake!"},
        ]),
        "{body}"
    );

    // The app's own refusal reaches the user.
    let (status, body) = previews(&srv, &alice, "polite-pick", "  ", &rid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("say what to phrase politely")),
        "{body}"
    );

    // Alice picks one: the bot posts it in the room.
    let pick = |id: &str, value: &str| {
        json!({
            "command": "polite-pick",
            "params": "bring cake",
            "roomId": rid,
            "triggerId": "t-1",
            "previewItem": {"id": id, "type": "text", "value": value},
        })
    };
    let (status, body) = srv
        .post(
            "commands.preview",
            &alice,
            pick("kindly", "Would you kindly bring cake?"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true, "{body}");
    let last = history(&srv, &alice, &rid)
        .await
        .into_iter()
        .next()
        .expect("a message");
    assert_eq!(last["msg"], "Would you kindly bring cake?", "{last}");
    assert_eq!(last["u"]["username"], "polite.bot", "{last}");

    // The app rebuilds the text from the item id: a forged value is not posted.
    let (status, body) = srv
        .post("commands.preview", &alice, pick("thanks", "something rude"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let last = history(&srv, &alice, &rid)
        .await
        .into_iter()
        .next()
        .expect("a message");
    assert_eq!(last["msg"], "Thank you for bring cake!", "{last}");

    // An item the app never offered is refused by the app.
    let (status, body) = srv
        .post("commands.preview", &alice, pick("rude", "x"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("no such phrasing: rude")),
        "{body}"
    );

    // Malformed requests get Rocket.Chat's messages.
    for (request, message) in [
        (
            json!({"roomId": rid, "previewItem": {"id": "please", "type": "text", "value": ""}}),
            "You must provide a command to run the preview item on.",
        ),
        (
            json!({"command": "polite-pick", "previewItem": {"id": "please", "type": "text", "value": ""}}),
            "The room's id where the preview is being executed in must be provided and be a string.",
        ),
        (
            json!({"command": "polite-pick", "roomId": rid}),
            "The preview item being executed must be provided.",
        ),
        (
            json!({"command": "polite-pick", "roomId": rid, "previewItem": {"id": "please"}}),
            "The preview item being executed is in the wrong format.",
        ),
    ] {
        let (status, body) = srv.post("commands.preview", &alice, request.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request} → {body}");
        assert_eq!(body["error"], message, "{request} → {body}");
    }
    let (status, body) = srv
        .get(&format!("commands.preview?roomId={rid}"), &alice)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"], "You must provide a command to get the previews from.",
        "{body}"
    );

    // A command without previews, and one nobody answers.
    let (status, body) = previews(&srv, &alice, "polite", "x", &rid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("/polite does not provide previews")),
        "{body}"
    );
    let (status, body) = previews(&srv, &alice, "nope", "x", &rid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"], "The command provided does not exist (or is disabled).",
        "{body}"
    );

    // Bob is not in the room: no previews there, and nothing posted for him.
    let before = history(&srv, &alice, &rid).await.len();
    let (status, body) = previews(&srv, &bob, "polite-pick", "x", &rid).await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, body) = srv
        .post("commands.preview", &bob, pick("please", "x"))
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(history(&srv, &alice, &rid).await.len(), before);

    // Disabled, the app offers nothing.
    palaver_tests::app_admin::set_status(&srv, &admin, "polite", false).await;
    let (status, body) = previews(&srv, &alice, "polite-pick", "x", &rid).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
