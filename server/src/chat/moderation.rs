//! Reporting messages to the moderators (Rocket.Chat's `reportMessage`) and reading
//! the reports of a message (`moderation.reports`, `view-moderation-console`).

use super::error::{ChatError, ChatResult};
use super::permissions::Perm;
use super::{ids, Chat};
use crate::store::moderation::{MessageReport, ReportedBy, ReportedRoom};
use crate::store::{Listing, Page, Ts, User};

/// Rocket.Chat's refusal for a message that is not there or not the reporter's to see.
fn invalid_message() -> ChatError {
    ChatError::refused("error-invalid-message_id", "Invalid message id")
}

impl Chat {
    /// Records `actor`'s report of message `mid`: a snapshot of the message, its room
    /// and the reporter, with why (`description`, required). A message in a room the
    /// reporter cannot access is reported as not found, as Rocket.Chat does.
    pub async fn report_message(
        &self,
        actor: &User,
        mid: &str,
        description: &str,
    ) -> ChatResult<MessageReport> {
        if description.trim().is_empty() {
            return Err(ChatError::refused(
                "error-invalid-description",
                "Invalid description",
            ));
        }
        let message = self.store.message(mid).await?.ok_or_else(invalid_message)?;
        let room = self
            .store
            .room_by_id(&message.rid)
            .await?
            .ok_or_else(invalid_message)?;
        if !self.can_access_room(actor, &room).await? {
            return Err(invalid_message());
        }
        let report = MessageReport {
            id: ids::new_id(),
            message: serde_json::to_value(&message)
                .map_err(|e| ChatError::invalid(format!("The message cannot be reported: {e}")))?,
            message_id: message.id.clone(),
            description: description.to_string(),
            room: ReportedRoom {
                id: room.id.clone(),
                name: room.name.clone(),
                fname: room.fname.clone(),
                t: room.t.code().to_string(),
            },
            reported_by: ReportedBy {
                id: actor.id.clone(),
                username: actor.username.clone(),
                name: actor.name.clone(),
            },
            ts: Ts::now(),
        };
        self.store.insert_message_report(&report).await?;
        tracing::info!(report_id = %report.id, message_id = %mid, user_id = %actor.id, "message reported");
        Ok(report)
    }

    /// The reports of message `mid`, newest first (`view-moderation-console`).
    pub async fn message_reports(
        &self,
        actor: &User,
        mid: &str,
        page: Page,
    ) -> ChatResult<Listing<MessageReport>> {
        self.require_permission(actor, Perm::VIEW_MODERATION_CONSOLE, None)
            .await?;
        Ok(self.store.message_reports(mid, page).await?)
    }
}
