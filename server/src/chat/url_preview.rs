//! `chat.getURLPreview`: what a link points at, as Rocket.Chat's OEmbed parser
//! reads it: the page's relevant `<meta>` tags (camel-cased: `og:title` becomes
//! `ogTitle`) and `<title>` (`pageTitle`), and its content type and length. The
//! page is fetched through the guarded outbound client (public addresses only,
//! unless the operator allows more; bounded size and time).

use std::collections::BTreeMap;

use super::rooms::RoomRef;
use super::{Chat, ChatError, ChatResult};
use crate::outbound::{HttpPolicy, OperatorAllow, OutboundRequest};
use crate::store::User;

/// The most of a page read for its metadata.
const PREVIEW_MAX_BYTES: usize = 512 * 1024;

/// A link's preview (Rocket.Chat's `MessageUrl`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UrlPreview {
    pub url: String,
    pub meta: BTreeMap<String, String>,
    /// `contentType`, `contentLength`, when the page answered.
    pub headers: BTreeMap<String, String>,
}

impl Chat {
    /// The preview of `url` for a reader of room `rid` (Rocket.Chat's
    /// `error-not-allowed` otherwise). A page that cannot be had gives the URL alone.
    pub async fn url_preview(&self, actor: &User, rid: &str, url: &str) -> ChatResult<UrlPreview> {
        self.readable_room(actor, RoomRef::Id(rid))
            .await
            .map_err(|_| ChatError::refused("error-not-allowed", "Not allowed"))?;
        let mut preview = UrlPreview {
            url: url.to_string(),
            ..Default::default()
        };
        let Ok(parsed) = url::Url::parse(url) else {
            return Ok(preview);
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return Ok(preview);
        }
        let allow: Vec<OperatorAllow> = self
            .opts
            .outbound_allow
            .iter()
            .filter_map(|a| OperatorAllow::parse(a).ok())
            .collect();
        let mut policy = HttpPolicy::public(allow);
        policy.max_response_bytes = PREVIEW_MAX_BYTES;
        let response = match self
            .avatar_http()
            .send(&policy, OutboundRequest::get(url))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(url, error = %e, "URL preview not fetched");
                return Ok(preview);
            }
        };
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let content_type = header("content-type");
        if let Some(t) = &content_type {
            preview.headers.insert("contentType".into(), t.clone());
        }
        if let Some(n) = header("content-length") {
            preview.headers.insert("contentLength".into(), n);
        }
        let html = content_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
        if response.status == 200 && html {
            preview.meta = page_meta(&String::from_utf8_lossy(&response.body));
        }
        Ok(preview)
    }
}

/// The relevant metadata of an HTML page (Rocket.Chat's `getRelevantMetaTags`).
fn page_meta(html: &str) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    let lower = html.to_ascii_lowercase();
    if let Some(start) = lower.find("<title") {
        let open_end = lower[start..].find('>').map(|i| start + i + 1);
        if let Some(open_end) = open_end {
            if let Some(len) = lower[open_end..].find("</title") {
                let title = unescape(html[open_end..open_end + len].trim());
                if !title.is_empty() {
                    meta.insert("pageTitle".to_string(), title);
                }
            }
        }
    }
    let mut at = 0;
    while let Some(i) = lower[at..].find("<meta") {
        let start = at + i;
        let Some(len) = lower[start..].find('>') else {
            break;
        };
        let tag = &html[start + 5..start + len];
        at = start + len;
        let attrs = attributes(tag);
        let name = attrs
            .iter()
            .find(|(k, _)| k == "property" || k == "name")
            .map(|(_, v)| v.clone());
        let content = attrs
            .iter()
            .find(|(k, _)| k == "content")
            .map(|(_, v)| v.clone());
        if let (Some(name), Some(content)) = (name, content) {
            let key = camel_case(&name);
            if relevant(&key) {
                meta.entry(key).or_insert_with(|| unescape(&content));
            }
        }
    }
    meta
}

/// The quoted attributes of a tag's inside (`name="v"` or `name='v'`).
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let after = rest[eq + 1..].trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            rest = &rest[eq + 1..];
            continue;
        };
        let Some(end) = after[1..].find(quote) else {
            break;
        };
        out.push((name, after[1..1 + end].to_string()));
        rest = &after[1 + end + 1..];
    }
    out
}

/// lodash's `camelCase` for meta names: `og:image:width` → `ogImageWidth`.
fn camel_case(name: &str) -> String {
    let mut out = String::new();
    for (i, word) in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .enumerate()
    {
        let word = word.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&word);
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out
}

/// The tags Rocket.Chat keeps: Open Graph, Facebook, Twitter, oEmbed,
/// `msapplication`, the description and the page title.
fn relevant(key: &str) -> bool {
    ["og", "fb", "twitter", "oembed", "msapplication"]
        .iter()
        .any(|p| key.starts_with(p))
        || key == "description"
        || key == "pageTitle"
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_as_rocket_chat() {
        let html = r#"<html><head><title> A &amp; B </title>
            <meta property="og:title" content="Hello">
            <meta content='https://x/img.png' name='og:image'>
            <meta name="twitter:card" content="summary">
            <meta name="viewport" content="width=device-width">
            <meta name="description" content="&quot;quoted&quot;"></head></html>"#;
        let meta = page_meta(html);
        assert_eq!(meta["pageTitle"], "A & B");
        assert_eq!(meta["ogTitle"], "Hello");
        assert_eq!(meta["ogImage"], "https://x/img.png");
        assert_eq!(meta["twitterCard"], "summary");
        assert_eq!(meta["description"], "\"quoted\"");
        assert!(!meta.contains_key("viewport"));
        assert_eq!(camel_case("og:image:width"), "ogImageWidth");
    }
}
