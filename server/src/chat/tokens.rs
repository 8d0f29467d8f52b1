//! Personal access tokens and ending sessions: `users.generatePersonalAccessToken`
//! and its siblings, `users.logout`, `users.removeOtherTokens`,
//! `users.logoutOtherClients`. A personal access token is a login token without
//! expiry, named by its owner; like every token only its hash is stored, and it
//! authenticates as `X-User-Id` + `X-Auth-Token` as a session's token does.

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::login::Session;
use super::permissions::Perm;
use super::Chat;
use crate::store::{LoginToken, Ts, User};

/// A personal access token as its owner sees it (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonalToken {
    pub name: String,
    pub created_at: Ts,
    pub last_token_part: String,
    pub bypass_two_factor: bool,
}

/// Rocket.Chat's refusal for every personal token call without the permission.
fn not_authorized() -> ChatError {
    ChatError::refused("not-authorized", "Not Authorized")
}

fn no_such_token() -> ChatError {
    ChatError::refused("error-token-does-not-exists", "Token does not exist")
}

impl Chat {
    async fn require_token_permission(&self, actor: &User) -> ChatResult<()> {
        if self
            .has_permission(actor, Perm::CREATE_PERSONAL_ACCESS_TOKENS, None)
            .await?
        {
            Ok(())
        } else {
            Err(not_authorized())
        }
    }

    async fn personal_token_named(
        &self,
        user_id: &str,
        name: &str,
    ) -> ChatResult<Option<LoginToken>> {
        Ok(self
            .store
            .user_tokens(user_id)
            .await?
            .into_iter()
            .find(|t| t.personal_name.as_deref() == Some(name)))
    }

    /// A new personal access token named `name`; the token is returned once and
    /// only its hash is kept.
    pub async fn generate_personal_token(
        &self,
        actor: &User,
        name: &str,
        bypass_two_factor: bool,
    ) -> ChatResult<String> {
        self.require_token_permission(actor).await?;
        if self.personal_token_named(&actor.id, name).await?.is_some() {
            return Err(ChatError::refused(
                "error-token-already-exists",
                "A token with this name already exists",
            ));
        }
        let token = ids::new_token();
        let last_part: String = token
            .chars()
            .skip(token.chars().count().saturating_sub(6))
            .collect();
        self.store
            .insert_token(&LoginToken {
                hashed: ids::hash_token(&token),
                user_id: actor.id.clone(),
                created_at: Ts::now(),
                expires_at: None,
                personal_name: Some(name.to_string()),
                last_token_part: Some(last_part),
                bypass_two_factor,
            })
            .await?;
        tracing::info!(user_id = %actor.id, token_name = name, "personal access token created");
        Ok(token)
    }

    /// Replaces the token named `name` by a new one (the old one stops working).
    pub async fn regenerate_personal_token(&self, actor: &User, name: &str) -> ChatResult<String> {
        self.require_token_permission(actor).await?;
        let old = self
            .personal_token_named(&actor.id, name)
            .await?
            .ok_or_else(no_such_token)?;
        self.revoke(&actor.id, &old.hashed).await?;
        self.generate_personal_token(actor, name, old.bypass_two_factor)
            .await
    }

    pub async fn remove_personal_token(&self, actor: &User, name: &str) -> ChatResult<()> {
        self.require_token_permission(actor).await?;
        let old = self
            .personal_token_named(&actor.id, name)
            .await?
            .ok_or_else(no_such_token)?;
        self.revoke(&actor.id, &old.hashed).await?;
        tracing::info!(user_id = %actor.id, token_name = name, "personal access token removed");
        Ok(())
    }

    /// The caller's personal access tokens, oldest first.
    pub async fn personal_tokens(&self, actor: &User) -> ChatResult<Vec<PersonalToken>> {
        self.require_token_permission(actor).await?;
        Ok(self
            .store
            .user_tokens(&actor.id)
            .await?
            .into_iter()
            .filter_map(|t| {
                Some(PersonalToken {
                    name: t.personal_name?,
                    created_at: t.created_at,
                    last_token_part: t.last_token_part.unwrap_or_default(),
                    bypass_two_factor: t.bypass_two_factor,
                })
            })
            .collect())
    }

    /// Deletes one token and ends the realtime connections logged in with it.
    async fn revoke(&self, user_id: &str, hashed: &str) -> ChatResult<()> {
        self.store.delete_token(hashed).await?;
        self.bus.publish(Event::LoggedOut {
            user_id: user_id.to_string(),
            token_hash: hashed.to_string(),
        });
        Ok(())
    }

    /// Ends every login session of the caller but this one (personal access tokens
    /// stay): `users.removeOtherTokens`, `users.logoutOtherClients`,
    /// `logoutOtherClients`. Returns the kept token's expiry.
    pub async fn end_other_sessions_of(&self, session: &Session) -> ChatResult<Option<Ts>> {
        let ended = self
            .store
            .delete_sessions_except(&session.user.id, &session.token_hash)
            .await?;
        for hash in &ended {
            self.bus.publish(Event::LoggedOut {
                user_id: session.user.id.clone(),
                token_hash: hash.clone(),
            });
        }
        tracing::info!(user_id = %session.user.id, sessions = ended.len(), "other sessions ended");
        Ok(self
            .store
            .token(&session.token_hash)
            .await?
            .and_then(|t| t.expires_at))
    }

    /// `users.logout`: ends every token of `user_id` (the caller when `None`);
    /// another user's need `logout-other-user`. Returns the user's id.
    pub async fn logout_user(&self, actor: &User, user_id: Option<&str>) -> ChatResult<String> {
        let target = user_id.filter(|id| !id.is_empty()).unwrap_or(&actor.id);
        if target != actor.id {
            if !self
                .has_permission(actor, Perm::LOGOUT_OTHER_USER, None)
                .await?
            {
                return Err(ChatError::unauthorized_bare());
            }
            if self.store.user_by_id(target).await?.is_none() {
                return Err(ChatError::refused(
                    "error-invalid-user-id",
                    "Invalid user id",
                ));
            }
        }
        let tokens = self.store.user_tokens(target).await?;
        self.store.delete_user_tokens(target).await?;
        for t in tokens {
            self.bus.publish(Event::LoggedOut {
                user_id: target.to_string(),
                token_hash: t.hashed,
            });
        }
        tracing::info!(user_id = %target, actor = %actor.id, "user logged out everywhere");
        Ok(target.to_string())
    }
}
