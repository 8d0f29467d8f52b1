//! The contents of the events a Palaver message becomes on Matrix: its text,
//! and one event per file (uploaded to the homeserver's media repository, with
//! `info` — type, size, image dimensions, thumbnail — as Matrix clients expect).

use serde_json::{json, Value};

use super::format;
use super::outbound::MatrixHandler;
use crate::store::uploads::{Upload, UploadState, TYPE_GROUP_THUMB};
use crate::store::{Message, UserRef};
use crate::worker::outbox::policy::DeliveryError;

/// One Matrix event of a message.
pub enum Part {
    /// The message's text.
    Text,
    /// A file; `caption`: its event carries the message's text too (the
    /// message's only file).
    File { upload: Box<Upload>, caption: bool },
}

fn store_error(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::transient(format!("storage: {e}"))
}

/// `m.text` content of a Palaver text: the text as `body`, its HTML when it has
/// formatting.
pub fn text_content(text: &str) -> Value {
    let mut content = json!({ "msgtype": "m.text", "body": text });
    if let Some(html) = format::markdown_to_html(text) {
        content["format"] = json!("org.matrix.custom.html");
        content["formatted_body"] = json!(html);
    }
    content
}

/// The parts of a message with `uploads` (thumbnails left out): its text alone,
/// its one file captioned with the text, or the text then each file in order.
pub fn parts_of(text: &str, uploads: Vec<Upload>) -> Vec<Part> {
    if uploads.len() <= 1 {
        return match uploads.into_iter().next() {
            Some(upload) => vec![Part::File {
                upload: Box::new(upload),
                caption: true,
            }],
            None => vec![Part::Text],
        };
    }
    let text = (!text.trim().is_empty()).then_some(Part::Text);
    text.into_iter()
        .chain(uploads.into_iter().map(|upload| Part::File {
            upload: Box::new(upload),
            caption: false,
        }))
        .collect()
}

/// `m.image`/`m.video`/`m.audio`/`m.file` by the media type.
fn msgtype_of(content_type: &str) -> &'static str {
    match content_type.split('/').next().unwrap_or_default() {
        "image" => "m.image",
        "video" => "m.video",
        "audio" => "m.audio",
        _ => "m.file",
    }
}

/// A file's `info`: type and size, and the dimensions when known.
fn info_of(upload: &Upload) -> Value {
    let mut info = json!({ "mimetype": upload.content_type, "size": upload.size });
    if let Some(d) = &upload.dimensions {
        info["w"] = json!(d.width);
        info["h"] = json!(d.height);
    }
    info
}

impl MatrixHandler {
    /// The events `message` becomes, in order.
    pub(super) async fn parts(&self, message: &Message) -> Result<Vec<Part>, DeliveryError> {
        let mut uploads = Vec::new();
        for file in &message.files {
            let Some(id) = file["_id"].as_str() else {
                continue;
            };
            let upload = self.bridge.store.upload(id).await.map_err(store_error)?;
            // Deleted since, or a thumbnail (sent as its image's `thumbnail_url`).
            let Some(upload) = upload else { continue };
            if upload.original_file_id.is_some()
                || upload.type_group.as_deref() == Some(TYPE_GROUP_THUMB)
            {
                continue;
            }
            uploads.push(upload);
        }
        Ok(parts_of(&message.msg, uploads))
    }

    /// The content of one part; a file is uploaded to the homeserver's media
    /// repository as the author's puppet (its thumbnail too).
    pub(super) async fn part_content(
        &self,
        message: &Message,
        part: &Part,
        mxid: &str,
    ) -> Result<Value, DeliveryError> {
        let (upload, caption) = match part {
            Part::Text => return Ok(text_content(&message.msg)),
            Part::File { upload, caption } => (upload, *caption),
        };
        let mxc = self.send_file(upload, mxid).await?;
        let description = upload.description.as_deref().unwrap_or_default();
        let caption = if caption {
            [message.msg.as_str(), description]
                .into_iter()
                .find(|t| !t.trim().is_empty())
        } else {
            Some(description).filter(|t| !t.trim().is_empty())
        };
        let mut content = match caption {
            Some(c) => text_content(c),
            None => json!({ "body": upload.name }),
        };
        content["msgtype"] = json!(msgtype_of(&upload.content_type));
        content["filename"] = json!(upload.name);
        content["url"] = json!(mxc);
        let mut info = info_of(upload);
        if let Some(thumb) = self.thumbnail(upload).await? {
            info["thumbnail_url"] = json!(self.send_file(&thumb, mxid).await?);
            info["thumbnail_info"] = info_of(&thumb);
        }
        content["info"] = info;
        Ok(content)
    }

    /// The stored thumbnail of an image upload, if it has one.
    async fn thumbnail(&self, upload: &Upload) -> Result<Option<Upload>, DeliveryError> {
        let Some(id) = &upload.thumb_id else {
            return Ok(None);
        };
        let thumb = self.bridge.store.upload(id).await.map_err(store_error)?;
        Ok(thumb.filter(|t| {
            t.state == UploadState::Stored && t.original_file_id.as_deref() == Some(&upload.id)
        }))
    }

    /// Uploads a stored file to the homeserver as `mxid`; its `mxc://` URL.
    async fn send_file(&self, upload: &Upload, mxid: &str) -> Result<String, DeliveryError> {
        let read = self
            .bridge
            .chat
            .open_upload(upload, None)
            .await
            .map_err(|e| DeliveryError::transient(format!("file storage: {e}")))?;
        Ok(self
            .bridge
            .hs
            .upload(
                mxid,
                &upload.name,
                &upload.content_type,
                reqwest::Body::wrap_stream(read.body),
                read.size,
            )
            .await?)
    }

    /// The Matrix ids of mentioned users (puppets and Matrix users alike), for
    /// `m.mentions`: Matrix notifies them.
    pub(super) async fn mentioned(
        &self,
        mentions: &[UserRef],
    ) -> Result<Vec<String>, DeliveryError> {
        let mut ids = Vec::new();
        for m in mentions {
            let link = self
                .bridge
                .store
                .matrix_user_by_user(&m.id)
                .await
                .map_err(store_error)?;
            let id = match link {
                Some(l) => l.mxid,
                None if !m.username.is_empty() && m.id != m.username => {
                    self.bridge.puppet_mxid(&m.username)
                }
                None => continue,
            };
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Whom the original event of an edited message mentioned (`m.mentions`),
    /// read back from the homeserver; nobody when it cannot be read (the edit
    /// then mentions everyone its text names).
    pub(super) async fn original_mentions(
        &self,
        mxid: &str,
        room_id: &str,
        event_id: &str,
    ) -> Vec<String> {
        match self.bridge.hs.event(mxid, room_id, event_id).await {
            Ok(event) => event["content"]["m.mentions"]["user_ids"]
                .as_array()
                .map(|ids| {
                    ids.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            Err(e) => {
                tracing::info!(room_id, event_id, error = %e, "matrix: original event not readable; the edit mentions all");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Ts;

    fn upload(id: &str) -> Upload {
        Upload {
            id: id.into(),
            key: id.into(),
            name: format!("{id}.png"),
            size: 10,
            content_type: "image/png".into(),
            sha256: String::new(),
            rid: "r".into(),
            user_id: "u".into(),
            username: "u".into(),
            store: "fs".into(),
            state: UploadState::Stored,
            uploaded_at: Ts(0),
            expires_at: None,
            message_id: None,
            description: None,
            dimensions: Some(crate::store::uploads::ImageDimensions {
                width: 4,
                height: 3,
            }),
            format: None,
            preview: None,
            thumb_id: None,
            type_group: None,
            original_file_id: None,
        }
    }

    fn shape(parts: &[Part]) -> Vec<String> {
        parts
            .iter()
            .map(|p| match p {
                Part::Text => "text".to_string(),
                Part::File { upload, caption } => {
                    format!("{}{}", upload.id, if *caption { "+caption" } else { "" })
                }
            })
            .collect()
    }

    #[test]
    fn one_event_per_file_after_the_text() {
        assert_eq!(shape(&parts_of("hi", vec![])), ["text"]);
        assert_eq!(shape(&parts_of("hi", vec![upload("a")])), ["a+caption"]);
        assert_eq!(
            shape(&parts_of("hi", vec![upload("a"), upload("b")])),
            ["text", "a", "b"]
        );
        assert_eq!(
            shape(&parts_of(" ", vec![upload("a"), upload("b")])),
            ["a", "b"]
        );
    }

    #[test]
    fn info_carries_dimensions() {
        let info = info_of(&upload("a"));
        assert_eq!(
            info,
            json!({"mimetype": "image/png", "size": 10, "w": 4, "h": 3})
        );
        assert_eq!(msgtype_of("image/png"), "m.image");
        assert_eq!(msgtype_of("application/pdf"), "m.file");
    }
}
