//! A new or renamed room's `name` and `fname`, as Rocket.Chat's `getValidRoomName`.
//! By default the name given is both and must be a valid room name. With
//! `UI_Allow_room_names_with_special_chars` any text is the display name (`fname`)
//! and the name is its slug (transliterated to ASCII, case kept, runs of other
//! characters made one `-`, as Rocket.Chat's `limax`), numbered `-1`, `-2`, … when
//! another room has it.

use super::error::{ChatError, ChatResult};
use super::rooms::validate_room_name;
use super::Chat;

/// Longest display name, in characters.
const MAX_DISPLAY_CHARS: usize = 100;
/// Most numbered variants of a slug tried before giving up.
const MAX_SLUG_TRIES: u32 = 1000;

/// `text`'s slug: ASCII letters, digits, `_` and `.` kept (transliterated first),
/// every other run one `-`, none at either end.
pub fn room_slug(text: &str) -> String {
    let ascii = any_ascii::any_ascii(text);
    let mut out = String::with_capacity(ascii.len());
    let mut gap = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.') {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

impl Chat {
    /// The `(name, fname)` a room gets for the name asked (`rid`: the room being
    /// renamed, whose own name is no clash).
    pub(super) async fn room_names(
        &self,
        asked: &str,
        rid: Option<&str>,
    ) -> ChatResult<(String, String)> {
        if !self.settings.bool("UI_Allow_room_names_with_special_chars") {
            validate_room_name(asked)?;
            return Ok((asked.to_string(), asked.to_string()));
        }
        let display = asked.trim();
        let chars = display.chars().count();
        if chars == 0 || chars > MAX_DISPLAY_CHARS || display.chars().any(char::is_control) {
            return Err(ChatError::refused(
                "error-invalid-room-name",
                format!("{display:?} is not a valid room name"),
            ));
        }
        let slug = room_slug(display);
        validate_room_name(&slug)?;
        let mut name = slug.clone();
        for n in 1..=MAX_SLUG_TRIES {
            match self.store.room_by_name(&name).await? {
                Some(other) if Some(other.id.as_str()) != rid => {
                    name = format!("{slug}-{n}");
                }
                _ => return Ok((name, display.to_string())),
            }
        }
        Err(ChatError::refused(
            "error-duplicate-channel-name",
            format!("A channel with name '{slug}' exists"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::room_slug;

    #[test]
    fn slugs_as_rocket_chat() {
        assert_eq!(room_slug("Ελληνικά-test-1"), "Ellinika-test-1");
        assert_eq!(room_slug("test ГДΕληνικά-2"), "test-GDElinika-2");
        assert_eq!(room_slug("  a  b!!c  "), "a-b-c");
        assert_eq!(room_slug("plain.name_1"), "plain.name_1");
        assert_eq!(room_slug("!!!"), "");
    }
}
