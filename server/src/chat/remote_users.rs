//! Users mirrored from another network (the Matrix bridge's remote users): they
//! have no password and no login, post through the bridge only, and carry where
//! they come from in `nickname` and `bio` so clients show it.

use super::accounts::validate_username;
use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::{ids, Chat};
use crate::store::roles;
use crate::store::{Ts, User};

impl Chat {
    /// The remote user `username` (created if missing, its name brought up to date).
    /// `origin` is their address on the other network (`@alice:example.org`).
    /// Refuses a username a local account holds.
    pub async fn ensure_remote_user(
        &self,
        username: &str,
        name: &str,
        origin: &str,
    ) -> ChatResult<User> {
        validate_username(username)?;
        let bio = format!("Remote user {origin} (bridged; cannot log in)");
        if let Some(mut user) = self.store.user_by_username(username).await? {
            if user.nickname.as_deref() != Some(origin) {
                return Err(ChatError::refused(
                    "error-field-unavailable",
                    format!("{username} is already in use"),
                ));
            }
            if user.name != name {
                user.name = name.to_string();
                user.updated_at = Ts::now();
                self.store.update_user(&user).await?;
                self.bus.publish(Event::UserUpdated { user: user.clone() });
            }
            return Ok(user);
        }
        let now = Ts::now();
        let user = User {
            avatar_etag: None,
            avatar_origin: None,
            avatar_file_id: None,
            invite_token: None,
            require_password_change_reason: None,
            id: ids::new_id(),
            username: username.to_string(),
            name: name.to_string(),
            emails: Vec::new(),
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
            bio: Some(bio),
            nickname: Some(origin.to_string()),
            settings: Default::default(),
            custom_fields: None,
            // Marked with where they come from, as Rocket.Chat marks federated users.
            services: [(
                "matrix".to_string(),
                crate::store::ServiceLink {
                    id: origin.to_string(),
                    extra: Default::default(),
                },
            )]
            .into(),
        };
        self.store.create_user(&user, None).await?;
        tracing::info!(user_id = %user.id, username, origin, "remote user created");
        self.bus.publish(Event::UserCreated { user: user.clone() });
        Ok(user)
    }
}
