//! LDAP / Active Directory: sign-in with the directory password, accounts linked by
//! the entry's unique identifier (`services.ldap.id`), group → role and group →
//! channel mapping, and a background sync that creates, updates and deactivates
//! accounts (see [`sync`]).
//!
//! The password a user types is only ever sent to the directory in a bind; it is
//! never hashed or stored here, and directory accounts have no local password.

pub mod client;
pub mod config;
pub mod sync;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::chat::external_accounts::ExternalProfile;
use crate::chat::login::LoginOutcome;
use crate::chat::{Chat, ChatError, ChatResult};
use crate::store::{DynStore, ServiceLink, User};
use client::{fill_filter, Directory, Entry};
use config::{GroupSync, LdapConfig};

/// The `services` key of directory accounts.
pub const SERVICE: &str = crate::chat::external_accounts::DIRECTORY_SERVICE;
/// Set in `services.ldap` when the sync (not an admin) deactivated the account: only
/// then may the sync activate it again.
const DEACTIVATED_BY_SYNC: &str = "deactivatedBySync";

#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("LDAP is not enabled")]
    Disabled,
    #[error("LDAP configuration: {0}")]
    Config(String),
    #[error("cannot reach the directory server: {0}")]
    Unreachable(String),
    #[error("the directory refused the service account's bind: {0}")]
    ServiceBind(String),
    #[error("directory error: {0}")]
    Operation(String),
    #[error("a directory sync is already running")]
    SyncRunning,
    #[error(transparent)]
    Chat(#[from] ChatError),
}

impl LdapError {
    /// As a login or admin endpoint reports it.
    pub fn into_chat(self) -> ChatError {
        match self {
            LdapError::Chat(e) => e,
            LdapError::Disabled => ChatError::refused("error-ldap-disabled", "LDAP is not enabled"),
            LdapError::SyncRunning => ChatError::refused(
                "error-ldap-sync-running",
                "A directory sync is already running",
            ),
            other => {
                tracing::warn!(error = %other, "LDAP directory unavailable");
                ChatError::refused(
                    "error-ldap-unavailable",
                    format!("The directory (LDAP) server is unavailable: {other}"),
                )
            }
        }
    }
}

fn unauthorized() -> LdapError {
    LdapError::Chat(ChatError::Unauthorized("Unauthorized".into()))
}

/// The LDAP service, shared by the login paths, the admin endpoints and the sync
/// worker.
pub struct Ldap {
    chat: Arc<Chat>,
    /// The sync's lease, last run and report, shared by the instances.
    store: DynStore,
    /// This process's name on the sync lease.
    instance: String,
    /// The last dry run here (real runs' reports are in the store).
    last_dry_run: Mutex<Option<sync::SyncReport>>,
    /// One sync at a time in this process.
    sync_lock: tokio::sync::Mutex<()>,
}

impl Ldap {
    pub fn new(chat: Arc<Chat>, store: DynStore) -> Arc<Ldap> {
        Arc::new(Ldap {
            chat,
            store,
            instance: crate::chat::ids::new_id(),
            last_dry_run: Mutex::new(None),
            sync_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The live configuration.
    pub fn config(&self) -> LdapConfig {
        LdapConfig::from_settings(self.chat.settings())
    }

    pub fn enabled(&self) -> bool {
        self.chat.settings().bool("LDAP_Enable")
    }

    /// `login {ldap: true, username, ldapPass}`: the directory checks the password;
    /// the account is created or updated from the entry and logged in.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> ChatResult<LoginOutcome> {
        let cfg = Arc::new(self.config());
        if !cfg.enabled {
            return Err(LdapError::Disabled.into_chat());
        }
        self.chat.hit_login_limits(client_ip, login)?;
        match self.authenticate(&cfg, login, password).await {
            Ok(Some(user)) => self.chat.login_vouched(user).await,
            Ok(None) if cfg.login_fallback => {
                // Not in the directory: a local account may log in with its own
                // password (directory accounts have none).
                self.chat
                    .login_with_password(
                        &crate::chat::login::LoginIdent::from_user_field(login),
                        &crate::chat::login::Password::Plain(password.to_string()),
                        client_ip,
                    )
                    .await
            }
            Ok(None) => {
                tracing::info!("LDAP login refused: unknown account");
                Err(ChatError::Unauthorized("Unauthorized".into()))
            }
            Err(e) => Err(e.into_chat()),
        }
    }

    /// The normal login form with LDAP enabled: names no local account, or a
    /// directory account → the directory; a local account keeps its password.
    /// `None` when the local login should run.
    pub async fn login_form(
        &self,
        login: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> Option<ChatResult<LoginOutcome>> {
        if !self.enabled() || login.is_empty() {
            return None;
        }
        let local = if login.contains('@') {
            None
        } else {
            self.chat.user_named(login).await.ok().flatten()
        };
        match local {
            Some(user) if !user.services.contains_key(SERVICE) => None,
            _ if login.contains('@') => None,
            _ => Some(self.login(login, password, client_ip).await),
        }
    }

    /// `Ok(None)`: the directory does not know `login`.
    async fn authenticate(
        &self,
        cfg: &Arc<LdapConfig>,
        login: &str,
        password: &str,
    ) -> Result<Option<User>, LdapError> {
        let mut dir = Directory::connect(cfg.clone()).await?;
        let result = async {
            let Some(entry) = dir.find_user(login).await? else {
                return Ok(None);
            };
            if !dir.check_password(&entry.dn, password).await? {
                tracing::info!(dn = %entry.dn, "LDAP login refused: wrong password");
                return Err(unauthorized());
            }
            let outcome = self.apply_entry(&mut dir, cfg, &entry, Mode::Login).await?;
            match outcome.user {
                Some(user) => Ok(Some(user)),
                None => Err(LdapError::Chat(ChatError::refused(
                    "error-ldap-user-not-linked",
                    outcome.detail,
                ))),
            }
        }
        .await;
        dir.close().await;
        result
    }

    /// `ldap.testConnection`: connect and do the service bind.
    pub async fn test_connection(&self) -> Result<(), LdapError> {
        let cfg = self.config();
        if !cfg.enabled {
            return Err(LdapError::Disabled);
        }
        Directory::connect(Arc::new(cfg)).await?.close().await;
        Ok(())
    }

    /// `ldap.testSearch`: whether exactly one entry matches `username`.
    pub async fn test_search(&self, username: &str) -> Result<bool, LdapError> {
        let cfg = self.config();
        if !cfg.enabled {
            return Err(LdapError::Disabled);
        }
        let mut dir = Directory::connect(Arc::new(cfg)).await?;
        let found = dir.find_user(username).await;
        dir.close().await;
        Ok(found?.is_some())
    }

    /// The last dry run's report on this instance, if any.
    pub fn last_dry_run(&self) -> Option<sync::SyncReport> {
        self.last_dry_run
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_dry_run(&self, report: sync::SyncReport) {
        *self.last_dry_run.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
    }

    /// Applies one directory entry to its account: link, create, update profile,
    /// roles, active state and channels. In a dry run nothing is written.
    async fn apply_entry(
        &self,
        dir: &mut Directory,
        cfg: &LdapConfig,
        entry: &Entry,
        mode: Mode,
    ) -> Result<EntryOutcome, LdapError> {
        let Some((attr, uid)) = entry.unique_id(&cfg.unique_fields) else {
            return Err(LdapError::Config(format!(
                "entry {} has none of the LDAP_Unique_Identifier_Field attributes",
                entry.dn
            )));
        };
        let profile = profile_of(cfg, entry)?;
        let linked = self.chat.user_by_service(SERVICE, &uid).await?;
        let (before, action) = match linked {
            Some(user) => (Some(user), Action::Update),
            None => match self.chat.user_named(&profile.username).await? {
                Some(local) if cfg.merge_existing || local.services.contains_key(SERVICE) => {
                    if local.services.contains_key(SERVICE) && !cfg.merge_existing {
                        return Ok(EntryOutcome::refused(
                            &profile.username,
                            format!(
                                "the username {} belongs to another directory entry",
                                profile.username
                            ),
                        ));
                    }
                    (Some(local), Action::Merge)
                }
                Some(_) => {
                    return Ok(EntryOutcome::refused(
                        &profile.username,
                        format!(
                        "a local account is already named {} (LDAP_Merge_Existing_Users is off)",
                        profile.username
                    ),
                    ))
                }
                None => (None, Action::Create),
            },
        };
        if action == Action::Create
            && matches!(
                mode,
                Mode::Sync {
                    import_new: false,
                    ..
                }
            )
        {
            return Ok(EntryOutcome::skipped(
                &profile.username,
                "new users are not imported",
            ));
        }
        let update_data = match mode {
            Mode::Login => cfg.update_on_login,
            Mode::Sync { keep_updated, .. } => keep_updated,
        } || action != Action::Update;
        let (given_roles, mapped_roles) = match &cfg.roles {
            Some(gs) => group_targets(dir, gs, &profile.username, &entry.dn).await?,
            None => (Vec::new(), Vec::new()),
        };
        let given_roles = self.chat.existing_user_roles(&given_roles).await?;

        let template = before.clone().unwrap_or_else(|| User {
            username: profile.username.clone(),
            active: true,
            roles: vec![crate::store::roles::USER.to_string()],
            ..blank_user()
        });
        let mut after = template.clone();
        let mut link = after.services.get(SERVICE).cloned().unwrap_or_default();
        link.id = uid.clone();
        link.extra.insert("idAttribute".into(), json!(attr));
        if update_data {
            after.name = if profile.name.trim().is_empty() {
                profile.username.clone()
            } else {
                profile.name.trim().to_string()
            };
            if let Some(email) = &profile.email {
                if after.emails.first().map(|e| e.address.as_str()) != Some(&email.to_lowercase()) {
                    after.emails = vec![crate::store::Email {
                        address: email.to_lowercase(),
                        verified: true,
                    }];
                }
            }
            if action != Action::Create && !profile.username.eq_ignore_ascii_case(&after.username) {
                after.username = profile.username.clone();
            }
        }
        if cfg.roles.as_ref().is_some_and(|g| g.remove_unmapped) {
            after
                .roles
                .retain(|r| !mapped_roles.contains(r) || given_roles.contains(r));
        }
        for role in &given_roles {
            if !after.has_role(role) {
                after.roles.push(role.clone());
            }
        }
        // The directory's disabled flags; an admin's deactivation is never undone.
        let by_sync = link.extra.get(DEACTIVATED_BY_SYNC) == Some(&json!(true));
        if entry.is_disabled() && cfg.active_state.disable && after.active {
            after.active = false;
            link.extra.insert(DEACTIVATED_BY_SYNC.into(), json!(true));
        } else if !entry.is_disabled() && !after.active && by_sync && cfg.active_state.enable {
            after.active = true;
            link.extra.remove(DEACTIVATED_BY_SYNC);
        } else if after.active && by_sync {
            link.extra.remove(DEACTIVATED_BY_SYNC);
        }
        after.services.insert(SERVICE.into(), link);

        let mut changes = describe_changes(before.as_ref(), &after);
        let dry_run = matches!(mode, Mode::Sync { dry_run: true, .. });
        let user = if dry_run {
            None
        } else if action == Action::Create {
            let services = after.services.clone();
            let roles = after.roles.clone();
            let active = after.active;
            let created = self
                .chat
                .create_external_user(&profile, move |u| {
                    u.services = services;
                    u.roles = roles;
                    u.active = active;
                })
                .await?;
            Some(created)
        } else {
            let before = before.clone().unwrap_or_default_user();
            self.chat.save_external_user(&before, &mut after).await?;
            Some(after.clone())
        };

        let mut user = user;
        if let (Some(u), Some(photo)) = (&user, entry.photo(&cfg.avatar_fields)) {
            if update_data {
                // A photo that cannot be used never blocks the sign-in.
                match self.chat.set_avatar_from_directory(u, photo).await {
                    Ok(Some(updated)) => {
                        changes.push("avatar updated".into());
                        // Later writes of this user (the login) carry the avatar.
                        user = Some(updated);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(user_id = %u.id, error = %e, "directory photo not used as avatar")
                    }
                }
            }
        }
        if let Some(gs) = &cfg.channels {
            let (given, mapped) = group_targets(dir, gs, &profile.username, &entry.dn).await?;
            for name in given.iter() {
                match &user {
                    Some(u) if u.active => match self.join_channel(cfg, u, name).await {
                        Ok(true) => changes.push(format!("joined #{name}")),
                        Ok(false) => {}
                        Err(e) => changes.push(format!("could not join #{name}: {e}")),
                    },
                    Some(_) => {}
                    None => changes.push(format!("would join #{name} (if not a member)")),
                }
            }
            if gs.remove_unmapped {
                for name in mapped.iter().filter(|n| !given.contains(n)) {
                    if let Some(u) = &user {
                        if let Ok(true) = self.chat.remove_member_by_name(u, name).await {
                            changes.push(format!("left #{name}"));
                        }
                    }
                }
            }
        }
        let kind = match action {
            Action::Create => ChangeKind::Create,
            _ if before.as_ref().is_some_and(|b| b.active) && !after.active => {
                ChangeKind::Deactivate
            }
            _ if before.as_ref().is_some_and(|b| !b.active) && after.active => {
                ChangeKind::Reactivate
            }
            _ if changes.is_empty() => ChangeKind::Unchanged,
            _ => ChangeKind::Update,
        };
        Ok(EntryOutcome {
            username: profile.username,
            kind,
            detail: changes.join("; "),
            user,
        })
    }

    async fn join_channel(&self, cfg: &LdapConfig, user: &User, name: &str) -> ChatResult<bool> {
        let creator = match self.chat.user_named(&cfg.channels_admin).await? {
            Some(c) if c.active => c,
            _ => user.clone(),
        };
        self.chat.ensure_member_by_name(user, name, &creator).await
    }

    /// Deactivates an account whose entry is gone, marking it as the sync's doing.
    async fn deactivate_missing(&self, user: &User, dry_run: bool) -> ChatResult<()> {
        if dry_run {
            return Ok(());
        }
        let mut after = user.clone();
        after.active = false;
        if let Some(link) = after.services.get_mut(SERVICE) {
            link.extra.insert(DEACTIVATED_BY_SYNC.into(), json!(true));
        }
        self.chat.save_external_user(user, &mut after).await
    }
}

trait OrDefaultUser {
    fn unwrap_or_default_user(self) -> User;
}

impl OrDefaultUser for Option<User> {
    fn unwrap_or_default_user(self) -> User {
        self.unwrap_or_else(blank_user)
    }
}

fn blank_user() -> User {
    User {
        avatar_etag: None,
        avatar_origin: None,
        avatar_file_id: None,
        invite_token: None,
        require_password_change_reason: None,
        id: String::new(),
        username: String::new(),
        name: String::new(),
        emails: Vec::new(),
        roles: Vec::new(),
        active: false,
        kind: "user".into(),
        created_at: crate::store::Ts(0),
        updated_at: crate::store::Ts(0),
        last_login: None,
        status: None,
        status_connection: None,
        status_default: None,
        status_text: None,
        require_password_change: false,
        bio: None,
        nickname: None,
        settings: Default::default(),
        custom_fields: None,
        services: Default::default(),
    }
}

/// What one entry did to its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Create,
    Update,
    Deactivate,
    Reactivate,
    Unchanged,
    Skip,
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Create,
    Update,
    Merge,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Login,
    Sync {
        dry_run: bool,
        import_new: bool,
        keep_updated: bool,
    },
}

struct EntryOutcome {
    username: String,
    kind: ChangeKind,
    detail: String,
    /// The account as stored now (`None`: dry run, skipped or refused).
    user: Option<User>,
}

impl EntryOutcome {
    fn refused(username: &str, detail: String) -> EntryOutcome {
        EntryOutcome {
            username: username.to_string(),
            kind: ChangeKind::Skip,
            detail,
            user: None,
        }
    }

    fn skipped(username: &str, detail: &str) -> EntryOutcome {
        EntryOutcome::refused(username, detail.to_string())
    }
}

fn describe_changes(before: Option<&User>, after: &User) -> Vec<String> {
    let Some(before) = before else {
        return vec![format!("new account, roles {}", after.roles.join(","))];
    };
    let mut out = Vec::new();
    if before.username != after.username {
        out.push(format!("username {} → {}", before.username, after.username));
    }
    if before.name != after.name {
        out.push(format!("name {:?} → {:?}", before.name, after.name));
    }
    if before.emails.first().map(|e| &e.address) != after.emails.first().map(|e| &e.address) {
        out.push("e-mail changed".into());
    }
    for r in after.roles.iter().filter(|r| !before.has_role(r)) {
        out.push(format!("role {r} added"));
    }
    for r in before.roles.iter().filter(|r| !after.has_role(r)) {
        out.push(format!("role {r} removed"));
    }
    if before.active != after.active {
        out.push(
            if after.active {
                "activated"
            } else {
                "deactivated"
            }
            .into(),
        );
    }
    if before.services.get(SERVICE).map(|l| &l.id) != after.services.get(SERVICE).map(|l| &l.id) {
        out.push("linked to the directory entry".into());
    }
    out
}

/// Username, name and e-mail from the mapped attributes.
fn profile_of(cfg: &LdapConfig, entry: &Entry) -> Result<ExternalProfile, LdapError> {
    let first_of = |fields: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| entry.first(f).filter(|v| !v.trim().is_empty()))
            .map(|v| v.trim().to_string())
    };
    let raw = first_of(&cfg.username_field).ok_or_else(|| {
        LdapError::Config(format!(
            "entry {} has no {} attribute (the username field)",
            entry.dn, cfg.username_field
        ))
    })?;
    let username = slug_username(&raw);
    let email = first_of(&cfg.email_field).or_else(|| {
        (!cfg.default_domain.trim().is_empty())
            .then(|| format!("{username}@{}", cfg.default_domain.trim()))
    });
    Ok(ExternalProfile {
        name: first_of(&cfg.name_field).unwrap_or_else(|| username.clone()),
        username,
        email,
    })
}

/// A directory name as a valid Palaver username: letters, digits, `.`, `_`, `-`.
fn slug_username(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '.'
            }
        })
        .take(64)
        .collect();
    s.trim_matches('.').to_string()
}

/// The map's targets of the groups `username` belongs to, and every target the map
/// names (to know what to remove).
async fn group_targets(
    dir: &mut Directory,
    gs: &GroupSync,
    username: &str,
    dn: &str,
) -> Result<(Vec<String>, Vec<String>), LdapError> {
    let mut given = Vec::new();
    let mut all = Vec::new();
    for (group, targets) in &gs.map {
        let filter = fill_filter(
            &gs.filter,
            &[("groupName", group), ("username", username), ("userdn", dn)],
        );
        if dir.any_match(&gs.base_dn, &filter).await? {
            given.extend(targets.iter().cloned());
        }
        all.extend(targets.iter().cloned());
    }
    given.dedup();
    Ok((given, all))
}

/// The link kept in `services.ldap`.
pub fn link_of(user: &User) -> Option<&ServiceLink> {
    user.services.get(SERVICE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_made_valid() {
        assert_eq!(slug_username("John Smith"), "John.Smith");
        assert_eq!(slug_username("ann_b-c.d"), "ann_b-c.d");
    }
}
