//! The grammar's node builders (Rocket.Chat's `message-parser/src/utils.ts`).

use super::hosts;
use crate::store::message_md::{
    ImageValue, LinkValue, MdNode, Rgba, TimestampFormat, TimestampValue,
};

/// A phone number as written and as dialled.
pub(super) struct Phone {
    pub text: String,
    pub number: String,
}

pub(super) fn hex_value(c: char) -> u8 {
    c.to_digit(16).unwrap_or(0) as u8
}

pub(super) fn timestamp(seconds: &str, format: Option<char>) -> MdNode {
    let format = format
        .and_then(TimestampFormat::from_letter)
        .unwrap_or(TimestampFormat::ShortTime);
    MdNode::Timestamp {
        value: TimestampValue {
            timestamp: seconds.to_string(),
            format,
        },
        fallback: Some(Box::new(MdNode::plain(format!(
            "<t:{seconds}:{}>",
            format.letter()
        )))),
    }
}

pub(super) fn code(lines: Vec<MdNode>, language: Option<&str>) -> MdNode {
    MdNode::Code {
        language: language
            .filter(|l| !l.is_empty())
            .unwrap_or("none")
            .to_string(),
        value: lines,
    }
}

/// A list item; `number` is dropped when it is 0, as the original's `number && {…}`.
pub(super) fn list_item(value: Vec<MdNode>, number: Option<&str>) -> MdNode {
    let number = number.and_then(|digits| {
        let n = match digits.parse::<u64>() {
            Ok(n) => serde_json::Number::from(n),
            // Past u64 JavaScript's parseInt gives a float; so does this.
            Err(_) => serde_json::Number::from_f64(digits.parse::<f64>().ok()?)?,
        };
        (n.as_f64() != Some(0.0)).then_some(n)
    });
    MdNode::ListItem { value, number }
}

pub(super) fn link(src: String, label: Option<Vec<MdNode>>) -> MdNode {
    let label = label.unwrap_or_else(|| vec![MdNode::plain(src.clone())]);
    MdNode::Link {
        value: LinkValue {
            src: Box::new(MdNode::plain(src)),
            label,
        },
    }
}

pub(super) fn image(src: String, label: Option<MdNode>) -> MdNode {
    let label = label.unwrap_or_else(|| MdNode::plain(src.clone()));
    MdNode::Image {
        value: ImageValue {
            src: Box::new(MdNode::plain(src)),
            label: Box::new(label),
        },
    }
}

pub(super) fn color(rgba: &[u8]) -> MdNode {
    let at = |i: usize, default: u8| rgba.get(i).copied().unwrap_or(default);
    MdNode::Color {
        value: Rgba {
            r: at(0, 0),
            g: at(1, 0),
            b: at(2, 0),
            a: at(3, 255),
        },
    }
}

/// A `:short_code:`: an emoji written as its own name.
pub(super) fn emoji(short_code: &str) -> MdNode {
    emoticon(short_code, short_code)
}

pub(super) fn emoji_unicode(unicode: &str) -> MdNode {
    MdNode::Emoji {
        value: None,
        short_code: None,
        unicode: Some(unicode.to_string()),
    }
}

pub(super) fn emoticon(text: &str, short_code: &str) -> MdNode {
    MdNode::Emoji {
        value: Some(Box::new(MdNode::plain(text))),
        short_code: Some(short_code.to_string()),
        unicode: None,
    }
}

/// A phone number is a link only from five digits on.
pub(super) fn phone_checker(phone: Phone) -> MdNode {
    if phone.number.chars().count() < 5 {
        return MdNode::plain(phone.text);
    }
    link(
        format!("tel:{}", phone.number),
        Some(vec![MdNode::plain(phone.text)]),
    )
}

/// A bare URL is a link when its host is under a public suffix (ICANN's or a
/// private one), is `localhost`, or is one of the operator's own domains.
pub(super) fn auto_link(src: &str, custom_domains: &[String]) -> MdNode {
    let valid_hosts: Vec<&str> = std::iter::once("localhost")
        .chain(custom_domains.iter().map(String::as_str))
        .collect();
    if !hosts::is_linkable_url(src, &valid_hosts) {
        return MdNode::plain(src);
    }
    let href = if hosts::is_absolute_url(src) || src.starts_with("//") {
        src.to_string()
    } else {
        format!("//{src}")
    };
    link(href, Some(vec![MdNode::plain(src)]))
}

/// An address is a link when its domain is under a public suffix.
pub(super) fn auto_email(src: &str) -> MdNode {
    let href = format!("mailto:{src}");
    if !hosts::is_linkable_url(&href, &[]) {
        return MdNode::plain(src);
    }
    link(href, Some(vec![MdNode::plain(src)]))
}

/// JavaScript's `String.prototype.trim` set: Unicode white space plus the BOM.
fn is_js_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || c == '\u{FEFF}')
}

/// An emoji among text or other emoji is not shown large: a short code becomes
/// its `:name:` text and an emoticon its characters (`joinEmoji`).
fn join_emoji(
    current: &MdNode,
    previous: Option<&MdNode>,
    next: Option<&MdNode>,
) -> Option<MdNode> {
    let MdNode::Emoji {
        value: Some(value),
        short_code,
        ..
    } = current
    else {
        return None;
    };
    if previous.is_none() && next.is_none() {
        return None;
    }
    let is_emoji = |n: Option<&MdNode>| matches!(n, Some(MdNode::Emoji { .. }));
    let is_text =
        |n: Option<&MdNode>| matches!(n, Some(MdNode::PlainText { value }) if !is_js_blank(value));
    if !(is_emoji(previous) || is_emoji(next) || is_text(previous) || is_text(next)) {
        return None;
    }
    let MdNode::PlainText { value: text } = value.as_ref() else {
        return None;
    };
    let is_emoticon = short_code.as_deref() != Some(text.as_str());
    if is_emoticon {
        Some(MdNode::plain(text.clone()))
    } else {
        Some(MdNode::plain(format!(":{text}:")))
    }
}

/// Flattens the parts of a run of inline content one level and merges adjacent
/// plain texts (`reducePlainTexts`). Emoji see their neighbours as written, before
/// any merging, as in the original.
pub(super) fn reduce_plain_texts(parts: Vec<Vec<MdNode>>) -> Vec<MdNode> {
    let items: Vec<MdNode> = parts.into_iter().flatten().collect();
    let joined: Vec<Option<MdNode>> = (0..items.len())
        .map(|i| {
            let previous = i.checked_sub(1).and_then(|p| items.get(p));
            join_emoji(&items[i], previous, items.get(i + 1))
        })
        .collect();
    let mut result: Vec<MdNode> = Vec::with_capacity(items.len());
    for (item, joined) in items.into_iter().zip(joined) {
        let current = joined.unwrap_or(item);
        if let (Some(MdNode::PlainText { value: previous }), MdNode::PlainText { value }) =
            (result.last_mut(), &current)
        {
            previous.push_str(value);
            continue;
        }
        result.push(current);
    }
    result
}
