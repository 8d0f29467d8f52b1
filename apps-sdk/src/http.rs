//! Outbound HTTP through the host. Needs the `networking` permission, and the URL's host
//! must be one the admin granted.
//!
//! The host resolves names itself and connects only to public addresses (unless the
//! operator allowed a private one), checks every redirect again, and bounds time and
//! response size. A refusal is an [`Error`]: `PermissionDenied("networking")` without
//! the permission, `Network(reason)` for a host not granted or an address refused,
//! `LimitExceeded("http-response-size")`, `Timeout`, …
//!
//! ```ignore
//! use palaver_apps_sdk::http;
//!
//! // GET and decode JSON.
//! let issue: Issue = http::get("https://api.example.com/issues/1")?.error_for_status()?.json()?;
//!
//! // POST a JSON body with headers.
//! let res = http::Request::post("https://api.example.com/issues")
//!     .bearer_auth(&token)
//!     .header("x-request-id", "42")
//!     .json(&NewIssue { title: "Broken" })
//!     .timeout(std::time::Duration::from_secs(5))
//!     .send()?;
//! if res.status == 201 { /* ... */ }
//! ```

use std::time::Duration;

use serde::Serialize;

use crate::bindings::palaver::apps::http as wit;
use crate::bindings::palaver::apps::types::HttpRequest;
use crate::types::find_header;
use crate::{Error, Result};

/// An HTTP response: `status`, `headers` and `body`, with helpers such as
/// [`json`](Response::json), [`text`](Response::text),
/// [`is_success`](Response::is_success) and
/// [`error_for_status`](Response::error_for_status).
pub type Response = crate::bindings::palaver::apps::types::HttpResponse;

/// Sends a raw request.
pub fn send(request: &HttpRequest) -> Result<Response> {
    Ok(wit::request(request)?)
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response> {
    Request::get(url).send()
}

/// `GET url`, failing unless the status is 2xx, and decodes the body from JSON.
pub fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T> {
    get(url)?.error_for_status()?.json()
}

/// `POST url` with `body` as JSON.
pub fn post<B: Serialize + ?Sized>(url: &str, body: &B) -> Result<Response> {
    Request::post(url).json(body).send()
}

/// `PUT url` with `body` as JSON.
pub fn put<B: Serialize + ?Sized>(url: &str, body: &B) -> Result<Response> {
    Request::put(url).json(body).send()
}

/// `DELETE url`.
pub fn delete(url: &str) -> Result<Response> {
    Request::delete(url).send()
}

/// A list of HTTP headers, in order, with case-insensitive look-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// Adds a header (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.append(name, value);
        self
    }

    /// Adds a header, keeping any other with the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// Sets a header, removing any other with the same name (case-insensitive).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.remove(&name);
        self.0.push((name, value.into()));
    }

    /// Removes every header named `name` (case-insensitive).
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        find_header(&self.0, name)
    }

    /// Every value of `name` (case-insensitive).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether there is a header named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The `(name, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, as the contract carries them.
    pub fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }
}

impl From<Vec<(String, String)>> for Headers {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Headers(pairs)
    }
}

impl From<Headers> for Vec<(String, String)> {
    fn from(headers: Headers) -> Self {
        headers.0
    }
}

/// A request builder. Errors while building (a body that does not serialize) are kept
/// and returned by [`send`](Request::send) / [`build`](Request::build), so calls chain.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Headers,
    body: Option<Vec<u8>>,
    timeout_ms: Option<u32>,
    error: Option<Error>,
}

impl Request {
    /// A request with `method` (`GET`, `POST`, …) for the absolute `http(s)://` `url`.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into().to_ascii_uppercase(),
            url: url.into(),
            headers: Headers::new(),
            body: None,
            timeout_ms: None,
            error: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Request::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Request::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Request::new("PUT", url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Request::new("PATCH", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Request::new("DELETE", url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl Into<String>) -> Self {
        Request::new("HEAD", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Adds these headers.
    pub fn headers(mut self, headers: Headers) -> Self {
        for (name, value) in headers.into_vec() {
            self.headers.append(name, value);
        }
        self
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer_auth(mut self, token: &str) -> Self {
        self.headers
            .insert("authorization", format!("Bearer {token}"));
        self
    }

    /// Sets `Authorization: Basic …` for `user` and `password`.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        let credentials = base64_encode(format!("{user}:{password}").as_bytes());
        self.headers
            .insert("authorization", format!("Basic {credentials}"));
        self
    }

    /// Appends `name=value` pairs to the URL's query string, percent-encoded.
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        if pairs.is_empty() {
            return self;
        }
        let encoded = encode_urlencoded(pairs);
        let (base, fragment) = match self.url.find('#') {
            Some(i) => (self.url[..i].to_string(), self.url[i..].to_string()),
            None => (self.url.clone(), String::new()),
        };
        let separator = if !base.contains('?') {
            "?"
        } else if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        };
        self.url = format!("{base}{separator}{encoded}{fragment}");
        self
    }

    /// Sets a JSON body and, unless already set, `Content-Type: application/json`.
    pub fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Some(bytes);
                self.default_header("content-type", "application/json");
            }
            Err(e) => self.error = Some(e.into()),
        }
        self.default_header("accept", "application/json");
        self
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        self.body = Some(encode_urlencoded(pairs).into_bytes());
        self.default_header("content-type", "application/x-www-form-urlencoded");
        self
    }

    /// Sets a text body and, unless already set, `Content-Type: text/plain`.
    pub fn text(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into().into_bytes());
        self.default_header("content-type", "text/plain; charset=utf-8");
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Asks the host to give up after `timeout` (the host's own limit still applies).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = Some(u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX));
        self
    }

    fn default_header(&mut self, name: &str, value: &str) {
        if !self.headers.contains(name) {
            self.headers.append(name, value);
        }
    }

    /// The request as the contract carries it, or the error met while building it.
    pub fn build(self) -> Result<HttpRequest> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok(HttpRequest {
            method: self.method,
            url: self.url,
            headers: self.headers.into_vec(),
            body: self.body,
            timeout_ms: self.timeout_ms,
        })
    }

    /// Sends the request through the host.
    pub fn send(self) -> Result<Response> {
        send(&self.build()?)
    }
}

/// Percent-encodes `pairs` as `application/x-www-form-urlencoded` (`a=1&b=x%20y`).
pub fn encode_urlencoded<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k.as_ref()),
                percent_encode(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` text (a query string or a form body)
/// into pairs; `+` is a space, malformed escapes are kept as they are.
pub fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(part), String::new()),
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_json_requests() {
        let req = Request::post("https://api.example.com/x")
            .header("X-Id", "1")
            .json(&serde_json::json!({"a": 1}))
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.url, "https://api.example.com/x");
        assert_eq!(req.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("x-id"), Some("1"));
        assert_eq!(req.timeout_ms, Some(2000));

        let req = Request::put("https://x")
            .header("Content-Type", "application/vnd.api+json")
            .json(&1)
            .build()
            .unwrap();
        assert_eq!(req.header("content-type"), Some("application/vnd.api+json"));
        assert_eq!(
            req.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .count(),
            1
        );
    }

    #[test]
    fn keeps_serialization_errors_until_send() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(
                &self,
                _: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("nope"))
            }
        }
        let err = Request::post("https://x")
            .json(&Bad)
            .header("a", "b")
            .build();
        assert!(matches!(err, Err(Error::Invalid(ref s)) if s.contains("nope")));
    }

    #[test]
    fn auth_headers() {
        let req = Request::get("https://x")
            .basic_auth("Aladdin", "open sesame")
            .build()
            .unwrap();
        assert_eq!(
            req.header("authorization"),
            Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        );
        let req = Request::get("https://x")
            .bearer_auth("t0k")
            .bearer_auth("t1k")
            .build()
            .unwrap();
        assert_eq!(req.header("Authorization"), Some("Bearer t1k"));
        assert_eq!(req.headers.len(), 1);
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
    }

    #[test]
    fn query_and_form_encoding() {
        let req = Request::get("https://x/s")
            .query(&[("q", "a b&c"), ("lang", "é")])
            .build()
            .unwrap();
        assert_eq!(req.url, "https://x/s?q=a%20b%26c&lang=%C3%A9");
        let req = Request::get("https://x/s?p=1#top")
            .query(&[("q", "1")])
            .build()
            .unwrap();
        assert_eq!(req.url, "https://x/s?p=1&q=1#top");
        let req = Request::post("https://x")
            .form(&[("grant_type", "code"), ("c", "a/b")])
            .build()
            .unwrap();
        assert_eq!(req.body.as_deref(), Some(&b"grant_type=code&c=a%2Fb"[..]));
        assert_eq!(
            req.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            parse_urlencoded("a=1&b=%zz&c=%41+%42&&d"),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "%zz".to_string()),
                ("c".to_string(), "A B".to_string()),
                ("d".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn header_list() {
        let mut h = Headers::new().with("A", "1").with("a", "2").with("B", "3");
        assert_eq!(h.get("a"), Some("1"));
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["1", "2"]);
        h.insert("a", "9");
        assert_eq!(h.get_all("a").collect::<Vec<_>>(), ["9"]);
        h.remove("b");
        assert_eq!(h.len(), 1);
        assert!(!h.contains("B"));
    }
}
