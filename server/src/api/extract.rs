//! Request extractors: authentication headers, JSON bodies and query parameters,
//! each failing with a Rocket.Chat envelope instead of axum's plain-text rejections.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::session_cookie;
use super::AppState;
use crate::chat::accounts::Session;
use crate::chat::ChatError;
use crate::store::{Direction, Page, Sort, SortKey, Ts};

/// The authenticated caller: `X-User-Id` + `X-Auth-Token`, or else the web
/// client's session cookie (see [`session_cookie`]).
pub struct Auth(pub Session);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        if let (Some(user_id), Some(token)) = (header("x-user-id"), header("x-auth-token")) {
            let session = state.chat.session_for_token(token, Some(user_id)).await?;
            return Ok(Auth(session));
        }
        // The web client's session cookie, only when no headers say otherwise.
        if header("x-user-id").is_none() && header("x-auth-token").is_none() {
            if let Some(creds) = session_cookie::credentials(&parts.headers) {
                session_cookie::check(
                    &parts.method,
                    &parts.headers,
                    &parts.uri,
                    state.edge.site_host.as_deref(),
                )?;
                let session = state
                    .chat
                    .session_for_token(&creds.token, Some(&creds.user_id))
                    .await?;
                return Ok(Auth(session));
            }
        }
        Err(ChatError::Unauthorized("missing credentials".into()).into())
    }
}

/// The caller if the request carries valid credentials, for endpoints that also
/// serve anonymous callers (Rocket.Chat's `authRequired: false`): missing or
/// invalid credentials read as anonymous.
pub struct MaybeAuth(pub Option<Session>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Auth::from_request_parts(parts, state).await {
            Ok(Auth(session)) => Ok(MaybeAuth(Some(session))),
            Err(ApiError::Chat(ChatError::Unauthorized(_))) => Ok(MaybeAuth(None)),
            Err(e) => Err(e),
        }
    }
}

/// A JSON body, bounded by the configured size. An empty body reads as `{}`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, state.max_body_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads the whole body, at most `limit` bytes: the one place an oversized body
/// becomes [`ApiError::TooLarge`].
pub(crate) async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| ApiError::TooLarge(limit))
}

/// Whether a body is empty or only whitespace (clients send that for "no fields").
pub(crate) fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Parses a JSON body; a blank body reads as `{}`.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if is_blank(bytes) { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadBody(format!("Invalid JSON body: {e}")))
}

/// Query-string parameters with typed accessors (a repeated key: its last value),
/// the listing page sizes in force (the `API_Default_Count` and
/// `API_Upper_Count_Limit` settings), and every pair in order, for the arrays
/// clients send as repeated keys (`types[]=c&types[]=p`).
pub struct Params(
    pub HashMap<String, String>,
    pub PageSizes,
    pub Vec<(String, String)>,
);

/// A listing's default and largest page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSizes {
    pub default: u64,
    pub max: u64,
}

impl Default for PageSizes {
    fn default() -> Self {
        PageSizes {
            default: 50,
            max: 100,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params
where
    AppState: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let app = <AppState as axum::extract::FromRef<S>>::from_ref(state);
        let settings = app.chat.settings();
        let sizes = PageSizes {
            default: u64::try_from(settings.int("API_Default_Count")).unwrap_or(50),
            max: u64::try_from(settings.int("API_Upper_Count_Limit")).unwrap_or(100),
        };
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(|pairs| Params(pairs.iter().cloned().collect(), sizes, pairs))
            .map_err(|e| ApiError::BadBody(format!("Invalid query string: {e}")))
    }
}

fn invalid(msg: String) -> ApiError {
    ApiError::Chat(ChatError::InvalidParams(msg))
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(other) => Err(invalid(format!(
                "The parameter \"{key}\" must be true or false, not {other:?}"
            ))),
        }
    }

    fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    invalid(format!(
                        "The parameter \"{key}\" must be a non-negative integer"
                    ))
                })
            })
            .transpose()
    }

    /// `offset` and `count` (by default `API_Default_Count`, at most
    /// `API_Upper_Count_Limit`).
    pub fn page(&self) -> Result<Page, ApiError> {
        let offset = self.number("offset")?.unwrap_or(0);
        let PageSizes { default, max } = self.1;
        let count = self
            .number("count")?
            .unwrap_or(default)
            .clamp(1, max.max(1));
        Ok(Page::new(offset, count))
    }

    /// A date parameter: ISO-8601, or milliseconds since the epoch.
    pub fn date(&self, key: &str) -> Result<Option<Ts>, ApiError> {
        self.get(key)
            .map(|v| {
                parse_date(v).ok_or_else(|| {
                    invalid(format!("The parameter \"{key}\" must be an ISO-8601 date"))
                })
            })
            .transpose()
    }

    /// A user listing's `sort`: [`Params::sort`]'s keys, and `{"status": ±1}`
    /// (presence, then `active`; see [`SortKey::Status`]).
    pub fn user_sort(&self, default: Sort) -> Result<Sort, ApiError> {
        let status = self
            .get("sort")
            .and_then(|raw| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw).ok()
            })
            .and_then(|m| {
                let (field, dir) = m.into_iter().next()?;
                (field == "status").then_some(dir)
            });
        match status {
            None => self.sort(default),
            Some(dir) => match dir.as_i64() {
                Some(1) => Ok(Sort {
                    key: SortKey::Status,
                    dir: Direction::Asc,
                }),
                Some(-1) => Ok(Sort {
                    key: SortKey::Status,
                    dir: Direction::Desc,
                }),
                _ => Err(invalid(format!("Invalid sort parameter {dir}"))),
            },
        }
    }

    /// `sort` as Rocket.Chat's JSON (`{"name": 1}`, `{"ts": -1}`).
    pub fn sort(&self, default: Sort) -> Result<Sort, ApiError> {
        let Some(raw) = self.get("sort") else {
            return Ok(default);
        };
        let bad = || invalid(format!("Invalid sort parameter {raw:?}"));
        let value: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(raw).map_err(|_| bad())?;
        let Some((field, dir)) = value.iter().next() else {
            return Ok(default);
        };
        let key = match field.as_str() {
            "name" | "username" | "fname" => SortKey::Name,
            "ts" | "createdAt" | "_updatedAt" | "lm" => SortKey::Ts,
            "usersCount" => SortKey::UsersCount,
            "msgs" => SortKey::Msgs,
            _ => return Err(invalid(format!("Sorting by {field:?} is not supported"))),
        };
        let dir = match dir.as_i64() {
            Some(1) => Direction::Asc,
            Some(-1) => Direction::Desc,
            _ => return Err(bad()),
        };
        Ok(Sort { key, dir })
    }

    /// A name filter from Rocket.Chat's `query` JSON (`{"name": {"$regex": "x"}}`)
    /// or a plain `filter`/`name` parameter.
    pub fn name_filter(&self) -> Result<Option<String>, ApiError> {
        if let Some(raw) = self.get("query") {
            let value: serde_json::Value = serde_json::from_str(raw)
                .map_err(|_| invalid(format!("Invalid query parameter {raw:?}")))?;
            for key in ["name", "username", "fname"] {
                match value.get(key) {
                    Some(serde_json::Value::String(s)) => return Ok(Some(s.clone())),
                    Some(obj) => {
                        if let Some(s) = obj.get("$regex").and_then(|r| r.as_str()) {
                            return Ok(Some(s.trim_matches(|c| c == '^' || c == '$').to_string()));
                        }
                    }
                    None => {}
                }
            }
            return Ok(None);
        }
        Ok(self.get("filter").or(self.get("name")).map(str::to_string))
    }
}

pub fn parse_date(v: &str) -> Option<Ts> {
    if let Ok(ms) = v.parse::<i64>() {
        return Some(Ts(ms));
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|d| Ts(d.timestamp_millis()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params(pairs.iter().cloned().collect(), PageSizes::default(), pairs)
    }

    #[test]
    fn pages_are_bounded() {
        assert_eq!(params(&[]).page().unwrap(), Page::new(0, 50));
        assert_eq!(
            params(&[("offset", "5"), ("count", "500")]).page().unwrap(),
            Page::new(5, 100)
        );
        assert!(params(&[("count", "-1")]).page().is_err());
    }

    #[test]
    fn sorts_and_dates_parse() {
        let default = Sort {
            key: SortKey::Name,
            dir: Direction::Asc,
        };
        let s = params(&[("sort", r#"{"ts":-1}"#)]).sort(default).unwrap();
        assert_eq!((s.key, s.dir), (SortKey::Ts, Direction::Desc));
        assert!(params(&[("sort", r#"{"password":1}"#)])
            .sort(default)
            .is_err());
        assert_eq!(parse_date("1970-01-01T00:00:01.500Z"), Some(Ts(1500)));
        assert_eq!(parse_date("1500"), Some(Ts(1500)));
        assert_eq!(parse_date("yesterday"), None);
    }
}
