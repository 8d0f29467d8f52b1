//! The missed-messages mail: what a person who was away missed in one room,
//! read again at delivery (what they read meanwhile is left out).

use super::email::{display_name, escape, fill, plain_text, room_link, EmailChannel, Rendered};
use super::rules;
use super::worker::{connected, defaults, facts, mail_address};
use crate::store::{HistoryQuery, Message, RoomType};
use crate::worker::outbox::policy::DeliveryError;

/// Most messages listed in one missed-messages mail.
const MAX_LISTED: u64 = 50;

impl EmailChannel {
    pub(super) async fn render_missed(
        &self,
        user_id: &str,
        rid: &str,
        from: crate::store::Ts,
        until: crate::store::Ts,
    ) -> Result<Option<Rendered>, DeliveryError> {
        let store = self.chat.store();
        let transient = |what: &str, e: crate::store::StoreError| {
            DeliveryError::transient(format!("reading the {what}: {e}"))
        };
        let Some(user) = store
            .user_by_id(user_id)
            .await
            .map_err(|e| transient("user", e))?
        else {
            return Ok(None);
        };
        let Some(to) = mail_address(&user).map(str::to_string) else {
            return Ok(None);
        };
        // Back meanwhile: they see the messages themselves.
        if connected(&user) || !user.active {
            tracing::info!(
                user_id,
                room_id = rid,
                "missed-messages mail dropped: the user is connected"
            );
            return Ok(None);
        }
        let Some(room) = store
            .room_by_id(rid)
            .await
            .map_err(|e| transient("room", e))?
        else {
            return Ok(None);
        };
        let Some(sub) = store
            .subscription(rid, user_id)
            .await
            .map_err(|e| transient("subscription", e))?
        else {
            return Ok(None);
        };
        let mut messages = store
            .history(
                rid,
                &HistoryQuery {
                    // `[from, until)`: the next window starts at `until`.
                    oldest: Some(from),
                    latest: Some(crate::store::Ts(until.0 - 1)),
                    inclusive: true,
                    count: MAX_LISTED * 4,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| transient("messages", e))?;
        messages.reverse();
        let defaults = defaults(&self.chat);
        let mut listed: Vec<(Message, super::NoticeReason)> = Vec::new();
        for m in messages {
            if m.t.is_some() || m.u.id == user.id || sub.ls.is_some_and(|ls| ls >= m.ts) {
                continue;
            }
            let f = facts(&self.chat, &room, &m).await;
            if let Some(d) = rules::decide(&f, &sub, &user.settings.preferences, &defaults) {
                if d.email {
                    listed.push((m, d.reason));
                }
            }
            if listed.len() as u64 >= MAX_LISTED {
                break;
            }
        }
        let Some((first, _)) = listed.first() else {
            tracing::info!(
                user_id,
                room_id = rid,
                "missed-messages mail dropped: nothing unread is left"
            );
            return Ok(None);
        };
        let s = self.chat.settings();
        let sender = first.u.username.clone();
        let room_name = match room.t {
            RoomType::Direct => sender.clone(),
            _ => room.fname.clone().or(room.name.clone()).unwrap_or_default(),
        };
        let subject_key = if room.t == RoomType::Direct {
            "Offline_DM_Email"
        } else if listed
            .iter()
            .any(|(_, r)| *r == super::NoticeReason::Mention)
        {
            "Offline_Mention_Email"
        } else {
            "Offline_Mention_All_Email"
        };
        let (site_name, site_url) = self.site();
        let link = room_link(&site_url, &room, &sender);
        let header = if room.t == RoomType::Direct {
            format!("{sender} sent you a message")
        } else {
            format!("{sender} sent a message in #{room_name}")
        };
        let mut list = String::from("<ul>");
        for (m, _) in &listed {
            list.push_str(&format!(
                "<li><b>{}</b>: {}</li>",
                escape(&m.u.username),
                escape(&m.msg).replace('\n', "<br/>")
            ));
        }
        list.push_str("</ul>");
        let v = vec![
            ("Site_Name", site_name, false),
            ("Site_URL", site_url, false),
            ("user", sender, false),
            ("room", room_name, false),
            ("room_path", link, false),
            ("header", header, false),
            ("messages", list, true),
        ];
        let html = fill(&s.string("Offline_Message_Email_Body"), &v, true);
        Ok(Some(Rendered {
            to,
            to_name: display_name(&user),
            subject: fill(&s.string(subject_key), &v, false),
            text: plain_text(&html),
            html,
        }))
    }
}
