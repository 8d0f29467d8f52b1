//! Domain services: accounts, rooms, messages and the rules that govern them.
//! Every client surface (REST, realtime, apps) goes through these, so one operation
//! is validated and authorized the same way whichever way it arrives.

pub mod accounts;
pub mod avatars;
mod bad_words;
pub mod custom_fields;
pub mod data_export;
pub mod directory;
pub mod discussions;
pub mod error;
pub mod events;
pub mod external_accounts;
pub mod external_login;
mod file_cleanup;
pub mod file_migration;
mod file_storage;
pub mod files;
mod first_start;
pub mod hooks;
pub mod ids;
pub mod integrations;
pub mod invites;
pub mod link_previews;
pub mod login;
pub mod mail;
pub mod markdown;
mod media;
pub mod member_filter;
pub mod memberships;
mod message_edits;
pub mod message_limits;
pub mod message_marks;
pub mod message_validation;
pub mod messages;
pub mod moderation;
pub mod notify;
mod oembed;
pub mod password;
pub mod password_policy;
pub mod permissions;
pub mod preferences;
pub mod presence;
pub mod profile;
mod quotes;
pub mod ratelimit;
mod relay;
mod remote_users;
pub mod reserved_names;
pub mod roles;
pub mod room_admin;
pub mod room_names;
pub mod room_notify;
pub mod room_settings;
pub mod rooms;
pub mod settings;
pub mod single_use;
pub mod slash_core;
mod system_messages;
pub mod teams;
mod thread_unread;
pub mod tokens;
pub mod url_preview;
mod user_admin;
mod user_export;
pub mod user_query;
pub mod user_update;

use std::sync::{Arc, OnceLock};

pub use error::{ChatError, ChatResult};
pub use events::{Event, EventBus};

use crate::store::DynStore;
use password::{PasswordPool, PasswordPoolOptions};
use ratelimit::{LimitRule, RateLimiter};

/// Tunables of the chat services (built from the server configuration).
#[derive(Clone, Debug)]
pub struct ChatOptions {
    pub login_per_ip: LimitRule,
    pub login_per_user: LimitRule,
    /// The password hashing pool's size.
    pub password_pool: PasswordPoolOptions,
    /// How long a login token is valid.
    pub token_ttl: std::time::Duration,
    /// Workspace settings: defaults derived from the startup options, and the values
    /// the configuration locks.
    pub settings: settings::SettingsInit,
    /// The FileSystem storage's directory when `FileUpload_FileSystemPath` is empty.
    pub files_root: std::path::PathBuf,
    /// How long an upload may wait for its confirmation before the sweeper removes it.
    pub unconfirmed_upload_ttl: std::time::Duration,
    /// How long a realtime connection stays recorded for presence without its
    /// instance renewing it (renewed every third of it).
    pub presence_ttl: std::time::Duration,
    /// Incoming webhooks' rate limit, the history's retention, outgoing targets' guard.
    pub integrations: integrations::options::IntegrationOptions,
    /// Images with more pixels are refused before decoding.
    pub image_max_pixels: u64,
    /// Uploaded images larger than this are not decoded (no thumbnail).
    pub image_max_bytes: u64,
    /// The operator's allow-list, routes and extra roots for URLs users give
    /// (`avatarUrl`): the apps' `http_allow`, `http_connect_to`, `http_extra_ca_file`.
    pub outbound_allow: Vec<String>,
    pub outbound_connect_to: Vec<String>,
    pub outbound_extra_ca_file: Option<std::path::PathBuf>,
}

/// The chat services, shared by every client surface.
pub struct Chat {
    store: DynStore,
    bus: EventBus,
    /// Events that happened on other instances (fed by the relay), for the realtime
    /// API only: the apps engine already handled them where they happened.
    remote: EventBus,
    opts: ChatOptions,
    settings: settings::Settings,
    login_ip_limiter: RateLimiter,
    login_user_limiter: RateLimiter,
    passwords: PasswordPool,
    pre_send: OnceLock<Arc<dyn hooks::PreSendHook>>,
    /// The notification fan-out's queue, plugged in at start-up.
    notices: OnceLock<Arc<dyn hooks::NoticeQueue>>,
    /// The e-mail channel (`notify::email`), plugged in at start-up.
    mail: OnceLock<Arc<dyn mail::MailSender>>,
    /// Bumped when an integration changes here, so the outgoing webhooks' trigger
    /// cache reloads at once (changes on other instances: at its expiry).
    integrations_gen: std::sync::atomic::AtomicU64,
    /// Calls per incoming webhook (`None`: unlimited).
    hook_limiter: Option<RateLimiter>,
    files: file_storage::StorageCache,
    /// Image decoding slots, the avatar cache and the avatar fetcher.
    media: media::MediaState,
    /// This process's name on the presence connections it records.
    instance_id: String,
}

impl Chat {
    pub fn new(store: DynStore, opts: ChatOptions) -> Arc<Chat> {
        Arc::new(Chat {
            store,
            bus: EventBus::new(16 * 1024),
            remote: EventBus::new(16 * 1024),
            login_ip_limiter: RateLimiter::new(opts.login_per_ip),
            login_user_limiter: RateLimiter::new(opts.login_per_user),
            passwords: PasswordPool::new(opts.password_pool),
            pre_send: OnceLock::new(),
            notices: OnceLock::new(),
            mail: OnceLock::new(),
            integrations_gen: Default::default(),
            hook_limiter: opts.integrations.incoming_limit.map(RateLimiter::new),
            files: Default::default(),
            media: Default::default(),
            instance_id: ids::new_id(),
            settings: settings::Settings::new(opts.settings.clone()),
            opts,
        })
    }

    /// Plugs in the pre-send hook (the apps engine); once, at start-up.
    pub fn set_pre_send_hook(&self, hook: Arc<dyn hooks::PreSendHook>) {
        if self.pre_send.set(hook).is_err() {
            tracing::warn!("a pre-send hook was already set; keeping the first");
        }
    }

    /// Plugs in the notification fan-out (`notify::worker`); once, at start-up.
    /// Messages posted before it have no notifications.
    pub fn set_notice_queue(&self, queue: Arc<dyn hooks::NoticeQueue>) {
        if self.notices.set(queue).is_err() {
            tracing::warn!("a notice queue was already set; keeping the first");
        }
    }

    /// The store, for the capability modules beside `chat` (notifications) that read
    /// what the chat services wrote.
    pub(crate) fn store(&self) -> &DynStore {
        &self.store
    }

    /// This process's instance id (`instances.get`, presence connections).
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    pub fn events(&self) -> &EventBus {
        &self.bus
    }

    /// Events from other instances sharing the database.
    pub fn remote_events(&self) -> &EventBus {
        &self.remote
    }

    pub fn options(&self) -> &ChatOptions {
        &self.opts
    }

    /// The limits every message is checked against (live settings).
    pub fn message_limits(&self) -> message_limits::MessageLimits {
        let s = &self.settings;
        message_limits::MessageLimits {
            max_text_chars: s.usize("Message_MaxAllowedSize"),
            max_attachments: s.usize("Message_MaxAttachments"),
            max_bytes: s.usize("Message_MaxPayloadBytes"),
        }
    }

    /// `text` with its bad words masked, when the workspace filters them
    /// (`Message_AllowBadWordsFilter`); `None` when it is to be stored as it is.
    pub fn censor(&self, text: &str) -> Option<String> {
        let s = &self.settings;
        if !s.bool("Message_AllowBadWordsFilter") {
            return None;
        }
        bad_words::BadWords::new(
            &s.string("Message_BadWordsFilterList"),
            &s.string("Message_BadWordsWhitelist"),
        )
        .clean(text)
    }

    /// The parsed form of a message's text (its `md`), with the workspace's parser
    /// options (colours, KaTeX delimiters, custom link domains).
    pub fn parse_text(&self, text: &str) -> Option<Vec<crate::store::message_md::MdNode>> {
        let s = &self.settings;
        let options = markdown::Options {
            colors: s.bool("HexColorPreview_Enabled"),
            emoticons: true,
            katex: s.bool("Katex_Enabled").then(|| markdown::KatexSyntax {
                dollar: s.bool("Katex_Dollar_Syntax"),
                parenthesis: s.bool("Katex_Parenthesis_Syntax"),
            }),
            custom_domains: s
                .string("Message_CustomDomain_AutoLink")
                .split(',')
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty())
                .collect(),
        };
        markdown::parse(text, &options)
    }

    /// The integrations' generation: changes when one is created, updated or removed here.
    pub fn integrations_generation(&self) -> u64 {
        self.integrations_gen
            .load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn integrations_changed(&self) {
        self.integrations_gen
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Flushes storage; called once at shutdown.
    pub async fn close(&self) -> ChatResult<()> {
        Ok(self.store.close().await?)
    }
}
