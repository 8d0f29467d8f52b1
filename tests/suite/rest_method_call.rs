//! `method.call/:method` and `method.callAnon/:method`: realtime methods over REST,
//! answered as Rocket.Chat does (`{success, message: "<DDP result>"}`), by the same
//! method table the websocket uses.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;
use palaver_tests::ddp::Ddp;

fn wrap(method: &str, params: Value) -> Value {
    json!({"message": json!({"msg": "method", "id": "42", "method": method, "params": params}).to_string()})
}

/// The DDP message inside a successful `method.call` answer.
#[track_caller]
fn ddp_answer(status: StatusCode, body: &Value) -> Value {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], json!(true), "{body}");
    let answer: Value = serde_json::from_str(body["message"].as_str().expect("message")).unwrap();
    assert_eq!(answer["msg"], json!("result"), "{answer}");
    assert_eq!(answer["id"], json!("42"), "{answer}");
    answer
}

#[tokio::test]
async fn method_call_runs_the_realtime_methods_with_the_same_results_and_errors() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let room = srv
        .post_ok("channels.create", &alice, json!({"name": "mc-room"}))
        .await;
    let rid = room["channel"]["_id"].as_str().unwrap().to_string();

    // sendMessage over REST: the message is stored and the same shape as over DDP.
    let (status, body) = srv
        .post(
            "method.call/sendMessage",
            &alice,
            wrap("sendMessage", json!([{"rid": rid, "msg": "over rest"}])),
        )
        .await;
    let answer = ddp_answer(status, &body);
    let sent = &answer["result"];
    assert_eq!(sent["msg"], json!("over rest"), "{answer}");
    assert!(
        sent["ts"]["$date"].is_number(),
        "EJSON dates as over DDP: {sent}"
    );
    let mut ddp = Ddp::connect_as(&srv, &alice).await;
    let history = ddp
        .call_ok("loadHistory", json!([rid, null, 10, null]))
        .await;
    assert_eq!(history["messages"][0]["_id"], sent["_id"], "{history}");

    // A method's refusal comes inside the DDP message, as Meteor's error object.
    let (status, body) = srv
        .post(
            "method.call/sendMessage",
            &alice,
            wrap("sendMessage", json!([{"rid": "nope", "msg": "x"}])),
        )
        .await;
    let answer = ddp_answer(status, &body);
    let over_ddp = ddp
        .call_err("sendMessage", json!([{"rid": "nope", "msg": "x"}]))
        .await;
    assert_eq!(answer["error"], over_ddp, "same error both ways");
    assert!(answer.get("result").is_none());

    let (status, body) = srv
        .post(
            "method.call/noSuchMethod",
            &alice,
            wrap("noSuchMethod", json!([])),
        )
        .await;
    let answer = ddp_answer(status, &body);
    assert_eq!(answer["error"]["error"], json!(404), "{answer}");

    // Not a DDP method message, or no message at all.
    let (status, body) = srv
        .post(
            "method.call/x",
            &alice,
            json!({"message": "{\"msg\":\"sub\"}"}),
        )
        .await;
    assert_error(status, &body, 400, None, "not a method message");
    assert_eq!(body["error"], json!("Invalid method call"));
    let (status, body) = srv.post("method.call/x", &alice, json!({})).await;
    assert_error(status, &body, 400, Some("invalid-params"), "no message");
    assert_eq!(
        body["error"],
        json!("must have required property 'message'")
    );

    // method.call needs a login; callAnon runs without a user, so methods that
    // need one refuse inside the answer, and ones that do not succeed.
    let (status, body) = srv
        .post_anon(
            "method.call/license:getModules",
            wrap("license:getModules", json!([])),
        )
        .await;
    assert_unauthorized(status, &body, "method.call anonymous");
    let (status, body) = srv
        .post_anon(
            "method.callAnon/sendMessage",
            wrap("sendMessage", json!([{"rid": rid, "msg": "anon"}])),
        )
        .await;
    let answer = ddp_answer(status, &body);
    assert!(answer["error"].is_object(), "{answer}");
    let (status, body) = srv
        .post_anon(
            "method.callAnon/license:getModules",
            wrap("license:getModules", json!([])),
        )
        .await;
    assert_eq!(ddp_answer(status, &body)["result"], json!([]));

    // login over callAnon answers a token that works.
    let (status, body) = srv
        .post_anon(
            "method.callAnon/login",
            wrap(
                "login",
                json!([{"user": {"username": "alice"}, "password": password_for("alice")}]),
            ),
        )
        .await;
    let answer = ddp_answer(status, &body);
    let token = answer["result"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let again = Session {
        user_id: alice.user_id.clone(),
        token,
        username: "alice".into(),
    };
    srv.get_ok("me", &again).await;
    // …and logout over method.call revokes the token it is called with.
    let (status, body) = srv
        .post("method.call/logout", &again, wrap("logout", json!([])))
        .await;
    ddp_answer(status, &body);
    let (status, body) = srv.get("me", &again).await;
    assert_unauthorized(status, &body, "after logout over REST");
    ddp.close().await;
}
