//! Google Calendar API v3: the few calls the app makes, and Google's error shapes.

use chrono::DateTime;
use chrono_tz::Tz;
use palaver_apps_sdk::http::{self, Request};
use palaver_apps_sdk::Error;
use serde::{Deserialize, Serialize};

use crate::when::{rfc3339, Moment};

/// How long one call to Google may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);
/// Pages of `events.list` read at most (250 events each).
const MAX_PAGES: usize = 4;

/// Why a Calendar API call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 401: the access token is expired, revoked or unknown.
    Unauthorized(String),
    /// Any other error status, with Google's message.
    Google { status: u16, message: String },
    /// The host refused or failed the request (network, permission, timeout, …).
    Host(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Host(e)
    }
}

/// Google's JSON error body: `{"error": {"code", "message", "status", "errors"}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: Option<String>,
}

/// The message of an error response, whatever its shape.
pub fn error_message(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) if !b.error.message.is_empty() => match b.error.status {
            Some(s) => format!("{} ({s})", b.error.message),
            None => b.error.message,
        },
        _ => format!("HTTP {status}"),
    }
}

fn check(response: http::Response) -> Result<http::Response, ApiError> {
    match response.status {
        200..=299 => Ok(response),
        401 => Err(ApiError::Unauthorized(error_message(401, &response.body))),
        status => Err(ApiError::Google {
            status,
            message: error_message(status, &response.body),
        }),
    }
}

/// An event's `start` or `end`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl EventTime {
    /// A timed start or end in `tz`.
    pub fn at(t: &DateTime<Tz>) -> EventTime {
        EventTime {
            date: None,
            date_time: Some(rfc3339(t)),
            time_zone: Some(t.timezone().name().to_string()),
        }
    }

    pub fn moment(&self) -> Option<Moment> {
        Moment::parse(self.date.as_deref(), self.date_time.as_deref())
    }
}

/// An attendee of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The attendee is the calendar's owner.
    #[serde(default, rename = "self", skip_serializing)]
    pub is_self: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<String>,
}

/// The fields of an event the app reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub html_link: Option<String>,
    #[serde(default)]
    pub hangout_link: Option<String>,
    #[serde(default)]
    pub start: Option<EventTime>,
    #[serde(default)]
    pub end: Option<EventTime>,
    #[serde(default)]
    pub attendees: Vec<Attendee>,
}

impl Event {
    /// The title, or Google's own placeholder for events without one.
    pub fn title(&self) -> &str {
        match self.summary.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => s,
            _ => "(No title)",
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.status.as_deref() == Some("cancelled")
    }

    /// The calendar's owner declined it.
    pub fn declined(&self) -> bool {
        self.attendees
            .iter()
            .any(|a| a.is_self && a.response_status.as_deref() == Some("declined"))
    }

    pub fn start(&self) -> Option<Moment> {
        self.start.as_ref().and_then(EventTime::moment)
    }

    pub fn end(&self) -> Option<Moment> {
        self.end.as_ref().and_then(EventTime::moment)
    }

    /// The title as a Markdown link to the event when Google gave one.
    pub fn linked_title(&self) -> String {
        let title = self.title().replace(['[', ']'], "");
        match &self.html_link {
            Some(link) if link.starts_with("https://") => format!("[{title}]({link})"),
            _ => title,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventList {
    #[serde(default)]
    items: Vec<Event>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// A new timed event for `events.insert`.
#[derive(Debug, Clone, Serialize)]
pub struct NewEvent {
    pub summary: String,
    pub start: EventTime,
    pub end: EventTime,
    pub attendees: Vec<Attendee>,
}

/// The user's primary calendar, reached with one access token.
pub struct Calendar<'a> {
    base: &'a str,
    token: &'a str,
}

impl<'a> Calendar<'a> {
    pub fn new(base: &'a str, token: &'a str) -> Self {
        Calendar { base, token }
    }

    fn events_url(&self) -> String {
        format!("{}/calendars/primary/events", self.base)
    }

    fn send(&self, request: Request) -> Result<http::Response, ApiError> {
        let response = request
            .bearer_auth(self.token)
            .header("accept", "application/json")
            .timeout(TIMEOUT)
            .send()?;
        check(response)
    }

    /// Single events (recurring ones expanded) overlapping `[from, to)`, by start
    /// time, with times given in `tz`.
    pub fn list(
        &self,
        from: &DateTime<Tz>,
        to: &DateTime<Tz>,
        tz: Tz,
    ) -> Result<Vec<Event>, ApiError> {
        let mut events = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("timeMin", rfc3339(from)),
                ("timeMax", rfc3339(to)),
                ("singleEvents", "true".to_string()),
                ("orderBy", "startTime".to_string()),
                ("timeZone", tz.name().to_string()),
                ("maxResults", "250".to_string()),
            ];
            if let Some(token) = page.take() {
                query.push(("pageToken", token));
            }
            let response = self.send(Request::get(self.events_url()).query(&query))?;
            let list: EventList = response.json()?;
            events.extend(list.items);
            match list.next_page_token {
                Some(token) if !token.is_empty() => page = Some(token),
                _ => break,
            }
        }
        Ok(events)
    }

    /// `events.quickAdd`: Google reads `text` ("Lunch with Ana tomorrow 1pm").
    pub fn quick_add(&self, text: &str) -> Result<Event, ApiError> {
        let url = format!("{}/quickAdd", self.events_url());
        let response = self.send(Request::post(url).query(&[("text", text)]))?;
        Ok(response.json()?)
    }

    /// `events.insert`, e-mailing the invitations (`sendUpdates=all`).
    pub fn insert(&self, event: &NewEvent) -> Result<Event, ApiError> {
        let request = Request::post(self.events_url())
            .query(&[("sendUpdates", "all")])
            .json(event);
        Ok(self.send(request)?.json()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages() {
        let body = br#"{"error":{"code":401,"message":"Invalid Credentials","errors":[],"status":"UNAUTHENTICATED"}}"#;
        assert_eq!(
            error_message(401, body),
            "Invalid Credentials (UNAUTHENTICATED)"
        );
        assert_eq!(error_message(502, b"<html>"), "HTTP 502");
    }

    #[test]
    fn events() {
        let e: Event = serde_json::from_str(
            r#"{"id":"a1","summary":"Standup","htmlLink":"https://www.google.com/calendar/event?eid=x",
               "start":{"dateTime":"2026-12-01T09:00:00+01:00"},"end":{"dateTime":"2026-12-01T09:15:00+01:00"},
               "attendees":[{"email":"me@x","self":true,"responseStatus":"declined"}]}"#,
        )
        .unwrap();
        assert!(e.declined());
        assert!(!e.is_cancelled());
        assert_eq!(
            e.linked_title(),
            "[Standup](https://www.google.com/calendar/event?eid=x)"
        );
        let new = NewEvent {
            summary: "x".into(),
            start: EventTime::default(),
            end: EventTime::default(),
            attendees: vec![Attendee {
                email: Some("a@b".into()),
                ..Default::default()
            }],
        };
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            r#"{"summary":"x","start":{},"end":{},"attendees":[{"email":"a@b"}]}"#
        );
    }
}
