//! Link previews of posted messages (Rocket.Chat's `urls` and its OEmbed
//! `afterSaveMessage`): the links of a message's text are listed with it when it
//! is sent or edited (`parseUrlsInMessage`; those the sender left out of
//! `previewUrls` marked `ignoreParse`), then, off the posting path, each page is
//! read for its preview (`url_preview`) and the message is updated with what was
//! found. As Rocket.Chat, nothing is read for a message with attachments or with
//! more than five external links, or when `API_Embed` is off.
//!
//! The reading is an outbox job ([`PreviewHandler`]), queued by the
//! `link-previews` worker from the message events: durable, shared between
//! instances (one job per message version), retried when the store fails.

use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::error::{ChatError, ChatResult};
use super::events::Event;
use super::{ids, Chat};
use crate::store::message_urls::MessageUrl;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{Message, Ts};
use crate::worker::outbox::DeliveryError;

/// Rocket.Chat's limit: more external links than this and none is previewed.
const MAX_EXTERNAL_PREVIEWS: usize = 5;

/// Rocket.Chat's `getMessageUrlRegex`, with JavaScript's ASCII `\w`.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    let w = "0-9A-Za-z_";
    Regex::new(&format!(
        r"([A-Za-z]{{3,9}})://([-;:&=+$,{w}]+@)?([-A-Za-z0-9.]+)+:?(\d+)?((/[-+=!:~%/.@,{w}]*)?\??([-+=&!:;%@/.,{w}]+)?(?:#([^\s)]+))?)?"
    ))
    .expect("the URL pattern compiles")
});

/// The links of `text` outside code, each once, in order. Links not in
/// `preview_urls` (when given) are marked `ignore_parse`, but for the site's own.
pub fn message_urls(
    text: &str,
    preview_urls: Option<&[String]>,
    site_url: &str,
) -> Vec<MessageUrl> {
    let masked = mask_code(text);
    let mut urls: Vec<MessageUrl> = Vec::new();
    for found in URL.find_iter(&masked) {
        let url = found.as_str();
        if urls.iter().any(|u| u.url == url) {
            continue;
        }
        let ignore_parse = preview_urls.is_some_and(|chosen| {
            !chosen.iter().any(|c| c == url) && (site_url.is_empty() || !url.contains(site_url))
        });
        urls.push(MessageUrl {
            url: url.to_string(),
            ignore_parse,
            ..Default::default()
        });
    }
    urls
}

/// The text with code (fenced blocks, inline spans) blanked out, byte for byte,
/// so that links in code are not taken (Rocket.Chat's `Markdown.code`).
fn mask_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let fence = if rest[start..].starts_with("```") {
            "```"
        } else {
            "`"
        };
        let body = &rest[start + fence.len()..];
        // An inline span ends on its line; a fenced block at the next fence.
        let end = match fence {
            "```" => body.find("```"),
            _ => body.find('`').filter(|i| !body[..*i].contains('\n')),
        };
        match end {
            Some(end) => {
                let span = fence.len() * 2 + end;
                out.extend(std::iter::repeat_n(' ', span));
                rest = &rest[start + span..];
            }
            None => {
                out.push_str(fence);
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What a preview job names: the message, as it was when queued.
#[derive(Debug, Serialize, Deserialize)]
struct PreviewJob {
    mid: String,
}

impl Chat {
    /// Lists the links of a message being sent or edited (`urls`).
    pub(super) fn find_links(&self, message: &mut Message, preview_urls: Option<&[String]>) {
        message.urls = if message.t.is_some() {
            Vec::new()
        } else {
            message_urls(
                &message.msg,
                preview_urls,
                &self.settings().string("Site_Url"),
            )
        };
    }

    /// Whether the links of `message` are to be read (`API_Embed` aside).
    fn wants_previews(&self, message: &Message) -> bool {
        if message.t.is_some() || !message.attachments.is_empty() {
            return false;
        }
        let site_url = self.settings().string("Site_Url");
        let external = message
            .urls
            .iter()
            .filter(|u| site_url.is_empty() || !u.url.contains(&site_url))
            .count();
        external <= MAX_EXTERNAL_PREVIEWS
            && message
                .urls
                .iter()
                .any(|u| !u.ignore_parse && u.meta.is_empty() && u.headers.is_none())
    }

    /// The job reading the previews of a message just sent or edited, if any:
    /// one per version of the message, however many instances see the event.
    /// The caller knows whether `API_Embed` was on when it was sent.
    pub fn link_preview_job(&self, event: &Event) -> Option<OutboxItem> {
        let message = match event {
            Event::MessageSent { message, .. } => message,
            // An edit (reactions, marks and previews also update a message).
            Event::MessageUpdated { message, .. }
                if message.edited_at == Some(message.updated_at) =>
            {
                message
            }
            _ => return None,
        };
        if !self.wants_previews(message) {
            return None;
        }
        let version = message.edited_at.unwrap_or(message.ts);
        let payload = serde_json::to_value(PreviewJob {
            mid: message.id.clone(),
        })
        .ok()?;
        Some(OutboxItem::new(
            ids::new_id(),
            OutboxKind::Preview,
            format!("{}\u{1f}{}", message.id, version.0),
            payload,
            Ts::now(),
        ))
    }

    /// Reads the previews of a stored message's links and saves them with it,
    /// unless its text changed meanwhile (the edit has its own job).
    pub async fn fill_link_previews(&self, mid: &str) -> ChatResult<()> {
        let Some(message) = self.store.message(mid).await? else {
            return Ok(());
        };
        // Turned off since it was queued: nothing more is read.
        if !self.settings().bool("API_Embed") || !self.wants_previews(&message) {
            return Ok(());
        }
        let mut urls = message.urls.clone();
        let mut found = false;
        for item in urls.iter_mut() {
            if item.ignore_parse || !item.meta.is_empty() || item.headers.is_some() {
                continue;
            }
            if let Some(preview) = self.fetch_preview(&item.url).await {
                item.meta = preview.meta;
                item.headers = (!preview.headers.is_empty()).then_some(preview.headers);
                found = true;
            }
        }
        if !found {
            return Ok(());
        }
        let Some(updated) = self
            .store
            .set_message_urls(mid, &message.msg, &urls, Ts::now())
            .await?
        else {
            return Ok(());
        };
        let Some(room) = self.store.room_by_id(&updated.rid).await? else {
            return Ok(());
        };
        tracing::debug!(room_id = %room.id, message_id = %mid, "link previews saved");
        self.bus.publish(Event::MessageUpdated {
            room,
            message: updated,
        });
        Ok(())
    }
}

/// Reads queued link previews (the outbox's handler of kind `preview`).
pub struct PreviewHandler(pub Arc<Chat>);

#[async_trait::async_trait]
impl crate::worker::outbox::DeliveryHandler for PreviewHandler {
    fn kind(&self) -> OutboxKind {
        OutboxKind::Preview
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let job: PreviewJob = serde_json::from_value(item.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("unreadable preview job: {e}")))?;
        // A page that cannot be read is no failure (the link stays without a
        // preview); the store failing is one, retried.
        self.0
            .fill_link_previews(&job.mid)
            .await
            .map_err(|e| match e {
                ChatError::Store(_) => DeliveryError::transient(e.to_string()),
                other => DeliveryError::permanent(other.to_string()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(text: &str, chosen: Option<&[String]>) -> Vec<(String, bool)> {
        message_urls(text, chosen, "https://chat.example")
            .into_iter()
            .map(|u| (u.url, u.ignore_parse))
            .collect()
    }

    #[test]
    fn links_are_found_as_rocket_chat_finds_them() {
        assert_eq!(
            urls("see https://www.rocket.chat/ and http://x.io/a?b=1#c, again https://www.rocket.chat/", None),
            [
                ("https://www.rocket.chat/".to_string(), false),
                ("http://x.io/a?b=1#c,".to_string(), false),
            ]
        );
        assert!(urls("no links, www.example.com, mailto:a@b", None).is_empty());
        assert_eq!(
            urls("(https://example.com/path)", None),
            [("https://example.com/path".to_string(), false)]
        );
    }

    #[test]
    fn links_in_code_are_not_taken() {
        assert!(urls("`https://in.code/` and ```\nhttps://in.block/\n```", None).is_empty());
        assert_eq!(
            urls("`unclosed https://a.io/", None),
            [("https://a.io/".to_string(), false)]
        );
    }

    #[test]
    fn links_left_out_of_preview_urls_are_ignored_but_the_sites_own() {
        let chosen = vec!["https://b.io/".to_string()];
        assert_eq!(
            urls(
                "https://a.io/ https://b.io/ https://chat.example/channel/x",
                Some(&chosen)
            ),
            [
                ("https://a.io/".to_string(), true),
                ("https://b.io/".to_string(), false),
                ("https://chat.example/channel/x".to_string(), false),
            ]
        );
        assert!(urls("https://a.io/", Some(&[]))
            .iter()
            .all(|(_, ignored)| *ignored));
    }
}
