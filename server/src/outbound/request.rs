//! Validation of what the app asks for: method, URL, headers; and the request
//! rewriting rules of redirects.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use tracing::debug;

use super::HttpError;

/// Longest URL accepted.
pub(super) const MAX_URL_LEN: usize = 8 * 1024;
/// Most request headers accepted.
pub(super) const MAX_HEADERS: usize = 100;
/// Most bytes of request header names and values together.
pub(super) const MAX_HEADER_BYTES: usize = 64 * 1024;

const ALLOWED_METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// Parses the method, ASCII case-insensitively; only the usual API methods
/// (no CONNECT, TRACE or extension methods).
pub(super) fn parse_method(method: &str) -> Result<Method, HttpError> {
    ALLOWED_METHODS
        .iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(method))
        .cloned()
        .ok_or_else(|| HttpError::InvalidRequest(format!("method {method:?} is not allowed")))
}

/// Parses and checks a URL: http or https, a host, no user info, a non-zero port.
pub(super) fn parse_url(url: &str) -> Result<Url, HttpError> {
    if url.len() > MAX_URL_LEN {
        return Err(HttpError::InvalidRequest(format!(
            "URL longer than {MAX_URL_LEN} bytes"
        )));
    }
    let parsed =
        Url::parse(url).map_err(|e| HttpError::InvalidRequest(format!("invalid URL: {e}")))?;
    check_url(&parsed)?;
    Ok(parsed)
}

/// The checks of [`parse_url`] on an already parsed URL (used for redirect targets).
pub(super) fn check_url(url: &Url) -> Result<(), HttpError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpError::InvalidRequest(format!(
            "scheme {:?} is not allowed (only http and https)",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(HttpError::InvalidRequest(
            "credentials in the URL are not allowed".into(),
        ));
    }
    if url.host().is_none() {
        return Err(HttpError::InvalidRequest("URL has no host".into()));
    }
    if url.port() == Some(0) {
        return Err(HttpError::InvalidRequest("port 0 is not allowed".into()));
    }
    Ok(())
}

/// Whether the host strips this request header: it would spoof the target host, the
/// client's address or hop-by-hop framing, all of which only the host decides.
pub(super) fn is_stripped(name: &HeaderName) -> bool {
    let n = name.as_str(); // always lowercase
    matches!(
        n,
        "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "upgrade"
            | "forwarded"
            | "x-real-ip"
            | "te"
            | "trailer"
            | "keep-alive"
            | "via"
            | "x-client-ip"
            | "true-client-ip"
            | "x-cluster-client-ip"
    ) || n.starts_with("proxy-")
        || n.starts_with("x-forwarded-")
}

/// Validates the app's headers and drops the stripped ones.
pub(super) fn build_headers(headers: Vec<(String, String)>) -> Result<HeaderMap, HttpError> {
    if headers.len() > MAX_HEADERS {
        return Err(HttpError::InvalidRequest(format!(
            "more than {MAX_HEADERS} headers"
        )));
    }
    let total: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(HttpError::InvalidRequest(format!(
            "headers larger than {MAX_HEADER_BYTES} bytes"
        )));
    }
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("invalid header name {name:?}")))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| HttpError::InvalidRequest(format!("invalid value for header {name:?}")))?;
        if is_stripped(&header) {
            debug!(header = %header, "outbound http: request header stripped");
            continue;
        }
        map.append(header, value);
    }
    Ok(map)
}

/// Whether `status` is a redirect the client follows (300, 304 and 305 are not).
pub(super) fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Whether following `status` turns `method` into a GET without body, as browsers
/// do: always for 303 (HEAD stays HEAD), and for POST on 301 and 302.
pub(super) fn redirect_drops_body(status: StatusCode, method: &Method) -> bool {
    match status.as_u16() {
        303 => *method != Method::HEAD,
        301 | 302 => *method == Method::POST,
        _ => false,
    }
}

/// Headers describing a request body, dropped with the body.
pub(super) const BODY_HEADERS: [&str; 4] = [
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
];

/// Credentials dropped when a redirect leaves the origin.
pub(super) const SENSITIVE_HEADERS: [&str; 3] = ["authorization", "cookie", "cookie2"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        for ok in [
            "GET", "get", "Head", "POST", "put", "PATCH", "DELETE", "OPTIONS",
        ] {
            let m = parse_method(ok).expect(ok);
            assert_eq!(m.as_str(), ok.to_ascii_uppercase());
        }
        for bad in ["CONNECT", "TRACE", "PROPFIND", "", "GET ", "G\nET"] {
            assert!(
                matches!(parse_method(bad), Err(HttpError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn urls() {
        assert!(parse_url("https://api.example.com/x?y=1#f").is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://127.0.0.1:25/",
            "data:text/plain,hi",
            "http://user:pw@example.com/",
            "http://user@example.com/",
            "http://example.com:0/",
            "not a url",
            "/relative",
            "http://",
        ] {
            assert!(
                matches!(parse_url(bad), Err(HttpError::InvalidRequest(_))),
                "{bad:?}"
            );
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(parse_url(&long).is_err());
    }

    #[test]
    fn headers_validated_and_stripped() {
        let h = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let map = build_headers(vec![
            h("X-Custom", "1"),
            h("Authorization", "Bearer t"),
            h("Host", "evil"),
            h("content-length", "5"),
            h("Transfer-Encoding", "chunked"),
            h("Connection", "close"),
            h("Upgrade", "websocket"),
            h("Proxy-Authorization", "x"),
            h("Proxy-Connection", "x"),
            h("Forwarded", "for=1.2.3.4"),
            h("X-Forwarded-For", "1.2.3.4"),
            h("X-Forwarded-Host", "evil"),
            h("X-Real-IP", "1.2.3.4"),
            h("TE", "trailers"),
            h("Trailer", "x"),
            h("Keep-Alive", "timeout=5"),
            h("X-Custom", "2"),
        ])
        .expect("valid headers");
        let names: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-custom", "authorization"]);
        assert_eq!(map.get_all("x-custom").iter().count(), 2);

        for (n, v) in [
            ("bad name", "v"),
            ("", "v"),
            ("x:y", "v"),
            ("x-ok", "a\r\nInjected: 1"),
            ("x-ok", "a\nb"),
            ("x-ok", "nul\0"),
        ] {
            assert!(
                matches!(
                    build_headers(vec![h(n, v)]),
                    Err(HttpError::InvalidRequest(_))
                ),
                "{n:?}: {v:?}"
            );
        }
        // Bad ones are refused even when they would have been stripped.
        assert!(build_headers(vec![h("host", "a\r\nb")]).is_err());
        let many = (0..=MAX_HEADERS)
            .map(|i| h(&format!("x-{i}"), "v"))
            .collect();
        assert!(build_headers(many).is_err());
        assert!(build_headers(vec![h("x-big", &"v".repeat(MAX_HEADER_BYTES + 1))]).is_err());
    }

    #[test]
    fn redirect_rules() {
        let s = |c: u16| StatusCode::from_u16(c).expect("status");
        for c in [301, 302, 303, 307, 308] {
            assert!(is_followed_redirect(s(c)));
        }
        for c in [300, 304, 305, 306, 200, 404] {
            assert!(!is_followed_redirect(s(c)));
        }
        assert!(redirect_drops_body(s(303), &Method::POST));
        assert!(redirect_drops_body(s(303), &Method::PUT));
        assert!(!redirect_drops_body(s(303), &Method::HEAD));
        assert!(redirect_drops_body(s(302), &Method::POST));
        assert!(redirect_drops_body(s(301), &Method::POST));
        assert!(!redirect_drops_body(s(302), &Method::PUT));
        assert!(!redirect_drops_body(s(307), &Method::POST));
        assert!(!redirect_drops_body(s(308), &Method::POST));
    }
}
