//! `requirePasswordChangeReason`, as Rocket.Chat's `saveUser` treats it: shown
//! with the user's private fields while set, kept while `requirePasswordChange`
//! stays on, and removed when `users.update` turns `requirePasswordChange` off
//! (Rocket.Chat's test "should delete requirePasswordChangeReason when
//! requirePasswordChange is set to false").

use serde_json::json;

use crate::common::*;

/// Gives user `id` a password-change reason, with the server stopped, through the
/// store (no API sets one; Rocket.Chat's test writes it into the database too).
async fn set_reason(srv: &mut Palaver, id: &str, reason: &str) {
    use palaver_server::store::StorageTarget;
    assert!(
        srv.stop(std::time::Duration::from_secs(15)).await,
        "clean stop"
    );
    let store = palaver_server::store::open(
        &StorageTarget::Sqlite(srv.data_dir().join("palaver.db")),
        true,
    )
    .await
    .expect("open the stopped server's store");
    let mut user = store.user_by_id(id).await.unwrap().expect("user");
    user.require_password_change_reason = Some(reason.into());
    store.update_user(&user).await.unwrap();
    store.close().await.unwrap();
    srv.start_again().await;
}

#[tokio::test]
async fn turning_require_password_change_off_removes_its_reason() {
    let mut srv = Palaver::start().await;
    let admin = srv.admin().await;
    let created = srv
        .post_ok(
            "users.create",
            &admin,
            json!({
                "username": "pw.reason",
                "name": "Reason",
                "email": "pw.reason@palaver.test",
                "password": password_for("pw.reason"),
                "requirePasswordChange": true,
            }),
        )
        .await;
    let uid = created["user"]["_id"].as_str().expect("id").to_string();
    assert_eq!(created["user"]["requirePasswordChange"], json!(true));
    assert!(created["user"].get("requirePasswordChangeReason").is_none());

    set_reason(&mut srv, &uid, "any_data").await;
    let info = srv
        .get_ok(&format!("users.info?userId={uid}"), &admin)
        .await;
    assert_eq!(
        info["user"]["requirePasswordChangeReason"],
        json!("any_data"),
        "{info}"
    );
    // Others without `view-full-other-user-info` do not see it.
    let other = srv.create_user(&admin, "pw.other").await;
    let public = srv
        .get_ok(&format!("users.info?userId={uid}"), &other)
        .await;
    assert!(
        public["user"].get("requirePasswordChangeReason").is_none(),
        "{public}"
    );

    // Another change, or keeping the requirement on, keeps the reason.
    let kept = srv
        .post_ok(
            "users.update",
            &admin,
            json!({"userId": uid, "data": {"name": "Reason 2", "requirePasswordChange": true}}),
        )
        .await;
    assert_eq!(
        kept["user"]["requirePasswordChangeReason"],
        json!("any_data"),
        "{kept}"
    );

    let updated = srv
        .post_ok(
            "users.update",
            &admin,
            json!({"userId": uid, "data": {"requirePasswordChange": false}}),
        )
        .await;
    assert_eq!(updated["success"], json!(true), "{updated}");
    assert_eq!(
        updated["user"]["requirePasswordChange"],
        json!(false),
        "{updated}"
    );
    assert!(
        updated["user"].get("requirePasswordChangeReason").is_none(),
        "{updated}"
    );
    let info = srv
        .get_ok(&format!("users.info?userId={uid}"), &admin)
        .await;
    assert!(
        info["user"].get("requirePasswordChangeReason").is_none(),
        "{info}"
    );
    // It stays gone across a restart: removed from the record, not only the answer.
    srv.restart().await;
    let admin = srv.admin().await;
    let info = srv
        .get_ok(&format!("users.info?userId={uid}"), &admin)
        .await;
    assert!(
        info["user"].get("requirePasswordChangeReason").is_none(),
        "{info}"
    );
}
