//! Workspace settings (Rocket.Chat's settings model): a typed registry
//! ([`registry`]), values checked by type ([`values`]), stored in the database and
//! changed by admins at runtime, with an audit log ([`audit`]).
//!
//! A setting's live value is, in order: the value the startup configuration locks
//! it to (config file or environment, see `config/settings.rs`), else the value an
//! admin stored, else its default. Every instance keeps the stored values in memory;
//! a change is written to the store, then announced on the event bus
//! ([`Event::SettingChanged`]); the relay carries it to the other instances, which
//! re-read the value from the store before passing the event on, so readers
//! everywhere see the new value without a restart.

mod accounts;
pub mod audit;
mod email;
mod embed;
mod file_upload;
mod general;
pub mod invites;
pub mod ldap;
mod logs;
mod message;
pub mod oauth_family;
mod push;
mod realtime;
pub mod registry;
pub mod saml;
pub mod values;

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::Value;

use super::error::{ChatError, ChatResult};
use super::permissions::{EDIT_PRIVILEGED_SETTING, VIEW_PRIVILEGED_SETTING};
use super::{Chat, Event};
use crate::store::settings_audit::ChangeActor;
use crate::store::{Setting, Ts, User};
pub use registry::{Def, Kind};

/// A value the startup configuration imposes; admins see it as locked.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub id: &'static str,
    pub value: Value,
    /// Where it comes from, e.g. `environment variable PALAVER_SETTINGS__SITE_NAME`.
    pub source: String,
}

/// What the settings start from (built from the startup configuration).
#[derive(Clone, Debug, Default)]
pub struct SettingsInit {
    /// The site URL derived from the startup options: `Site_Url`'s default.
    pub site_url: String,
    pub overrides: Vec<Override>,
}

/// The live settings of this instance.
pub struct Settings {
    site_url: String,
    locks: HashMap<&'static str, Override>,
    /// Values admins stored (only registry ids, only valid values).
    stored: RwLock<HashMap<&'static str, Value>>,
}

/// A setting as an admin reads it.
#[derive(Clone, Debug)]
pub struct SettingView {
    pub def: &'static Def,
    /// The live value; a secret's is always empty.
    pub value: Value,
    pub default: Value,
    /// For a secret: whether it holds a value.
    pub set: bool,
    /// Where a locked value comes from.
    pub locked_by: Option<String>,
}

/// What a `POST /settings/:_id` asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Value(Value),
    /// Run an action setting.
    Execute,
}

impl Settings {
    pub fn new(init: SettingsInit) -> Settings {
        for lock in &init.overrides {
            tracing::info!(setting = lock.id, source = %lock.source, "setting locked by the configuration");
        }
        let locks = init.overrides.into_iter().map(|o| (o.id, o)).collect();
        Settings {
            site_url: init.site_url,
            locks,
            stored: RwLock::default(),
        }
    }

    fn stored(&self) -> std::sync::RwLockReadGuard<'_, HashMap<&'static str, Value>> {
        self.stored.read().unwrap_or_else(|p| p.into_inner())
    }

    fn cache(&self, id: &'static str, value: Option<Value>) {
        let mut stored = self.stored.write().unwrap_or_else(|p| p.into_inner());
        match value {
            Some(v) => stored.insert(id, v),
            None => stored.remove(id),
        };
    }

    /// The live value of a defined setting (`Null` for an unknown id).
    pub fn value(&self, id: &str) -> Value {
        let Some(def) = registry::find(id) else {
            return Value::Null;
        };
        self.value_of(def)
    }

    fn value_of(&self, def: &'static Def) -> Value {
        if let Some(lock) = self.locks.get(def.id) {
            return lock.value.clone();
        }
        if let Some(v) = self.stored().get(def.id) {
            return v.clone();
        }
        def.default_value(&self.site_url)
    }

    pub fn int(&self, id: &str) -> i64 {
        self.value(id).as_i64().unwrap_or_default()
    }

    pub fn bool(&self, id: &str) -> bool {
        self.value(id).as_bool().unwrap_or_default()
    }

    pub fn string(&self, id: &str) -> String {
        self.value(id).as_str().unwrap_or_default().to_string()
    }

    /// An int setting as a size or count (its range keeps it non-negative).
    pub fn usize(&self, id: &str) -> usize {
        usize::try_from(self.int(id)).unwrap_or_default()
    }

    /// What the configuration locks `id` to, if it does.
    pub fn lock(&self, id: &str) -> Option<&Override> {
        self.locks.get(id)
    }

    fn view(&self, def: &'static Def) -> SettingView {
        let value = self.value_of(def);
        SettingView {
            def,
            set: values::is_set(&value),
            value: values::shown(def, &value),
            default: values::shown(def, &def.default_value(&self.site_url)),
            locked_by: self.locks.get(def.id).map(|l| l.source.clone()),
        }
    }

    /// Every setting as an admin sees it, in registry order, then the custom OAuth
    /// providers' families.
    pub fn views(&self) -> Vec<SettingView> {
        let names = self.custom_oauth_names();
        registry::all()
            .chain(oauth_family::defs_of(names.iter().map(String::as_str)))
            .map(|d| self.view(d))
            .collect()
    }

    /// The custom OAuth providers that have any setting stored or locked, sorted.
    pub fn custom_oauth_names(&self) -> Vec<String> {
        let stored = self.stored();
        let mut names: Vec<String> = stored
            .keys()
            .copied()
            .chain(self.locks.keys().copied())
            .filter_map(|id| oauth_family::split(id).map(|(name, _)| name))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Reads a stored setting; `None` for legacy records (written at start-up before
/// settings were editable) and invalid values, which fall back to the default.
fn stored_value(def: &Def, setting: &Setting) -> Option<Value> {
    setting.updated_at?;
    match values::validate(def, &setting.value) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(setting = def.id, error = %e, "ignoring an invalid stored setting");
            None
        }
    }
}

impl Chat {
    /// The live settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Loads the stored settings into memory (at start-up, and when the relay from
    /// the other instances reconnects, in case changes were missed meanwhile).
    /// Settings generated once per workspace (`uniqueID`, the registration secret)
    /// are created first if missing; the first instance to store one wins.
    pub async fn seed_settings(&self) -> ChatResult<()> {
        for id in GENERATED {
            let stored = self.store.setting(id).await?;
            if stored
                .as_ref()
                .is_some_and(|s| s.updated_at.is_some() && values::is_set(&s.value))
            {
                continue;
            }
            let created = self
                .store
                .insert_setting_if_missing(&Setting {
                    id: id.to_string(),
                    value: Value::String(super::ids::new_id()),
                    public: registry::find(id).is_some_and(|d| d.public),
                    updated_at: Some(Ts::now()),
                })
                .await?;
            if !created && stored.is_some() {
                // A legacy or empty record: replace it.
                self.store
                    .put_setting(&Setting {
                        id: id.to_string(),
                        value: Value::String(super::ids::new_id()),
                        public: registry::find(id).is_some_and(|d| d.public),
                        updated_at: Some(Ts::now()),
                    })
                    .await?;
            }
        }
        let all = self.store.settings().await?;
        let mut loaded = HashMap::new();
        for setting in &all {
            if let Some(def) = registry::find(&setting.id) {
                if let Some(v) = stored_value(def, setting) {
                    loaded.insert(def.id, v);
                }
            }
        }
        *self
            .settings
            .stored
            .write()
            .unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(())
    }

    /// Re-reads one setting from the store: another instance changed it.
    pub(crate) async fn refresh_setting(&self, id: &str) -> ChatResult<()> {
        let Some(def) = registry::find(id) else {
            return Ok(());
        };
        let stored = self.store.setting(def.id).await?;
        let value = stored.as_ref().and_then(|s| stored_value(def, s));
        self.settings.cache(def.id, value);
        tracing::debug!(setting = def.id, "setting changed on another instance");
        Ok(())
    }

    async fn may_view_settings(&self, user: &User) -> ChatResult<bool> {
        self.has_permission(user, VIEW_PRIVILEGED_SETTING, None)
            .await
    }

    /// Whether `user` receives `private-settings-changed` (Rocket.Chat: view or edit
    /// privileged settings).
    pub async fn receives_private_settings(&self, user: &User) -> ChatResult<bool> {
        Ok(self.may_view_settings(user).await?
            || self
                .has_permission(user, EDIT_PRIVILEGED_SETTING, None)
                .await?)
    }

    /// Every setting for holders of `view-privileged-setting`; for other users the
    /// public ones only (as Rocket.Chat's `GET /settings` does).
    pub async fn list_settings(&self, actor: &User) -> ChatResult<Vec<SettingView>> {
        let mut views = self.settings.views();
        if !self.may_view_settings(actor).await? {
            views.retain(|v| v.def.public && !v.def.secret());
        }
        Ok(views)
    }

    /// One setting, for admins (`view-privileged-setting`).
    pub async fn get_setting(&self, actor: &User, id: &str) -> ChatResult<SettingView> {
        if !self.may_view_settings(actor).await? {
            return Err(ChatError::not_allowed());
        }
        let def = registry::find(id).ok_or_else(|| not_found(id))?;
        Ok(self.settings.view(def))
    }

    /// Public settings as anyone may read them (`settings.public`), sorted by id.
    pub fn public_settings(&self) -> Vec<SettingView> {
        let mut views = self.settings.views();
        views.retain(|v| v.def.public && !v.def.secret());
        views.sort_by_key(|v| v.def.id);
        views
    }

    /// Changes a setting (`edit-privileged-setting`): checked by type, refused when
    /// the configuration locks it, stored, recorded in the audit log and announced
    /// to every instance. Setting the value it already has changes nothing. An
    /// action answers what it reports (the SMTP server's reply), if anything.
    pub async fn update_setting(
        &self,
        actor: &User,
        client: ChangeClient,
        id: &str,
        change: Change,
    ) -> ChatResult<Option<String>> {
        if !self
            .has_permission(actor, EDIT_PRIVILEGED_SETTING, None)
            .await?
        {
            return Err(ChatError::not_allowed());
        }
        let def = registry::find(id).ok_or_else(|| not_found(id))?;
        let value = match (change, def.kind) {
            (Change::Execute, Kind::Action(action)) => return self.run_action(actor, action).await,
            (Change::Execute, _) => {
                return Err(ChatError::invalid(format!(
                    "{id} is not an action: set it with {{\"value\": …}}"
                )))
            }
            (Change::Value(v), _) => v,
        };
        if def.read_only {
            return Err(ChatError::refused(
                "error-setting-read-only",
                format!("Setting {id} is set by the server and cannot be changed"),
            ));
        }
        if let Some(lock) = self.settings.lock(def.id) {
            return Err(ChatError::refused(
                "error-setting-locked",
                format!(
                    "Setting {id} is locked by the server configuration ({}) and cannot be changed here",
                    lock.source
                ),
            ));
        }
        let value = values::validate(def, &value).map_err(ChatError::invalid)?;
        let previous = self.settings.value_of(def);
        if previous == value {
            return Ok(None);
        }
        let now = Ts::now();
        self.store
            .put_setting(&Setting {
                id: def.id.to_string(),
                value: value.clone(),
                public: def.public,
                updated_at: Some(now),
            })
            .await?;
        self.settings.cache(def.id, Some(value.clone()));
        let actor_ref = ChangeActor {
            id: actor.id.clone(),
            username: actor.username.clone(),
            ip: client.ip,
            useragent: client.useragent,
        };
        if let Err(e) = self
            .record_setting_change(def, actor_ref, now, &previous, &value)
            .await
        {
            // The change is made and announced anyway: refusing it now would leave
            // instances disagreeing about a value that is already stored.
            tracing::error!(setting = def.id, error = %e, "cannot record a setting change in the audit log");
        }
        tracing::info!(user_id = %actor.id, setting = def.id, "setting changed");
        self.bus.publish(Event::SettingChanged {
            id: def.id.to_string(),
            public: def.public,
            value: values::shown(def, &value),
        });
        Ok(None)
    }

    async fn run_action(
        &self,
        actor: &User,
        action: registry::Action,
    ) -> ChatResult<Option<String>> {
        tracing::info!(user_id = %actor.id, action = action.method(), "setting action requested");
        match action {
            registry::Action::SmtpTest => {
                let (to, reply) = self.send_smtp_test(actor).await?;
                Ok(Some(format!("Sent a test e-mail to {to}: {reply}")))
            }
            registry::Action::FileStorageTest => self.test_file_storage().await.map(|_| None),
        }
    }
}

/// Settings whose value the server generates once per workspace and stores.
const GENERATED: [&str; 3] = [
    "uniqueID",
    "Accounts_RegistrationForm_SecretURL",
    super::mail::TOKEN_KEY_SETTING,
];

/// The client a change came from, for the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeClient {
    pub ip: Option<String>,
    pub useragent: Option<String>,
}

fn not_found(id: &str) -> ChatError {
    ChatError::refused(
        "error-setting-not-found",
        format!("Setting {id:?} not found"),
    )
}
