//! Setting changes over DDP as Rocket.Chat clients follow them
//! (`stream-notify-all` `public-settings-changed` for everyone,
//! `stream-notify-logged` `private-settings-changed` for those who may read every
//! setting), realtime tunables that apply to new connections, and a change on one
//! instance taking effect on another sharing the same MongoDB.

use std::time::Duration;

use palaver_tests::ddp::{Closed, Ddp};
use palaver_tests::mongo::mongo_uri;
use serde_json::{json, Value};

use crate::common::*;

const ALL: &str = "stream-notify-all";
const LOGGED: &str = "stream-notify-logged";
const PUBLIC: &str = "public-settings-changed";
const PRIVATE: &str = "private-settings-changed";

async fn set(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
}

#[tokio::test]
async fn setting_changes_reach_subscribers_by_visibility() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;

    let mut anon = Ddp::connect(&srv).await;
    anon.sub(ALL, json!([PUBLIC, false])).await;
    let mut user = Ddp::connect_as(&srv, &alice).await;
    user.sub(ALL, json!([PUBLIC, false])).await;
    let error = user.sub_refused(LOGGED, json!([PRIVATE, false])).await;
    assert!(!error.is_null(), "a user may not follow private settings");
    let mut admin_ddp = Ddp::connect_as(&srv, &admin).await;
    admin_ddp.sub(LOGGED, json!([PRIVATE, false])).await;
    let mut anon_private = Ddp::connect(&srv).await;
    anon_private
        .sub_refused(LOGGED, json!([PRIVATE, false]))
        .await;

    // A private setting, a secret, then a public one.
    set(&srv, &admin, "SMTP_Host", json!("smtp.example.com")).await;
    set(&srv, &admin, "SMTP_Password", json!("s3cret-on-the-wire")).await;
    set(&srv, &admin, "Site_Name", json!("Renamed")).await;

    let expected = json!(["updated", {"_id": "Site_Name", "value": "Renamed"}]);
    for (who, ddp) in [("anonymous", &mut anon), ("user", &mut user)] {
        // The first public event is the public setting: private ones never came.
        let frame = ddp.event(ALL, PUBLIC).await;
        assert_eq!(frame["fields"]["args"], expected, "{who}: {frame}");
        assert_eq!(frame["id"], "id");
    }
    let host = admin_ddp.event(LOGGED, PRIVATE).await;
    assert_eq!(
        host["fields"]["args"],
        json!(["updated", {"_id": "SMTP_Host", "value": "smtp.example.com"}])
    );
    let secret = admin_ddp.event(LOGGED, PRIVATE).await;
    assert_eq!(
        secret["fields"]["args"],
        json!(["updated", {"_id": "SMTP_Password", "value": ""}]),
        "a secret's value never goes out: {secret}"
    );
    let site = admin_ddp.event(LOGGED, PRIVATE).await;
    assert_eq!(site["fields"]["args"], expected);
    for ddp in [&anon, &user, &admin_ddp] {
        assert!(
            !format!("{:?}", ddp.buffered()).contains("s3cret-on-the-wire"),
            "no frame carries the secret"
        );
    }
}

/// The realtime tunables are settings: a change applies to the next connection.
#[tokio::test]
async fn realtime_tunables_apply_to_new_connections() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    // The default budget tolerates a malformed frame.
    let mut before = Ddp::connect(&srv).await;
    before.send_text("{").await;
    assert_eq!(before.recv().await["msg"], "error");
    before.send(json!({"msg": "ping", "id": "p"})).await;
    assert_eq!(before.recv().await, json!({"msg": "pong", "id": "p"}));

    set(&srv, &admin, "Realtime_Max_Bad_Frames", json!(0)).await;
    let mut after = Ddp::connect(&srv).await;
    after.send_text("{").await;
    assert_eq!(after.recv().await["msg"], "error");
    match after.closed(Duration::from_secs(10)).await {
        Closed::Frame(code, reason) => {
            assert_eq!(*code, 1008, "{reason}");
            assert!(reason.contains("more than 0 malformed"), "{reason}");
        }
        other => panic!("expected close 1008, got {other:?}"),
    }
}

/// Two instances on one MongoDB: a change made on A is in force on B, and B's
/// clients hear of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_instance_takes_effect_on_another() {
    let uri = mongo_uri("settings_two_instances");
    let a = Palaver::builder().storage_uri(&uri).start().await;
    let b = Palaver::builder().storage_uri(&uri).start().await;
    let admin_a = a.admin().await;
    let admin_b = b.admin().await;
    let room = create_channel(&b, &admin_b, "limits-across", &[]).await;
    let rid = room["_id"].as_str().expect("rid").to_string();
    post(&b, &admin_b, &rid, "a message of thirty characters").await;

    let mut on_b = Ddp::connect(&b).await;
    on_b.sub(ALL, json!([PUBLIC, false])).await;
    set(&a, &admin_a, "Message_MaxAllowedSize", json!(12)).await;
    let frame = on_b.event(ALL, PUBLIC).await;
    assert_eq!(
        frame["fields"]["args"],
        json!(["updated", {"_id": "Message_MaxAllowedSize", "value": 12}])
    );
    // B re-read the value before telling its clients: it is in force already.
    let (status, body) = b
        .post(
            "chat.postMessage",
            &admin_b,
            json!({"roomId": rid, "text": "a message of thirty characters"}),
        )
        .await;
    assert_error(status, &body, 400, None, "over the limit set on A");
    let on_b_value = b.get_ok("settings/Message_MaxAllowedSize", &admin_b).await;
    assert_eq!(on_b_value["value"], json!(12));
    let public = b
        .get_anon("settings.public?_id=Message_MaxAllowedSize")
        .await
        .1;
    assert_eq!(public["settings"][0]["value"], json!(12), "{public}");
}

/// Losing the role that granted `view-privileged-setting` ends the private stream
/// at once; the next change does not reach the former admin.
#[tokio::test]
async fn losing_the_admin_role_ends_the_private_settings_stream() {
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    let body = srv
        .post_ok(
            "users.create",
            &admin,
            json!({"username": "deputy", "email": "deputy@example.com", "name": "Deputy",
                   "password": password_for("deputy"), "roles": ["admin", "user"]}),
        )
        .await;
    let deputy_id = body["user"]["_id"].as_str().expect("id").to_string();
    let deputy = srv.login("deputy", &password_for("deputy")).await;
    let mut ddp = Ddp::connect_as(&srv, &deputy).await;
    let sub = ddp.sub(LOGGED, json!([PRIVATE, false])).await;
    // Also following public settings, which stays.
    ddp.sub(ALL, json!([PUBLIC, false])).await;

    srv.post_ok(
        "users.update",
        &admin,
        json!({"userId": deputy_id, "data": {"roles": ["user"]}}),
    )
    .await;
    let ended = ddp
        .wait_for("nosub of the private stream", |v| {
            v["msg"] == "nosub" && v["id"] == json!(sub)
        })
        .await;
    assert!(!ended["error"].is_null(), "{ended}");
    set(&srv, &admin, "SMTP_Host", json!("mx.after.example")).await;
    set(&srv, &admin, "Site_Name", json!("After")).await;
    // The public change arrives; the private one before it never did.
    let public = ddp.event(ALL, PUBLIC).await;
    assert_eq!(public["fields"]["args"][1]["_id"], "Site_Name");
    assert!(
        !ddp.buffered().iter().any(|f| f["collection"] == LOGGED),
        "no private frame after the role was taken: {:?}",
        ddp.buffered()
    );
    ddp.sub_refused(LOGGED, json!([PRIVATE, false])).await;
}
