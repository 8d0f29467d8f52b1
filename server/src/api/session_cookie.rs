//! The web client's session cookie: an `HttpOnly; SameSite=Strict` pair
//! (`rc_uid`, `rc_token`, Rocket.Chat's cookie names) that the REST API and the
//! realtime API accept in place of the `X-User-Id`/`X-Auth-Token` headers, so the
//! client keeps no token where a script can read it.
//!
//! A cookie rides along with requests the page did not mean to make, so cookie
//! authentication is refused when the browser says the request came from another
//! site (`Sec-Fetch-Site`), when its `Origin` is not this host, and — for unsafe
//! methods — without the `X-Requested-With` header, which a cross-origin page
//! cannot add without a CORS preflight (Palaver answers none). Header-authenticated
//! clients are unaffected.

use axum::http::header::{COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, Uri};

use crate::store::Ts;

pub const UID_COOKIE: &str = "rc_uid";
pub const TOKEN_COOKIE: &str = "rc_token";
/// A login request with this header (value `cookie`) gets the session as cookies,
/// and no token in its body.
pub const SESSION_MODE_HEADER: &str = "x-palaver-session";
/// The header unsafe cookie-authenticated requests must carry.
pub const CSRF_HEADER: &str = "x-requested-with";

/// A user id and login token read from the session cookies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieCredentials {
    pub user_id: String,
    pub token: String,
}

/// The session cookies of a request, if it carries both.
pub fn credentials(headers: &HeaderMap) -> Option<CookieCredentials> {
    let (mut user_id, mut token) = (None, None);
    for value in headers.get_all(COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((name, v)) = pair.trim().split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            if v.is_empty() {
                continue;
            }
            match name.trim() {
                UID_COOKIE => user_id = Some(v.to_string()),
                TOKEN_COOKIE => token = Some(v.to_string()),
                _ => {}
            }
        }
    }
    Some(CookieCredentials {
        user_id: user_id?,
        token: token?,
    })
}

/// Why a cookie-authenticated request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsrfRefusal {
    #[error("the request came from another site")]
    CrossSite,
    #[error(
        "cookie-authenticated requests that change something need the X-Requested-With header"
    )]
    MissingHeader,
}

/// Whether the browser marks the request as coming from this very origin (or from
/// no page at all, e.g. typed in the address bar). Requests from non-browsers carry
/// neither header and pass. `Origin` must name the host the request was sent to, or
/// `site_host` (the configured site URL's, for a proxy that rewrites `Host`).
pub fn same_origin(
    headers: &HeaderMap,
    uri: &Uri,
    site_host: Option<&str>,
) -> Result<(), CsrfRefusal> {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|s| !matches!(s, "same-origin" | "none")) {
        return Err(CsrfRefusal::CrossSite);
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let host = super::edge::request_host(headers, uri);
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.parse::<Uri>().ok())
            .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()));
        let Some(o) = origin_host else {
            return Err(CsrfRefusal::CrossSite);
        };
        let matches = |h: &str| h.eq_ignore_ascii_case(&o);
        if !(host.as_deref().is_some_and(matches) || site_host.is_some_and(matches)) {
            return Err(CsrfRefusal::CrossSite);
        }
    }
    Ok(())
}

/// The checks a cookie-authenticated request must pass (see the module docs).
pub fn check(
    method: &Method,
    headers: &HeaderMap,
    uri: &Uri,
    site_host: Option<&str>,
) -> Result<(), CsrfRefusal> {
    same_origin(headers, uri, site_host)?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && headers.get(CSRF_HEADER).is_none() {
        return Err(CsrfRefusal::MissingHeader);
    }
    Ok(())
}

/// Whether a login request asks for the session as cookies.
pub fn wants_cookie(headers: &HeaderMap) -> bool {
    headers
        .get(SESSION_MODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cookie"))
}

fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .ok()
}

/// Adds the session cookies for `user_id`/`token`, living until `expires`.
pub fn set(headers: &mut HeaderMap, user_id: &str, token: &str, expires: Ts, secure: bool) {
    let max_age = ((expires.0 - Ts::now().0) / 1000).clamp(0, i64::from(i32::MAX));
    for (name, value) in [(UID_COOKIE, user_id), (TOKEN_COOKIE, token)] {
        if let Some(v) = cookie(name, value, max_age, secure) {
            headers.append(SET_COOKIE, v);
        }
    }
}

/// Adds headers that remove the session cookies.
pub fn clear(headers: &mut HeaderMap, secure: bool) {
    for name in [UID_COOKIE, TOKEN_COOKIE] {
        if let Some(v) = cookie(name, "", 0, secure) {
            headers.append(SET_COOKIE, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(
                n.parse::<axum::http::HeaderName>().unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn reads_both_cookies() {
        let h = headers(&[("cookie", "a=1; rc_uid=u1"), ("cookie", "rc_token=t1")]);
        assert_eq!(
            credentials(&h),
            Some(CookieCredentials {
                user_id: "u1".into(),
                token: "t1".into()
            })
        );
        assert_eq!(credentials(&headers(&[("cookie", "rc_token=t1")])), None);
        assert_eq!(
            credentials(&headers(&[("cookie", "rc_uid=; rc_token=t")])),
            None
        );
    }

    #[test]
    fn refuses_cross_site_and_headerless_unsafe_requests() {
        let uri: Uri = "/api/v1/me".parse().unwrap();
        let host = ("host", "chat.example.com");
        assert_eq!(check(&Method::GET, &headers(&[host]), &uri, None), Ok(()));
        assert_eq!(
            check(&Method::POST, &headers(&[host]), &uri, None),
            Err(CsrfRefusal::MissingHeader)
        );
        assert_eq!(
            check(
                &Method::POST,
                &headers(&[host, ("x-requested-with", "XMLHttpRequest")]),
                &uri,
                None
            ),
            Ok(())
        );
        for cross in [
            vec![host, ("sec-fetch-site", "cross-site")],
            vec![host, ("sec-fetch-site", "same-site")],
            vec![host, ("origin", "https://evil.example")],
            vec![host, ("origin", "null")],
        ] {
            assert_eq!(
                check(&Method::GET, &headers(&cross), &uri, None),
                Err(CsrfRefusal::CrossSite),
                "{cross:?}"
            );
        }
        assert_eq!(
            check(
                &Method::GET,
                &headers(&[
                    host,
                    ("origin", "https://chat.example.com"),
                    ("sec-fetch-site", "same-origin")
                ]),
                &uri,
                None
            ),
            Ok(())
        );
        // Behind a proxy that rewrites Host, the site URL's host is this origin too.
        let proxied = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://chat.example.com"),
        ]);
        assert_eq!(
            check(&Method::GET, &proxied, &uri, None),
            Err(CsrfRefusal::CrossSite)
        );
        assert_eq!(
            check(&Method::GET, &proxied, &uri, Some("chat.example.com")),
            Ok(())
        );
    }
}
