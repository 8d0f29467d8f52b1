//! `sample-apps/whatsapp` end to end: the app runs inside the real server and talks to
//! a fake of Meta's Graph API served over HTTPS as `graph.facebook.com` (the app's
//! networking grant and the server's outbound checks run for real), while the test
//! plays Meta's webhook deliveries, signed with the app secret.
//!
//! Covered: the verification handshake; signed inbound messages creating one room per
//! customer with the agents; forged or unsigned calls refused with nothing stored;
//! Meta's duplicate deliveries ignored; agents' replies reaching the Graph API with
//! the exact body and token; API errors reaching the agent; statuses recorded and
//! failures announced; `/whatsapp help|status|send|close|reopen`.

mod commands;
mod inbound;
mod replies;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;

use palaver_tests::app_admin::{self, install_ok, set_settings, set_status};
use palaver_tests::apps;
use palaver_tests::ddp::Ddp;
use palaver_tests::fake_meta::{self, FakeMeta, GRAPH_HOST, VERSION};
use palaver_tests::server::{Palaver, Session};

pub(super) const NOTIFY_USER: &str = "stream-notify-user";
pub(super) const VERIFY_TOKEN: &str = "verify-me-8c41d2";
pub(super) const JANE: &str = "15551234567";
pub(super) const WELCOME: &str = "Thanks for writing to Acme! An agent will answer shortly.";
pub(super) const OFFLINE: &str = "We are offline right now; we will get back to you.";

/// A server with the app installed, configured and enabled, and the fake Meta.
pub(super) struct Setup {
    _market: TempDir,
    pub(super) meta: FakeMeta,
    pub(super) srv: Palaver,
    pub(super) admin: Session,
    /// An agent by name.
    pub(super) alice: Session,
    /// An agent as a member of `#support`.
    pub(super) bob: Session,
    /// Not an agent.
    pub(super) carol: Session,
    /// A public channel everyone is in, for commands outside customer rooms.
    pub(super) lobby: String,
    pub(super) webhook: String,
}

pub(super) async fn setup(welcome: &str, offline: &str) -> Setup {
    let market = tempfile::Builder::new()
        .prefix("palaver-marketplace-")
        .tempdir()
        .expect("create a marketplace directory");
    apps::app_package(&apps::sample_apps_dir(), "whatsapp", market.path());
    let meta = FakeMeta::start(fake_meta::MetaConfig::default()).await;
    let srv = Palaver::builder()
        .env(
            "PALAVER_MARKETPLACE_DIR",
            market.path().display().to_string(),
        )
        .envs(meta.palaver_env())
        .start()
        .await;
    let admin = srv.admin().await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let carol = srv.create_user(&admin, "carol").await;
    srv.post_ok(
        "channels.create",
        &bob,
        json!({"name": "support", "members": []}),
    )
    .await;
    let lobby = srv
        .post_ok(
            "channels.create",
            &admin,
            json!({"name": "lobby", "members": ["alice", "bob", "carol"]}),
        )
        .await["channel"]["_id"]
        .as_str()
        .expect("lobby id")
        .to_string();

    // Required settings are empty: installed, the app cannot be enabled yet.
    install_ok(&srv, &admin, "whatsapp", None, false).await;
    let r = set_status(&srv, &admin, "whatsapp", true).await;
    assert_ne!(
        r.status,
        StatusCode::OK,
        "enabled without settings: {}",
        r.text
    );
    let config = meta.config().clone();
    let r = set_settings(
        &srv,
        &admin,
        "whatsapp",
        json!({
            "access-token": config.access_token,
            "phone-number-id": config.phone_number_id,
            "app-secret": config.app_secret,
            "verify-token": VERIFY_TOKEN,
            "agents": "alice, #support",
            "welcome-message": welcome,
            "offline-reply": offline,
        }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "settings: {}", r.text);
    let r = set_status(&srv, &admin, "whatsapp", true).await;
    assert_eq!(r.status, StatusCode::OK, "enable: {}", r.text);
    app_admin::wait_status(&srv, &admin, "whatsapp", "manually_enabled").await;
    let webhook = srv.url("/api/apps/public/whatsapp/webhook");
    Setup {
        _market: market,
        meta,
        srv,
        admin,
        alice,
        bob,
        carol,
        lobby,
        webhook,
    }
}

impl Setup {
    pub(super) fn config(&self) -> fake_meta::MetaConfig {
        self.meta.config().clone()
    }

    /// Delivers a signed notification; it must be acknowledged.
    pub(super) async fn deliver_ok(&self, payload: &Value) {
        let (status, body) = self.meta.deliver(&self.webhook, payload).await;
        assert_eq!(status, StatusCode::OK, "webhook → {body}");
        assert_eq!(body, "EVENT_RECEIVED");
    }

    pub(super) async fn text(&self, from: &str, name: &str, wamid: &str, text: &str) {
        self.deliver_ok(&fake_meta::text_message(
            &self.config(),
            from,
            name,
            wamid,
            text,
        ))
        .await;
    }

    /// The customer rooms `who` sees.
    pub(super) async fn customer_rooms(&self, who: &Session) -> Vec<Value> {
        let body = self.srv.get_ok("groups.list?count=100", who).await;
        body["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter(|g| g["name"].as_str().is_some_and(|n| n.starts_with("wa-")))
            .cloned()
            .collect()
    }

    pub(super) async fn room_id(&self, who: &Session, name: &str) -> String {
        let body = self
            .srv
            .get_ok(&format!("groups.info?roomName={name}"), who)
            .await;
        body["group"]["_id"].as_str().expect("room id").to_string()
    }

    /// A private room's messages, newest first.
    pub(super) async fn history(&self, who: &Session, rid: &str) -> Vec<Value> {
        let body = self
            .srv
            .get_ok(&format!("groups.history?roomId={rid}&count=100"), who)
            .await;
        body["messages"].as_array().expect("messages").to_vec()
    }

    /// Waits for a message in the room matching `pred`.
    pub(super) async fn wait_message(
        &self,
        rid: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let messages = self.history(&self.alice, rid).await;
            if let Some(m) = messages.iter().find(|m| pred(m)) {
                return m.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message {what} in the room: {messages:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the Graph API got `n` message requests; returns them.
    pub(super) async fn wait_sends(&self, n: usize) -> Vec<fake_meta::Recorded> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let sent = self.meta.message_requests();
            if sent.len() >= n {
                return sent;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} message requests, expected {n}: {sent:#?}",
                sent.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(super) async fn post(&self, who: &Session, rid: &str, text: &str) -> String {
        let body = self
            .srv
            .post_ok(
                "chat.postMessage",
                who,
                json!({"roomId": rid, "text": text}),
            )
            .await;
        body["message"]["_id"].as_str().expect("id").to_string()
    }
}

/// Checks a request to send `text` to `to`: host, path, token and the exact body.
#[track_caller]
pub(super) fn assert_send(setup: &Setup, request: &fake_meta::Recorded, to: &str, text: &str) {
    let config = setup.config();
    assert_eq!(request.host, GRAPH_HOST, "{request:?}");
    assert_eq!(request.method, "POST", "{request:?}");
    assert_eq!(
        request.path,
        format!("/{VERSION}/{}/messages", config.phone_number_id)
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {}", config.access_token).as_str()),
        "{request:?}"
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{request:?}"
    );
    assert_eq!(
        request.json(),
        json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}}),
        "{request:?}"
    );
}

pub(super) async fn notices(srv: &Palaver, who: &Session) -> (Ddp, String) {
    let mut ddp = Ddp::connect_as(srv, who).await;
    let event = format!("{}/message", who.user_id);
    ddp.sub(NOTIFY_USER, json!([event, false])).await;
    (ddp, event)
}

/// The next private notice about a message not sent to WhatsApp (command answers
/// arrive on the same stream and are skipped).
pub(super) async fn not_sent_notice(ddp: &mut Ddp, event: &str) -> Value {
    let frame = ddp
        .wait_for("a not-sent notice", |v| {
            v["msg"] == "changed"
                && v["collection"] == NOTIFY_USER
                && v["fields"]["eventName"] == event
                && v["fields"]["args"][0]["msg"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Not sent to WhatsApp"))
        })
        .await;
    frame["fields"]["args"][0].clone()
}
