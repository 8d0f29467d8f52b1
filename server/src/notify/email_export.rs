//! The mails of room exports: chosen messages of a room (`rooms.export` by
//! e-mail, as Rocket.Chat's `sendViaEmail` lays them out) and the link to a
//! finished export file.

use super::email::{display_name, escape, plain_text, EmailChannel, Rendered};
use crate::store::StoreError;
use crate::worker::outbox::policy::DeliveryError;

fn transient(what: &str, e: StoreError) -> DeliveryError {
    DeliveryError::transient(format!("reading the {what}: {e}"))
}

impl EmailChannel {
    pub(super) async fn render_room_messages(
        &self,
        to: &str,
        sender_id: &str,
        rid: &str,
        subject: &str,
        message_ids: &[String],
    ) -> Result<Option<Rendered>, DeliveryError> {
        let store = self.chat.store();
        if store
            .user_by_id(sender_id)
            .await
            .map_err(|e| transient("sender", e))?
            .is_none()
        {
            return Ok(None);
        }
        let mut messages = Vec::new();
        for id in message_ids {
            match store
                .message(id)
                .await
                .map_err(|e| transient("message", e))?
            {
                Some(m) if m.rid == rid => messages.push(m),
                _ => {}
            }
        }
        if messages.is_empty() {
            return Ok(None);
        }
        messages.sort_by_key(|m| m.ts);
        let mut html = String::new();
        for m in &messages {
            let when = chrono::DateTime::from_timestamp_millis(m.ts.0)
                .map(|d| d.format("%m/%d/%Y %H:%M").to_string())
                .unwrap_or_default();
            html.push_str(&format!(
                "<p style='margin-bottom: 5px'><b>{}</b> <span style='color: #aaa; font-size: 12px'>{when}</span><br/>{}</p>",
                escape(&m.u.username),
                escape(&m.msg).replace('\n', "<br/>"),
            ));
        }
        Ok(Some(Rendered {
            to: to.to_string(),
            to_name: String::new(),
            subject: subject.to_string(),
            text: plain_text(&html),
            html,
        }))
    }

    pub(super) async fn render_export_ready(
        &self,
        user_id: &str,
        to: &str,
        subject: &str,
        file_id: &str,
        file_name: &str,
    ) -> Result<Option<Rendered>, DeliveryError> {
        let store = self.chat.store();
        let Some(user) = store
            .user_by_id(user_id)
            .await
            .map_err(|e| transient("user", e))?
        else {
            return Ok(None);
        };
        let (_, site_url) = self.site();
        let link = format!(
            "{}/file-upload/{file_id}/{}",
            site_url.trim_end_matches('/'),
            super::email::url_component(file_name)
        );
        let html = format!(
            "<p>Your data file is now ready to download. Click <a href=\"{}\">here</a> to download it.</p>",
            escape(&link)
        );
        Ok(Some(Rendered {
            to: to.to_string(),
            to_name: display_name(&user),
            subject: subject.to_string(),
            text: plain_text(&html),
            html,
        }))
    }
}
