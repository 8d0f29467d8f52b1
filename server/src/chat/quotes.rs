//! Quotes of linked messages (Rocket.Chat's `jumpToMessage`): a message whose text
//! links to another message of this workspace (`<Site_Url>/…?msg=<id>`) carries that
//! message as a quote attachment (`message_link`), when its author may read the
//! linked message's room. An edit drops the old quotes and quotes again.

use serde_json::{json, Value};

use super::rooms::RoomRef;
use super::{Chat, ChatResult};
use crate::store::User;

/// The most links of one message turned into quotes (each costs two reads).
const MAX_QUOTES: usize = 10;

/// Whether an attachment is a quote (only quotes carry `message_link`).
pub(super) fn is_quote(attachment: &Value) -> bool {
    attachment.get("message_link").is_some()
}

impl Chat {
    /// Adds to `attachments` a quote of each message `text` links to that `author`
    /// may read, replacing an earlier quote of the same link.
    pub(super) async fn quote_links(
        &self,
        author: &User,
        text: &str,
        attachments: &mut Vec<Value>,
    ) -> ChatResult<()> {
        let settings = self.settings();
        let site = settings.string("Site_Url");
        let site = site.trim_end_matches('/');
        if site.is_empty() || !text.contains(site) {
            return Ok(());
        }
        let real_names = settings.bool("UI_Use_Real_Name");
        let links = text
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | ',' | '"')))
            .filter(|w| w.starts_with(site))
            .take(MAX_QUOTES);
        for link in links {
            let Some(mid) = url::Url::parse(link).ok().and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "msg")
                    .map(|(_, v)| v.into_owned())
            }) else {
                continue;
            };
            let Some(quoted) = self.store.message(&mid).await? else {
                continue;
            };
            if self
                .readable_room(author, RoomRef::Id(&quoted.rid))
                .await
                .is_err()
            {
                continue;
            }
            let author_name =
                quoted
                    .alias
                    .clone()
                    .unwrap_or_else(|| match (&quoted.u.name, real_names) {
                        (Some(name), true) if !name.is_empty() => name.clone(),
                        _ => quoted.u.username.clone(),
                    });
            // The quoted message's own quotes are not carried along.
            let inner: Vec<Value> = quoted
                .attachments
                .iter()
                .map(|a| {
                    let mut a = a.clone();
                    if let Some(obj) = a.as_object_mut() {
                        obj.remove("attachments");
                    }
                    a
                })
                .collect();
            attachments.retain(|a| a.get("message_link").and_then(Value::as_str) != Some(link));
            attachments.push(json!({
                "text": quoted.msg,
                "author_name": author_name,
                "author_icon": format!("/avatar/{}", quoted.u.username),
                "attachments": inner,
                "message_link": link,
                "ts": crate::wire::iso(quoted.ts.0),
            }));
        }
        Ok(())
    }
}
