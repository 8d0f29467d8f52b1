//! Whether a bare URL or address is worth a link: its host must be under a public
//! suffix, as Rocket.Chat decides with `tldts` (`parse(src, {detectIp: false,
//! allowPrivateDomains: true, validHosts})`). The host is found and checked the way
//! tldts does it (on UTF-16 code units, as JavaScript strings are); the suffixes are
//! the Public Suffix List's, ICANN and private sections both.

/// Whether `src` (a URL, a bare host with path, or `mailto:` address) has a host
/// under a known public suffix, or is one of `valid_hosts` or below one.
pub(super) fn is_linkable_url(src: &str, valid_hosts: &[&str]) -> bool {
    let units: Vec<u16> = src.encode_utf16().collect();
    let Some(host) = extract_hostname(&units) else {
        return false;
    };
    if !is_valid_hostname(&host) {
        return false;
    }
    let host = String::from_utf16_lossy(&host);
    let known_suffix = psl::suffix(host.as_bytes()).is_some_and(|s| s.is_known());
    known_suffix
        || valid_hosts
            .iter()
            .any(|valid| shares_domain_suffix(&host, valid))
}

/// Whether `src` parses as an absolute URL (JavaScript's `new URL(src)`).
pub(super) fn is_absolute_url(src: &str) -> bool {
    url::Url::parse(src).is_ok()
}

/// `host` is `valid` or below it (`shareSameDomainSuffix`).
fn shares_domain_suffix(host: &str, valid: &str) -> bool {
    host.strip_suffix(valid)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

const fn unit(c: char) -> u16 {
    c as u16
}

/// tldts' `extractHostname`: skips the scheme, user info, port, path, query and
/// fragment; lower-cases a host with ASCII capitals. `None` when there is none.
fn extract_hostname(url: &[u16]) -> Option<Vec<u16>> {
    let at = |i: usize| url.get(i).copied().unwrap_or(0);
    if url.iter().copied().take(5).eq("data:".encode_utf16()) {
        return None;
    }
    let mut start = 0;
    let mut end = url.len();
    let mut has_upper = false;
    while start < url.len() && url[start] <= 32 {
        start += 1;
    }
    while end > start + 1 && url[end - 1] <= 32 {
        end -= 1;
    }
    if at(start) == unit('/') && at(start + 1) == unit('/') {
        start += 2;
    } else if let Some(protocol) = find(url, start, &[unit(':'), unit('/')]) {
        let scheme = &url[start..protocol];
        let common = ["https", "http", "wss", "ws"]
            .iter()
            .any(|s| scheme.iter().copied().eq(s.encode_utf16()));
        if !common {
            let valid = scheme.iter().all(|&c| {
                let lower = c | 32;
                (u16::from(b'a')..=u16::from(b'z')).contains(&lower)
                    || (u16::from(b'0')..=u16::from(b'9')).contains(&lower)
                    || lower == unit('.')
                    || lower == unit('-')
                    || lower == unit('+')
            });
            if !valid {
                return None;
            }
        }
        start = protocol + 2;
        while at(start) == unit('/') {
            start += 1;
        }
    }
    let mut identifier = None;
    let mut closing_bracket = None;
    let mut port = None;
    for (i, &code) in url.iter().enumerate().take(end).skip(start) {
        if code == unit('#') || code == unit('/') || code == unit('?') {
            end = i;
            break;
        } else if code == unit('@') {
            identifier = Some(i);
        } else if code == unit(']') {
            closing_bracket = Some(i);
        } else if code == unit(':') {
            port = Some(i);
        } else if (unit('A')..=unit('Z')).contains(&code) {
            has_upper = true;
        }
    }
    if let Some(i) = identifier.filter(|&i| i > start && i < end) {
        start = i + 1;
    }
    if at(start) == unit('[') {
        let close = closing_bracket?;
        let inner = url.get(start + 1..close)?;
        return Some(lower(inner));
    } else if let Some(i) = port.filter(|&i| i > start && i < end) {
        end = i;
    }
    while end > start + 1 && url[end - 1] == unit('.') {
        end -= 1;
    }
    let host = url.get(start..end)?;
    Some(if has_upper {
        lower(host)
    } else {
        host.to_vec()
    })
}

fn find(haystack: &[u16], from: usize, needle: &[u16]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn lower(units: &[u16]) -> Vec<u16> {
    String::from_utf16_lossy(units)
        .to_lowercase()
        .encode_utf16()
        .collect()
}

/// tldts' `isValidHostname`: the shape of a host name (label lengths, no empty
/// labels, no label ending in `-` or `_`), not whether its suffix exists.
fn is_valid_hostname(host: &[u16]) -> bool {
    let valid_char = |c: u16| {
        (unit('a')..=unit('z')).contains(&c) || (unit('0')..=unit('9')).contains(&c) || c > 127
    };
    if host.is_empty() || host.len() > 255 || !valid_char(host[0]) {
        return false;
    }
    let mut last_dot: isize = -1;
    let mut last_char: Option<u16> = None;
    for (i, &code) in host.iter().enumerate() {
        let i = i as isize;
        if code == unit('.') {
            if i - last_dot > 64
                || matches!(last_char, Some(c) if c == unit('.') || c == unit('-') || c == unit('_'))
            {
                return false;
            }
            last_dot = i;
        } else if !(valid_char(code) || code == unit('-') || code == unit('_')) {
            return false;
        }
        last_char = Some(code);
    }
    (host.len() as isize) - last_dot - 1 <= 63 && last_char != Some(unit('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What tldts answered for the hosts Rocket.Chat's parser asked it about.
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TldtsAnswer {
        input: String,
        valid_hosts: Option<Vec<String>>,
        is_icann: Option<bool>,
        is_private: Option<bool>,
        domain: Option<String>,
        url_valid: bool,
    }

    #[test]
    fn agrees_with_tldts() {
        let answers: Vec<TldtsAnswer> =
            serde_json::from_str(include_str!("testdata/hosts.json")).expect("hosts.json");
        let mut wrong = Vec::new();
        for a in &answers {
            let valid_hosts = a.valid_hosts.clone().unwrap_or_default();
            // autoLink's and autoEmail's test of tldts' answer.
            let linkable = a.is_icann == Some(true)
                || a.is_private == Some(true)
                || a.valid_hosts.is_some()
                    && a.domain.as_ref().is_some_and(|d| valid_hosts.contains(d));
            let valid: Vec<&str> = valid_hosts.iter().map(String::as_str).collect();
            if is_linkable_url(&a.input, &valid) != linkable {
                wrong.push(format!("{:?}: linkable {linkable}", a.input));
            }
            if is_absolute_url(&a.input) != a.url_valid {
                wrong.push(format!("{:?}: absolute URL {}", a.input, a.url_valid));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {}:\n{}",
            wrong.len(),
            answers.len(),
            wrong.join("\n")
        );
    }

    #[test]
    fn hosts_under_public_suffixes_are_linkable() {
        for src in [
            "rocket.chat",
            "https://rocket.chat/docs?x=1",
            "//open.rocket.chat",
            "user:pass@example.com:8080/x",
            "foo.github.io",
            "mailto:someone@example.co.uk",
            "EXAMPLE.COM.",
        ] {
            assert!(is_linkable_url(src, &["localhost"]), "{src}");
        }
        for src in [
            "file.txt2",
            "a.b",
            "192.168.0.1",
            "data:text/plain,x.com",
            "ex_.com",
            "-bad.com/",
        ] {
            assert!(!is_linkable_url(src, &["localhost"]), "{src}");
        }
    }

    #[test]
    fn localhost_and_custom_domains_are_linkable() {
        assert!(is_linkable_url("localhost:3000/path", &["localhost"]));
        assert!(!is_linkable_url("mailto:me@localhost", &[]));
        assert!(is_linkable_url("http://tool.intranet", &["intranet"]));
        assert!(is_linkable_url("wiki.corp.intranet", &["intranet"]));
        assert!(!is_linkable_url("wiki.corpintranet", &["intranet"]));
        assert!(!is_linkable_url("http://tool.intranet", &["localhost"]));
    }
}
