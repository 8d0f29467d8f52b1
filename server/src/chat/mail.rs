//! The e-mails the server sends and the account flows behind them: password reset
//! (`users.forgotPassword`, `resetPassword`) and address verification
//! (`users.sendConfirmationEmail`, `verifyEmail`). `chat` decides *that* a mail goes
//! out and queues it durably (outbox kind `email`); `notify::email` renders and
//! delivers it through the [`MailSender`] plugged in at start-up.
//!
//! Links carry a signed token (HMAC-SHA256 with a key generated once per workspace):
//! `user id . expiry . signature`. A reset token is bound to the password hash it was
//! issued under, so it works once: setting the password invalidates it. A
//! verification token is bound to the address it verifies.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{ChatError, ChatResult};
use super::login::{LoginOutcome, Password};
use super::{ids, Chat, Event};
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{Ts, User};

/// How long a password reset link works.
pub const RESET_TTL_MS: i64 = 60 * 60 * 1000;
/// How long a verification link works.
pub const VERIFY_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How long after its window a missed-messages mail waits, for the notices of the
/// window's last messages to be queued (the worker follows the posts closely).
pub const MISSED_GRACE_MS: i64 = 2000;
/// The setting holding the workspace's token signing key (generated, never shown).
pub const TOKEN_KEY_SETTING: &str = "Palaver_Mail_Token_Key";

/// One e-mail to send; what a queue item of kind `email` carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mail {
    /// The messages of one room a person missed within one batching window
    /// `[from, until)` (`until` excluded, so consecutive windows never list a
    /// message twice), sent [`MISSED_GRACE_MS`] after the window ends: read again
    /// at delivery, so what they read meanwhile, or what was deleted, is left out.
    Missed {
        user_id: String,
        rid: String,
        from: Ts,
        until: Ts,
    },
    PasswordReset {
        user_id: String,
        to: String,
        token: String,
    },
    Verification {
        user_id: String,
        to: String,
        token: String,
    },
    /// The admin's SMTP test.
    Test { to: String },
    /// An invitation to the workspace (`sendInvitationEmail`).
    Invitation { to: String },
    /// The welcome an admin sends a person they added (`users.sendWelcomeEmail`).
    Welcome { user_id: String, to: String },
    /// Messages of a room a member mails (`rooms.export` by e-mail), read again
    /// at delivery: those deleted meanwhile are left out.
    RoomMessages {
        to: String,
        sender_id: String,
        rid: String,
        subject: String,
        message_ids: Vec<String>,
    },
    /// A data export is ready to download (`rooms.export` as a file,
    /// `users.requestDataDownload`).
    ExportReady {
        user_id: String,
        to: String,
        subject: String,
        file_id: String,
        file_name: String,
    },
}

/// Renders and sends mail; the e-mail channel implements it.
#[async_trait]
pub trait MailSender: Send + Sync {
    /// Sends at once (the SMTP test), answering the server's reply or the exact error.
    async fn send_now(&self, mail: &Mail) -> Result<String, String>;
    /// Mail was queued: wake the delivery worker.
    fn queued(&self);
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Signs `purpose`, user, expiry and what the token is bound to.
fn sign(key: &str, purpose: &str, uid: &str, expires: i64, binding: &str) -> String {
    let msg = format!("{purpose}\u{1f}{uid}\u{1f}{expires}\u{1f}{binding}");
    hex::encode(hmac_sha256(key.as_bytes(), msg.as_bytes()))
}

/// What a reset link is bound to: the password it replaces (single use) and the
/// address it was mailed to (using it proves that mailbox).
fn reset_binding(password_hash: &str, address: &str) -> String {
    format!("{password_hash}\u{1f}{address}")
}

fn make_token(key: &str, purpose: &str, uid: &str, expires: i64, binding: &str) -> String {
    format!(
        "{uid}.{expires}.{}",
        sign(key, purpose, uid, expires, binding)
    )
}

/// The user id of a token and its expiry, before the signature is checked.
fn parse_token(token: &str) -> Option<(&str, i64, &str)> {
    let mut parts = token.trim().splitn(3, '.');
    let uid = parts.next()?;
    let expires = parts.next()?.parse().ok()?;
    let sig = parts.next()?;
    Some((uid, expires, sig))
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The queue items of these mails (dedupe key, mail), not yet queued: a missed-
/// messages mail is due once its window closed (plus the grace), others at once.
pub fn mail_items(mails: Vec<(String, Mail)>) -> ChatResult<Vec<OutboxItem>> {
    let now = Ts::now();
    let mut items = Vec::with_capacity(mails.len());
    for (key, mail) in mails {
        let due = match &mail {
            Mail::Missed { until, .. } => Ts(until.0 + MISSED_GRACE_MS),
            _ => now,
        };
        let payload = serde_json::to_value(&mail)
            .map_err(|e| ChatError::invalid(format!("unencodable mail: {e}")))?;
        let mut item = OutboxItem::new(ids::new_id(), OutboxKind::Email, key, payload, now);
        item.next_attempt = due;
        items.push(item);
    }
    Ok(items)
}

fn invalid_token() -> ChatError {
    ChatError::refused("error-invalid-token", "Token expired")
}

impl Chat {
    /// Plugs in the e-mail channel; once, at start-up.
    pub fn set_mail_sender(&self, sender: Arc<dyn MailSender>) {
        if self.mail.set(sender).is_err() {
            tracing::warn!("a mail sender was already set; keeping the first");
        }
    }

    pub fn mail_sender(&self) -> Option<&Arc<dyn MailSender>> {
        self.mail.get()
    }

    /// Queues mail durably; a dedupe key already queued is skipped.
    pub async fn queue_mail(&self, mails: Vec<(String, Mail)>) -> ChatResult<u64> {
        let items = mail_items(mails)?;
        let n = self.store.enqueue_outbox(&items).await?;
        if n > 0 {
            if let Some(sender) = self.mail.get() {
                sender.queued();
            }
        }
        Ok(n)
    }

    fn token_key(&self) -> ChatResult<String> {
        let key = self.settings().string(TOKEN_KEY_SETTING);
        if key.is_empty() {
            return Err(ChatError::refused(
                "error-email-send-failed",
                "The mail token key is missing",
            ));
        }
        Ok(key)
    }

    fn mail_configured(&self) -> bool {
        !self.settings().string("SMTP_Host").is_empty()
    }

    /// `users.forgotPassword` / `sendForgotPasswordEmail`: queues a reset link when
    /// the address belongs to an active account; answers the same either way, so it
    /// reveals nothing about which addresses exist.
    pub async fn forgot_password(&self, email: &str) -> ChatResult<()> {
        if !self.settings().bool("Accounts_PasswordReset") {
            // Rocket.Chat's bare `API.v1.failure`: the message without a suffix.
            return Err(ChatError::invalid("Password reset is not enabled"));
        }
        let email = email.trim().to_lowercase();
        let Some(user) = self.store.user_by_email(&email).await? else {
            tracing::info!("password reset asked for an unknown address");
            return Ok(());
        };
        if !user.active || user.kind != "user" {
            return Ok(());
        }
        let hash = self
            .store
            .password_hash(&user.id)
            .await?
            .unwrap_or_default();
        let expires = Ts::now().0 + RESET_TTL_MS;
        let token = make_token(
            &self.token_key()?,
            "reset",
            &user.id,
            expires,
            &reset_binding(&hash, &email),
        );
        self.queue_mail(vec![(
            format!("reset\u{1f}{}\u{1f}{expires}", user.id),
            Mail::PasswordReset {
                user_id: user.id.clone(),
                to: email,
                token,
            },
        )])
        .await?;
        tracing::info!(user_id = %user.id, "password reset mail queued");
        Ok(())
    }

    /// Whether `token` is a current password reset link (`pw.getPolicyReset`); the
    /// link stays usable.
    pub async fn reset_token_is_valid(&self, token: &str) -> ChatResult<bool> {
        let Some((uid, expires, sig)) = parse_token(token) else {
            return Ok(false);
        };
        if expires < Ts::now().0 {
            return Ok(false);
        }
        let Some(user) = self.store.user_by_id(uid).await? else {
            return Ok(false);
        };
        let hash = self
            .store
            .password_hash(&user.id)
            .await?
            .unwrap_or_default();
        let expected = sign(&self.token_key()?, "reset", &user.id, expires, &hash);
        Ok(constant_eq(&expected, sig) && user.active)
    }

    /// `resetPassword(token, newPassword)`: sets the password, ends every session,
    /// and logs the user in (as Meteor's accounts do).
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
    ) -> ChatResult<LoginOutcome> {
        let (uid, expires, sig) = parse_token(token).ok_or_else(invalid_token)?;
        if expires < Ts::now().0 {
            return Err(invalid_token());
        }
        let user = self
            .store
            .user_by_id(uid)
            .await?
            .ok_or_else(invalid_token)?;
        let hash = self
            .store
            .password_hash(&user.id)
            .await?
            .unwrap_or_default();
        // The link names no address: the one it was mailed to is the one whose
        // signature matches.
        let key = self.token_key()?;
        let Some(proven) = user.emails.iter().position(|e| {
            let binding = reset_binding(&hash, &e.address.to_lowercase());
            constant_eq(&sign(&key, "reset", &user.id, expires, &binding), sig)
        }) else {
            return Err(invalid_token());
        };
        if !user.active {
            return Err(ChatError::refused(
                "error-user-is-not-activated",
                "User is not activated",
            ));
        }
        if new_password.trim().is_empty() {
            return Err(ChatError::invalid("The new password must not be empty"));
        }
        self.password_policy().check(new_password)?;
        let new_hash = self
            .hash_password(&Password::Plain(new_password.to_string()))
            .await?;
        self.store.set_password_hash(&user.id, &new_hash).await?;
        self.store.delete_user_tokens(&user.id).await?;
        tracing::info!(user_id = %user.id, "password reset by e-mail link");
        // The link reached the mailbox: the address it went to is verified.
        let mut user = user;
        if !user.emails[proven].verified {
            user.emails[proven].verified = true;
            user.updated_at = Ts::now();
            self.store.update_user(&user).await?;
            tracing::info!(user_id = %user.id, "e-mail address verified by a password reset");
            self.bus.publish(Event::UserUpdated { user: user.clone() });
        }
        self.issue_token(user).await
    }

    /// Queues a verification link for the user's address (`users.sendConfirmationEmail`,
    /// and after registration when `Accounts_EmailVerification` is on).
    pub async fn send_verification(&self, user: &User, address: &str) -> ChatResult<bool> {
        // Addresses keep the case they were given (as in Rocket.Chat) but match
        // without it; the link is signed over the stored spelling `verifyEmail` checks.
        let Some(email) = user
            .emails
            .iter()
            .find(|e| e.address.eq_ignore_ascii_case(address.trim()))
        else {
            return Ok(false);
        };
        if email.verified {
            return Ok(false);
        }
        let address = email.address.clone();
        let expires = Ts::now().0 + VERIFY_TTL_MS;
        let token = make_token(&self.token_key()?, "verify", &user.id, expires, &address);
        self.queue_mail(vec![(
            format!("verify\u{1f}{}\u{1f}{expires}", user.id),
            Mail::Verification {
                user_id: user.id.clone(),
                to: address,
                token,
            },
        )])
        .await?;
        tracing::info!(user_id = %user.id, "verification mail queued");
        Ok(true)
    }

    /// `users.sendConfirmationEmail {email}`: anyone logged in may ask for a link to
    /// an address; `true` when an account holds it, as Rocket.Chat answers. The link
    /// is only sent while the address is unverified (a verified one needs none).
    pub async fn send_confirmation_email(&self, email: &str) -> ChatResult<bool> {
        let Some(user) = self.store.user_by_email(email.trim()).await? else {
            return Ok(false);
        };
        let verified = user
            .emails
            .iter()
            .any(|e| e.verified && e.address.eq_ignore_ascii_case(email.trim()));
        if verified {
            return Ok(true);
        }
        self.send_verification(&user, email).await
    }

    /// `users.sendWelcomeEmail {email}` (needs `send-mail`): queues the
    /// `Accounts_UserAddedEmail_*` mail to an account's address. As in Rocket.Chat,
    /// refused while SMTP is not configured or when no account holds the address.
    pub async fn send_welcome_email(&self, actor: &User, email: &str) -> ChatResult<()> {
        self.require_permission(actor, super::permissions::Perm::SEND_MAIL, None)
            .await?;
        if !self.mail_configured() {
            return Err(ChatError::refused(
                "error-email-send-failed",
                "SMTP is not configured",
            ));
        }
        let email = email.trim();
        let Some(user) = self.store.user_by_email(email).await? else {
            return Err(ChatError::refused("error-invalid-user", "Invalid user"));
        };
        self.queue_mail(vec![(
            format!("welcome\u{1f}{}\u{1f}{}", user.id, ids::new_id()),
            Mail::Welcome {
                user_id: user.id.clone(),
                to: email.to_string(),
            },
        )])
        .await?;
        tracing::info!(user_id = %user.id, "welcome mail queued");
        Ok(())
    }

    /// `sendInvitationEmail {emails}` (needs `bulk-register-user`): queues the
    /// `Invitation_*` mail to each well-formed address, as Rocket.Chat, which leaves
    /// the others out and refuses when none is left, when the subject is empty, or
    /// (here, before anything is queued) while SMTP is not configured. Answers how
    /// many were queued.
    pub async fn send_invitation_email(
        &self,
        actor: &User,
        emails: &[String],
    ) -> ChatResult<usize> {
        self.require_permission(actor, super::permissions::Perm::BULK_REGISTER_USER, None)
            .await?;
        let valid: Vec<&str> = emails
            .iter()
            .map(|e| e.trim())
            .filter(|e| super::accounts::validate_email(e).is_ok())
            .collect();
        if valid.is_empty() {
            return Err(ChatError::refused(
                "error-email-send-failed",
                "No valid email addresses",
            ));
        }
        if self
            .settings()
            .string("Invitation_Subject")
            .trim()
            .is_empty()
        {
            return Err(ChatError::refused("error-email-send-failed", "No subject"));
        }
        if !self.mail_configured() {
            return Err(ChatError::refused(
                "error-email-send-failed",
                "SMTP is not configured",
            ));
        }
        let mails = valid
            .iter()
            .map(|to| {
                (
                    format!("invitation\u{1f}{to}\u{1f}{}", ids::new_id()),
                    Mail::Invitation { to: to.to_string() },
                )
            })
            .collect();
        self.queue_mail(mails).await?;
        tracing::info!(user_id = %actor.id, count = valid.len(), "invitation mails queued");
        Ok(valid.len())
    }

    /// `verifyEmail(token)`: marks the address verified.
    pub async fn verify_email(&self, token: &str) -> ChatResult<User> {
        let (uid, expires, sig) = parse_token(token).ok_or_else(invalid_token)?;
        if expires < Ts::now().0 {
            return Err(invalid_token());
        }
        let mut user = self
            .store
            .user_by_id(uid)
            .await?
            .ok_or_else(invalid_token)?;
        let key = self.token_key()?;
        let Some(pos) = user
            .emails
            .iter()
            .position(|e| constant_eq(&sign(&key, "verify", uid, expires, &e.address), sig))
        else {
            return Err(ChatError::refused(
                "error-invalid-token",
                "Verify email link expired",
            ));
        };
        if !user.emails[pos].verified {
            user.emails[pos].verified = true;
            user.updated_at = Ts::now();
            self.store.update_user(&user).await?;
            tracing::info!(user_id = %user.id, "e-mail address verified");
            self.bus.publish(Event::UserUpdated { user: user.clone() });
        }
        Ok(user)
    }

    /// The admin's SMTP test (`sendSMTPTestEmail`): sends to the admin's own
    /// address at once and reports the SMTP server's reply or its exact error.
    pub async fn send_smtp_test(&self, actor: &User) -> ChatResult<(String, String)> {
        let Some(to) = actor.emails.first().map(|e| e.address.clone()) else {
            return Err(ChatError::refused("error-invalid-email", "Invalid email"));
        };
        let Some(sender) = self.mail.get() else {
            return Err(ChatError::refused(
                "error-email-send-failed",
                "Error trying to send email: e-mail is not available on this server",
            ));
        };
        if !self.mail_configured() {
            return Err(ChatError::refused(
                "error-email-send-failed",
                "Error trying to send email: SMTP_Host is not set",
            ));
        }
        match sender.send_now(&Mail::Test { to: to.clone() }).await {
            Ok(reply) => {
                tracing::info!(user_id = %actor.id, "SMTP test mail sent");
                Ok((to, reply))
            }
            Err(e) => {
                tracing::warn!(user_id = %actor.id, error = %e, "SMTP test mail failed");
                Err(ChatError::refused(
                    "error-email-send-failed",
                    format!("Error trying to send email: {e}"),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_are_bound_to_what_they_were_issued_for() {
        let t = make_token("k", "reset", "u1", 99, "hash-a");
        let (uid, exp, sig) = parse_token(&t).unwrap();
        assert_eq!((uid, exp), ("u1", 99));
        assert!(constant_eq(&sign("k", "reset", uid, exp, "hash-a"), sig));
        assert!(!constant_eq(&sign("k", "reset", uid, exp, "hash-b"), sig));
        assert!(!constant_eq(&sign("k", "verify", uid, exp, "hash-a"), sig));
        assert!(!constant_eq(
            &sign("other", "reset", uid, exp, "hash-a"),
            sig
        ));
    }

    #[test]
    fn reset_links_name_the_address_they_were_mailed_to() {
        let t = make_token("k", "reset", "u1", 99, &reset_binding("h", "a@x.org"));
        let (uid, exp, sig) = parse_token(&t).unwrap();
        let ok = |addr: &str| {
            constant_eq(
                &sign("k", "reset", uid, exp, &reset_binding("h", addr)),
                sig,
            )
        };
        assert!(ok("a@x.org"));
        assert!(!ok("b@x.org"));
        assert!(!constant_eq(
            &sign("k", "reset", uid, exp, &reset_binding("h2", "a@x.org")),
            sig
        ));
    }
}
