//! Storage of push devices: the mobile apps' push tokens (Rocket.Chat's
//! `_raix_push_app_tokens`) and browsers' Web Push subscriptions, plus the server's
//! own push keys (the VAPID key pair).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{StoreResult, Ts};

/// A browser's Web Push subscription (the Push API's `PushSubscription`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSubscription {
    /// The push service's URL for this browser.
    pub endpoint: String,
    /// The browser's P-256 public key, base64url (uncompressed point).
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
}

/// Where a device is reached; serialized as Rocket.Chat stores `token`
/// (`{"apn": "…"}`, `{"gcm": "…"}`; `{"web": {…}}` is Palaver's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PushTarget {
    Apn(String),
    Gcm(String),
    Web(WebSubscription),
}

impl PushTarget {
    /// What identifies the device at its push service (a token, an endpoint URL):
    /// unique among all devices.
    pub fn value(&self) -> &str {
        match self {
            PushTarget::Apn(t) | PushTarget::Gcm(t) => t,
            PushTarget::Web(s) => &s.endpoint,
        }
    }

    /// `apn`, `gcm` or `web`.
    pub fn service(&self) -> &'static str {
        match self {
            PushTarget::Apn(_) => "apn",
            PushTarget::Gcm(_) => "gcm",
            PushTarget::Web(_) => "web",
        }
    }
}

/// One registered device of one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDevice {
    #[serde(rename = "_id")]
    pub id: String,
    pub token: PushTarget,
    /// The app's bundle id / package name (APNs topic); `web` for browsers.
    #[serde(rename = "appName")]
    pub app_name: String,
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The hashed login token it was registered with: logging that session out
    /// removes the device.
    #[serde(rename = "authToken")]
    pub auth_token: String,
    pub enabled: bool,
    #[serde(rename = "createdAt")]
    pub created_at: Ts,
    #[serde(rename = "updatedAt")]
    pub updated_at: Ts,
}

/// Which devices to remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushDeviceFilter {
    Id(String),
    /// The device with this token or endpoint, of this user only if given.
    Value {
        value: String,
        user_id: Option<String>,
    },
    /// Registered with this (hashed) login token.
    AuthToken(String),
    User(String),
}

#[async_trait]
pub trait PushStore: Send + Sync {
    /// Inserts or replaces the device with this id; another device with the same
    /// token or endpoint is removed (a phone re-registering under a new id or
    /// another user).
    async fn save_push_device(&self, device: &PushDevice) -> StoreResult<()>;
    async fn push_device(&self, id: &str) -> StoreResult<Option<PushDevice>>;
    /// A user's devices in registration order.
    async fn push_devices_of_user(&self, user_id: &str) -> StoreResult<Vec<PushDevice>>;
    /// The devices of many users in one query, in no particular order.
    async fn push_devices_of_users(&self, user_ids: &[String]) -> StoreResult<Vec<PushDevice>>;
    /// Removes the matching devices; returns how many.
    async fn delete_push_devices(&self, filter: &PushDeviceFilter) -> StoreResult<u64>;
    /// The server's key named `name`: `candidate` is stored if there is none yet;
    /// the stored one is returned (so concurrent first starts agree).
    async fn push_key(&self, name: &str, candidate: &str) -> StoreResult<String>;
}
