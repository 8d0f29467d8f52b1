//! oEmbed providers, Rocket.Chat's list (`app/oembed/server/providers.ts`): a
//! link to one of these sites is previewed from the site's oEmbed answer (the
//! player's `html`, title, thumbnail…) rather than from its page, each string
//! field kept as `oembed<Field>` (`oembedHtml`, `oembedThumbnailUrl`), with
//! `oembedUrl` the link itself.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

/// Each provider: the links it answers for, and its endpoint (to which the link
/// is added as `url`).
static PROVIDERS: LazyLock<Vec<(Vec<Regex>, &'static str)>> = LazyLock::new(|| {
    let table: &[(&[&str], &str)] = &[
        (
            &[r"https?://soundcloud\.com/\S+"],
            "https://soundcloud.com/oembed?format=json&maxheight=150",
        ),
        (
            &[
                r"https?://vimeo\.com/[^/]+",
                r"https?://vimeo\.com/channels/[^/]+/[^/]+",
                r"https://vimeo\.com/groups/[^/]+/videos/[^/]+",
            ],
            "https://vimeo.com/api/oembed.json?maxheight=200",
        ),
        (
            &[r"https?://www\.youtube\.com/\S+", r"https?://youtu\.be/\S+"],
            "https://www.youtube.com/oembed?maxheight=200",
        ),
        (
            &[r"https?://www\.rdio\.com/\S+", r"https?://rd\.io/\S+"],
            "https://www.rdio.com/api/oembed/?format=json&maxheight=150",
        ),
        (
            &[r"https?://www\.slideshare\.net/[^/]+/[^/]+"],
            "https://www.slideshare.net/api/oembed/2?format=json&maxheight=200",
        ),
        (
            &[r"https?://www\.dailymotion\.com/video/\S+"],
            "https://www.dailymotion.com/services/oembed?maxheight=200",
        ),
        (
            &[r"https?://(twitter|x)\.com/[^/]+/status/\S+"],
            "https://publish.twitter.com/oembed",
        ),
        (
            &[r"https?://(play|open)\.spotify\.com/(track|album|playlist|show)/\S+"],
            "https://open.spotify.com/oembed",
        ),
        (
            &[r"https?://www\.loom\.com/\S+"],
            "https://www.loom.com/v1/oembed?format=json",
        ),
    ];
    table
        .iter()
        .map(|(patterns, endpoint)| {
            let res = patterns
                .iter()
                .map(|p| Regex::new(p).expect("provider patterns compile"))
                .collect();
            (res, *endpoint)
        })
        .collect()
});

/// Where the preview of `url` is asked for: its provider's endpoint with the
/// link as `url`, or `None` for a link no provider answers for.
pub(super) fn consumer_url(url: &str) -> Option<String> {
    let (_, endpoint) = PROVIDERS
        .iter()
        .find(|(patterns, _)| patterns.iter().any(|re| re.is_match(url)))?;
    let mut consumer = url::Url::parse(endpoint).ok()?;
    consumer.query_pairs_mut().append_pair("url", url);
    Some(consumer.into())
}

/// The preview's `meta` from a provider's JSON answer: its string fields as
/// `oembed<Field>`, `oembedUrl`, and the player sized as Rocket.Chat sizes it.
pub(super) fn provider_meta(url: &str, body: &[u8]) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    meta.insert("oembedUrl".to_string(), url.to_string());
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) else {
        return meta;
    };
    for (key, value) in fields {
        if let serde_json::Value::String(s) = value {
            if !s.is_empty() {
                meta.insert(super::url_preview::camel_case(&format!("oembed_{key}")), s);
            }
        }
    }
    if let Some(html) = meta.get_mut("oembedHtml") {
        *html = html.replacen(
            "iframe",
            "iframe style=\"max-width: 100%;width:400px;height:225px\"",
            1,
        );
    }
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_links_are_asked_of_their_endpoint() {
        assert_eq!(
            consumer_url("https://www.youtube.com/watch?v=T2v29gK8fP4").as_deref(),
            Some("https://www.youtube.com/oembed?maxheight=200&url=https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3DT2v29gK8fP4")
        );
        assert!(consumer_url("https://youtu.be/abc").is_some());
        assert!(consumer_url("https://x.com/someone/status/123").is_some());
        assert!(consumer_url("https://example.com/watch").is_none());
    }

    #[test]
    fn answers_become_oembed_fields_with_a_sized_player() {
        let body = br#"{"type": "video", "title": "A film", "thumbnail_url": "https://i.ytimg.com/x.jpg",
            "html": "<iframe width=\"356\" src=\"https://www.youtube.com/embed/x\"></iframe>", "width": 356}"#;
        let meta = provider_meta("https://youtu.be/x", body);
        assert_eq!(meta["oembedUrl"], "https://youtu.be/x");
        assert_eq!(meta["oembedTitle"], "A film");
        assert_eq!(meta["oembedType"], "video");
        assert_eq!(meta["oembedThumbnailUrl"], "https://i.ytimg.com/x.jpg");
        assert!(meta["oembedHtml"].starts_with(
            "<iframe style=\"max-width: 100%;width:400px;height:225px\" width=\"356\""
        ));
        assert!(!meta.contains_key("oembedWidth"), "numbers are not kept");
        assert_eq!(provider_meta("u", b"not json").len(), 1);
    }
}
