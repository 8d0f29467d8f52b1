//! Logins: password and resume-token logins, sessions and logout; passwords hashed
//! and checked on the bounded hashing pool.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::ids;
use super::password::PasswordError;
use super::ratelimit::address_key;
use super::Chat;
use crate::store::{LoginToken, StoreError, Ts, User};

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

impl Chat {
    /// A new stored hash for `password`, computed on the bounded hashing pool.
    pub(super) async fn hash_password(&self, password: &Password) -> ChatResult<String> {
        self.passwords
            .hash(password.digest())
            .await
            .map_err(password_error)
    }

    /// Whether `password` matches `hash`; `None` (no account, no password) never
    /// matches but costs the same.
    /// Checks `password` against `user`'s, counted by the per-account login limiter
    /// (a password prompt is a login attempt).
    pub(super) async fn verify_user_password(
        &self,
        user: &User,
        password: &Password,
    ) -> ChatResult<bool> {
        self.login_user_limiter.hit(&account_key(user), Ts::now())?;
        let hash = self.store.password_hash(&user.id).await?;
        self.check_password(password, hash).await
    }

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
        if !self.settings.bool("Palaver_Password_Login") {
            return Err(ChatError::refused(
                "error-password-login-disabled",
                "Password login is disabled on this server: sign in with your organisation's identity provider",
            ));
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
            // A directory account's password is the directory's, whatever an older
            // local account may have left stored.
            Some(user)
                if user
                    .services
                    .contains_key(super::external_accounts::DIRECTORY_SERVICE) =>
            {
                None
            }
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
        // As Rocket.Chat's `validateLoginAttempt`: with verification required, a
        // password login needs a verified address (admins excepted, so nobody is
        // locked out of fixing the mail settings).
        if self.settings.bool("Accounts_EmailVerification")
            && !user.has_role(crate::store::roles::ADMIN)
            && !user.emails.iter().any(|e| e.verified)
        {
            tracing::info!(user_id = %user.id, "login refused: no verified e-mail address");
            return Err(ChatError::refused(
                "error-invalid-email",
                "Invalid email __email__",
            ));
        }
        self.issue_token(user).await
    }

    pub(crate) async fn issue_token(&self, mut user: User) -> ChatResult<LoginOutcome> {
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
                last_token_part: None,
                bypass_two_factor: false,
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
        // The devices registered by this session stop receiving pushes (Rocket.Chat
        // removes its app tokens by login token too).
        let devices = self
            .store
            .delete_push_devices(&crate::store::push::PushDeviceFilter::AuthToken(
                session.token_hash.clone(),
            ))
            .await?;
        tracing::info!(user_id = %session.user.id, push_devices_removed = devices, "logout");
        // Realtime sessions using this token end too.
        self.bus.publish(Event::LoggedOut {
            user_id: session.user.id.clone(),
            token_hash: session.token_hash.clone(),
        });
        Ok(())
    }
}
