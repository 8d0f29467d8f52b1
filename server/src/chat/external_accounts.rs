//! Accounts whose identity lives elsewhere (a directory, an identity provider):
//! created without a password, kept in line with their source, logged in once the
//! source vouched for them. The identity modules decide *who*; this decides what
//! that does to the account, with the same events as any other change.

use std::net::IpAddr;

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::login::LoginOutcome;
use super::ratelimit::address_key;
use super::rooms::NewRoom;
use super::Chat;
use crate::store::{roles, Email, RoomType, Ts, User};

/// The `services` key of accounts whose password is the directory's (LDAP).
pub const DIRECTORY_SERVICE: &str = "ldap";

/// Refuses a local password for a directory account: its password is checked by
/// the directory only and never stored here.
pub(super) fn refuse_local_password(user: &User) -> ChatResult<()> {
    if user.services.contains_key(DIRECTORY_SERVICE) {
        return Err(ChatError::refused(
            "error-action-not-allowed",
            "This account signs in with the directory (LDAP): its password is changed there",
        ));
    }
    Ok(())
}

/// An account as its source describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalProfile {
    pub username: String,
    pub name: String,
    pub email: Option<String>,
}

impl Chat {
    /// Counts a login attempt against the per-address and per-account limiters,
    /// as a password login does.
    pub fn hit_login_limits(&self, client_ip: Option<IpAddr>, account: &str) -> ChatResult<()> {
        if let Some(ip) = client_ip {
            self.login_ip_limiter.hit(&address_key(ip), Ts::now())?;
        }
        self.login_user_limiter
            .hit(&format!("external:{}", account.to_lowercase()), Ts::now())?;
        Ok(())
    }

    /// A new account without a password (nobody can log in to it locally), joined to
    /// the default channels. `prepare` adds the source's link before it is stored.
    pub async fn create_external_user(
        &self,
        profile: &ExternalProfile,
        prepare: impl FnOnce(&mut User),
    ) -> ChatResult<User> {
        super::accounts::validate_username(&profile.username)?;
        let now = Ts::now();
        let mut user = User {
            avatar_etag: None,
            avatar_origin: None,
            avatar_file_id: None,
            invite_token: None,
            require_password_change_reason: None,
            id: ids::new_id(),
            username: profile.username.clone(),
            name: if profile.name.trim().is_empty() {
                profile.username.clone()
            } else {
                profile.name.trim().to_string()
            },
            emails: profile
                .email
                .iter()
                .map(|e| Email {
                    address: e.to_lowercase(),
                    verified: true,
                })
                .collect(),
            roles: vec![roles::USER.to_string()],
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
        prepare(&mut user);
        self.store
            .create_user(&user, None)
            .await
            .map_err(|e| super::accounts::map_conflict(e, &user.username, ""))?;
        tracing::info!(user_id = %user.id, username = %user.username, "external user created");
        self.bus.publish(Event::UserCreated { user: user.clone() });
        self.join_default_channels(&user).await?;
        Ok(user)
    }

    /// Stores `user` as its source now describes it (profile, roles, active). A
    /// deactivation ends every session and realtime connection at once; the
    /// role events go out as for an admin's change.
    pub async fn save_external_user(&self, before: &User, user: &mut User) -> ChatResult<()> {
        if before == user {
            return Ok(());
        }
        user.updated_at = Ts::now();
        let email = user
            .emails
            .first()
            .map(|e| e.address.clone())
            .unwrap_or_default();
        self.store
            .update_user(user)
            .await
            .map_err(|e| super::accounts::map_conflict(e, &user.username, &email))?;
        if !user.active {
            self.store.delete_user_tokens(&user.id).await?;
        }
        for role in &user.roles {
            if !before.has_role(role) {
                self.bus.publish(Event::UserRoleChanged {
                    role_id: role.clone(),
                    user: user.as_ref(),
                    added: true,
                    scope: None,
                });
            }
        }
        for role in &before.roles {
            if !user.has_role(role) {
                self.bus.publish(Event::UserRoleChanged {
                    role_id: role.clone(),
                    user: user.as_ref(),
                    added: false,
                    scope: None,
                });
            }
        }
        tracing::info!(user_id = %user.id, active = user.active, "external user updated");
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(())
    }

    /// The user linked to `id` at the external `service`.
    pub async fn user_by_service(&self, service: &str, id: &str) -> ChatResult<Option<User>> {
        Ok(self.store.user_by_service(service, id).await?)
    }

    /// The user with id `id`, if there is one.
    pub async fn user_by_id(&self, id: &str) -> ChatResult<Option<User>> {
        Ok(self.store.user_by_id(id).await?)
    }

    /// The user named `username` (any case), if there is one.
    pub async fn user_named(&self, username: &str) -> ChatResult<Option<User>> {
        Ok(self.store.user_by_username(username).await?)
    }

    /// Every account linked to `service`, for a directory sync.
    pub async fn users_of_service(&self, service: &str) -> ChatResult<Vec<User>> {
        Ok(self.store.users_of_service(service).await?)
    }

    /// Which of `role_ids` exist as global roles (a map may name a role that does not).
    pub async fn existing_user_roles(&self, role_ids: &[String]) -> ChatResult<Vec<String>> {
        let known = self.store.roles().await?;
        Ok(role_ids
            .iter()
            .filter(|r| {
                known
                    .iter()
                    .any(|k| &k.id == *r && k.scope == crate::store::role_store::RoleScope::Users)
            })
            .cloned()
            .collect())
    }

    /// Logs in a user their source has vouched for.
    pub async fn login_vouched(&self, user: User) -> ChatResult<LoginOutcome> {
        if !user.active {
            return Err(ChatError::refused(
                "error-user-is-not-activated",
                "User is not activated",
            ));
        }
        self.issue_token(user).await
    }

    /// Makes `user` a member of the channel or group named `name`, creating a public
    /// channel (by `creator`) when there is none. `Ok(true)` when it added them.
    pub async fn ensure_member_by_name(
        &self,
        user: &User,
        name: &str,
        creator: &User,
    ) -> ChatResult<bool> {
        match self.store.room_by_name(name).await? {
            Some(room) if room.t == RoomType::Direct => Ok(false),
            Some(room) => {
                if self.store.subscription(&room.id, &user.id).await?.is_some() {
                    return Ok(false);
                }
                self.add_member(creator, &room, user, "au").await?;
                Ok(true)
            }
            None => {
                let room = self
                    .create_room(
                        creator,
                        NewRoom {
                            kind: RoomType::Channel,
                            name: name.to_string(),
                            members: vec![user.username.clone()],
                            read_only: false,
                            topic: None,
                            description: None,
                            custom_fields: None,
                            team_id: None,
                        },
                    )
                    .await?;
                tracing::info!(room_id = %room.id, "channel created for a directory group");
                Ok(true)
            }
        }
    }

    /// Takes `user` out of the room named `name`, if they are in it.
    pub async fn remove_member_by_name(&self, user: &User, name: &str) -> ChatResult<bool> {
        let Some(room) = self.store.room_by_name(name).await? else {
            return Ok(false);
        };
        if self.store.subscription(&room.id, &user.id).await?.is_none() {
            return Ok(false);
        }
        self.leave_room(user, &room.id).await?;
        Ok(true)
    }
}
