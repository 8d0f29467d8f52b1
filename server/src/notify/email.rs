//! The e-mail channel: renders [`Mail`] with the templates admins edit as settings
//! (HTML, every value escaped, plus a plain-text part) and sends it over SMTP with
//! `lettre` (rustls; a pool of connections, rebuilt when the SMTP settings change).
//! Queued mail is delivered by the outbox worker of kind `email`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Email, Tokio1Executor};

use crate::chat::mail::{Mail, MailSender};
use crate::chat::Chat;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{Room, RoomType, User};
use crate::worker::outbox::policy::DeliveryError;
use crate::worker::outbox::{DeliveryHandler, Outbox};

/// One SMTP exchange (connect, TLS, auth, send) may take this long.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Clear text (`SMTP_IgnoreTLS`).
    None,
    /// Upgraded with STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the first byte (`SMTP_Protocol` = `smtps`).
    Implicit,
}

/// The SMTP settings a transport is built from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SmtpConfig {
    host: String,
    port: u16,
    tls: TlsMode,
    username: String,
    password: String,
    ca_pem: String,
    pool: u32,
}

impl SmtpConfig {
    fn from_settings(chat: &Chat) -> SmtpConfig {
        let s = chat.settings();
        let tls = if s.string("SMTP_Protocol") == "smtps" {
            TlsMode::Implicit
        } else if s.bool("SMTP_IgnoreTLS") {
            TlsMode::None
        } else {
            TlsMode::StartTls
        };
        SmtpConfig {
            host: s.string("SMTP_Host"),
            port: u16::try_from(s.int("SMTP_Port")).unwrap_or(587),
            tls,
            username: s.string("SMTP_Username"),
            password: s.string("SMTP_Password"),
            ca_pem: s.string("SMTP_CA_Certificate"),
            pool: u32::try_from(s.int("SMTP_Pool_Size")).unwrap_or(5).max(1),
        }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        if self.host.is_empty() {
            return Err("SMTP_Host is not set".into());
        }
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(self.host.clone());
            if !self.ca_pem.trim().is_empty() {
                let cert = Certificate::from_pem(self.ca_pem.as_bytes())
                    .map_err(|e| format!("SMTP_CA_Certificate: {e}"))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| format!("TLS: {e}"))
        };
        let tls = match self.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(params()?),
            TlsMode::Implicit => Tls::Wrapper(params()?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(self.pool));
        if !self.username.is_empty() {
            b = b.credentials(Credentials::new(
                self.username.clone(),
                self.password.clone(),
            ));
        }
        Ok(b.build())
    }
}

/// A rendered e-mail.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub to: String,
    pub to_name: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Fills `[name]` placeholders; `html` escapes the values (a `(name, value, raw)`
/// with `raw` set is inserted as is: already-built HTML).
pub(super) fn fill(template: &str, values: &[(&str, String, bool)], html: bool) -> String {
    let mut out = template.to_string();
    for (name, value, raw) in values {
        let v = if html && !raw {
            escape(value)
        } else {
            value.clone()
        };
        out = out.replace(&format!("[{name}]"), &v);
    }
    out
}

/// The plain-text part of an HTML body: tags dropped, entities decoded, links kept.
pub fn plain_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + end];
        let lower = tag.to_ascii_lowercase();
        if let Some(i) = lower.find("href=\"") {
            let href = &tag[i + 6..];
            if let Some(j) = href.find('"') {
                out.push_str(&format!("<{}> ", &href[..j]));
            }
        }
        if lower.starts_with("br")
            || lower.starts_with("/p")
            || lower.starts_with("/h")
            || lower.starts_with("/li")
        {
            out.push('\n');
        }
        if lower.starts_with("li") {
            out.push_str("- ");
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The link to a room in the web client, as `user` sees it.
pub fn room_link(site_url: &str, room: &Room, dm_with: &str) -> String {
    let base = site_url.trim_end_matches('/');
    let (kind, name) = match room.t {
        RoomType::Channel => ("channel", room.name.clone().unwrap_or_default()),
        RoomType::Group => ("group", room.name.clone().unwrap_or_default()),
        RoomType::Direct => ("direct", dm_with.to_string()),
    };
    format!("{base}/#/{kind}/{}", url_component(&name))
}

pub(super) fn url_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Renders and sends mail; the outbox's handler of kind `email`.
pub struct EmailChannel {
    pub(super) chat: Arc<Chat>,
    outbox: Arc<Outbox>,
    transport: Mutex<Option<(SmtpConfig, AsyncSmtpTransport<Tokio1Executor>)>>,
}

impl EmailChannel {
    pub fn new(chat: Arc<Chat>, outbox: Arc<Outbox>) -> Arc<EmailChannel> {
        Arc::new(EmailChannel {
            chat,
            outbox,
            transport: Mutex::new(None),
        })
    }

    /// The pooled transport for the current settings (rebuilt when they change).
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let config = SmtpConfig::from_settings(&self.chat);
        let mut slot = self.transport.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((c, t)) = slot.as_ref() {
            if *c == config {
                return Ok(t.clone());
            }
        }
        let t = config.transport()?;
        *slot = Some((config, t.clone()));
        Ok(t)
    }

    pub(super) fn site(&self) -> (String, String) {
        let s = self.chat.settings();
        (s.string("Site_Name"), s.string("Site_Url"))
    }

    /// What to send for `mail`; `None` when there is nothing to send any more.
    pub async fn render(&self, mail: &Mail) -> Result<Option<Rendered>, DeliveryError> {
        let s = self.chat.settings();
        let (site_name, site_url) = self.site();
        let base = site_url.trim_end_matches('/').to_string();
        let common = |extra: Vec<(&'static str, String, bool)>| {
            let mut v = vec![
                ("Site_Name", site_name.clone(), false),
                ("Site_URL", site_url.clone(), false),
            ];
            v.extend(extra);
            v
        };
        let store = self.chat.store();
        let user_of = |id: String| async move {
            store
                .user_by_id(&id)
                .await
                .map_err(|e| DeliveryError::transient(format!("reading the user: {e}")))
        };
        match mail {
            Mail::Test { to } => {
                let v = common(vec![]);
                let html = fill(&s.string("SMTP_Test_Email_Body"), &v, true);
                Ok(Some(Rendered {
                    to: to.clone(),
                    to_name: String::new(),
                    subject: fill(&s.string("SMTP_Test_Email_Subject"), &v, false),
                    text: plain_text(&html),
                    html,
                }))
            }
            Mail::Invitation { to } => {
                let v = common(vec![("email", to.clone(), false)]);
                let html = fill(&s.string("Invitation_Email"), &v, true);
                Ok(Some(Rendered {
                    to: to.clone(),
                    to_name: String::new(),
                    subject: fill(&s.string("Invitation_Subject"), &v, false),
                    text: plain_text(&html),
                    html,
                }))
            }
            Mail::PasswordReset { user_id, to, token } => {
                let Some(user) = user_of(user_id.clone()).await? else {
                    return Ok(None);
                };
                let v = common(vec![
                    ("name", display_name(&user), false),
                    ("username", user.username.clone(), false),
                    (
                        "Forgot_Password_Url",
                        format!("{base}/reset-password/{token}"),
                        false,
                    ),
                ]);
                let html = fill(&s.string("Forgot_Password_Email"), &v, true);
                Ok(Some(Rendered {
                    to: to.clone(),
                    to_name: display_name(&user),
                    subject: fill(&s.string("Forgot_Password_Email_Subject"), &v, false),
                    text: plain_text(&html),
                    html,
                }))
            }
            Mail::Verification { user_id, to, token } => {
                let Some(user) = user_of(user_id.clone()).await? else {
                    return Ok(None);
                };
                let v = common(vec![
                    ("name", display_name(&user), false),
                    ("username", user.username.clone(), false),
                    (
                        "Verification_Url",
                        format!("{base}/verify-email/{token}"),
                        false,
                    ),
                ]);
                let html = fill(&s.string("Verification_Email"), &v, true);
                Ok(Some(Rendered {
                    to: to.clone(),
                    to_name: display_name(&user),
                    subject: fill(&s.string("Verification_Email_Subject"), &v, false),
                    text: plain_text(&html),
                    html,
                }))
            }
            Mail::Welcome { user_id, to } => {
                let Some(user) = user_of(user_id.clone()).await? else {
                    return Ok(None);
                };
                let v = common(vec![
                    ("name", display_name(&user), false),
                    ("username", user.username.clone(), false),
                ]);
                let html = fill(&s.string("Accounts_UserAddedEmail_Email"), &v, true);
                Ok(Some(Rendered {
                    to: to.clone(),
                    to_name: display_name(&user),
                    subject: fill(&s.string("Accounts_UserAddedEmail_Subject"), &v, false),
                    text: plain_text(&html),
                    html,
                }))
            }
            Mail::Missed {
                user_id,
                rid,
                from,
                until,
            } => self.render_missed(user_id, rid, *from, *until).await,
            Mail::RoomMessages {
                to,
                sender_id,
                rid,
                subject,
                message_ids,
            } => {
                self.render_room_messages(to, sender_id, rid, subject, message_ids)
                    .await
            }
            Mail::ExportReady {
                user_id,
                to,
                subject,
                file_id,
                file_name,
            } => {
                self.render_export_ready(user_id, to, subject, file_id, file_name)
                    .await
            }
        }
    }

    /// Sends one rendered mail; the SMTP server's reply, or the exact error.
    async fn send(&self, r: &Rendered) -> Result<String, DeliveryError> {
        let transport = self.transport().map_err(DeliveryError::transient)?;
        let from_addr = self.chat.settings().string("From_Email");
        if from_addr.is_empty() {
            return Err(DeliveryError::transient(
                "From_Email is not set".to_string(),
            ));
        }
        let (site_name, _) = self.site();
        let from = Mailbox::new(
            Some(site_name),
            from_addr
                .parse()
                .map_err(|e| DeliveryError::permanent(format!("From_Email: {e}")))?,
        );
        let to = Mailbox::new(
            (!r.to_name.is_empty()).then(|| r.to_name.clone()),
            r.to.parse()
                .map_err(|e| DeliveryError::permanent(format!("recipient address: {e}")))?,
        );
        let email = Email::builder()
            .from(from)
            .to(to)
            .subject(r.subject.clone())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(r.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(r.html.clone()),
                    ),
            )
            .map_err(|e| DeliveryError::permanent(format!("building the e-mail: {e}")))?;
        match transport.send(email).await {
            Ok(reply) => Ok(format!(
                "{} {}",
                reply.code(),
                reply.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) if e.is_permanent() => Err(DeliveryError::permanent(smtp_error(&e))),
            Err(e) => Err(DeliveryError::transient(smtp_error(&e))),
        }
    }
}

/// The error with its causes (lettre's `Display` omits the server's words).
fn smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

pub(super) fn display_name(user: &User) -> String {
    if user.name.is_empty() {
        user.username.clone()
    } else {
        user.name.clone()
    }
}

#[async_trait]
impl MailSender for EmailChannel {
    async fn send_now(&self, mail: &Mail) -> Result<String, String> {
        let rendered = self
            .render(mail)
            .await
            .map_err(|e| e.message.clone())?
            .ok_or_else(|| "nothing to send".to_string())?;
        self.send(&rendered).await.map_err(|e| e.message)
    }

    fn queued(&self) {
        self.outbox.wake(OutboxKind::Email);
    }
}

/// The outbox handler of kind `email` (a thin wrapper: the channel is shared with
/// `chat` as its [`MailSender`]).
pub struct EmailHandler(pub Arc<EmailChannel>);

#[async_trait]
impl DeliveryHandler for EmailHandler {
    fn kind(&self) -> OutboxKind {
        OutboxKind::Email
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let mail: Mail = serde_json::from_value(item.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("unreadable mail item: {e}")))?;
        let Some(rendered) = self.0.render(&mail).await? else {
            return Ok(());
        };
        let reply = self.0.send(&rendered).await?;
        tracing::info!(item_id = %item.id, reply = %reply, "e-mail delivered");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_escape_values_but_not_built_html() {
        let out = fill(
            "<p>[user] in [room]</p>[messages]",
            &[
                ("user", "<script>".into(), false),
                ("room", "a&b".into(), false),
                ("messages", "<ul></ul>".into(), true),
            ],
            true,
        );
        assert_eq!(out, "<p>&lt;script&gt; in a&amp;b</p><ul></ul>");
        assert_eq!(
            fill("[user] says", &[("user", "<b>".into(), false)], false),
            "<b> says"
        );
    }

    #[test]
    fn plain_text_keeps_words_and_links() {
        let t = plain_text(
            "<p>Hi &lt;you&gt;, <a href=\"https://x/y\">here</a></p><ul><li>a</li></ul>",
        );
        assert!(t.contains("Hi <you>,"), "{t}");
        assert!(t.contains("<https://x/y> here"), "{t}");
        assert!(t.contains("- a"), "{t}");
    }
}
