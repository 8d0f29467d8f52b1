//! Push notifications: the devices people register (mobile push tokens, browsers'
//! Web Push subscriptions), the [`PushSink`] that queues one delivery per device,
//! and the queue handler that sends it through Rocket.Chat's push gateway, FCM,
//! APNs or Web Push.
//!
//! Every send goes through the durable queue (`worker::outbox`, kind `push`): one
//! item per message and device (dedupe key), retried with backoff on 5xx/429,
//! dead-lettered on a refusal. A device the service reports dead (gateway 406,
//! FCM `UNREGISTERED`, APNs 410, Web Push 404/410) is removed at once.

pub mod content;
pub mod jwt;
pub mod senders;
pub mod webpush;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Notice, NoticeReason, PushSink, PushSinkError};
use crate::chat::permissions::Perm;
use crate::chat::ratelimit::{LimitRule, RateLimiter};
use crate::chat::{Chat, ChatError, ChatResult};
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::push::{PushDevice, PushDeviceFilter, PushTarget, WebSubscription};
use crate::store::{DynStore, RoomType, StoreResult, Ts, User};
use crate::worker::outbox::policy::DeliveryError;
use crate::worker::outbox::{DeliveryHandler, Outbox};
use content::PushContent;
use senders::{Outcome, ServiceAccount, TokenCache};
use webpush::Vapid;

/// Outbound connections of push delivery (`[push]`, `PALAVER_PUSH__*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Routes `host:port=address:port` (a push service reached through an internal
    /// relay, or a test double at the real host name).
    pub connect_to: Vec<String>,
    /// A PEM file of extra root certificates push connections trust.
    pub extra_ca_file: Option<PathBuf>,
}

/// What `push.test` says.
const TEST_TEXT: &str = "This is a test push";

/// The name of the VAPID key pair in the store.
const VAPID_KEY: &str = "vapid";

/// What a push queue item carries: the device, and the notification as it was
/// when the message was posted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushJob {
    pub device_id: String,
    pub content: PushContent,
    /// When the notification was made (the gateway's `createdAt`).
    pub created_at: String,
}

/// Devices, the sink and the senders.
pub struct PushService {
    store: DynStore,
    chat: Arc<Chat>,
    outbox: Arc<Outbox>,
    vapid: Vapid,
    client: reqwest::Client,
    /// APNs wants HTTP/2.
    apns_client: reqwest::Client,
    fcm_token: TokenCache,
    fcm_exchange: tokio::sync::Mutex<()>,
    /// `push.test`: once a second per user, as Rocket.Chat limits it.
    test_limiter: RateLimiter,
}

/// Push could not start.
#[derive(Debug, thiserror::Error)]
pub enum PushStartError {
    #[error("push: {0}")]
    Config(String),
    #[error("push: the VAPID key: {0}")]
    Key(#[from] jwt::KeyError),
    #[error("push: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn client(
    config: &PushConfig,
    timeout: Duration,
    http2: bool,
) -> Result<reqwest::Client, PushStartError> {
    let routing =
        crate::outbound::OperatorRouting::new(&config.connect_to, config.extra_ca_file.as_deref())
            .map_err(|e| PushStartError::Config(e.to_string()))?;
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("Palaver/", env!("CARGO_PKG_VERSION")));
    for root in routing.roots() {
        builder = builder.add_root_certificate(root.clone());
    }
    for (host, port, addr) in routing.routes() {
        if port == 443 {
            builder = builder.resolve(&host, addr);
        }
    }
    if http2 {
        builder = builder.http2_prior_knowledge();
    }
    builder
        .build()
        .map_err(|e| PushStartError::Config(e.to_string()))
}

impl PushService {
    /// Loads (or creates, on first start) the VAPID key pair.
    pub async fn start(
        store: DynStore,
        chat: Arc<Chat>,
        outbox: Arc<Outbox>,
        config: &PushConfig,
    ) -> Result<Arc<PushService>, PushStartError> {
        let stored = store.push_key(VAPID_KEY, &Vapid::generate()?).await?;
        let vapid = Vapid::from_stored(&stored)?;
        let timeout = outbox.config().http_timeout();
        Ok(Arc::new(PushService {
            client: client(config, timeout, false)?,
            apns_client: client(config, timeout, true)?,
            store,
            chat,
            outbox,
            vapid,
            fcm_token: TokenCache::default(),
            fcm_exchange: tokio::sync::Mutex::new(()),
            test_limiter: RateLimiter::new(LimitRule {
                limit: 1,
                window: Duration::from_secs(1),
            }),
        }))
    }

    /// The VAPID public key browsers subscribe with.
    pub fn vapid_public_key(&self) -> String {
        self.vapid.public_key()
    }

    /// `push.token`: registers (or moves) a mobile device of `user`, as
    /// Rocket.Chat's `raix:push-update` does.
    pub async fn register_token(
        &self,
        user: &User,
        auth_token: &str,
        id: String,
        token: PushTarget,
        app_name: &str,
    ) -> ChatResult<PushDevice> {
        let now = Ts::now();
        let created_at = match self.store.push_device(&id).await? {
            Some(old) => old.created_at,
            None => now,
        };
        let device = PushDevice {
            id,
            token,
            app_name: app_name.to_string(),
            user_id: user.id.clone(),
            auth_token: auth_token.to_string(),
            enabled: true,
            created_at,
            updated_at: now,
        };
        self.store.save_push_device(&device).await?;
        tracing::info!(user_id = %user.id, device_id = %device.id, service = device.token.service(), "push device registered");
        Ok(device)
    }

    /// Removes `user`'s device with this token or endpoint; `false` if none.
    pub async fn remove_token(&self, user: &User, value: &str) -> ChatResult<bool> {
        let n = self
            .store
            .delete_push_devices(&PushDeviceFilter::Value {
                value: value.to_string(),
                user_id: Some(user.id.clone()),
            })
            .await?;
        Ok(n > 0)
    }

    /// A browser's Web Push subscription, one device per endpoint.
    pub async fn subscribe_web(
        &self,
        user: &User,
        auth_token: &str,
        sub: WebSubscription,
    ) -> ChatResult<PushDevice> {
        if webpush::encrypt(&sub, b"").is_err() {
            return Err(ChatError::refused(
                "error-invalid-subscription",
                "The subscription's keys are invalid.",
            ));
        }
        let endpoint = url::Url::parse(&sub.endpoint)
            .ok()
            .filter(|u| u.scheme() == "https" || u.scheme() == "http");
        if endpoint.is_none() {
            return Err(ChatError::refused(
                "error-invalid-subscription",
                "The subscription's endpoint is not an http(s) URL.",
            ));
        }
        // One id per endpoint: a browser re-subscribing replaces its entry.
        let id = {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(sub.endpoint.as_bytes())[..12])
        };
        self.register_token(user, auth_token, id, PushTarget::Web(sub), "web")
            .await
    }

    /// `push.test`: a test notification to each of the user's devices; how many.
    /// As Rocket.Chat: once a second per user, and refused when the user has no
    /// device (`error-no-tokens-for-this-user`).
    pub async fn test(&self, user: &User) -> ChatResult<usize> {
        self.chat
            .require_permission(user, Perm::TEST_PUSH_NOTIFICATIONS, None)
            .await?;
        self.test_limiter.hit(&user.id, Ts::now())?;
        if !self.chat.settings().bool("Push_enable") {
            return Err(ChatError::refused(
                "error-push-disabled",
                "Push is disabled",
            ));
        }
        let devices = self.store.push_devices_of_user(&user.id).await?;
        if !devices.iter().any(|d| d.enabled) {
            return Err(ChatError::refused(
                "error-no-tokens-for-this-user",
                "There are no tokens for this user",
            ));
        }
        let notice = Notice {
            user_id: user.id.clone(),
            rid: String::new(),
            room_type: RoomType::Direct,
            room_name: String::new(),
            message_id: format!("test-{}", crate::chat::ids::new_id()),
            tmid: None,
            sender_id: user.id.clone(),
            sender_username: user.username.clone(),
            sender_name: user.name.clone(),
            text: TEST_TEXT.into(),
            reason: NoticeReason::Direct,
        };
        let mut content = content::build(&notice, self.chat.settings());
        // Hidden content stays hidden, even for a test.
        if !self
            .chat
            .settings()
            .bool("Push_request_content_from_server")
        {
            content.title = self.chat.settings().string("Site_Name");
            content.text = TEST_TEXT.into();
        }
        self.enqueue_content(&notice, content)
            .await
            .map(|n| n as usize)
            .map_err(ChatError::from)
    }

    async fn enqueue_content(&self, notice: &Notice, content: PushContent) -> StoreResult<u64> {
        let items = self.items_for(notice, content).await?;
        if items.is_empty() {
            return Ok(0);
        }
        let n = self.outbox.enqueue(&items).await?;
        tracing::debug!(user_id = %notice.user_id, message_id = %notice.message_id, queued = n, "push queued");
        Ok(items.len() as u64)
    }

    /// The queue items delivering `content` to each of the user's devices that
    /// the enabled channels reach, with the user's badge.
    async fn items_for(
        &self,
        notice: &Notice,
        content: PushContent,
    ) -> StoreResult<Vec<OutboxItem>> {
        let settings = self.chat.settings();
        let mobile = settings.bool("Push_enable");
        let web = settings.bool("WebPush_enable");
        let devices: Vec<PushDevice> = self
            .store
            .push_devices_of_user(&notice.user_id)
            .await?
            .into_iter()
            .filter(|d| d.enabled)
            .filter(|d| match d.token {
                PushTarget::Web(_) => web,
                _ => mobile,
            })
            .collect();
        if devices.is_empty() {
            return Ok(Vec::new());
        }
        let mut content = content;
        content.badge = self.badge(&notice.user_id).await?;
        let now = Ts::now();
        let created_at = crate::wire::iso(now.0);
        Ok(devices
            .iter()
            .filter_map(|d| {
                let job = PushJob {
                    device_id: d.id.clone(),
                    content: content.clone(),
                    created_at: created_at.clone(),
                };
                let payload = serde_json::to_value(&job).ok()?;
                Some(OutboxItem::new(
                    crate::chat::ids::new_id(),
                    OutboxKind::Push,
                    format!("{}\u{1f}{}", notice.message_id, d.id),
                    payload,
                    now,
                ))
            })
            .collect())
    }

    /// The app icon's badge: the user's unread messages over every room they have
    /// not archived (Rocket.Chat's `Subscriptions.getBadgeCount`). Read when the
    /// push is queued, so it counts the message being notified.
    async fn badge(&self, user_id: &str) -> StoreResult<u32> {
        let subs = self.store.user_subscriptions(user_id, None).await?;
        let total: u64 = subs
            .iter()
            .filter(|s| !s.archived)
            .map(|s| u64::try_from(s.unread).unwrap_or(0))
            .sum();
        Ok(u32::try_from(total).unwrap_or(u32::MAX))
    }

    /// `push.get`: the full notification of a message the user may read (what the
    /// app shows when pushes carry only the id).
    pub async fn notification_for(
        &self,
        user: &User,
        mid: &str,
    ) -> ChatResult<(crate::store::Message, PushContent)> {
        let (room, message) = self.chat.get_message(user, mid).await?;
        let settings = self.chat.settings();
        let room_name = match room.t {
            RoomType::Direct => message.u.username.clone(),
            _ => room
                .fname
                .clone()
                .or_else(|| room.name.clone())
                .unwrap_or_default(),
        };
        let notice = Notice {
            user_id: user.id.clone(),
            rid: room.id.clone(),
            room_type: room.t,
            room_name,
            message_id: message.id.clone(),
            tmid: message.tmid.clone(),
            sender_id: message.u.id.clone(),
            sender_username: message.u.username.clone(),
            sender_name: message.u.name.clone().unwrap_or_default(),
            text: message.msg.clone(),
            reason: NoticeReason::Direct,
        };
        let site = settings.string("Site_Url");
        let host = format!("{}/", site.trim_end_matches('/'));
        let image = Some(format!("{host}images/logo/android-chrome-192x192.png"));
        let not_id = content::not_id(&settings.string("uniqueID"), &room.id);
        let mut content = content::full(&notice, settings, host, not_id, image);
        content.badge = self.badge(&user.id).await?;
        Ok((message, content))
    }

    /// The delivery handler of kind `push`.
    pub fn handler(self: &Arc<Self>) -> Arc<dyn DeliveryHandler> {
        Arc::new(PushHandler(self.clone()))
    }

    async fn remove_dead(&self, device: &PushDevice, value: &str) {
        match self
            .store
            .delete_push_devices(&PushDeviceFilter::Value {
                value: value.to_string(),
                user_id: None,
            })
            .await
        {
            Ok(n) => {
                tracing::info!(user_id = %device.user_id, device_id = %device.id, service = device.token.service(), removed = n, "push: the service reports the device gone; removed")
            }
            Err(e) => {
                tracing::warn!(device_id = %device.id, error = %e, "push: could not remove a dead device")
            }
        }
    }

    async fn send(&self, device: &PushDevice, job: &PushJob) -> Result<Outcome, DeliveryError> {
        let settings = self.chat.settings();
        match &device.token {
            PushTarget::Web(sub) => {
                let site = settings.string("Site_Url");
                let contact = settings.string("WebPush_contact");
                let subject = if contact.is_empty() {
                    site.clone()
                } else {
                    format!("mailto:{contact}")
                };
                let payload = senders::web_payload(&job.content, &site);
                let request =
                    senders::web_request(&self.client, &self.vapid, sub, &payload, &subject)?;
                let reply = senders::read(request.send().await.map_err(senders::network)?).await;
                senders::web_outcome(&reply, &sub.endpoint)
            }
            PushTarget::Apn(token) | PushTarget::Gcm(token)
                if settings.bool("Push_enable_gateway") =>
            {
                let service = device.token.service();
                let gateway = settings.string("Push_gateway");
                let body = senders::gateway_body(
                    &job.content,
                    service,
                    token,
                    &device.app_name,
                    &settings.string("uniqueID"),
                    &job.created_at,
                );
                let mut request = self
                    .client
                    .post(format!(
                        "{}/push/{service}/send",
                        gateway.trim_end_matches('/')
                    ))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string());
                let auth = settings.string("Push_gateway_token");
                if !auth.is_empty() {
                    request = request.bearer_auth(auth);
                }
                let reply = senders::read(request.send().await.map_err(senders::network)?).await;
                senders::gateway_outcome(&reply, token)
            }
            PushTarget::Gcm(token) => self.send_fcm(&job.content, token).await,
            PushTarget::Apn(token) => {
                let key = settings.string("Push_apn_key");
                if key.trim().is_empty() {
                    return Err(DeliveryError::permanent(
                        "APNs is not configured (Push_apn_key) and the gateway is off",
                    ));
                }
                let jwt = senders::apns_jwt(
                    &key,
                    &settings.string("Push_apn_key_id"),
                    &settings.string("Push_apn_team_id"),
                )?;
                let base = if settings.bool("Push_production") {
                    senders::APNS_PRODUCTION
                } else {
                    senders::APNS_SANDBOX
                };
                let collapse = job.content.not_id.to_string();
                let request = self
                    .apns_client
                    .post(format!("{base}/3/device/{token}"))
                    .header(reqwest::header::AUTHORIZATION, format!("bearer {jwt}"))
                    .header("apns-topic", &device.app_name)
                    .header("apns-push-type", "alert")
                    .header("apns-priority", "10")
                    .header(
                        "apns-expiration",
                        (chrono::Utc::now().timestamp() + 3600).to_string(),
                    )
                    .header("apns-collapse-id", collapse)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(senders::apns_body(&job.content).to_string());
                let reply = senders::read(request.send().await.map_err(senders::network)?).await;
                senders::apns_outcome(&reply, token)
            }
        }
    }

    async fn send_fcm(&self, content: &PushContent, token: &str) -> Result<Outcome, DeliveryError> {
        let credentials = self.chat.settings().string("Push_google_api_credentials");
        if credentials.trim().is_empty() {
            return Err(DeliveryError::permanent(
                "FCM is not configured (Push_google_api_credentials) and the gateway is off",
            ));
        }
        let account: ServiceAccount = serde_json::from_str(&credentials).map_err(|e| {
            DeliveryError::permanent(format!(
                "Push_google_api_credentials is not a service account key: {e}"
            ))
        })?;
        let fingerprint = format!("{}/{}", account.client_email, account.private_key_id);
        let access = match self.fcm_token.get(&fingerprint) {
            Some(t) => t,
            None => {
                // One exchange at a time: concurrent sends wait for it and reuse it.
                let _exchange = self.fcm_exchange.lock().await;
                match self.fcm_token.get(&fingerprint) {
                    Some(t) => t,
                    None => {
                        let assertion = senders::google_assertion(&account)?;
                        let (t, lifetime) = senders::google_token(&self.client, &assertion).await?;
                        self.fcm_token.put(&fingerprint, &t, lifetime);
                        t
                    }
                }
            }
        };
        let url = format!(
            "https://fcm.googleapis.com/v1/projects/{}/messages:send",
            account.project_id
        );
        let response = self
            .client
            .post(url)
            .bearer_auth(&access)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(senders::fcm_message(content, token).to_string())
            .send()
            .await
            .map_err(senders::network)?;
        let reply = senders::read(response).await;
        if reply.status == 401 {
            // A revoked or expired token: the next attempt gets a new one.
            self.fcm_token.clear();
            return Err(DeliveryError::transient(
                "FCM: HTTP 401 (access token refused)",
            ));
        }
        senders::fcm_outcome(&reply, token)
    }
}

impl PushService {
    /// The queue items of many notices: their users' devices and badges read in one
    /// query each, whatever the number of notices.
    async fn items_for_many(&self, notices: &[Notice]) -> StoreResult<Vec<OutboxItem>> {
        let settings = self.chat.settings();
        let (mobile, web) = (
            settings.bool("Push_enable"),
            settings.bool("WebPush_enable"),
        );
        let users: Vec<String> = {
            let mut ids: Vec<String> = notices.iter().map(|n| n.user_id.clone()).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let mut devices: HashMap<String, Vec<PushDevice>> = HashMap::new();
        for d in self.store.push_devices_of_users(&users).await? {
            let reached = d.enabled
                && match d.token {
                    PushTarget::Web(_) => web,
                    _ => mobile,
                };
            if reached {
                devices.entry(d.user_id.clone()).or_default().push(d);
            }
        }
        if devices.is_empty() {
            return Ok(Vec::new());
        }
        let with_devices: Vec<String> = devices.keys().cloned().collect();
        let badges: HashMap<String, u64> = self
            .store
            .unread_totals(&with_devices)
            .await?
            .into_iter()
            .collect();
        let now = Ts::now();
        let created_at = crate::wire::iso(now.0);
        let mut items = Vec::new();
        for notice in notices {
            let Some(mine) = devices.get(&notice.user_id) else {
                continue;
            };
            let mut content = content::build(notice, settings);
            content.badge = u32::try_from(badges.get(&notice.user_id).copied().unwrap_or(0))
                .unwrap_or(u32::MAX);
            items.extend(mine.iter().filter_map(|d| {
                let job = PushJob {
                    device_id: d.id.clone(),
                    content: content.clone(),
                    created_at: created_at.clone(),
                };
                let payload = serde_json::to_value(&job).ok()?;
                Some(OutboxItem::new(
                    crate::chat::ids::new_id(),
                    OutboxKind::Push,
                    format!("{}\u{1f}{}", notice.message_id, d.id),
                    payload,
                    now,
                ))
            }));
        }
        Ok(items)
    }
}

#[async_trait]
impl PushSink for PushService {
    async fn items(&self, notices: &[Notice]) -> Result<Vec<OutboxItem>, PushSinkError> {
        self.items_for_many(notices)
            .await
            .map_err(|e| PushSinkError(Box::new(e)))
    }
}

struct PushHandler(Arc<PushService>);

#[async_trait]
impl DeliveryHandler for PushHandler {
    fn kind(&self) -> OutboxKind {
        OutboxKind::Push
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let job: PushJob = serde_json::from_value(item.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("unreadable push item: {e}")))?;
        let device = match self.0.store.push_device(&job.device_id).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                tracing::debug!(device_id = %job.device_id, item_id = %item.id, "push: device removed since; dropped");
                return Ok(());
            }
            Err(e) => return Err(DeliveryError::transient(format!("reading the device: {e}"))),
        };
        match self.0.send(&device, &job).await? {
            Outcome::Delivered => {
                tracing::info!(user_id = %device.user_id, device_id = %device.id, service = device.token.service(), item_id = %item.id, "push delivered");
            }
            Outcome::DeadDevice(value) => self.0.remove_dead(&device, &value).await,
        }
        Ok(())
    }
}
