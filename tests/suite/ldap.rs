//! LDAP / Active Directory against a real OpenLDAP `slapd` (tests/src/slapd.rs):
//! login over REST (`{ldap: true, username, ldapPass}`) and realtime, the normal
//! login form, wrong passwords, group → role and group → channel maps, the sync
//! (dry run, create, update, deactivate, re-activate only what it deactivated),
//! TLS (LDAPS and StartTLS with a test CA), and a directory that is down.

use std::time::Duration;

use palaver_tests::browser::Browser;
use palaver_tests::ddp::Ddp;
use palaver_tests::slapd::{
    group_ldif, Person, Slapd, ADMIN_DN, ADMIN_PASSWORD, BASE_DN, GROUPS_DN,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{Palaver, Session, ADMIN_USERNAME};

async fn set(srv: &Palaver, admin: &Session, id: &str, value: Value) {
    srv.post_ok(&format!("settings/{id}"), admin, json!({ "value": value }))
        .await;
}

/// Points Palaver at `slapd` (plain LDAP, service bind, OpenLDAP attributes), with
/// group → role and group → channel maps.
async fn configure(srv: &Palaver, admin: &Session, slapd: &Slapd) {
    for (id, value) in [
        ("LDAP_Server_Type", json!("")),
        ("LDAP_Host", json!("127.0.0.1")),
        ("LDAP_Port", json!(slapd.port)),
        ("LDAP_Authentication", json!(true)),
        ("LDAP_Authentication_UserDN", json!(ADMIN_DN)),
        ("LDAP_Authentication_Password", json!(ADMIN_PASSWORD)),
        ("LDAP_BaseDN", json!(BASE_DN)),
        (
            "LDAP_User_Search_Filter",
            json!("(objectClass=inetOrgPerson)"),
        ),
        ("LDAP_Search_Page_Size", json!(2)),
        ("LDAP_Unique_Identifier_Field", json!("entryUUID")),
        ("LDAP_Sync_User_Data_Roles", json!(true)),
        ("LDAP_Sync_User_Data_Roles_AutoRemove", json!(true)),
        ("LDAP_Sync_User_Data_Roles_BaseDN", json!(GROUPS_DN)),
        (
            "LDAP_Sync_User_Data_RolesMap",
            json!(r#"{"chat-admins": "admin"}"#),
        ),
        ("LDAP_Sync_User_Data_Channels", json!(true)),
        ("LDAP_Sync_User_Data_Channels_BaseDN", json!(GROUPS_DN)),
        (
            "LDAP_Sync_User_Data_ChannelsMap",
            json!(r#"{"staff": "ldap-staff"}"#),
        ),
        ("LDAP_Sync_User_Data_Channels_Admin", json!("admin")),
        ("LDAP_Enable", json!(true)),
    ] {
        set(srv, admin, id, value).await;
    }
}

async fn ldap_login(srv: &Palaver, username: &str, password: &str) -> palaver_tests::server::Resp {
    srv.try_login(json!({
        "ldap": true,
        "username": username,
        "ldapPass": password,
        "ldapOptions": {},
    }))
    .await
}

fn session_of(r: &palaver_tests::server::Resp) -> Session {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    Session {
        user_id: r.json["data"]["userId"].as_str().expect("userId").into(),
        token: r.json["data"]["authToken"]
            .as_str()
            .expect("authToken")
            .into(),
        username: r.json["data"]["me"]["username"]
            .as_str()
            .expect("username")
            .into(),
    }
}

fn seed() -> String {
    let mut s = String::new();
    s.push_str(&Person::new("alice", "Alice Archer", "alice-pw").ldif());
    s.push_str(&Person::new("bob", "Bob Baker", "bob-pw").ldif());
    s.push_str(&group_ldif("chat-admins", 5001, &["alice"]));
    s.push_str(&group_ldif("staff", 5002, &["alice", "bob"]));
    s
}

async fn user_info(srv: &Palaver, admin: &Session, username: &str) -> (StatusCode, Value) {
    srv.get(&format!("users.info?username={username}"), admin)
        .await
}

#[tokio::test]
async fn ldap_login_over_rest_and_realtime_with_group_maps() {
    let mut slapd = Slapd::start(&seed());
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    configure(&srv, &admin, &slapd).await;

    // REST, as Rocket.Chat's clients send it; the account is created and linked.
    let r = ldap_login(&srv, "alice", "alice-pw").await;
    let alice = session_of(&r);
    let me = &r.json["data"]["me"];
    assert_eq!(me["name"], "Alice Archer", "{me}");
    assert_eq!(me["emails"][0]["address"], "alice@corp.test", "{me}");
    let roles = me["roles"].as_array().expect("roles");
    assert!(roles.contains(&json!("admin")), "chat-admins → admin: {me}");
    assert!(roles.contains(&json!("user")), "{me}");
    let (_, info) = user_info(&srv, &admin, "alice").await;
    let link = &info["user"]["services"]["ldap"];
    assert_eq!(
        link["idAttribute"], "entryUUID",
        "linked by the entry's UUID: {info}"
    );
    assert_eq!(link["id"].as_str().map(str::len), Some(36), "{info}");

    // Wrong password, unknown account: refused like any login, no account made.
    let r = ldap_login(&srv, "alice", "wrong").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = ldap_login(&srv, "nobody", "whatever").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(
        user_info(&srv, &admin, "nobody").await.0,
        StatusCode::BAD_REQUEST
    );

    // Realtime `login` with the same fields; bob is in no admin group.
    let mut ddp = Ddp::connect(&srv).await;
    let res = ddp
        .call_ok(
            "login",
            json!([{"ldap": true, "username": "bob", "ldapPass": "bob-pw", "ldapOptions": {}}]),
        )
        .await;
    let bob_id = res["id"].as_str().expect("id").to_string();
    assert!(res["token"].is_string(), "{res}");
    let err = Ddp::connect(&srv)
        .await
        .call_err(
            "login",
            json!([{"ldap": true, "username": "bob", "ldapPass": "nope", "ldapOptions": {}}]),
        )
        .await;
    assert_eq!(err["error"], 401, "{err}");
    let (_, info) = user_info(&srv, &admin, "bob").await;
    assert_eq!(info["user"]["_id"], json!(bob_id), "{info}");
    assert!(
        !info["user"]["roles"]
            .as_array()
            .expect("roles")
            .contains(&json!("admin")),
        "{info}"
    );

    // The normal login form signs directory users in through the directory, and
    // local accounts keep their own password.
    let bob = srv.login("bob", "bob-pw").await;
    assert_eq!(bob.user_id, bob_id);
    srv.login("admin", crate::common::ADMIN_PASSWORD).await;

    // group → channel: both are members of the mapped channel.
    let (st, members) = srv
        .get("channels.members?roomName=ldap-staff", &admin)
        .await;
    assert_eq!(st, StatusCode::OK, "{members}");
    let names: Vec<&str> = members["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["username"].as_str())
        .collect();
    assert!(
        names.contains(&"alice") && names.contains(&"bob"),
        "{members}"
    );

    // Directory accounts have no local password: neither an admin nor the user sets one.
    let (st, body) = srv
        .post(
            "users.update",
            &admin,
            json!({"userId": bob_id, "data": {"password": "Local-pass-123!"}}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorType"], "error-action-not-allowed", "{body}");
    let (st, body) = srv
        .post(
            "users.updateOwnBasicInfo",
            &bob,
            json!({"data": {"newPassword": "Local-pass-123!", "currentPassword": "bob-pw"}}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorType"], "error-action-not-allowed", "{body}");
    // The directory password never reached the store.
    let r = srv
        .try_login(json!({"user": "bob", "password": {"digest": sha256_hex("bob-pw"), "algorithm": "sha-256"}}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    // The directory goes down: logins say so, existing sessions go on.
    slapd.stop();
    let r = ldap_login(&srv, "alice", "alice-pw").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.json["error"], "error-ldap-unavailable", "{}", r.text);
    let (st, me) = srv.get("me", &alice).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    let (st, body) = srv.post("ldap.testConnection", &admin, json!({})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorType"], "error-ldap-unavailable", "{body}");
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

async fn sync(srv: &Palaver, admin: &Session, dry_run: bool) -> Value {
    let body = srv
        .post_ok("ldap.syncNow", admin, json!({"dryRun": dry_run}))
        .await;
    body["report"].clone()
}

fn action_of<'a>(report: &'a Value, username: &str) -> Option<&'a str> {
    report["changes"]
        .as_array()?
        .iter()
        .find(|c| c["username"] == username)
        .and_then(|c| c["action"].as_str())
}

#[tokio::test]
async fn ldap_sync_creates_updates_deactivates_and_never_undoes_an_admin() {
    let mut seed = String::new();
    for (uid, cn) in [
        ("carol", "Carol Cole"),
        ("dave", "Dave Dunn"),
        ("erin", "Erin Ernst"),
    ] {
        seed.push_str(&Person::new(uid, cn, &format!("{uid}-pw")).ldif());
    }
    seed.push_str(&group_ldif("staff", 5002, &["carol", "dave"]));
    let slapd = Slapd::start(&seed);
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    configure(&srv, &admin, &slapd).await;
    set(
        &srv,
        &admin,
        "LDAP_Background_Sync_Disable_Missing_Users",
        json!(true),
    )
    .await;
    set(&srv, &admin, "LDAP_Sync_User_Active_State", json!("both")).await;

    // A dry run reports what would happen and writes nothing.
    let report = sync(&srv, &admin, true).await;
    assert_eq!(report["dryRun"], true, "{report}");
    assert_eq!(report["created"], 3, "{report}");
    assert_eq!(action_of(&report, "carol"), Some("create"), "{report}");
    assert_eq!(
        user_info(&srv, &admin, "carol").await.0,
        StatusCode::BAD_REQUEST
    );

    let report = sync(&srv, &admin, false).await;
    assert_eq!(report["created"], 3, "{report}");
    assert_eq!(
        report["entries"], 3,
        "paged search (page size 2) sees all: {report}"
    );
    let (st, info) = user_info(&srv, &admin, "carol").await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(info["user"]["name"], "Carol Cole", "{info}");
    // The console reads the last report.
    let last = srv.get_ok("ldap.syncReport", &admin).await;
    assert_eq!(last["report"]["created"], 3, "{last}");

    // A second sync changes nothing.
    let report = sync(&srv, &admin, false).await;
    assert_eq!(report["unchanged"], 3, "{report}");

    // dave is online over realtime and REST.
    let dave = session_of(&ldap_login(&srv, "dave", "dave-pw").await);
    let mut dave_rt = Ddp::connect_as(&srv, &dave).await;
    let sub = dave_rt
        .sub(
            "stream-notify-user",
            json!([format!("{}/rooms-changed", dave.user_id), false]),
        )
        .await;

    // The admin deactivates carol by hand; the directory renames her.
    let carol_id = info["user"]["_id"].as_str().expect("id").to_string();
    srv.post_ok(
        "users.setActiveStatus",
        &admin,
        json!({"userId": carol_id, "activeStatus": false}),
    )
    .await;
    slapd.modify(&format!(
        "dn: uid=carol,ou=people,{BASE_DN}\nchangetype: modify\nreplace: cn\ncn: Carol Newname\n\n\
         dn: uid=dave,ou=people,{BASE_DN}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n\n\
         dn: uid=erin,ou=people,{BASE_DN}\nchangetype: delete\n"
    ));
    let report = sync(&srv, &admin, false).await;
    assert_eq!(action_of(&report, "carol"), Some("update"), "{report}");
    assert_eq!(
        action_of(&report, "dave"),
        Some("deactivate"),
        "locked: {report}"
    );
    assert_eq!(
        action_of(&report, "erin"),
        Some("deactivate"),
        "gone: {report}"
    );

    // dave's realtime session ends at once, his token is gone.
    let frame = dave_rt.recv().await;
    assert_eq!(frame["msg"], "nosub", "{frame}");
    assert_eq!(frame["id"], json!(sub), "{frame}");
    let (st, _) = srv.get("me", &dave).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let r = ldap_login(&srv, "dave", "dave-pw").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    let (_, info) = user_info(&srv, &admin, "carol").await;
    assert_eq!(info["user"]["name"], "Carol Newname", "{info}");
    assert_eq!(info["user"]["active"], false, "{info}");

    // dave is unlocked: the sync re-activates him (it deactivated him), never carol.
    slapd.modify(&format!(
        "dn: uid=dave,ou=people,{BASE_DN}\nchangetype: modify\ndelete: pwdAccountLockedTime\n\n"
    ));
    let report = sync(&srv, &admin, false).await;
    assert_eq!(action_of(&report, "dave"), Some("reactivate"), "{report}");
    let (_, info) = user_info(&srv, &admin, "carol").await;
    assert_eq!(
        info["user"]["active"], false,
        "an admin's deactivation stays: {info}"
    );
    session_of(&ldap_login(&srv, "dave", "dave-pw").await);
    drop(dave_rt);
    let _ = Duration::ZERO;
}

#[tokio::test]
async fn ldap_over_ldaps_and_starttls_with_a_test_ca() {
    let slapd = Slapd::start(&seed());
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    configure(&srv, &admin, &slapd).await;

    // LDAPS without trusting the test CA: refused.
    set(&srv, &admin, "LDAP_Encryption", json!("ssl")).await;
    set(&srv, &admin, "LDAP_Port", json!(slapd.tls_port)).await;
    let (st, body) = srv.post("ldap.testConnection", &admin, json!({})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "untrusted certificate: {body}");

    // With the CA: connection, search and login work.
    set(&srv, &admin, "LDAP_CA_Cert", json!(slapd.pki.ca_pem)).await;
    srv.post_ok("ldap.testConnection", &admin, json!({})).await;
    let found = srv
        .post_ok("ldap.testSearch", &admin, json!({"username": "alice"}))
        .await;
    assert_eq!(found["message"], "LDAP_User_Found", "{found}");
    let (st, body) = srv
        .post("ldap.testSearch", &admin, json!({"username": "zed"}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
    session_of(&ldap_login(&srv, "alice", "alice-pw").await);

    // StartTLS on the plain port, same CA.
    set(&srv, &admin, "LDAP_Encryption", json!("tls")).await;
    set(&srv, &admin, "LDAP_Port", json!(slapd.port)).await;
    srv.post_ok("ldap.testConnection", &admin, json!({})).await;
    session_of(&ldap_login(&srv, "bob", "bob-pw").await);

    // Only admins may test or sync.
    let bob = session_of(&ldap_login(&srv, "bob", "bob-pw").await);
    let (st, body) = srv.post("ldap.syncNow", &bob, json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{body}");
}

/// The console's LDAP page: a dry run from the browser shows its report (what would
/// be created), and nothing is created. Screenshot: `target/screenshots/admin-ldap.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_console_page_shows_the_sync_report() {
    let slapd = Slapd::start(&seed());
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    configure(&srv, &admin, &slapd).await;

    let b = Browser::start().await;
    b.goto(&format!("{}/", srv.base_url())).await;
    b.fill("[data-testid=login-username]", ADMIN_USERNAME).await;
    b.fill(
        "[data-testid=login-password]",
        crate::common::ADMIN_PASSWORD,
    )
    .await;
    b.click("[data-testid=login-submit]").await;
    b.wait_for("[data-testid=app-shell]").await;
    b.click("[data-testid=admin-link]").await;
    b.click("[data-testid=admin-tab-ldap]").await;
    b.wait_for("[data-testid=ldap-no-report]").await;
    b.click("[data-testid=ldap-test-connection]").await;
    b.wait_text("[data-testid=admin-notice]", "Connection successful")
        .await;
    b.click("[data-testid=ldap-dry-run]").await;
    b.wait_text("[data-testid=ldap-count-created]", "2").await;
    b.wait_for("[data-testid=ldap-change-row][data-username=alice]")
        .await;
    b.screenshot("admin-ldap").await;
    assert_eq!(
        user_info(&srv, &admin, "alice").await.0,
        StatusCode::BAD_REQUEST
    );
}

/// The directory's `jpegPhoto` becomes the avatar at login, is replaced when it
/// changes, and is read again by the sync.
#[tokio::test]
async fn ldap_photo_becomes_the_avatar_at_login_and_sync() {
    use base64::Engine;
    use palaver_tests::images;
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let person = Person::new("frank", "Frank Field", "frank-pw");
    let mut seed = person.ldif();
    seed.truncate(seed.trim_end().len());
    seed.push_str(&format!(
        "\njpegPhoto:: {}\n\n",
        b64(images::jpeg(300, 300))
    ));
    let slapd = Slapd::start(&seed);
    let srv = Palaver::start().await;
    let admin = srv.admin().await;
    configure(&srv, &admin, &slapd).await;

    let avatar = |srv: &Palaver| {
        let url = srv.url("/avatar/frank");
        async move {
            let resp = reqwest::get(url).await.expect("avatar");
            let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
            (ct, resp.bytes().await.unwrap().to_vec())
        }
    };
    // Before: the initials.
    assert_eq!(avatar(&srv).await.0, "image/svg+xml");
    session_of(&ldap_login(&srv, "frank", "frank-pw").await);
    let (ct, bytes) = avatar(&srv).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(images::dimensions(&bytes), ("jpeg".into(), 200, 200));
    let (_, info) = user_info(&srv, &admin, "frank").await;
    let first = info["user"]["avatarETag"]
        .as_str()
        .expect("avatarETag")
        .to_string();

    // The same photo again: nothing changes.
    session_of(&ldap_login(&srv, "frank", "frank-pw").await);
    let (_, info) = user_info(&srv, &admin, "frank").await;
    assert_eq!(info["user"]["avatarETag"], json!(first));

    // A new photo in the directory: the sync takes it.
    slapd.modify(&format!(
        "dn: {}\nchangetype: modify\nreplace: jpegPhoto\njpegPhoto:: {}\n\n",
        person.dn(),
        b64(images::png(120, 60))
    ));
    sync(&srv, &admin, false).await;
    let (_, info) = user_info(&srv, &admin, "frank").await;
    assert_ne!(info["user"]["avatarETag"], json!(first), "{info}");
    let (ct, bytes) = avatar(&srv).await;
    assert_eq!(ct, "image/jpeg");
    assert_eq!(images::dimensions(&bytes), ("jpeg".into(), 200, 200));
}
