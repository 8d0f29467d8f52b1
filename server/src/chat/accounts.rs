//! Accounts: users, their creation and changes, bot users and the admin bootstrap
//! (logins and sessions are in `login`).

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
pub use super::login::{LoginIdent, LoginOutcome, Password, Session};
use super::permissions::Perm;
use super::Chat;
use crate::store::{roles, Email, Listing, Page, Sort, StoreError, Ts, User};

/// Fields for a new account.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    /// The account's id; generated when none (only the first admin's may be
    /// configured, see `admin_id`).
    pub id: Option<String>,
    pub username: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    pub verified: bool,
    pub require_password_change: bool,
    pub bot: bool,
    /// As submitted; checked against `Accounts_CustomFields` by `create_user`.
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Leaves the default channels alone (`users.create` with
    /// `joinDefaultChannels: false`); everyone else joins them.
    pub skip_default_channels: bool,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserPatch {
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    pub verified: Option<bool>,
    pub require_password_change: Option<bool>,
    pub bio: Option<String>,
    pub nickname: Option<String>,
    pub status_text: Option<String>,
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

pub fn validate_username(username: &str) -> ChatResult<()> {
    let ok = (1..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ChatError::refused(
            "error-invalid-username",
            format!("Invalid username {username:?}: use 1 to 64 letters, digits, '.', '_' or '-'"),
        ))
    }
}

pub fn validate_email(email: &str) -> ChatResult<()> {
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if ok {
        Ok(())
    } else {
        Err(ChatError::refused(
            "error-invalid-email",
            format!("Invalid email {email:?}"),
        ))
    }
}

pub(super) fn validate_password(password: &str) -> ChatResult<()> {
    if password.is_empty() {
        return Err(ChatError::invalid("The password must not be empty"));
    }
    if password.len() > 1024 {
        return Err(ChatError::invalid(
            "The password is too long (1024 bytes at most)",
        ));
    }
    Ok(())
}

pub(super) fn map_conflict(e: StoreError, username: &str, email: &str) -> ChatError {
    match e {
        StoreError::Conflict("username") => ChatError::refused(
            "error-field-unavailable",
            format!("{username} is already in use :("),
        ),
        StoreError::Conflict("email") => ChatError::refused(
            "error-field-unavailable",
            format!("{email} is already in use :("),
        ),
        other => ChatError::Store(other),
    }
}

/// Refuses anyone but an administrator.
pub fn require_admin(actor: &User) -> ChatResult<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(ChatError::not_allowed())
    }
}

impl Chat {
    pub async fn create_user(&self, actor: &User, mut new: NewUser) -> ChatResult<User> {
        self.require_permission(actor, Perm::CREATE_USER, None)
            .await?;
        if new.roles.is_some() {
            self.require_permission(actor, Perm::ASSIGN_ROLES, None)
                .await?;
        }
        super::user_update::validate_name_chars(&new.name)?;
        new.custom_fields = match &new.custom_fields {
            Some(given) => self.check_custom_fields(given)?,
            None => None,
        };
        self.check_new_username(&new.username)?;
        self.password_policy().check(&new.password)?;
        self.insert_user(new).await
    }

    /// The roles of an account created without any named
    /// (`Accounts_Registration_Users_Default_Roles`, comma-separated). Roles that
    /// do not exist are skipped, so a mistyped setting cannot stop registration;
    /// `user` when nothing is left.
    async fn new_user_roles(&self) -> ChatResult<Vec<String>> {
        let known = self.store.roles().await?;
        let mut held: Vec<String> = Vec::new();
        let setting = self
            .settings()
            .string("Accounts_Registration_Users_Default_Roles");
        for role in setting.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let exists = known
                .iter()
                .any(|k| k.id == role && k.scope == crate::store::role_store::RoleScope::Users);
            if !exists {
                tracing::warn!(role, "a default role for new users does not exist; skipped");
            } else if !held.iter().any(|h| h == role) {
                held.push(role.to_string());
            }
        }
        if held.is_empty() {
            held.push(roles::USER.to_string());
        }
        Ok(held)
    }

    /// Refuses roles that do not exist (global ones only: room roles are held on
    /// subscriptions).
    pub(super) async fn validate_roles(&self, held: &[String]) -> ChatResult<()> {
        let known = self.store.roles().await?;
        let bad = held.iter().find(|r| {
            !known
                .iter()
                .any(|k| &k.id == *r && k.scope == crate::store::role_store::RoleScope::Users)
        });
        match bad {
            Some(bad) => Err(ChatError::refused(
                "error-invalid-role",
                format!("Unknown role {bad:?}"),
            )),
            None => Ok(()),
        }
    }

    pub(super) async fn insert_user(&self, new: NewUser) -> ChatResult<User> {
        validate_username(&new.username)?;
        validate_email(&new.email)?;
        validate_password(&new.password)?;
        let roles = match new.roles {
            Some(given) => given,
            None if new.bot => vec![roles::BOT.to_string()],
            None => self.new_user_roles().await?,
        };
        self.validate_roles(&roles).await?;
        let now = Ts::now();
        let user = User {
            avatar_etag: None,
            avatar_origin: None,
            avatar_file_id: None,
            invite_token: None,
            require_password_change_reason: None,
            id: new.id.clone().unwrap_or_else(ids::new_id),
            username: new.username.clone(),
            name: if new.name.trim().is_empty() {
                new.username.clone()
            } else {
                new.name.trim().to_string()
            },
            emails: vec![Email {
                // Rocket.Chat keeps the address as given; lookups ignore case.
                address: new.email.trim().to_string(),
                verified: new.verified,
            }],
            roles,
            active: new.active.unwrap_or(true),
            kind: if new.bot { "bot" } else { "user" }.into(),
            created_at: now,
            updated_at: now,
            last_login: None,
            status: None,
            status_connection: None,
            status_default: None,
            status_text: None,
            services: Default::default(),
            require_password_change: new.require_password_change,
            bio: None,
            nickname: None,
            settings: Default::default(),
            custom_fields: new.custom_fields.clone(),
        };
        let hash = self.hash_password(&Password::Plain(new.password)).await?;
        self.store
            .create_user(&user, Some(&hash))
            .await
            .map_err(|e| map_conflict(e, &new.username, &new.email))?;
        tracing::info!(user_id = %user.id, username = %user.username, "user created");
        self.bus.publish(Event::UserCreated { user: user.clone() });
        if !new.skip_default_channels {
            self.join_default_channels(&user).await?;
        }
        Ok(user)
    }

    /// Finds a user by id or username.
    pub async fn find_user(&self, id: Option<&str>, username: Option<&str>) -> ChatResult<User> {
        let found = match (id, username) {
            (Some(id), _) => self.store.user_by_id(id).await?,
            (None, Some(name)) => {
                self.store
                    .user_by_username(name.trim_start_matches('@'))
                    .await?
            }
            (None, None) => {
                return Err(ChatError::refused(
                    "error-user-param-not-provided",
                    "The required \"userId\" or \"username\" param was not provided",
                ))
            }
        };
        found.ok_or_else(ChatError::user_not_found)
    }

    pub async fn list_users(
        &self,
        actor: &User,
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> ChatResult<Listing<User>> {
        // Rocket.Chat's temporary switch: off by default, users.list shows everyone.
        if self
            .settings()
            .bool("API_Apply_permission_view-outside-room_on_users-list")
            && !self
                .has_permission(actor, Perm::VIEW_OUTSIDE_ROOM, None)
                .await?
        {
            return Err(ChatError::unauthorized_bare());
        }
        Ok(self.store.list_users(filter, sort, page).await?)
    }

    /// Refuses a change that would leave no active admin.
    pub(super) async fn keep_an_admin(&self, before: &User, after: &User) -> ChatResult<()> {
        let was = before.is_admin() && before.active;
        let is = after.is_admin() && after.active;
        if !was || is {
            return Ok(());
        }
        // The admins, a range of the role index, a page at a time until another
        // active one turns up: the work is the admins, never the user base.
        const PAGE: u64 = 100;
        let mut admins = 0;
        let mut offset = 0;
        loop {
            let page = self
                .store
                .users_in_role(roles::ADMIN, Page::new(offset, PAGE))
                .await?
                .items;
            let n = page.len() as u64;
            admins += page
                .iter()
                .filter(|u| u.id != before.id && u.is_admin() && u.active)
                .count();
            if admins > 0 || n < PAGE {
                break;
            }
            offset += n;
        }
        if admins == 0 {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Leaving the app without an active admin is not allowed",
            ));
        }
        Ok(())
    }

    /// The bot user an app acts as (created if missing). Bots have no password,
    /// so nobody can log in as one.
    pub async fn ensure_bot_user(&self, username: &str, name: &str) -> ChatResult<User> {
        validate_username(username)?;
        if let Some(user) = self.store.user_by_username(username).await? {
            if !user.has_role(roles::BOT) {
                return Err(ChatError::refused(
                    "error-field-unavailable",
                    format!("{username} is already in use by a person"),
                ));
            }
            if !user.active {
                let mut user = user;
                user.active = true;
                user.updated_at = Ts::now();
                self.store.update_user(&user).await?;
                return Ok(user);
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
            roles: vec![roles::BOT.to_string()],
            active: true,
            kind: "bot".into(),
            created_at: now,
            updated_at: now,
            last_login: None,
            status: None,
            status_connection: None,
            status_default: None,
            status_text: None,
            services: Default::default(),
            require_password_change: false,
            bio: None,
            nickname: None,
            settings: Default::default(),
            custom_fields: None,
        };
        self.store
            .create_user(&user, None)
            .await
            .map_err(|e| map_conflict(e, username, ""))?;
        tracing::info!(user_id = %user.id, username, "bot user created");
        self.bus.publish(Event::UserCreated { user: user.clone() });
        Ok(user)
    }

    /// Deactivates a bot user (its app was uninstalled); its messages stay.
    pub async fn retire_bot_user(&self, user_id: &str) -> ChatResult<()> {
        if let Some(mut user) = self.store.user_by_id(user_id).await? {
            if user.has_role(roles::BOT) && user.active {
                user.active = false;
                user.updated_at = Ts::now();
                self.store.update_user(&user).await?;
                self.store.delete_user_tokens(&user.id).await?;
            }
        }
        Ok(())
    }

    /// On first start with no users, creates the admin (with the configured id, if
    /// any). Returns the user and, when no password was configured, the generated
    /// one (to print once).
    pub async fn bootstrap_admin(
        &self,
        id: Option<&str>,
        username: &str,
        email: &str,
        password: Option<&str>,
    ) -> ChatResult<Option<(User, Option<String>)>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let generated = password.is_none().then(ids::new_password);
        let password = password
            .map(str::to_string)
            .or_else(|| generated.clone())
            .unwrap_or_default();
        let user = self
            .insert_user(NewUser {
                id: id.map(str::to_string),
                username: username.to_string(),
                name: "Administrator".into(),
                email: email.to_string(),
                password,
                roles: Some(vec![roles::ADMIN.into(), roles::USER.into()]),
                verified: true,
                ..Default::default()
            })
            .await?;
        Ok(Some((user, generated)))
    }
}
