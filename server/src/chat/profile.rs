//! Self-service accounts: registration, a user's own profile, preferences and
//! account deletion, admin deletion, and the lookups clients offer while typing
//! (username suggestion, user autocomplete).
//!
//! Deleting an account removes the user, their tokens and their subscriptions;
//! their messages stay, still showing their name (Rocket.Chat's
//! `Message_ErasureType` "Keep"). Rooms they were the last owner of keep going
//! without an owner once the caller confirms with `confirmRelinquish`.

use serde_json::{Map, Value};

use super::accounts::{validate_email, validate_username, NewUser};
use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::login::Password;
use super::password_policy::PasswordPolicy;
use super::permissions::Perm;
use super::preferences;
use super::Chat;
use crate::store::{Ts, User};

/// A `users.register` form.
#[derive(Clone, Debug, Default)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub pass: String,
    pub name: String,
    /// The secret a `Secret URL` registration form asks for.
    pub secret: Option<String>,
    /// Checked against `Accounts_CustomFields`.
    pub custom_fields: Option<Map<String, Value>>,
}

/// A `users.updateOwnBasicInfo` change; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct BasicInfo {
    pub email: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub nickname: Option<String>,
    pub bio: Option<String>,
    /// The status text; refused when `Accounts_AllowUserStatusMessageChange` is off.
    pub status_text: Option<String>,
    pub new_password: Option<String>,
    /// The current password (plain, or its SHA-256 hex as Rocket.Chat's clients send).
    pub current_password: Option<String>,
}

const MAX_BIO_CHARS: usize = 260;
const MAX_NICKNAME_CHARS: usize = 120;

/// A password a client typed: Rocket.Chat's clients send its SHA-256 in hex.
fn typed_password(p: &str) -> Password {
    if p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()) {
        Password::Sha256Hex(p.to_ascii_lowercase())
    } else {
        Password::Plain(p.to_string())
    }
}

fn not_allowed(what: &str) -> ChatError {
    ChatError::refused("error-action-not-allowed", format!("{what} is not allowed"))
}

impl Chat {
    /// The password policy as the settings define it now.
    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy::from_settings(self.settings())
    }

    /// Self-registration (`users.register`), as `Accounts_RegistrationForm` allows:
    /// `Public`, `Secret URL` (with the secret or a usable invite token) or
    /// `Disabled`. The password must meet
    /// the policy; with `Accounts_ManuallyApproveNewUsers` the account starts
    /// deactivated.
    pub async fn register(&self, form: Registration) -> ChatResult<User> {
        let settings = self.settings();
        match settings.string("Accounts_RegistrationForm").as_str() {
            "Public" => {}
            "Secret URL" => {
                // The workspace's secret, or (as Rocket.Chat's `registerUser`) the
                // token of an invite link that can still be used. The invite is
                // not used up here: the new user joins its room with
                // `useInviteToken` once logged in, as Rocket.Chat's clients do.
                let secret = settings.string("Accounts_RegistrationForm_SecretURL");
                let given = form.secret.as_deref().filter(|s| !s.is_empty());
                let by_secret = !secret.is_empty() && given == Some(secret.as_str());
                let by_invite = match given {
                    Some(token) if !by_secret => match self.validate_invite_token(token).await {
                        Ok(_) => true,
                        Err(ChatError::Store(e)) => return Err(e.into()),
                        Err(_) => false,
                    },
                    _ => false,
                };
                if !by_secret && !by_invite {
                    return Err(ChatError::refused(
                        "error-user-registration-secret",
                        "User registration is only allowed via Secret URL",
                    ));
                }
            }
            _ => {
                return Err(ChatError::refused(
                    "error-user-registration-disabled",
                    "User registration is disabled",
                ))
            }
        }
        // Rocket.Chat's `users.register` answers these with bare failures.
        super::user_update::validate_name_chars(&form.name)?;
        if validate_username(&form.username).is_err() {
            return Err(ChatError::invalid("The username provided is not valid"));
        }
        self.check_new_username(&form.username)?;
        if self.store.user_by_username(&form.username).await?.is_some() {
            return Err(ChatError::invalid("Username is already in use"));
        }
        let custom_fields = match &form.custom_fields {
            Some(given) => self.check_custom_fields(given)?,
            None => None,
        };
        validate_email(&form.email)?;
        self.password_policy().check(&form.pass)?;
        let approve = settings.bool("Accounts_ManuallyApproveNewUsers");
        let user = self
            .insert_user(NewUser {
                username: form.username,
                name: form.name,
                email: form.email.trim().to_string(),
                password: form.pass,
                active: Some(!approve),
                custom_fields,
                ..Default::default()
            })
            .await?;
        tracing::info!(user_id = %user.id, "user registered");
        if settings.bool("Accounts_EmailVerification") {
            if let Some(address) = user.emails.first().map(|e| e.address.clone()) {
                // The account exists either way; a link can be asked for again.
                if let Err(e) = self.send_verification(&user, &address).await {
                    tracing::warn!(user_id = %user.id, error = %e, "verification mail not queued");
                }
            }
        }
        Ok(user)
    }

    /// A user changing their own profile (`users.updateOwnBasicInfo`), within what
    /// the `Accounts_Allow*Change` settings allow. Changing the e-mail or the
    /// password needs the current password; a new password must meet the policy
    /// and differ from the current one, and ends the user's other sessions.
    pub async fn update_own_basic_info(
        &self,
        actor: &User,
        token_hash: &str,
        info: BasicInfo,
    ) -> ChatResult<User> {
        let settings = self.settings();
        if !settings.bool("Accounts_AllowUserProfileChange") {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        let before = self.find_user(Some(&actor.id), None).await?;
        let mut user = before.clone();
        let current_email = user.emails.first().map(|e| e.address.clone());
        let email = info
            .email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| current_email.as_deref() != Some(e.as_str()));
        let name = info
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| *n != user.name);
        let username = info
            .username
            .map(|u| u.trim().to_string())
            .filter(|u| *u != user.username);
        if name.as_deref() == Some("") {
            // Rocket.Chat's `saveUserIdentity` refuses a name of only blanks.
            return Err(ChatError::refused(
                "error-could-not-save-identity",
                "Could not save user identity",
            ));
        }
        if info.status_text.is_some() && !settings.bool("Accounts_AllowUserStatusMessageChange") {
            return Err(ChatError::refused(
                "error-not-allowed",
                "Change status is not allowed",
            ));
        }
        if name.is_some() && !settings.bool("Accounts_AllowRealNameChange") {
            return Err(not_allowed("Editing user real name"));
        }
        if username.is_some() && !settings.bool("Accounts_AllowUsernameChange") {
            return Err(not_allowed("Editing username"));
        }
        if email.is_some() && !settings.bool("Accounts_AllowEmailChange") {
            return Err(not_allowed("Editing user email"));
        }
        if info.new_password.is_some() && !settings.bool("Accounts_AllowPasswordChange") {
            return Err(not_allowed("Editing user password"));
        }
        if info.new_password.is_some() {
            super::external_accounts::refuse_local_password(&before)?;
        }
        // Rocket.Chat's second factor for these changes, whose fallback is the
        // current password; none while two-factor authentication is off.
        let second_factor = settings.bool("Accounts_TwoFactorAuthentication_Enabled");
        if second_factor && (email.is_some() || info.new_password.is_some()) {
            let Some(current) = info.current_password.as_deref().filter(|p| !p.is_empty()) else {
                return Err(ChatError::refused(
                    "totp-required",
                    "TOTP Required: enter your current password",
                ));
            };
            if !self
                .verify_user_password(&before, &typed_password(current))
                .await?
            {
                return Err(ChatError::refused("totp-invalid", "TOTP Invalid"));
            }
        }
        if let Some(username) = username {
            validate_username(&username)?;
            self.check_renamed_username(&username)?;
            if let Some(other) = self.store.user_by_username(&username).await? {
                if other.id != user.id {
                    return Err(ChatError::refused(
                        "error-field-unavailable",
                        format!("{username} is already in use :("),
                    ));
                }
            }
            user.username = username;
        }
        if let Some(name) = name {
            user.name = name;
        }
        if let Some(email) = email {
            validate_email(&email)?;
            user.emails = vec![crate::store::Email {
                address: email,
                verified: false,
            }];
        }
        if let Some(bio) = info.bio {
            if bio.chars().count() > MAX_BIO_CHARS {
                return Err(ChatError::refused(
                    "error-bio-size-exceeded",
                    format!("Bio size exceeds {MAX_BIO_CHARS} characters"),
                ));
            }
            user.bio = Some(bio.trim().to_string()).filter(|b| !b.is_empty());
        }
        if let Some(nickname) = info.nickname {
            if nickname.chars().count() > MAX_NICKNAME_CHARS {
                return Err(ChatError::refused(
                    "error-nickname-size-exceeded",
                    format!("Nickname size exceeds {MAX_NICKNAME_CHARS} characters"),
                ));
            }
            user.nickname = Some(nickname.trim().to_string()).filter(|n| !n.is_empty());
        }
        let new_hash = match &info.new_password {
            Some(p) => {
                if self
                    .verify_user_password(&before, &Password::Plain(p.clone()))
                    .await?
                {
                    return Err(ChatError::refused(
                        "error-password-same-as-current",
                        "Entered password same as current password",
                    ));
                }
                self.password_policy().check(p)?;
                Some(self.hash_password(&Password::Plain(p.clone())).await?)
            }
            None => None,
        };
        user.updated_at = Ts::now();
        self.store.update_user(&user).await.map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => ChatError::refused(
                "error-field-unavailable",
                "The username or e-mail is already in use :(",
            ),
            other => other.into(),
        })?;
        if let Some(hash) = new_hash {
            self.store.set_password_hash(&user.id, &hash).await?;
            self.end_other_sessions(&user, token_hash).await?;
        }
        if let Some(text) = &info.status_text {
            self.set_status_text(&user.id, text).await?;
            user.status_text = Some(text.trim().to_string()).filter(|t| !t.is_empty());
        }
        tracing::info!(user_id = %user.id, "own profile updated");
        if user.username != before.username || user.name != before.name {
            self.refresh_direct_names(&user).await?;
        }
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(user)
    }

    /// Revokes every token of `user` but the one in use.
    async fn end_other_sessions(&self, user: &User, keep_hash: &str) -> ChatResult<()> {
        let keep = self.store.token(keep_hash).await?;
        self.store.delete_user_tokens(&user.id).await?;
        if let Some(token) = keep {
            self.store.insert_token(&token).await?;
        }
        Ok(())
    }

    /// The user's preferences with the defaults filled in (`/me`, `users.getPreferences`).
    pub fn preferences_of(&self, user: &User) -> Map<String, Value> {
        preferences::effective(&user.settings.preferences)
    }

    /// `users.setPreferences`: the caller's own, or another user's for admins.
    pub async fn set_preferences(
        &self,
        actor: &User,
        user_id: Option<&str>,
        changes: Map<String, Value>,
    ) -> ChatResult<User> {
        let target_id = user_id.unwrap_or(&actor.id);
        if target_id != actor.id
            && !self
                .has_permission(actor, Perm::EDIT_OTHER_USER_INFO, None)
                .await?
        {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Editing user is not allowed",
            ));
        }
        preferences::validate(&changes)?;
        let mut user = self.store.user_by_id(target_id).await?.ok_or_else(|| {
            ChatError::refused(
                "error-invalid-user",
                "The optional \"userId\" param provided does not match any users",
            )
        })?;
        for (k, v) in changes {
            user.settings.preferences.insert(k, v);
        }
        user.updated_at = Ts::now();
        self.store.update_user(&user).await?;
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(user)
    }

    /// `users.deleteOwnAccount`: needs `Accounts_AllowDeleteOwnAccount` and the
    /// user's password.
    pub async fn delete_own_account(
        &self,
        actor: &User,
        password: &str,
        confirm_relinquish: bool,
    ) -> ChatResult<()> {
        if !self.settings().bool("Accounts_AllowDeleteOwnAccount") {
            return Err(ChatError::refused("error-not-allowed", "Not allowed"));
        }
        if !self
            .verify_user_password(actor, &typed_password(password))
            .await?
        {
            return Err(ChatError::refused(
                "error-invalid-password",
                "Invalid password",
            ));
        }
        self.remove_account(actor, actor, confirm_relinquish).await
    }

    /// `users.delete` (admins).
    pub async fn delete_user(
        &self,
        actor: &User,
        user: &User,
        confirm_relinquish: bool,
    ) -> ChatResult<()> {
        // Rocket.Chat's endpoint checks `delete-user` itself: a bare `unauthorized`.
        if !self.has_permission(actor, Perm::DELETE_USER, None).await? {
            return Err(ChatError::unauthorized_bare());
        }
        self.remove_account(actor, user, confirm_relinquish).await
    }

    /// Deletes `user`: refused if it would leave no active admin, or (unless
    /// confirmed) if they are the last owner of rooms others still use. Their
    /// subscriptions go, then the account and its tokens; their messages stay.
    async fn remove_account(
        &self,
        actor: &User,
        user: &User,
        confirm_relinquish: bool,
    ) -> ChatResult<()> {
        let mut gone = user.clone();
        gone.active = false;
        self.keep_an_admin(user, &gone).await?;
        let last_owned = self.last_owned_rooms(user).await?;
        if !last_owned.is_empty() {
            if !confirm_relinquish {
                return Err(Chat::last_owner_error());
            }
            self.hand_over_ownership(user, &last_owned).await?;
        }
        let (subs, _) = self.subscriptions_since(user, None).await?;
        let mut rooms = Vec::with_capacity(subs.len());
        for sub in &subs {
            if let Some(room) = self.store.room_by_id(&sub.rid).await? {
                rooms.push(room);
            }
        }
        for room in rooms {
            if self.store.remove_subscription(&room.id, &user.id).await? {
                let room = self.store.room_by_id(&room.id).await?.unwrap_or(room);
                self.bus.publish(Event::UserLeft {
                    room,
                    user: user.clone(),
                });
            }
        }
        // Realtime sessions of the account end as for a deactivation.
        self.bus.publish(Event::UserUpdated { user: gone });
        self.store.delete_user(&user.id).await?;
        self.remove_user_avatar(user).await;
        self.store
            .delete_push_devices(&crate::store::push::PushDeviceFilter::User(user.id.clone()))
            .await?;
        tracing::info!(user_id = %user.id, actor = %actor.id, "user deleted");
        Ok(())
    }

    /// A free username for `user` (`users.getUsernameSuggestion`): from their name,
    /// else their e-mail, with a number added until one is free.
    pub async fn username_suggestion(&self, user: &User) -> ChatResult<String> {
        let slug = |s: &str| -> String {
            let mut out = String::new();
            for c in s.trim().chars() {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    out.push(c.to_ascii_lowercase());
                } else if (c.is_whitespace() || c == '@') && !out.ends_with('.') && !out.is_empty()
                {
                    out.push('.');
                }
            }
            out.trim_matches('.').chars().take(48).collect()
        };
        let mut bases: Vec<String> = vec![slug(&user.name)];
        if let Some(email) = user.emails.first() {
            bases.push(slug(email.address.split('@').next().unwrap_or_default()));
        }
        bases.push("user".into());
        for base in bases.into_iter().filter(|b| !b.is_empty()) {
            for n in 0..100u32 {
                let candidate = if n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                };
                if validate_username(&candidate).is_err() {
                    break;
                }
                if self.username_blocked(&candidate).is_some() {
                    continue;
                }
                match self.store.user_by_username(&candidate).await? {
                    None => return Ok(candidate),
                    Some(u) if u.id == user.id => return Ok(candidate),
                    Some(_) => {}
                }
            }
        }
        Ok(format!("user-{}", super::ids::new_id().to_lowercase()))
    }
}
