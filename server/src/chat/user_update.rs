//! `users.update`: Rocket.Chat's `saveUser` for an existing account. Editing
//! oneself needs no permission; editing another needs `edit-other-user-info`, and
//! each kind of change is further limited by the `Accounts_Allow*Change` settings,
//! which a holder of `edit-other-user-info` (`edit-other-user-password` for
//! passwords) overrides for other people but never for themselves.

use super::accounts::{
    map_conflict, validate_email, validate_password, validate_username, Password, UserPatch,
};
use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::permissions::Perm;
use super::Chat;
use crate::store::presence::PresenceFields;
use crate::store::{roles, Email, Ts, User};

/// Rocket.Chat's limits on the free-text profile fields.
pub const MAX_BIO_LENGTH: usize = 260;
pub const MAX_NICKNAME_LENGTH: usize = 120;

/// Rocket.Chat's `saveUser` refusals: 400, `error-action-not-allowed`.
fn not_allowed(message: &str) -> ChatError {
    ChatError::refused("error-action-not-allowed", message.to_string())
}

/// Rocket.Chat's `validateNameChars`: a display name may not carry markup or
/// path characters.
pub fn validate_name_chars(name: &str) -> ChatResult<()> {
    if name.chars().any(|c| matches!(c, '<' | '>' | '/' | '\\')) {
        return Err(ChatError::invalid("Name contains invalid characters"));
    }
    Ok(())
}

/// Checks a bio or nickname's length; empty means "remove".
fn free_text(
    value: Option<String>,
    max: usize,
    error_type: &'static str,
    what: &str,
) -> ChatResult<Option<Option<String>>> {
    let Some(v) = value else { return Ok(None) };
    if v.trim().is_empty() {
        return Ok(Some(None));
    }
    if v.chars().count() > max {
        return Err(ChatError::refused(
            error_type,
            format!("{what} size exceeds {max} characters"),
        ));
    }
    Ok(Some(Some(v)))
}

impl Chat {
    pub async fn update_user(
        &self,
        actor: &User,
        user_id: &str,
        patch: UserPatch,
        confirm_relinquish: bool,
    ) -> ChatResult<User> {
        let only_active = patch
            == UserPatch {
                active: patch.active,
                ..Default::default()
            };
        if let (true, Some(active)) = (only_active, patch.active) {
            return self
                .set_active_status(actor, user_id, active, confirm_relinquish)
                .await;
        }
        let before = self.find_user(Some(user_id), None).await?;
        let myself = before.id == actor.id;
        let can_info = self
            .has_permission(actor, Perm::EDIT_OTHER_USER_INFO, None)
            .await?;
        let can_password = self
            .has_permission(actor, Perm::EDIT_OTHER_USER_PASSWORD, None)
            .await?;

        // validateUserData
        if patch.verified == Some(true) && myself {
            return Err(not_allowed("Editing email verification is not allowed"));
        }
        if !myself && !can_info {
            return Err(not_allowed("Editing user is not allowed"));
        }
        if let Some(roles) = &patch.roles {
            self.validate_roles(roles)
                .await
                .map_err(|_| not_allowed("The field Roles consist invalid role id"))?;
            if roles.iter().any(|r| r == roles::ADMIN)
                && !self
                    .has_permission(actor, Perm::ASSIGN_ADMIN_ROLE, None)
                    .await?
            {
                return Err(not_allowed("Assigning admin is not allowed"));
            }
        }
        if let Some(username) = &patch.username {
            if validate_username(username).is_err() {
                return Err(ChatError::refused(
                    "error-input-is-not-a-valid-field",
                    format!("{username} is not a valid username"),
                ));
            }
        }
        if let Some(name) = &patch.name {
            validate_name_chars(name)?;
        }

        // validateUserEditing
        let settings = self.settings();
        let may = |setting: &str, override_perm: bool| {
            settings.bool(setting) || (override_perm && !myself)
        };
        if let Some(roles) = &patch.roles {
            let mut old = before.roles.clone();
            let mut new = roles.clone();
            old.sort();
            new.sort();
            if old != new && !self.has_permission(actor, Perm::ASSIGN_ROLES, None).await? {
                return Err(not_allowed("Assign roles is not allowed"));
            }
        }
        if !settings.bool("Accounts_AllowUserProfileChange") && !can_info && !can_password {
            return Err(not_allowed("Edit user profile is not allowed"));
        }
        let changes = |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n != old);
        if changes(&patch.username, &before.username)
            && !may("Accounts_AllowUsernameChange", can_info)
        {
            return Err(not_allowed("Edit username is not allowed"));
        }
        if changes(
            &patch.status_text,
            before.status_text.as_deref().unwrap_or_default(),
        ) && !may("Accounts_AllowUserStatusMessageChange", can_info)
        {
            return Err(not_allowed("Edit user status is not allowed"));
        }
        if changes(&patch.name, &before.name) && !may("Accounts_AllowRealNameChange", can_info) {
            return Err(not_allowed("Edit user real name is not allowed"));
        }
        if let Some(first) = before.emails.first() {
            let new = patch.email.as_ref().map(|e| e.trim().to_string());
            if changes(&new, &first.address) && !may("Accounts_AllowEmailChange", can_info) {
                return Err(not_allowed("Edit user email is not allowed"));
            }
        }
        let password = patch.password.filter(|p| !p.trim().is_empty());
        if password.is_some() && !may("Accounts_AllowPasswordChange", can_password) {
            return Err(not_allowed("Edit user password is not allowed"));
        }

        // The changes.
        let mut user = before.clone();
        if let Some(username) = patch.username {
            if username != before.username {
                self.check_renamed_username(&username)?;
            }
            user.username = username;
        }
        if let Some(name) = patch.name {
            user.name = name.trim().to_string();
        }
        // The status text is presence state, written by its own path below.
        let status_text = patch.status_text.map(|t| t.trim().to_string());
        if let Some(text) = &status_text {
            user.status_text = Some(text.clone()).filter(|t| !t.is_empty());
        }
        if let Some(email) = &patch.email {
            validate_email(email)?;
            user.emails = vec![Email {
                address: email.trim().to_string(),
                verified: patch.verified == Some(true),
            }];
        } else if let (Some(v), Some(first)) = (patch.verified, user.emails.first_mut()) {
            first.verified = v;
        }
        if let Some(bio) = free_text(patch.bio, MAX_BIO_LENGTH, "error-bio-size-exceeded", "Bio")? {
            user.bio = bio;
        }
        if let Some(nickname) = free_text(
            patch.nickname,
            MAX_NICKNAME_LENGTH,
            "error-nickname-size-exceeded",
            "Nickname",
        )? {
            user.nickname = nickname;
        }
        if let Some(given) = &patch.custom_fields {
            if let Some(stored) = self.check_custom_fields(given)? {
                user.custom_fields = Some(stored);
            }
        }
        if let Some(roles) = patch.roles {
            user.roles = roles;
        }
        if let Some(r) = patch.require_password_change {
            user.require_password_change = r;
            if !r {
                user.require_password_change_reason = None;
            }
        }
        self.keep_an_admin(&before, &user).await?;
        // As Rocket.Chat, a password is set only by a holder of
        // `edit-other-user-password` (themselves included); otherwise it is ignored.
        let new_hash = match password.filter(|_| can_password) {
            Some(p) => {
                super::external_accounts::refuse_local_password(&before)?;
                validate_password(&p)?;
                self.password_policy().check(&p)?;
                Some(self.hash_password(&Password::Plain(p)).await?)
            }
            None => None,
        };
        if user != before {
            user.updated_at = Ts::now();
            let email = user
                .emails
                .first()
                .map(|e| e.address.clone())
                .unwrap_or_default();
            self.store
                .update_user(&user)
                .await
                .map_err(|e| map_conflict(e, &user.username, &email))?;
        }
        if let Some(hash) = new_hash {
            self.store.set_password_hash(&user.id, &hash).await?;
        }
        if let Some(text) =
            status_text.filter(|t| Some(t.as_str()) != before.status_text.as_deref())
        {
            let fields = PresenceFields {
                status_text: Some(text),
                ..Default::default()
            };
            self.store
                .set_user_presence(&user.id, &fields, Ts::now())
                .await?;
        }
        tracing::info!(user_id = %user.id, actor = %actor.id, "user updated");
        if user.username != before.username || user.name != before.name {
            self.refresh_direct_names(&user).await?;
        }
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        match patch.active {
            Some(active) => {
                self.apply_active(actor, user, active, confirm_relinquish)
                    .await
            }
            None => Ok(user),
        }
    }
}
