//! Accounts: users, passwords, login tokens and the admin bootstrap.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::password::PasswordError;
use super::ratelimit::address_key;
use super::Chat;
use crate::store::{roles, Email, Listing, LoginToken, Page, Sort, StoreError, Ts, User};

/// How a password login names the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginIdent {
    Username(String),
    Email(String),
    /// The user id (Meteor's `{user: {id}}`).
    Id(String),
}

impl LoginIdent {
    /// Rocket.Chat's `user` field: an e-mail address if it contains `@`.
    pub fn from_user_field(value: &str) -> LoginIdent {
        if value.contains('@') {
            LoginIdent::Email(value.to_string())
        } else {
            LoginIdent::Username(value.to_string())
        }
    }

    /// The per-account limiter's key for a name that matches no account: names
    /// compare case-insensitively, as the lookups do.
    fn unknown_key(&self) -> String {
        match self {
            LoginIdent::Username(u) => format!("username:{}", u.to_lowercase()),
            LoginIdent::Email(e) => format!("email:{}", e.to_lowercase()),
            LoginIdent::Id(id) => format!("id:{id}"),
        }
    }
}

/// The per-account limiter's key for an existing account, however it was named.
fn account_key(user: &User) -> String {
    format!("id:{}", user.id)
}

/// A password as a client sends it: plain, or Meteor's SHA-256 hex digest.
#[derive(Clone, Debug)]
pub enum Password {
    Plain(String),
    Sha256Hex(String),
}

impl Password {
    /// Passwords are stored as argon2id over the SHA-256 hex digest, as Rocket.Chat
    /// (bcrypt over the same digest) does, so digest logins over DDP work.
    fn digest(&self) -> String {
        match self {
            Password::Plain(p) => hex::encode(Sha256::digest(p.as_bytes())),
            Password::Sha256Hex(d) => d.to_ascii_lowercase(),
        }
    }
}

/// A successful login.
#[derive(Clone, Debug)]
pub struct LoginOutcome {
    pub user: User,
    pub token: String,
    pub expires: Ts,
}

/// An authenticated request's identity.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub token_hash: String,
}

/// Fields for a new account.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub username: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    pub verified: bool,
    pub require_password_change: bool,
    pub bot: bool,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    pub verified: Option<bool>,
    pub require_password_change: Option<bool>,
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

fn validate_password(password: &str) -> ChatResult<()> {
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

fn validate_roles(roles: &[String]) -> ChatResult<()> {
    match roles.iter().find(|r| !roles::ALL.contains(&r.as_str())) {
        Some(bad) => Err(ChatError::refused(
            "error-invalid-role",
            format!("Unknown role {bad:?}; known roles: admin, user, bot"),
        )),
        None => Ok(()),
    }
}

impl Chat {
    /// A new stored hash for `password`, computed on the bounded hashing pool.
    async fn hash_password(&self, password: &Password) -> ChatResult<String> {
        self.passwords
            .hash(password.digest())
            .await
            .map_err(password_error)
    }

    /// Whether `password` matches `hash`; `None` (no account, no password) never
    /// matches but costs the same.
    async fn check_password(&self, password: &Password, hash: Option<String>) -> ChatResult<bool> {
        self.passwords
            .verify(password.digest(), hash)
            .await
            .map_err(password_error)
    }
}

fn password_error(e: PasswordError) -> ChatError {
    match e {
        PasswordError::Busy => ChatError::Busy {
            retry_after_secs: 1,
        },
        PasswordError::Failed(detail) => {
            ChatError::Store(StoreError::Backend(format!("password hashing: {detail}")))
        }
    }
}

fn map_conflict(e: StoreError, username: &str, email: &str) -> ChatError {
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
pub(super) fn require_admin(actor: &User) -> ChatResult<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(ChatError::not_allowed())
    }
}

fn unauthorized() -> ChatError {
    ChatError::Unauthorized("Unauthorized".into())
}

impl Chat {
    /// Password login, rate limited per client address (before anything is looked
    /// up) and per account (however it is named: username, e-mail or id, in any
    /// case). An unknown account, one without a password and a wrong password get
    /// the same answer after the same work.
    pub async fn login_with_password(
        &self,
        ident: &LoginIdent,
        password: &Password,
        client_ip: Option<IpAddr>,
    ) -> ChatResult<LoginOutcome> {
        if let Some(ip) = client_ip {
            self.login_ip_limiter.hit(&address_key(ip), Ts::now())?;
        }
        let user = match ident {
            LoginIdent::Username(u) => self.store.user_by_username(u).await?,
            LoginIdent::Email(e) => self.store.user_by_email(e).await?,
            LoginIdent::Id(id) => self.store.user_by_id(id).await?,
        };
        let key = user
            .as_ref()
            .map_or_else(|| ident.unknown_key(), account_key);
        self.login_user_limiter.hit(&key, Ts::now())?;

        let hash = match &user {
            Some(user) => self.store.password_hash(&user.id).await?,
            None => None,
        };
        let matches = self.check_password(password, hash).await?;
        let user = match user {
            Some(user) if matches => user,
            Some(user) => {
                tracing::info!(user_id = %user.id, "login refused: wrong password");
                return Err(unauthorized());
            }
            // The name is not logged: it is sometimes a password typed in the wrong field.
            None => {
                tracing::info!("login refused: unknown account");
                return Err(unauthorized());
            }
        };
        if !user.active {
            return Err(ChatError::refused(
                "error-user-is-not-activated",
                "User is not activated",
            ));
        }
        self.issue_token(user).await
    }

    async fn issue_token(&self, mut user: User) -> ChatResult<LoginOutcome> {
        let token = ids::new_token();
        let now = Ts::now();
        let expires = Ts(now.0 + self.opts.token_ttl.as_millis() as i64);
        self.store
            .insert_token(&LoginToken {
                hashed: ids::hash_token(&token),
                user_id: user.id.clone(),
                created_at: now,
                expires_at: Some(expires),
                personal_name: None,
            })
            .await?;
        user.last_login = Some(now);
        self.store.update_user(&user).await?;
        tracing::info!(user_id = %user.id, "login");
        Ok(LoginOutcome {
            user,
            token,
            expires,
        })
    }

    /// Resume login: the token stays the same.
    pub async fn login_with_token(&self, token: &str) -> ChatResult<LoginOutcome> {
        let session = self.session_for_token(token, None).await?;
        let expires = self
            .store
            .token(&session.token_hash)
            .await?
            .and_then(|t| t.expires_at)
            .unwrap_or(Ts(i64::MAX));
        Ok(LoginOutcome {
            user: session.user,
            token: token.to_string(),
            expires,
        })
    }

    /// Checks a token (and, if given, that it belongs to `user_id`).
    pub async fn session_for_token(
        &self,
        token: &str,
        user_id: Option<&str>,
    ) -> ChatResult<Session> {
        let token_hash = ids::hash_token(token);
        let Some(stored) = self.store.token(&token_hash).await? else {
            return Err(unauthorized());
        };
        if user_id.is_some_and(|id| id != stored.user_id) {
            return Err(unauthorized());
        }
        if stored.expires_at.is_some_and(|e| e <= Ts::now()) {
            self.store.delete_token(&token_hash).await?;
            return Err(unauthorized());
        }
        match self.store.user_by_id(&stored.user_id).await? {
            Some(user) if user.active => Ok(Session { user, token_hash }),
            _ => Err(unauthorized()),
        }
    }

    pub async fn logout(&self, session: &Session) -> ChatResult<()> {
        self.store.delete_token(&session.token_hash).await?;
        tracing::info!(user_id = %session.user.id, "logout");
        // Realtime sessions using this token end too.
        self.bus.publish(Event::LoggedOut {
            user_id: session.user.id.clone(),
            token_hash: session.token_hash.clone(),
        });
        Ok(())
    }

    pub async fn create_user(&self, actor: &User, new: NewUser) -> ChatResult<User> {
        require_admin(actor)?;
        self.insert_user(new).await
    }

    async fn insert_user(&self, new: NewUser) -> ChatResult<User> {
        validate_username(&new.username)?;
        validate_email(&new.email)?;
        validate_password(&new.password)?;
        let roles = new
            .roles
            .unwrap_or_else(|| vec![if new.bot { roles::BOT } else { roles::USER }.to_string()]);
        validate_roles(&roles)?;
        let now = Ts::now();
        let user = User {
            id: ids::new_id(),
            username: new.username.clone(),
            name: if new.name.trim().is_empty() {
                new.username.clone()
            } else {
                new.name.trim().to_string()
            },
            emails: vec![Email {
                address: new.email.to_lowercase(),
                verified: new.verified,
            }],
            roles,
            active: new.active.unwrap_or(true),
            kind: if new.bot { "bot" } else { "user" }.into(),
            created_at: now,
            updated_at: now,
            last_login: None,
            require_password_change: new.require_password_change,
        };
        let hash = self.hash_password(&Password::Plain(new.password)).await?;
        self.store
            .create_user(&user, Some(&hash))
            .await
            .map_err(|e| map_conflict(e, &new.username, &new.email))?;
        tracing::info!(user_id = %user.id, username = %user.username, "user created");
        self.bus.publish(Event::UserCreated { user: user.clone() });
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
        filter: Option<&str>,
        sort: Sort,
        page: Page,
    ) -> ChatResult<Listing<User>> {
        Ok(self.store.list_users(filter, sort, page).await?)
    }

    /// Refuses a change that would leave no active admin.
    async fn keep_an_admin(&self, before: &User, after: &User) -> ChatResult<()> {
        let was = before.is_admin() && before.active;
        let is = after.is_admin() && after.active;
        if !was || is {
            return Ok(());
        }
        let admins = self
            .store
            .list_users(
                None,
                Sort {
                    key: crate::store::SortKey::Name,
                    dir: Default::default(),
                },
                Page::new(0, 10_000),
            )
            .await?
            .items
            .into_iter()
            .filter(|u| u.id != before.id && u.is_admin() && u.active)
            .count();
        if admins == 0 {
            return Err(ChatError::refused(
                "error-action-not-allowed",
                "Leaving the app without an active admin is not allowed",
            ));
        }
        Ok(())
    }

    pub async fn update_user(
        &self,
        actor: &User,
        user_id: &str,
        patch: UserPatch,
    ) -> ChatResult<User> {
        require_admin(actor)?;
        let before = self.find_user(Some(user_id), None).await?;
        let mut user = before.clone();
        if let Some(username) = patch.username {
            validate_username(&username)?;
            user.username = username;
        }
        if let Some(name) = patch.name {
            user.name = name.trim().to_string();
        }
        if let Some(email) = &patch.email {
            validate_email(email)?;
            user.emails = vec![Email {
                address: email.to_lowercase(),
                verified: patch.verified.unwrap_or(false),
            }];
        } else if let (Some(v), Some(first)) = (patch.verified, user.emails.first_mut()) {
            first.verified = v;
        }
        if let Some(roles) = patch.roles {
            validate_roles(&roles)?;
            user.roles = roles;
        }
        if let Some(active) = patch.active {
            user.active = active;
        }
        if let Some(r) = patch.require_password_change {
            user.require_password_change = r;
        }
        self.keep_an_admin(&before, &user).await?;
        let new_hash = match &patch.password {
            Some(p) => {
                validate_password(p)?;
                Some(self.hash_password(&Password::Plain(p.clone())).await?)
            }
            None => None,
        };
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
        if let Some(hash) = new_hash {
            self.store.set_password_hash(&user.id, &hash).await?;
        }
        if !user.active {
            self.store.delete_user_tokens(&user.id).await?;
        }
        tracing::info!(user_id = %user.id, actor = %actor.id, "user updated");
        self.bus.publish(Event::UserUpdated { user: user.clone() });
        Ok(user)
    }

    /// Activates or deactivates an account; deactivation ends all its sessions.
    pub async fn set_active(&self, actor: &User, user_id: &str, active: bool) -> ChatResult<User> {
        self.update_user(
            actor,
            user_id,
            UserPatch {
                active: Some(active),
                ..Default::default()
            },
        )
        .await
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
            require_password_change: false,
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

    /// On first start with no users, creates the admin. Returns the user and, when
    /// no password was configured, the generated one (to print once).
    pub async fn bootstrap_admin(
        &self,
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
