//! Sign-in with an identity a trusted provider vouches for (OAuth/OIDC): the account
//! linked to the provider's stable id (`User::services[service].id`) is found or
//! created, its roles follow the provider's roles claim when the admin asked for
//! it, mapped channels are joined, the provider's picture becomes the avatar, and
//! a session is issued as for a password login. An existing local account is
//! linked only when the admin enabled merging: by e-mail when the provider says
//! the address is verified, or by username (Rocket.Chat's `key_field`).

use serde_json::{json, Map, Value};

use super::accounts::{validate_email, validate_username};
use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::login::LoginOutcome;
use super::{ids, Chat};
use crate::store::role_store::RoleScope;
use crate::store::{roles, Email, ServiceLink, StoreError, Ts, User};

/// Roles the provider manages for its users.
#[derive(Clone, Debug, Default)]
pub struct RoleSync {
    /// The roles the claim names now.
    pub claimed: Vec<String>,
    /// Roles taken away when the claim no longer names them, besides those this
    /// provider gave before (Rocket.Chat's `roles_to_sync`).
    pub managed: Vec<String>,
}

/// Which attribute of an existing local account links it to a first sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeBy {
    /// The provider's e-mail, only when it says the address is verified.
    Email,
    /// The provider's username.
    Username,
}

/// Channels a sign-in joins.
#[derive(Clone, Debug, Default)]
pub struct ChannelSync {
    pub names: Vec<String>,
    /// Who creates a channel that does not exist yet (Rocket.Chat's `channels_admin`).
    pub admin: String,
    /// Join only when the account is created (SAML without `channels_update`).
    pub only_on_create: bool,
}

/// Someone a provider vouches for.
#[derive(Clone, Debug, Default)]
pub struct ExternalIdentity {
    /// The service name (`services` key), e.g. the custom OAuth provider's name.
    pub service: String,
    /// The provider's stable identifier (`sub`).
    pub id: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Link an existing account on first sign-in (the admin's `merge_users`).
    pub merge_by: Option<MergeBy>,
    /// The account found by `merge_by` may already be linked to another id of this
    /// service and is re-linked (SAML, whose identifier is an attribute that the
    /// identity provider is trusted for).
    pub relink: bool,
    /// `Some` when the provider's roles claim governs roles (`merge_roles`).
    pub roles: Option<RoleSync>,
    /// Roles of a new account; empty: `user`.
    pub initial_roles: Vec<String>,
    pub channels: Option<ChannelSync>,
    /// A picture to fetch (outbound guard, public hosts) as the avatar when it changed.
    pub avatar_url: Option<String>,
}

/// The `services` entry's key for the roles the provider gave.
const GRANTED: &str = "palaverGrantedRoles";
/// The `services` entry's key for the picture URL last made the avatar.
const AVATAR_URL: &str = "palaverAvatarUrl";
/// `avatarOrigin` of an avatar from an identity provider's picture.
const AVATAR_ORIGIN: &str = "oauth";

impl Chat {
    /// Finds or creates the account `ident` names, applies the provider's roles and
    /// issues a session. Refused for deactivated accounts.
    pub async fn login_external(&self, ident: ExternalIdentity) -> ChatResult<LoginOutcome> {
        if ident.service.is_empty() || ident.id.is_empty() {
            return Err(ChatError::invalid(
                "an external identity needs a service and an id",
            ));
        }
        let mut created = false;
        let mut user = match self
            .store
            .user_by_service(&ident.service, &ident.id)
            .await?
        {
            Some(user) => user,
            None => match self.merge_candidate(&ident).await? {
                Some(user) => self.link(user, &ident).await?,
                None => {
                    created = true;
                    self.create_external(&ident).await?
                }
            },
        };
        if !user.active {
            return Err(ChatError::refused(
                "error-user-is-not-activated",
                "User is not activated",
            ));
        }
        if let Some(sync) = &ident.roles {
            user = self.sync_external_roles(user, &ident.service, sync).await?;
        }
        if let Some(channels) = ident
            .channels
            .as_ref()
            .filter(|c| created || !c.only_on_create)
        {
            self.join_mapped_channels(&user, channels).await;
        }
        if let Some(url) = &ident.avatar_url {
            user = self.avatar_from_provider(user, &ident.service, url).await;
        }
        tracing::info!(user_id = %user.id, service = %ident.service, "external login");
        self.issue_token(user).await
    }

    /// The local account to link on first sign-in, when allowed.
    async fn merge_candidate(&self, ident: &ExternalIdentity) -> ChatResult<Option<User>> {
        let found = match ident.merge_by {
            Some(MergeBy::Email) if ident.email_verified => match ident.email.as_deref() {
                Some(email) => self.store.user_by_email(email).await?,
                None => None,
            },
            Some(MergeBy::Username) => match ident.username.as_deref() {
                Some(name) => self.store.user_by_username(name).await?,
                None => None,
            },
            _ => None,
        };
        let Some(user) = found else {
            return Ok(None);
        };
        // An account already linked to another identity of this service is not
        // re-linked (that would hand it to whoever now holds the address), unless
        // the service's identifier is the very attribute matched (`relink`).
        if (user.services.contains_key(&ident.service) && !ident.relink) || user.kind != "user" {
            return Ok(None);
        }
        Ok(Some(user))
    }

    /// Joins the mapped channels, creating missing ones as the channels admin (the
    /// user when that account does not exist). A failure is logged, not fatal: the
    /// sign-in itself succeeded.
    async fn join_mapped_channels(&self, user: &User, sync: &ChannelSync) {
        let creator = match self.store.user_by_username(&sync.admin).await {
            Ok(Some(c)) if c.active => c,
            _ => {
                tracing::warn!(admin = %sync.admin, "channels admin not found; the user creates mapped channels");
                user.clone()
            }
        };
        for name in &sync.names {
            let name = name.trim().trim_start_matches('#');
            if name.is_empty() {
                continue;
            }
            match self.ensure_member_by_name(user, name, &creator).await {
                Ok(true) => {
                    tracing::info!(user_id = %user.id, channel = name, "joined a mapped channel")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(user_id = %user.id, channel = name, error = %e, "cannot join a mapped channel")
                }
            }
        }
    }

    /// The provider's picture as the avatar, fetched when its URL changed since the
    /// last sign-in (kept in the service link). A failure is logged, not fatal.
    async fn avatar_from_provider(&self, user: User, service: &str, url: &str) -> User {
        let same = user
            .services
            .get(service)
            .and_then(|l| l.extra.get(AVATAR_URL))
            .and_then(Value::as_str)
            == Some(url);
        if same && user.avatar_origin.as_deref() == Some(AVATAR_ORIGIN) {
            return user;
        }
        match self.set_avatar_from_url(&user, url, AVATAR_ORIGIN).await {
            Ok(updated) => {
                let mut fields = Map::new();
                fields.insert(AVATAR_URL.into(), json!(url));
                match self.update_service_fields(&updated, service, fields).await {
                    Ok(u) => u,
                    Err(e) => {
                        tracing::warn!(user_id = %user.id, error = %e, "cannot record the avatar URL");
                        updated
                    }
                }
            }
            Err(e) => {
                tracing::warn!(user_id = %user.id, service, error = %e, "provider's avatar refused");
                user
            }
        }
    }

    async fn link(&self, mut user: User, ident: &ExternalIdentity) -> ChatResult<User> {
        user.services.insert(ident.service.clone(), new_link(ident));
        user.updated_at = Ts::now();
        self.store.update_user(&user).await?;
        tracing::info!(user_id = %user.id, service = %ident.service, "existing account linked on first sign-in");
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(user)
    }

    async fn create_external(&self, ident: &ExternalIdentity) -> ChatResult<User> {
        let email = match ident.email.as_deref() {
            Some(e)
                if validate_email(e).is_ok() && self.store.user_by_email(e).await?.is_none() =>
            {
                Some(e.to_lowercase())
            }
            _ => None,
        };
        let base = username_base(ident, email.as_deref());
        let now = Ts::now();
        let mut user = User {
            avatar_etag: None,
            avatar_origin: None,
            avatar_file_id: None,
            invite_token: None,
            require_password_change_reason: None,
            id: ids::new_id(),
            username: String::new(),
            name: ident.name.clone().unwrap_or_default(),
            emails: email
                .iter()
                .map(|a| Email {
                    address: a.clone(),
                    verified: ident.email_verified,
                })
                .collect(),
            roles: if ident.initial_roles.is_empty() {
                vec![roles::USER.to_string()]
            } else {
                ident.initial_roles.clone()
            },
            active: true,
            kind: "user".into(),
            created_at: now,
            updated_at: now,
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
        };
        user.services.insert(ident.service.clone(), new_link(ident));
        // A taken username gets a number, as other sign-ins of the same person
        // elsewhere must not be blocked by a local account's name.
        for n in 0..50u32 {
            let candidate = if n == 0 {
                base.clone()
            } else {
                format!("{base}.{}", n + 1)
            };
            if validate_username(&candidate).is_err() {
                continue;
            }
            user.username = candidate;
            if user.name.trim().is_empty() {
                user.name = user.username.clone();
            }
            match self.store.create_user(&user, None).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id, username = %user.username, service = %ident.service, "user created from an external identity");
                    self.bus.publish(Event::UserCreated { user: user.clone() });
                    self.join_default_channels(&user).await?;
                    return Ok(user);
                }
                Err(StoreError::Conflict("username")) => continue,
                // The same person signing in twice at once: the other login won.
                Err(StoreError::Conflict("service")) => {
                    return self
                        .store
                        .user_by_service(&ident.service, &ident.id)
                        .await?
                        .ok_or(ChatError::Store(StoreError::Conflict("service")));
                }
                Err(StoreError::Conflict("email")) => {
                    user.emails.clear();
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ChatError::refused(
            "error-field-unavailable",
            format!("No free username like {base:?}"),
        ))
    }

    /// Gives the roles the claim names (global roles that exist) and takes away
    /// those it no longer names among the ones this provider gave before and the
    /// managed ones. `user` is always kept so the account stays usable.
    async fn sync_external_roles(
        &self,
        mut user: User,
        service: &str,
        sync: &RoleSync,
    ) -> ChatResult<User> {
        let known: Vec<String> = self
            .store
            .roles()
            .await?
            .into_iter()
            .filter(|r| r.scope == RoleScope::Users)
            .map(|r| r.id)
            .collect();
        let claimed: Vec<String> = sync
            .claimed
            .iter()
            .filter(|r| known.contains(r))
            .cloned()
            .collect();
        let link = user.services.get(service).cloned().unwrap_or_default();
        let before: Vec<String> = link
            .extra
            .get(GRANTED)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut roles: Vec<String> = user
            .roles
            .iter()
            .filter(|r| {
                claimed.contains(r)
                    || r.as_str() == roles::USER
                    || !(before.contains(r) || sync.managed.contains(r))
            })
            .cloned()
            .collect();
        let mut granted = Vec::new();
        for r in &claimed {
            if !user.roles.contains(r) || before.contains(r) {
                granted.push(r.clone());
            }
            if !roles.contains(r) {
                roles.push(r.clone());
            }
        }
        let mut link = link;
        link.extra.insert(GRANTED.into(), json!(granted));
        let changed_roles = roles != user.roles;
        let changed_link = user.services.get(service) != Some(&link);
        if !changed_roles && !changed_link {
            return Ok(user);
        }
        let added: Vec<String> = roles
            .iter()
            .filter(|r| !user.roles.contains(r))
            .cloned()
            .collect();
        let removed: Vec<String> = user
            .roles
            .iter()
            .filter(|r| !roles.contains(r))
            .cloned()
            .collect();
        user.roles = roles;
        user.services.insert(service.to_string(), link);
        user.updated_at = Ts::now();
        self.store.update_user(&user).await?;
        for (list, was_added) in [(&added, true), (&removed, false)] {
            for role_id in list {
                tracing::info!(user_id = %user.id, role_id = %role_id, added = was_added, service, "role from the provider's claim");
                self.bus.publish(Event::UserRoleChanged {
                    role_id: role_id.clone(),
                    user: user.as_ref(),
                    added: was_added,
                    scope: None,
                });
            }
        }
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(user)
    }
}

fn new_link(ident: &ExternalIdentity) -> ServiceLink {
    let mut extra = Map::new();
    if let Some(e) = &ident.email {
        extra.insert("email".into(), json!(e));
    }
    if let Some(u) = &ident.username {
        extra.insert("username".into(), json!(u));
    }
    ServiceLink {
        id: ident.id.clone(),
        extra,
    }
}

/// A username from the provider's, else the e-mail's local part, else the
/// service and a short id; characters Palaver's names refuse become `.`.
fn username_base(ident: &ExternalIdentity, email: Option<&str>) -> String {
    let raw = ident
        .username
        .clone()
        .or_else(|| email.and_then(|e| e.split('@').next()).map(str::to_string))
        .unwrap_or_else(|| {
            format!(
                "{}.{}",
                ident.service,
                ident.id.chars().take(8).collect::<String>()
            )
        });
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('.').to_string();
    if cleaned.is_empty() {
        format!("{}.user", ident.service)
    } else {
        cleaned
    }
}
