//! Text between Palaver (Rocket.Chat Markdown) and Matrix (`body` plus HTML
//! `formatted_body`). Outgoing text is HTML-escaped first, so nothing a user typed
//! becomes markup; incoming HTML is reduced to text and the few marks Palaver shows.

/// The Matrix HTML of a Palaver text, or `None` when it has no formatting (the
/// plain `body` says it all).
pub fn markdown_to_html(text: &str) -> Option<String> {
    let mut html = String::new();
    let mut in_block = false;
    let mut first = true;
    for line in text.split('\n') {
        if line.trim_start().starts_with("```") {
            html.push_str(if in_block {
                "</code></pre>"
            } else {
                "<pre><code>"
            });
            in_block = !in_block;
            first = true;
            continue;
        }
        if !first {
            html.push_str(if in_block { "\n" } else { "<br>" });
        }
        first = false;
        let escaped = escape(line);
        if in_block {
            html.push_str(&escaped);
        } else {
            html.push_str(&inline(&escaped));
        }
    }
    if in_block {
        html.push_str("</code></pre>");
    }
    (html != escape(text).replace('\n', "<br>")).then_some(html)
}

/// `*bold*`, `_italic_`, `~strike~`, `` `code` `` on one (escaped) line.
fn inline(line: &str) -> String {
    let mut out = wrap(line, '`', "code");
    for (mark, tag) in [('*', "strong"), ('_', "em"), ('~', "del")] {
        out = wrap(&out, mark, tag);
    }
    out
}

/// Replaces `<mark>text<mark>` pairs (text not starting or ending with a space) by
/// `<tag>text</tag>`; a mark must not sit inside a word on its outer side.
fn wrap(line: &str, mark: char, tag: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let outer_ok = i == 0 || !chars[i - 1].is_alphanumeric();
        if chars[i] == mark && outer_ok && i + 1 < chars.len() && !chars[i + 1].is_whitespace() {
            if let Some(j) = (i + 2..chars.len()).find(|&j| {
                chars[j] == mark
                    && !chars[j - 1].is_whitespace()
                    && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric())
            }) {
                let inner: String = chars[i + 1..j].iter().collect();
                out.push_str(&format!("<{tag}>{inner}</{tag}>"));
                i = j + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Matrix user pills (`<a href="https://matrix.to/#/@u:server">Name</a>`) as
/// Palaver `@username` mentions, so the person is mentioned (notified) in
/// Palaver; `username_of` names the Palaver user of a Matrix user id.
pub fn pills_to_mentions(html: &str, username_of: impl Fn(&str) -> String) -> String {
    const PILL: &str = "<a href=\"https://matrix.to/#/";
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find(PILL) {
        let after = &rest[start + PILL.len()..];
        if let (Some(quote), Some(close)) = (after.find('"'), after.find("</a>")) {
            let target = after[..quote]
                .replace("%40", "@")
                .replace("%3A", ":")
                .replace("%3a", ":");
            let target = target.split('?').next().unwrap_or_default();
            let valid = target.len() > 3
                && target.starts_with('@')
                && target.contains(':')
                && !target.contains(['<', '>', '&', ' ']);
            if quote < close && valid {
                out.push_str(&rest[..start]);
                out.push('@');
                out.push_str(&username_of(target));
                rest = &after[close + "</a>".len()..];
                continue;
            }
        }
        out.push_str(&rest[..start + PILL.len()]);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Palaver text from Matrix HTML: emphasis kept as Markdown, line breaks kept,
/// the reply fallback (`<mx-reply>`) and every other tag dropped, entities decoded.
pub fn html_to_markdown(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut skip_depth = 0usize;
    while let Some(lt) = rest.find('<') {
        if skip_depth == 0 {
            out.push_str(&decode(&rest[..lt]));
        }
        let Some(gt) = rest[lt..].find('>') else {
            rest = &rest[lt..];
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if name == "mx-reply" {
            if closing {
                skip_depth = skip_depth.saturating_sub(1);
            } else {
                skip_depth += 1;
            }
            continue;
        }
        if skip_depth > 0 {
            continue;
        }
        let mark = match name.as_str() {
            "strong" | "b" => "*",
            "em" | "i" => "_",
            "del" | "s" | "strike" => "~",
            "code" => "`",
            "pre" => "```",
            "br" => "\n",
            "p" | "div" | "li" if closing => "\n",
            _ => "",
        };
        out.push_str(mark);
    }
    if skip_depth == 0 {
        out.push_str(&decode(rest));
    }
    out.replace("```\n`", "```\n")
        .replace("`\n```", "\n```")
        .trim()
        .to_string()
}

fn decode(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let entity = &tail[1..e];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => entity
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The plain body of a Matrix reply without its fallback (`> <@a:b> quoted` lines).
pub fn strip_reply_fallback(body: &str) -> String {
    if !body.starts_with("> ") {
        return body.to_string();
    }
    let mut lines = body.lines().skip_while(|l| l.starts_with('>'));
    let mut out: Vec<&str> = Vec::new();
    if let Some(first) = lines.next() {
        if !first.is_empty() {
            out.push(first);
        }
    }
    out.extend(lines);
    out.join("\n")
}

/// Matrix reaction keys (Unicode emoji) and Palaver's `:shortcodes:`.
const EMOJI: &[(&str, &str)] = &[
    ("👍", "+1"),
    ("👎", "-1"),
    ("❤️", "heart"),
    ("❤", "heart"),
    ("😄", "smile"),
    ("😂", "joy"),
    ("🎉", "tada"),
    ("😮", "open_mouth"),
    ("😢", "cry"),
    ("🚀", "rocket"),
    ("👀", "eyes"),
    ("✅", "white_check_mark"),
    ("🔥", "fire"),
    ("🙏", "pray"),
    ("😀", "grinning"),
    ("👏", "clap"),
];

/// `:name:` for a Matrix reaction key (a `:name:` key is taken as it is).
pub fn reaction_to_shortcode(key: &str) -> Option<String> {
    if key.starts_with(':') && key.ends_with(':') && key.len() > 2 {
        return Some(key.to_string());
    }
    EMOJI
        .iter()
        .find(|(u, _)| *u == key)
        .map(|(_, name)| format!(":{name}:"))
}

/// The Matrix reaction key of `:name:` (the shortcode itself when unknown).
pub fn shortcode_to_reaction(emoji: &str) -> String {
    let name = emoji.trim_matches(':');
    EMOJI
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(u, _)| u.to_string())
        .unwrap_or_else(|| emoji.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_html_escapes_everything_typed() {
        assert_eq!(markdown_to_html("plain text"), None);
        assert_eq!(markdown_to_html("a < b & c"), None);
        assert_eq!(
            markdown_to_html("*bold* <script>alert(1)</script>").unwrap(),
            "<strong>bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(
            markdown_to_html("_it_ ~no~ `x<y`\nline").unwrap(),
            "<em>it</em> <del>no</del> <code>x&lt;y</code><br>line"
        );
        assert_eq!(
            markdown_to_html("```\n<b>\n```").unwrap(),
            "<pre><code>&lt;b&gt;</code></pre>"
        );
        // Marks inside words are not emphasis.
        assert_eq!(markdown_to_html("snake_case_name"), None);
    }

    #[test]
    fn incoming_html_becomes_text() {
        assert_eq!(
            html_to_markdown(
                "<strong>hi</strong> <em>there</em> &lt;b&gt; &amp; <img src=x onerror=alert(1)>"
            ),
            "*hi* _there_ <b> &"
        );
        assert_eq!(
            html_to_markdown("<mx-reply><blockquote>quoted <b>x</b></blockquote></mx-reply>answer"),
            "answer"
        );
        assert_eq!(
            html_to_markdown("a<br/>b<br>c &#128512; &#x41;"),
            "a\nb\nc 😀 A"
        );
    }

    #[test]
    fn pills_become_mentions() {
        let name = |m: &str| format!("u{}", m.len());
        assert_eq!(
            pills_to_mentions(
                "hi <a href=\"https://matrix.to/#/%40bob%3Aex.org?via=x\">Bob</a>, <a href=\"https://matrix.to/#/#room:ex.org\">room</a>",
                name
            ),
            "hi @u11, <a href=\"https://matrix.to/#/#room:ex.org\">room</a>"
        );
    }

    #[test]
    fn reply_fallback_is_stripped() {
        assert_eq!(strip_reply_fallback("> <@a:b> old\n> more\n\nnew"), "new");
        assert_eq!(strip_reply_fallback("no quote"), "no quote");
    }

    #[test]
    fn reactions_map_both_ways() {
        assert_eq!(reaction_to_shortcode("👍").as_deref(), Some(":+1:"));
        assert_eq!(
            reaction_to_shortcode(":custom:").as_deref(),
            Some(":custom:")
        );
        assert_eq!(reaction_to_shortcode("🦀"), None);
        assert_eq!(shortcode_to_reaction(":+1:"), "👍");
        assert_eq!(shortcode_to_reaction(":custom:"), ":custom:");
    }
}
