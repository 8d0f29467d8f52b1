//! Rocket.Chat's SAML behaviour settings against a real IdP (PyPI `pysaml2`):
//! `immutable_property` (e-mail or username identifies the person, whatever the
//! NameID), `generate_username`, `default_user_role`, roles from an attribute
//! (`role_attribute_sync`/`role_attribute_name`), the `channels` attribute
//! (`channels_update`), IdP-initiated sign-in (off by default; when on, still
//! signed and single use), and encrypted assertions refused with a clear error.

use serde_json::{json, Value};

use crate::common::{Palaver, Session};
use crate::saml_login::{
    b64_of, idp_answer, login, post_response, session_of, set, start, user_count, xml_of,
};

async fn info(srv: &Palaver, admin: &Session, id: &str) -> Value {
    srv.get_ok(&format!("users.info?userId={id}"), admin).await["user"].clone()
}

fn roles(info: &Value) -> Vec<String> {
    info["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

async fn member_of(srv: &Palaver, admin: &Session, room: &str, username: &str) -> bool {
    let (status, members) = srv
        .get(&format!("channels.members?roomName={room}"), admin)
        .await;
    status.is_success()
        && members["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|u| u["username"] == username))
}

/// A sign-in through the IdP: the new session.
async fn sign_in(srv: &Palaver, idp: &palaver_tests::saml_idp::SamlIdp) -> Session {
    let answer = idp_answer(srv, idp).await;
    let token = post_response(srv, &answer)
        .await
        .unwrap_or_else(|e| panic!("refused: {e}\n{}", srv.log()));
    session_of(&login(srv, &token).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saml_identifies_by_the_immutable_property_and_maps_roles_and_channels() {
    let (srv, admin, idp) = start("All").await;
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_role_attribute_sync",
        json!(true),
    )
    .await;
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_role_attribute_name",
        json!("role"),
    )
    .await;
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_default_user_role",
        json!("user,bot"),
    )
    .await;
    idp.user(
        "alice",
        json!({"username": "alice", "email": "alice@idp.test", "cn": "Alice Liddell",
               "role": ["admin"], "channels": "eng,ops"}),
    )
    .await;

    // Transient NameIDs: each sign-in brings another, the e-mail says who it is.
    idp.next(json!({"uid": "alice", "name_id": "transient-1"}))
        .await;
    let s1 = sign_in(&srv, &idp).await;
    assert_eq!(s1.username, "alice");
    let i = info(&srv, &admin, &s1.user_id).await;
    let r = roles(&i);
    for want in ["user", "bot", "admin"] {
        assert!(r.contains(&want.to_string()), "{want} in {i}");
    }
    assert!(member_of(&srv, &admin, "eng", "alice").await);
    assert!(member_of(&srv, &admin, "ops", "alice").await);

    idp.next(json!({"name_id": "transient-2"})).await;
    idp.user(
        "alice",
        json!({"username": "alice", "email": "alice@idp.test", "cn": "Alice Liddell",
               "role": ["no-such-role"], "channels": "eng,sales"}),
    )
    .await;
    let s2 = sign_in(&srv, &idp).await;
    assert_eq!(s2.user_id, s1.user_id, "the same person: same e-mail");
    let i = info(&srv, &admin, &s1.user_id).await;
    assert!(
        !roles(&i).contains(&"admin".to_string()),
        "role synced away: {i}"
    );
    assert!(roles(&i).contains(&"user".to_string()), "{i}");
    assert_eq!(i["services"]["saml"]["nameID"], "transient-2", "{i}");
    // channels_update off: channels only when the account is created.
    assert!(!member_of(&srv, &admin, "sales", "alice").await);
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_channels_update",
        json!(true),
    )
    .await;
    sign_in(&srv, &idp).await;
    assert!(member_of(&srv, &admin, "sales", "alice").await);

    // Immutable property Username: an existing local account of that name is the
    // person, whatever the e-mail.
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_immutable_property",
        json!("Username"),
    )
    .await;
    let bob = srv.create_user(&admin, "bob").await;
    idp.user(
        "bob",
        json!({"username": "bob", "email": "robert@idp.test", "cn": "Bob"}),
    )
    .await;
    idp.next(json!({"uid": "bob", "name_id": "transient-3"}))
        .await;
    let s = sign_in(&srv, &idp).await;
    assert_eq!(s.user_id, bob.user_id);
    assert_eq!(
        info(&srv, &admin, &bob.user_id).await["services"]["saml"]["id"],
        "bob"
    );

    // generate_username: the name, not the username attribute, names new accounts.
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_generate_username",
        json!(true),
    )
    .await;
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_immutable_property",
        json!("EMail"),
    )
    .await;
    idp.user(
        "carol",
        json!({"username": "c123", "email": "carol@idp.test", "cn": "Carol Ann"}),
    )
    .await;
    idp.next(json!({"uid": "carol", "name_id": "transient-4"}))
        .await;
    let s = sign_in(&srv, &idp).await;
    assert_eq!(s.username, "carol.ann");
    let i = info(&srv, &admin, &s.user_id).await;
    assert!(roles(&i).contains(&"bot".to_string()), "default roles: {i}");
    assert!(!roles(&i).contains(&"admin".to_string()), "{i}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idp_initiated_sign_in_only_when_allowed_and_once_and_encrypted_assertions_refused() {
    let (srv, admin, idp) = start("All").await;
    let users = user_count(&srv, &admin).await;

    // Off by default: an unsolicited Response is refused.
    let unsolicited = idp.unsolicited("alice").await;
    assert!(
        !xml_of(&unsolicited).contains("InResponseTo"),
        "{}",
        xml_of(&unsolicited)
    );
    assert_eq!(
        post_response(&srv, &unsolicited).await,
        Err("invalid".into())
    );
    assert_eq!(user_count(&srv, &admin).await, users);

    // On: accepted, once; a tampered one is still refused.
    set(
        &srv,
        &admin,
        "SAML_Custom_Default_allow_idp_initiated",
        json!(true),
    )
    .await;
    let unsolicited = idp.unsolicited("alice").await;
    let tampered = b64_of(&xml_of(&unsolicited).replace("alice@idp.test", "mallory@idp.test"));
    assert_eq!(
        post_response(&srv, &tampered).await,
        Err("signature".into())
    );
    let token = post_response(&srv, &unsolicited).await.expect("accepted");
    let s = session_of(&login(&srv, &token).await);
    assert_eq!(s.username, "alice");
    assert_eq!(
        post_response(&srv, &unsolicited).await,
        Err("replayed".into())
    );

    // An EncryptedAssertion: refused with its own reason, nobody signed in.
    let answer = xml_of(&idp_answer(&srv, &idp).await);
    let close = answer.rfind("</").expect("root close");
    let encrypted = format!(
        "{}<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">\
         <xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/>\
         </saml:EncryptedAssertion>{}",
        &answer[..close],
        &answer[close..]
    );
    let before = user_count(&srv, &admin).await;
    assert_eq!(
        post_response(&srv, &b64_of(&encrypted)).await,
        Err("encrypted".into())
    );
    assert_eq!(user_count(&srv, &admin).await, before);
    assert!(
        srv.log().contains("encrypted assertions are not supported"),
        "logged"
    );
}
