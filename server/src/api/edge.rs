//! The outermost HTTP layer: request-size limits, the apps origin, and Rocket.Chat's
//! error envelope on every error under `/api` and `/hooks` — including the ones
//! axum or the router produce themselves (405, path and query rejections, 413).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::app_endpoints;
use super::error::envelope;

/// Longest request target (path and query) accepted, in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest header section accepted (names, values and separators), in bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields one request may carry.
pub const MAX_HEADERS: usize = 100;

/// How the edge treats apps' endpoints and session cookies (from the configuration).
#[derive(Clone, Debug, Default)]
pub struct EdgeOptions {
    /// When set, apps' endpoints are served on this origin only.
    pub apps_origin: Option<AppsOrigin>,
    /// Session cookies carry `Secure` (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// The host of the configured site URL: a page there is this site, even when a
    /// proxy rewrote `Host`.
    pub site_host: Option<String>,
}

/// A separate origin for apps' endpoints, e.g. `https://apps.chat.example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppsOrigin {
    /// `scheme://authority`, as redirects point to it.
    origin: String,
    /// The authority in lower case, without the scheme's default port.
    authority: String,
}

impl AppsOrigin {
    /// Parses `http(s)://host[:port]` (no path, query or credentials).
    pub fn parse(text: &str) -> Result<AppsOrigin, String> {
        let text = text.trim_end_matches('/');
        let uri: Uri = text.parse().map_err(|e| format!("not a URL: {e}"))?;
        let scheme = uri.scheme_str().ok_or("needs http:// or https://")?;
        if !matches!(scheme, "http" | "https") {
            return Err("needs http:// or https://".into());
        }
        let authority = uri.authority().ok_or("needs a host")?;
        if authority.as_str().contains('@') {
            return Err("must not carry credentials".into());
        }
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err("must be an origin only, without a path".into());
        }
        Ok(AppsOrigin {
            origin: format!("{scheme}://{}", authority.as_str().to_ascii_lowercase()),
            authority: normal_authority(authority.as_str()),
        })
    }

    /// Whether a request's `Host` names this origin.
    pub fn is_host(&self, host: &str) -> bool {
        normal_authority(host) == self.authority
    }
}

/// Lower case, without `:80`/`:443` (browsers leave default ports out of `Host`).
fn normal_authority(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    host.strip_suffix(":80")
        .or_else(|| host.strip_suffix(":443"))
        .map(str::to_string)
        .unwrap_or(host)
}

/// The authority a request was sent to (`Host`, or the URI's for HTTP/2).
pub(crate) fn request_host(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
}

/// Marks a response whose body an app wrote: its errors stay the app's own.
#[derive(Clone, Copy, Debug)]
pub struct AppWritten;

/// The edge middleware; see the module documentation.
pub async fn edge(State(opts): State<Arc<EdgeOptions>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let app_path = app_endpoints::is_endpoint_path(&path);
    let resp = match oversized(&req) {
        Some(refusal) => refusal,
        None => match apps_origin_gate(&opts, &req, app_path) {
            Some(resp) => resp,
            None => next.run(req).await,
        },
    };
    let resp = if is_api_path(&path) && resp.extensions().get::<AppWritten>().is_none() {
        enveloped(resp).await
    } else {
        resp
    };
    if app_path {
        app_endpoints::harden(resp)
    } else {
        resp
    }
}

fn is_api_path(path: &str) -> bool {
    ["/api", "/hooks"]
        .iter()
        .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
}

/// 414 for a request target over [`MAX_URI_BYTES`], 431 for a header section over
/// [`MAX_HEADER_BYTES`] or [`MAX_HEADERS`] fields.
fn oversized(req: &Request) -> Option<Response> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(refusal(
            StatusCode::URI_TOO_LONG,
            "error-uri-too-long",
            format!("The request URI is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let headers = req.headers();
    // As on the wire: "name: value\r\n".
    let bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(refusal(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "error-headers-too-large",
            format!(
                "The request headers are too large (at most {MAX_HEADERS} fields and {MAX_HEADER_BYTES} bytes)"
            ),
        ));
    }
    None
}

fn refusal(status: StatusCode, error_type: &str, message: String) -> Response {
    envelope(
        status,
        json!({"success": false, "error": message, "errorType": error_type}),
    )
}

/// With an apps origin configured, app endpoints are served there only (requests
/// for them on the main origin are redirected), and that origin serves nothing else.
fn apps_origin_gate(opts: &EdgeOptions, req: &Request, app_path: bool) -> Option<Response> {
    let origin = opts.apps_origin.as_ref()?;
    let on_apps_host =
        request_host(req.headers(), req.uri()).is_some_and(|host| origin.is_host(&host));
    match (on_apps_host, app_path) {
        (true, true) | (false, false) => None,
        (false, true) => {
            let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let location = format!("{}{target}", origin.origin);
            let mut resp = refusal(
                StatusCode::PERMANENT_REDIRECT,
                "error-apps-origin",
                format!("App endpoints are served at {}", origin.origin),
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(LOCATION, v);
            }
            Some(resp)
        }
        (true, false) => Some(refusal(
            StatusCode::NOT_FOUND,
            "error-not-found",
            "This origin serves apps' endpoints only".into(),
        )),
    }
}

/// An error response that is not JSON (axum's own rejections: plain text or empty)
/// becomes Rocket.Chat's envelope, keeping its status and headers.
async fn enveloped(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    // axum's rejection texts are short; anything else is not worth echoing.
    let detail = axum::body::to_bytes(body, 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let (error_type, default_message) = describe(status);
    let message = match detail {
        Some(d) if status.is_client_error() => d,
        _ => default_message.to_string(),
    };
    let body = json!({"success": false, "error": message, "errorType": error_type});
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read: the connection cannot be reused.
        parts
            .headers
            .insert("connection", HeaderValue::from_static("close"));
    }
    Response::from_parts(parts, Body::from(body.to_string())).into_response()
}

/// The `errorType` and a default message for an error status.
fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("invalid-params", "Bad request"),
        StatusCode::UNAUTHORIZED => ("error-unauthorized", "You must be logged in to do this."),
        StatusCode::FORBIDDEN => ("error-not-allowed", "Not allowed"),
        StatusCode::NOT_FOUND => ("error-not-found", "Not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("error-method-not-allowed", "Method not allowed"),
        StatusCode::REQUEST_TIMEOUT => ("error-timeout", "Request timed out"),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("error-request-too-large", "The request body is too large")
        }
        StatusCode::URI_TOO_LONG => ("error-uri-too-long", "The request URI is too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("error-unsupported-media-type", "Unsupported media type")
        }
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-params", "Unprocessable request"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "error-headers-too-large",
            "The request headers are too large",
        ),
        StatusCode::TOO_MANY_REQUESTS => ("error-too-many-requests", "Too many requests"),
        s if s.is_server_error() => ("error-internal", "Internal server error"),
        _ => ("error", "Request failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_origin_parses_and_matches_hosts() {
        let o = AppsOrigin::parse("https://Apps.Example.com/").unwrap();
        assert!(o.is_host("apps.example.com"));
        assert!(o.is_host("apps.example.com:443"));
        assert!(!o.is_host("chat.example.com"));
        assert!(!o.is_host("apps.example.com:8443"));
        let p = AppsOrigin::parse("http://127.0.0.1:4000").unwrap();
        assert!(p.is_host("127.0.0.1:4000"));
        assert!(!p.is_host("127.0.0.1:3000"));
        for bad in [
            "apps.example.com",
            "ftp://x",
            "https://x/path",
            "https://u:p@x",
        ] {
            assert!(AppsOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_paths() {
        assert!(is_api_path("/api/v1/me"));
        assert!(is_api_path("/api"));
        assert!(is_api_path("/hooks/x/y"));
        assert!(!is_api_path("/apix"));
        assert!(!is_api_path("/assets/app.js"));
    }

    #[test]
    fn header_limits() {
        let mut req = Request::new(Body::empty());
        for i in 0..=MAX_HEADERS {
            req.headers_mut().insert(
                format!("x-h{i}").parse::<axum::http::HeaderName>().unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        let resp = oversized(&req).expect("refused");
        assert_eq!(resp.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        req.headers_mut().remove("x-h0");
        assert!(oversized(&req).is_none());
    }
}
