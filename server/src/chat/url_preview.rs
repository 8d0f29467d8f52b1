//! `chat.getURLPreview`: what a link points at, as Rocket.Chat's OEmbed parser
//! reads it: the page's relevant `<meta>` tags (camel-cased: `og:title` becomes
//! `ogTitle`) and `<title>` (`pageTitle`), and its content type and length. The
//! page is fetched through the guarded outbound client (public addresses only,
//! unless the operator allows more; bounded size and time), when the embed
//! settings allow its host and port. Also what fills posted messages' link
//! previews (`chat::link_previews`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

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
        Ok(self.fetch_preview(url).await.unwrap_or_else(|| UrlPreview {
            url: url.to_string(),
            ..Default::default()
        }))
    }

    /// Reads the page at `url` for its preview, or takes it from the cache; `None`
    /// when the link may not be read (not http(s), an ignored host, a port not
    /// listed: `API_EmbedIgnoredHosts`, `API_EmbedSafePorts`) or could not be.
    pub(super) async fn fetch_preview(&self, url: &str) -> Option<UrlPreview> {
        let parsed = url::Url::parse(url).ok()?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return None;
        }
        let settings = self.settings();
        if let Err(why) = embeddable(
            &parsed,
            &settings.string("API_EmbedIgnoredHosts"),
            &settings.string("API_EmbedSafePorts"),
        ) {
            tracing::debug!(url, why, "URL not previewed");
            return None;
        }
        let ttl_days = u64::try_from(settings.int("API_EmbedCacheExpirationDays")).unwrap_or(0);
        let ttl = Duration::from_secs(ttl_days * 24 * 3600);
        if let Some(hit) = self.media.previews.get(url, ttl) {
            return Some(hit);
        }
        let allow: Vec<OperatorAllow> = self
            .opts
            .outbound_allow
            .iter()
            .filter_map(|a| OperatorAllow::parse(a).ok())
            .collect();
        let mut policy = HttpPolicy::public(allow);
        policy.max_response_bytes = PREVIEW_MAX_BYTES;
        // A site with an oEmbed provider is asked for its embed instead of its page.
        let consumer = super::oembed::consumer_url(url);
        let mut request = OutboundRequest::get(consumer.as_deref().unwrap_or(url));
        request.headers = vec![
            (
                "User-Agent".into(),
                format!(
                    "{} Palaver/{}",
                    settings.string("API_Embed_UserAgent"),
                    env!("CARGO_PKG_VERSION")
                ),
            ),
            ("Accept-Language".into(), settings.string("Language")),
        ];
        let response = match self.avatar_http().send(&policy, request).await {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(url, error = %e, "URL preview not fetched");
                return None;
            }
        };
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut preview = UrlPreview {
            url: url.to_string(),
            ..Default::default()
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
        if response.status == 200 && consumer.is_some() {
            preview.meta = super::oembed::provider_meta(url, &response.body);
        } else if response.status == 200 && html {
            preview.meta = page_meta(&String::from_utf8_lossy(&response.body));
        }
        if ttl > Duration::ZERO {
            self.media.previews.put(preview.clone());
        }
        Some(preview)
    }
}

/// Whether `API_EmbedIgnoredHosts` and `API_EmbedSafePorts` let the link be read,
/// as Rocket.Chat's `getUrlContent` decides: the host is neither named nor in a
/// listed address range; its port (or its scheme's, when it names none) is listed.
fn embeddable(url: &url::Url, ignored: &str, safe_ports: &str) -> Result<(), &'static str> {
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|p| p.chars().filter(|c| !c.is_whitespace()).collect::<String>())
            .filter(|p| !p.is_empty())
            .collect()
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err("no host"),
    };
    let ip: Option<IpAddr> = host.parse().ok();
    for entry in list(ignored) {
        let entry = entry.to_ascii_lowercase();
        let hit = entry == host
            || match (ip, entry.parse::<ipnet::IpNet>()) {
                (Some(ip), Ok(net)) => net.contains(&ip),
                _ => false,
            };
        if hit {
            return Err("an ignored host");
        }
    }
    let ports = list(safe_ports);
    if ports.is_empty() {
        return Ok(());
    }
    let port = match url.port() {
        Some(p) => p,
        None if url.scheme() == "https" => 443,
        None => 80,
    };
    if ports.iter().any(|p| p.parse::<u16>() == Ok(port)) {
        Ok(())
    } else {
        Err("a port not listed as safe")
    }
}

/// Previews read lately, by URL (`API_EmbedCacheExpirationDays`): a bounded
/// memory, so a link posted again is not read again.
#[derive(Default)]
pub(super) struct PreviewCache(Mutex<HashMap<String, (Instant, UrlPreview)>>);

/// Pages whose previews are kept.
const PREVIEW_CACHE_ENTRIES: usize = 1024;

impl PreviewCache {
    fn get(&self, url: &str, ttl: Duration) -> Option<UrlPreview> {
        let cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .get(url)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, p)| p.clone())
    }

    fn put(&self, preview: UrlPreview) {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= PREVIEW_CACHE_ENTRIES {
            // The oldest half goes: a full sort only once per half of the cache.
            let mut ages: Vec<(Instant, String)> =
                cache.iter().map(|(k, (at, _))| (*at, k.clone())).collect();
            ages.sort();
            for (_, k) in ages.into_iter().take(PREVIEW_CACHE_ENTRIES / 2) {
                cache.remove(&k);
            }
        }
        cache.insert(preview.url.clone(), (Instant::now(), preview));
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
pub(super) fn camel_case(name: &str) -> String {
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
/// `msapplication`, the description and the page title. Never a page's own
/// `oembedHtml`: markup comes only from an oEmbed provider's answer.
fn relevant(key: &str) -> bool {
    key != "oembedHtml"
        && ["og", "fb", "twitter", "oembed", "msapplication"]
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
    fn ignored_hosts_and_safe_ports_as_rocket_chat() {
        let ignored = "localhost, 127.0.0.1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16";
        let ok = |u: &str, ports: &str| embeddable(&url::Url::parse(u).unwrap(), ignored, ports);
        assert_eq!(ok("https://example.com/x", "80, 443"), Ok(()));
        assert_eq!(ok("http://example.com/x", "80, 443"), Ok(()));
        assert!(ok("http://localhost/x", "80, 443").is_err());
        assert!(ok("http://10.1.2.3/x", "80, 443").is_err());
        assert!(ok("http://172.20.0.1/x", "80, 443").is_err());
        assert_eq!(ok("http://172.32.0.1/x", "80, 443"), Ok(()));
        assert!(ok("https://example.com:8443/x", "80, 443").is_err());
        assert_eq!(ok("https://example.com:8443/x", "80,443, 8443"), Ok(()));
        assert_eq!(
            ok("https://example.com:8443/x", ""),
            Ok(()),
            "no list: any port"
        );
        assert_eq!(
            embeddable(
                &url::Url::parse("http://127.0.0.1:3000/").unwrap(),
                "",
                "3000"
            ),
            Ok(())
        );
    }

    #[test]
    fn reads_meta_as_rocket_chat() {
        let html = r#"<html><head><title> A &amp; B </title>
            <meta property="og:title" content="Hello">
            <meta content='https://x/img.png' name='og:image'>
            <meta name="twitter:card" content="summary">
            <meta name="viewport" content="width=device-width">
            <meta name="oembed:html" content="<script>x</script>">
            <meta name="description" content="&quot;quoted&quot;"></head></html>"#;
        let meta = page_meta(html);
        assert_eq!(meta["pageTitle"], "A & B");
        assert_eq!(meta["ogTitle"], "Hello");
        assert_eq!(meta["ogImage"], "https://x/img.png");
        assert_eq!(meta["twitterCard"], "summary");
        assert_eq!(meta["description"], "\"quoted\"");
        assert!(!meta.contains_key("viewport"));
        assert!(
            !meta.contains_key("oembedHtml"),
            "a page cannot inject markup"
        );
        assert_eq!(camel_case("og:image:width"), "ogImageWidth");
    }
}
