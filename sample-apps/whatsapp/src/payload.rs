//! The webhook notifications Meta sends (`object: whatsapp_business_account`), and how
//! each kind of inbound message is shown in a room.
//!
//! Every field is optional or defaulted: Meta adds fields over time, and one odd
//! message must not make the app refuse (and Meta retry) a whole batch.

use serde::Deserialize;

/// One webhook call.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Notification {
    #[serde(default)]
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

/// One WhatsApp Business Account's changes.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Entry {
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: ChangeValue,
}

/// The `value` of a `messages` change: messages from customers and statuses of the
/// business's messages.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChangeValue {
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub contacts: Vec<Contact>,
    #[serde(default)]
    pub messages: Vec<InboundMessage>,
    #[serde(default)]
    pub statuses: Vec<StatusUpdate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub phone_number_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Contact {
    #[serde(default)]
    pub wa_id: String,
    #[serde(default)]
    pub profile: Profile,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
}

/// A message from a customer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InboundMessage {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<Text>,
    #[serde(default)]
    pub image: Option<Media>,
    #[serde(default)]
    pub video: Option<Media>,
    #[serde(default)]
    pub audio: Option<Media>,
    #[serde(default)]
    pub document: Option<Media>,
    #[serde(default)]
    pub sticker: Option<Media>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub reaction: Option<Reaction>,
    #[serde(default)]
    pub contacts: Vec<SharedContact>,
    #[serde(default)]
    pub button: Option<Button>,
    #[serde(default)]
    pub interactive: Option<Interactive>,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Text {
    #[serde(default)]
    pub body: String,
}

/// An image, video, audio, document or sticker: only its id is sent, not the bytes.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Media {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub caption: Option<String>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub voice: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Location {
    #[serde(default)]
    pub latitude: f64,
    #[serde(default)]
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

/// A reaction to a message; an empty emoji removes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reaction {
    #[serde(default)]
    pub message_id: String,
    #[serde(default)]
    pub emoji: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SharedContact {
    #[serde(default)]
    pub name: SharedName,
    #[serde(default)]
    pub phones: Vec<SharedPhone>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SharedName {
    #[serde(default)]
    pub formatted_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SharedPhone {
    #[serde(default)]
    pub phone: String,
}

/// A quick-reply button of a template.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Button {
    #[serde(default)]
    pub text: String,
}

/// A reply to an interactive message (a button or a list item).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Interactive {
    #[serde(default)]
    pub button_reply: Option<Choice>,
    #[serde(default)]
    pub list_reply: Option<Choice>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub title: String,
}

/// The delivery status of a message the business sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatusUpdate {
    /// The `wamid.…` the send call returned.
    #[serde(default)]
    pub id: String,
    /// `sent`, `delivered`, `read` or `failed`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub errors: Vec<ErrorDetail>,
}

/// An error in a status or an unsupported message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct ErrorDetail {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_data: Option<ErrorDetailData>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct ErrorDetailData {
    #[serde(default)]
    pub details: Option<String>,
}

impl InboundMessage {
    /// The id of the media (image, video, audio, document, sticker), if any: what the
    /// Graph API downloads it by.
    pub fn media_id(&self) -> Option<&str> {
        [
            &self.image,
            &self.video,
            &self.audio,
            &self.document,
            &self.sticker,
        ]
        .into_iter()
        .flatten()
        .map(|m| m.id.as_str())
        .find(|id| !id.is_empty())
    }
}

impl ErrorDetail {
    /// `title (code N): details`.
    pub fn describe(&self) -> String {
        let mut text = if self.title.trim().is_empty() {
            self.message.clone().unwrap_or_else(|| "error".into())
        } else {
            self.title.trim().to_string()
        };
        if self.code != 0 {
            text.push_str(&format!(" (code {})", self.code));
        }
        if let Some(details) = self
            .error_data
            .as_ref()
            .and_then(|d| d.details.as_deref())
            .filter(|d| !d.trim().is_empty())
        {
            text.push_str(": ");
            text.push_str(details.trim());
        }
        text
    }
}

/// What a customer's message becomes in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    /// False for messages the team cannot see here (the customer gets the offline /
    /// unsupported reply).
    pub supported: bool,
}

fn supported(text: String) -> Rendered {
    Rendered {
        text,
        supported: true,
    }
}

fn with_caption(label: &str, caption: Option<&str>) -> String {
    match caption.map(str::trim).filter(|c| !c.is_empty()) {
        Some(caption) => format!("{label} — “{caption}”"),
        None => label.to_string(),
    }
}

/// Media are not downloaded: the placeholder names the type and shows the caption.
const MEDIA_NOTE: &str = "(open WhatsApp to see it)";

/// The room text for `message` (reactions are rendered by the caller, which knows
/// which message they refer to).
pub fn render(message: &InboundMessage) -> Rendered {
    let media = |label: &str, media: &Option<Media>| {
        let media = media.clone().unwrap_or_default();
        let mut label = label.to_string();
        if let Some(name) = media.filename.as_deref().filter(|n| !n.trim().is_empty()) {
            label.push_str(&format!(" “{}”", name.trim()));
        }
        supported(format!(
            "{} {MEDIA_NOTE}",
            with_caption(&label, media.caption.as_deref())
        ))
    };
    match message.kind.as_str() {
        "text" => supported(message.text.clone().unwrap_or_default().body),
        "image" => media("📷 [Image]", &message.image),
        "video" => media("🎬 [Video]", &message.video),
        "document" => media("📄 [Document]", &message.document),
        "sticker" => media("🏷️ [Sticker]", &message.sticker),
        "audio" => {
            let voice = message.audio.as_ref().and_then(|a| a.voice) == Some(true);
            media(
                if voice {
                    "🎤 [Voice message]"
                } else {
                    "🎵 [Audio]"
                },
                &message.audio,
            )
        }
        "location" => {
            let l = message.location.clone().unwrap_or_default();
            let place: Vec<&str> = [l.name.as_deref(), l.address.as_deref()]
                .into_iter()
                .flatten()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let mut text = "📍 [Location]".to_string();
            if !place.is_empty() {
                text.push(' ');
                text.push_str(&place.join(", "));
            }
            text.push_str(&format!(
                " ({:.6}, {:.6}) https://www.google.com/maps?q={:.6},{:.6}",
                l.latitude, l.longitude, l.latitude, l.longitude
            ));
            supported(text)
        }
        "contacts" => {
            let people: Vec<String> = message
                .contacts
                .iter()
                .map(|c| {
                    let phones: Vec<&str> = c.phones.iter().map(|p| p.phone.as_str()).collect();
                    if phones.is_empty() {
                        c.name.formatted_name.clone()
                    } else {
                        format!("{} ({})", c.name.formatted_name, phones.join(", "))
                    }
                })
                .collect();
            supported(format!("👤 [Contact] {}", people.join("; ")))
        }
        "button" => supported(format!(
            "🔘 {}",
            message.button.clone().unwrap_or_default().text
        )),
        "interactive" => {
            let i = message.interactive.clone().unwrap_or_default();
            let title = i
                .button_reply
                .or(i.list_reply)
                .map(|c| c.title)
                .unwrap_or_default();
            supported(format!("🔘 {title}"))
        }
        other => {
            let why = message
                .errors
                .first()
                .map(|e| format!(": {}", e.describe()))
                .unwrap_or_default();
            let kind = if other.is_empty() { "unknown" } else { other };
            Rendered {
                text: format!("⚠️ [Unsupported message, type {kind}{why}] {MEDIA_NOTE}"),
                supported: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> InboundMessage {
        serde_json::from_str(json).expect("a message")
    }

    #[test]
    fn renders_each_kind() {
        let text = parse(r#"{"from":"1","id":"w","type":"text","text":{"body":"Hi there"}}"#);
        assert_eq!(render(&text), supported("Hi there".into()));
        let image = parse(
            r#"{"type":"image","image":{"caption":"my receipt","mime_type":"image/jpeg","id":"m1"}}"#,
        );
        assert_eq!(
            render(&image).text,
            "📷 [Image] — “my receipt” (open WhatsApp to see it)"
        );
        let doc = parse(r#"{"type":"document","document":{"filename":"invoice.pdf","id":"m2"}}"#);
        assert_eq!(
            render(&doc).text,
            "📄 [Document] “invoice.pdf” (open WhatsApp to see it)"
        );
        let voice = parse(r#"{"type":"audio","audio":{"voice":true,"id":"m3"}}"#);
        assert_eq!(
            render(&voice).text,
            "🎤 [Voice message] (open WhatsApp to see it)"
        );
        let location = parse(
            r#"{"type":"location","location":{"latitude":52.52,"longitude":13.405,"name":"Office","address":"Main St 1"}}"#,
        );
        assert_eq!(
            render(&location).text,
            "📍 [Location] Office, Main St 1 (52.520000, 13.405000) https://www.google.com/maps?q=52.520000,13.405000"
        );
        let unsupported = parse(
            r#"{"type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}]}"#,
        );
        let r = render(&unsupported);
        assert!(!r.supported);
        assert_eq!(
            r.text,
            "⚠️ [Unsupported message, type unsupported: Message type unknown (code 131051): Message type is currently not supported.] (open WhatsApp to see it)"
        );
    }
}
