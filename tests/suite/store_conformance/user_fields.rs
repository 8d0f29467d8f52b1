//! Optional user fields written by a whole-user update are kept while set and
//! removed when cleared: the invite link a user came by (`inviteToken`) and why
//! their password must change (`requirePasswordChangeReason`).

use palaver_server::store::DynStore;

use super::user;

pub async fn optional_user_fields(store: DynStore) {
    let mut u = user("u-f", "fields", None);
    store.create_user(&u, None).await.unwrap();
    u.invite_token = Some("tok".into());
    u.require_password_change = true;
    u.require_password_change_reason = Some("any_data".into());
    store.update_user(&u).await.unwrap();
    let read = store.user_by_id("u-f").await.unwrap().expect("user");
    assert_eq!(read.invite_token.as_deref(), Some("tok"));
    assert_eq!(
        read.require_password_change_reason.as_deref(),
        Some("any_data")
    );

    u.require_password_change = false;
    u.require_password_change_reason = None;
    store.update_user(&u).await.unwrap();
    let read = store.user_by_id("u-f").await.unwrap().expect("user");
    assert!(!read.require_password_change);
    assert_eq!(read.require_password_change_reason, None);
    assert_eq!(read.invite_token.as_deref(), Some("tok"));
}
