//! A message's parsed text (Rocket.Chat's `md`): the tree `@rocket.chat/message-parser`
//! makes of `msg`, stored with the message so clients render it without parsing.
//! Built by `chat::markdown`; the JSON form is Rocket.Chat's, field for field.

use serde::{Deserialize, Serialize};

/// One node of the tree. Which variants appear where follows Rocket.Chat's grammar:
/// the top level holds blocks (paragraphs, code, headings, lists, quotes, …) or a
/// single [`MdNode::BigEmoji`]; blocks hold inlines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MdNode {
    Paragraph {
        value: Vec<MdNode>,
    },
    PlainText {
        value: String,
    },
    Bold {
        value: Vec<MdNode>,
    },
    Italic {
        value: Vec<MdNode>,
    },
    Strike {
        value: Vec<MdNode>,
    },
    /// A fenced code block; `language` is `none` when the fence names none.
    Code {
        language: String,
        value: Vec<MdNode>,
    },
    CodeLine {
        value: Box<MdNode>,
    },
    InlineCode {
        value: Box<MdNode>,
    },
    Heading {
        level: u8,
        value: Vec<MdNode>,
    },
    Quote {
        value: Vec<MdNode>,
    },
    Link {
        value: LinkValue,
    },
    Image {
        value: ImageValue,
    },
    MentionUser {
        value: Box<MdNode>,
    },
    MentionChannel {
        value: Box<MdNode>,
    },
    /// A short code (`:smile:`, `value` its name) or emoticon (`:)`, `value` the
    /// text as written), or a Unicode emoji (`unicode`, no `value`).
    Emoji {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Box<MdNode>>,
        #[serde(rename = "shortCode", default, skip_serializing_if = "Option::is_none")]
        short_code: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unicode: Option<String>,
    },
    /// A message of one to three emoji and nothing else.
    BigEmoji {
        value: Vec<MdNode>,
    },
    Color {
        value: Rgba,
    },
    Tasks {
        value: Vec<MdNode>,
    },
    Task {
        status: bool,
        value: Vec<MdNode>,
    },
    UnorderedList {
        value: Vec<MdNode>,
    },
    OrderedList {
        value: Vec<MdNode>,
    },
    /// An item of a list; `number` for ordered lists (absent when 0, as Rocket.Chat).
    ListItem {
        value: Vec<MdNode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<serde_json::Number>,
    },
    LineBreak {},
    Katex {
        value: String,
    },
    InlineKatex {
        value: String,
    },
    Timestamp {
        value: TimestampValue,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<Box<MdNode>>,
    },
}

impl MdNode {
    /// Plain text.
    pub fn plain(text: impl Into<String>) -> MdNode {
        MdNode::PlainText { value: text.into() }
    }
}

/// A link's target and label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkValue {
    pub src: Box<MdNode>,
    pub label: Vec<MdNode>,
}

/// An image's source and label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageValue {
    pub src: Box<MdNode>,
    pub label: Box<MdNode>,
}

/// A colour written `color:#rrggbb[aa]` or `color:#rgb[a]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

/// A `<t:UNIX:FORMAT>` timestamp: seconds as written and the format letter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimestampValue {
    pub timestamp: String,
    pub format: TimestampFormat,
}

/// How a client shows a timestamp (Discord's letters, which Rocket.Chat took).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimestampFormat {
    /// `t`: 16:20
    #[serde(rename = "t")]
    ShortTime,
    /// `T`: 16:20:30
    #[serde(rename = "T")]
    LongTime,
    /// `d`: 20/04/2021
    #[serde(rename = "d")]
    ShortDate,
    /// `D`: 20 April 2021
    #[serde(rename = "D")]
    LongDate,
    /// `f`: 20 April 2021 16:20
    #[serde(rename = "f")]
    ShortDateTime,
    /// `F`: Tuesday, 20 April 2021 16:20
    #[serde(rename = "F")]
    LongDateTime,
    /// `R`: 2 months ago
    #[serde(rename = "R")]
    Relative,
}

impl TimestampFormat {
    /// The format's letter.
    pub fn letter(self) -> char {
        match self {
            TimestampFormat::ShortTime => 't',
            TimestampFormat::LongTime => 'T',
            TimestampFormat::ShortDate => 'd',
            TimestampFormat::LongDate => 'D',
            TimestampFormat::ShortDateTime => 'f',
            TimestampFormat::LongDateTime => 'F',
            TimestampFormat::Relative => 'R',
        }
    }

    /// The format a letter names.
    pub fn from_letter(letter: char) -> Option<TimestampFormat> {
        Some(match letter {
            't' => TimestampFormat::ShortTime,
            'T' => TimestampFormat::LongTime,
            'd' => TimestampFormat::ShortDate,
            'D' => TimestampFormat::LongDate,
            'f' => TimestampFormat::ShortDateTime,
            'F' => TimestampFormat::LongDateTime,
            'R' => TimestampFormat::Relative,
            _ => return None,
        })
    }
}
