//! Presence over DDP: a user's status follows their realtime connections (online
//! while one is open, away when every client says so, offline when the last one is
//! gone, and, when an instance dies, once its connections expire), their chosen
//! status (busy, invisible) and status text; watchers get Rocket.Chat's
//! `stream-user-presence` and `stream-notify-logged` `user-status` events.

use std::time::{Duration, Instant};

use palaver_tests::ddp::Ddp;
use palaver_tests::mongo::mongo_uri;
use palaver_tests::server::{Palaver, Session};
use serde_json::{json, Value};

const PRESENCE: &str = "stream-user-presence";
const LOGGED: &str = "stream-notify-logged";
/// Presence connections expire this long after their instance stops renewing them.
const TTL_MS: &str = "1500";

/// `[username, statusNumber, statusText]` of the next presence event about `uid`.
async fn next_presence(ddp: &mut Ddp, uid: &str) -> Value {
    let frame = ddp.event(PRESENCE, uid).await;
    assert_eq!(frame["fields"]["uid"], uid, "{frame}");
    frame["fields"]["args"].clone()
}

/// Waits (up to `within`) for a presence event about `uid` with status `n`.
async fn presence_becomes(ddp: &mut Ddp, uid: &str, n: u64, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = ddp.try_recv(left).await else {
            panic!("no presence status {n} for {uid} within {within:?}");
        };
        if frame["collection"] == PRESENCE
            && frame["fields"]["eventName"] == uid
            && frame["fields"]["args"][1] == n
        {
            return frame["fields"]["args"].clone();
        }
    }
}

async fn status_of(srv: &Palaver, viewer: &Session, uid: &str) -> String {
    let body = srv
        .get_ok(&format!("users.getStatus?userId={uid}"), viewer)
        .await;
    body["status"].as_str().unwrap_or_default().to_string()
}

/// A watcher following `uid` on `stream-user-presence`.
async fn watcher(srv: &Palaver, who: &Session, uid: &str) -> Ddp {
    let mut ddp = Ddp::connect_as(srv, who).await;
    ddp.sub(PRESENCE, json!(["", {"added": [uid]}])).await;
    ddp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follows_connections_choices_and_text() {
    let srv = Palaver::builder()
        .env("PALAVER_PRESENCE_TTL_MS", TTL_MS)
        .start()
        .await;
    let admin = srv.admin().await;
    let bob = srv.create_user(&admin, "bob").await;
    let mut watch = watcher(&srv, &admin, &bob.user_id).await;
    watch.sub(LOGGED, json!(["user-status", false])).await;
    assert_eq!(status_of(&srv, &admin, &bob.user_id).await, "offline");

    // Connecting (logging in over DDP) makes bob online, for everyone.
    let mut bob_ddp = Ddp::connect_as(&srv, &bob).await;
    assert_eq!(
        next_presence(&mut watch, &bob.user_id).await,
        json!(["bob", 1, ""])
    );
    let bob_id = bob.user_id.clone();
    let logged = watch
        .wait_for("user-status of bob", |v| {
            v["collection"] == LOGGED && v["fields"]["args"][0][0] == bob_id.as_str()
        })
        .await;
    assert_eq!(
        logged["fields"]["args"][0],
        json!([bob.user_id, "bob", 1, "", "bob Name", ["user"]]),
        "{logged}"
    );
    assert_eq!(status_of(&srv, &admin, &bob.user_id).await, "online");
    let info = srv
        .get_ok(&format!("users.info?userId={}", bob.user_id), &admin)
        .await;
    assert_eq!(info["user"]["status"], "online", "{info}");

    // The client says it is idle, then active again.
    assert_eq!(
        bob_ddp.call_ok("UserPresence:away", json!([])).await,
        json!(true)
    );
    assert_eq!(
        next_presence(&mut watch, &bob.user_id).await,
        json!(["bob", 2, ""])
    );
    bob_ddp.call_ok("UserPresence:online", json!([])).await;
    assert_eq!(
        next_presence(&mut watch, &bob.user_id).await,
        json!(["bob", 1, ""])
    );

    // A second connection that is away does not make bob away.
    let mut second = Ddp::connect_as(&srv, &bob).await;
    second.call_ok("UserPresence:away", json!([])).await;
    assert_eq!(status_of(&srv, &admin, &bob.user_id).await, "online");

    // Busy with a status text; then invisible (appears offline while connected).
    bob_ddp
        .call_ok("setUserStatus", json!(["busy", "in a meeting"]))
        .await;
    // Status then text, as Rocket.Chat: two changes, the last one carries both.
    assert_eq!(
        next_presence(&mut watch, &bob.user_id).await,
        json!(["bob", 3, ""])
    );
    assert_eq!(
        next_presence(&mut watch, &bob.user_id).await,
        json!(["bob", 3, "in a meeting"])
    );
    let me = srv.get_ok("me", &bob).await;
    assert_eq!(me["status"], "busy", "{me}");
    assert_eq!(me["statusText"], "in a meeting", "{me}");
    assert_eq!(
        bob_ddp
            .call_ok("UserPresence:setDefaultStatus", json!(["offline"]))
            .await,
        json!(true)
    );
    assert_eq!(
        next_presence(&mut watch, &bob.user_id).await,
        json!(["bob", 0, "in a meeting"])
    );
    let own = srv.get_ok("users.getStatus", &bob).await;
    assert_eq!(own["status"], "offline", "{own}");
    assert_eq!(own["connectionStatus"], "online", "{own}");
    let present = srv.get_ok("users.presence", &admin).await;
    assert!(
        !present["users"].to_string().contains(&bob.user_id),
        "invisible users are not listed as present: {present}"
    );
    let refused = bob_ddp
        .call_err("UserPresence:setDefaultStatus", json!(["invisible"]))
        .await;
    assert_eq!(refused["error"], "error-invalid-status", "{refused}");
    bob_ddp
        .call_ok("UserPresence:setDefaultStatus", json!(["online"]))
        .await;
    assert_eq!(
        next_presence(&mut watch, &bob.user_id).await,
        json!(["bob", 1, "in a meeting"])
    );

    // Closing every connection makes bob offline, without waiting for an expiry.
    // (Away in between if the online connection's end is seen first.)
    second.close().await;
    bob_ddp.close().await;
    assert_eq!(
        presence_becomes(&mut watch, &bob.user_id, 0, Duration::from_secs(5)).await,
        json!(["bob", 0, "in a meeting"])
    );
    assert_eq!(status_of(&srv, &admin, &bob.user_id).await, "offline");

    // A watcher no longer following bob hears nothing more of him.
    let unfollow = watch
        .sub_start(PRESENCE, json!(["", {"removed": [bob.user_id]}]))
        .await;
    let outcome = watch.sub_outcome(&unfollow).await;
    assert_eq!(
        outcome["msg"], "nosub",
        "a second presence sub only edits the first: {outcome}"
    );
    let _again = Ddp::connect_as(&srv, &bob).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while status_of(&srv, &admin, &bob.user_id).await != "online" {
        assert!(Instant::now() < deadline, "bob is online again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut heard = None;
    while let Some(frame) = watch.try_recv(Duration::from_millis(500)).await {
        if frame["collection"] == PRESENCE {
            heard = Some(frame);
        }
    }
    assert_eq!(heard, None, "unfollowed users are not reported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instances_users_go_offline_for_the_others() {
    let uri = mongo_uri("realtime_presence_instances");
    let mut a = Palaver::builder()
        .storage_uri(&uri)
        .env("PALAVER_PRESENCE_TTL_MS", TTL_MS)
        .start()
        .await;
    let b = Palaver::builder()
        .storage_uri(&uri)
        .env("PALAVER_PRESENCE_TTL_MS", TTL_MS)
        .start()
        .await;
    let admin_b = b.admin().await;
    let carol = b.create_user(&admin_b, "carol").await;
    let mut watch = watcher(&b, &admin_b, &carol.user_id).await;

    // Connected on A: online for a watcher on B.
    let mut on_a = Ddp::connect_as(&a, &carol).await;
    assert_eq!(
        presence_becomes(&mut watch, &carol.user_id, 1, Duration::from_secs(10)).await,
        json!(["carol", 1, ""])
    );
    assert_eq!(status_of(&b, &admin_b, &carol.user_id).await, "online");

    // Connected on B as well: A dying leaves her online.
    let on_b = Ddp::connect_as(&b, &carol).await;
    on_a.call_ok("UserPresence:away", json!([])).await;
    a.kill9();
    drop(on_a);
    tokio::time::sleep(Duration::from_millis(3 * 1500)).await;
    assert_eq!(status_of(&b, &admin_b, &carol.user_id).await, "online");

    // Only on A (restarted), which is then killed: offline once its connections expire.
    on_b.close().await;
    assert_eq!(
        presence_becomes(&mut watch, &carol.user_id, 0, Duration::from_secs(10)).await,
        json!(["carol", 0, ""])
    );
    a.start_again().await;
    let _on_a = Ddp::connect_as(&a, &carol).await;
    presence_becomes(&mut watch, &carol.user_id, 1, Duration::from_secs(10)).await;
    a.kill9();
    presence_becomes(&mut watch, &carol.user_id, 0, Duration::from_secs(20)).await;
    assert_eq!(status_of(&b, &admin_b, &carol.user_id).await, "offline");
}
