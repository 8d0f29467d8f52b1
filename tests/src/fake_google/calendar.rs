//! The Calendar v3 part of the fake: `events.list`, `events.quickAdd` and
//! `events.insert` on the primary calendar, with Google's checks and error shapes.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::{json_response, Inner, Recorded, CALENDAR_SCOPE, EVENTS_SCOPE};

const EVENTS_ROUTE: &str = "/calendar/v3/calendars/primary/events";
const QUICK_ADD_ROUTE: &str = "/calendar/v3/calendars/primary/events/quickAdd";

/// When an event starts or ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FakeTime {
    At(DateTime<Utc>),
    /// All-day events: a date (the end date is exclusive).
    Date(NaiveDate),
}

impl FakeTime {
    fn instant(&self) -> DateTime<Utc> {
        match self {
            FakeTime::At(t) => *t,
            FakeTime::Date(d) => d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
        }
    }

    fn to_json(&self, time_zone: &str) -> Value {
        match self {
            FakeTime::At(t) => json!({
                "dateTime": t.to_rfc3339_opts(SecondsFormat::Secs, true),
                "timeZone": time_zone,
            }),
            FakeTime::Date(d) => json!({ "date": d.format("%Y-%m-%d").to_string() }),
        }
    }

    /// Reads `{dateTime}` or `{date}` of a request body.
    fn parse(value: &Value) -> Option<FakeTime> {
        if let Some(dt) = value["dateTime"].as_str() {
            return DateTime::parse_from_rfc3339(dt)
                .ok()
                .map(|t| FakeTime::At(t.with_timezone(&Utc)));
        }
        value["date"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(FakeTime::Date)
    }
}

/// An event in a fake calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeEvent {
    pub id: String,
    pub summary: String,
    pub start: FakeTime,
    pub end: FakeTime,
    pub location: Option<String>,
    /// `confirmed` or `cancelled` (cancelled events are not listed).
    pub status: String,
    /// Attendees' e-mail addresses.
    pub attendees: Vec<String>,
    /// The zone the event was created in (`start.timeZone`).
    pub time_zone: Option<String>,
}

impl FakeEvent {
    /// A timed event.
    pub fn timed(
        id: &str,
        summary: &str,
        start: DateTime<Utc>,
        duration: chrono::Duration,
    ) -> FakeEvent {
        FakeEvent {
            id: id.to_string(),
            summary: summary.to_string(),
            start: FakeTime::At(start),
            end: FakeTime::At(start + duration),
            location: None,
            status: "confirmed".into(),
            attendees: Vec::new(),
            time_zone: None,
        }
    }

    /// An all-day event on `date`.
    pub fn all_day(id: &str, summary: &str, date: NaiveDate) -> FakeEvent {
        FakeEvent {
            start: FakeTime::Date(date),
            end: FakeTime::Date(date.succ_opt().unwrap_or(date)),
            ..FakeEvent::timed(id, summary, Utc::now(), chrono::Duration::zero())
        }
    }

    /// With a location.
    pub fn location(mut self, location: &str) -> FakeEvent {
        self.location = Some(location.to_string());
        self
    }

    /// Cancelled (Google leaves it out of lists).
    pub fn cancelled(mut self) -> FakeEvent {
        self.status = "cancelled".into();
        self
    }

    /// The event as the API returns it.
    pub fn to_json(&self, account: &str, time_zone: &str) -> Value {
        let tz = self.time_zone.as_deref().unwrap_or(time_zone);
        let mut event = json!({
            "kind": "calendar#event",
            "etag": format!("\"{}\"", self.id.len() * 7919),
            "id": self.id,
            "status": self.status,
            "htmlLink": format!("https://www.google.com/calendar/event?eid={}", self.id),
            "created": "2026-01-01T00:00:00.000Z",
            "updated": "2026-01-01T00:00:00.000Z",
            "summary": self.summary,
            "creator": { "email": account, "self": true },
            "organizer": { "email": account, "self": true },
            "start": self.start.to_json(tz),
            "end": self.end.to_json(tz),
            "iCalUID": format!("{}@google.com", self.id),
            "sequence": 0,
            "reminders": { "useDefault": true },
            "eventType": "default",
        });
        if let Some(location) = &self.location {
            event["location"] = json!(location);
        }
        if !self.attendees.is_empty() {
            event["attendees"] = self
                .attendees
                .iter()
                .map(|email| json!({ "email": email, "responseStatus": "needsAction" }))
                .collect();
        }
        event
    }
}

/// Google's API error body.
pub(crate) fn api_error(code: StatusCode, message: &str, reason: &str, status: &str) -> Response {
    json_response(
        code,
        &json!({
            "error": {
                "code": code.as_u16(),
                "message": message,
                "errors": [{ "message": message, "domain": "global", "reason": reason }],
                "status": status,
            }
        }),
    )
}

/// The 401 the API answers for a missing or bad token.
pub(crate) fn unauthorized(message: &str, reason: &str) -> Response {
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({
            "error": {
                "code": 401,
                "message": message,
                "errors": [{
                    "message": message,
                    "domain": "global",
                    "reason": reason,
                    "location": "Authorization",
                    "locationType": "header",
                }],
                "status": "UNAUTHENTICATED",
            }
        }),
    );
    if let Ok(v) = "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"".parse()
    {
        response.headers_mut().insert("www-authenticate", v);
    }
    response
}

fn bad_request(message: &str, reason: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, message, reason, "INVALID_ARGUMENT")
}

/// An id in Google's alphabet (base32hex: `0-9a-v`).
fn event_id() -> String {
    let token = super::random_token("");
    let alphabet = b"0123456789abcdefghijklmnopqrstuv";
    token
        .bytes()
        .map(|b| char::from(alphabet[usize::from(b) % 32]))
        .collect()
}

/// Routes a request under `/calendar/v3/` (recorded by the fake's middleware).
pub(crate) fn calendar(inner: &mut Inner, route: &str, req: &Recorded) -> Response {
    let account = match inner.authorize(req) {
        Ok(grant) => {
            let scopes: Vec<&str> = grant.scope.split_whitespace().collect();
            if !scopes.contains(&EVENTS_SCOPE) && !scopes.contains(&CALENDAR_SCOPE) {
                return api_error(
                    StatusCode::FORBIDDEN,
                    "Request had insufficient authentication scopes.",
                    "insufficientPermissions",
                    "PERMISSION_DENIED",
                );
            }
            grant.account.clone()
        }
        Err(response) => return *response,
    };
    match (req.method.as_str(), route) {
        ("GET", EVENTS_ROUTE) => list(inner, &account, req),
        ("POST", EVENTS_ROUTE) => insert(inner, &account, req),
        ("POST", QUICK_ADD_ROUTE) => quick_add(inner, &account, req),
        _ => api_error(StatusCode::NOT_FOUND, "Not Found", "notFound", "NOT_FOUND"),
    }
}

fn list(inner: &Inner, account: &str, req: &Recorded) -> Response {
    let param = |name: &str| req.query_param(name);
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, ()> {
        match param(name) {
            None => Ok(None),
            Some(v) => DateTime::parse_from_rfc3339(&v)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(drop),
        }
    };
    let (Ok(min), Ok(max)) = (time("timeMin"), time("timeMax")) else {
        return bad_request("Bad Request", "badRequest");
    };
    let single = param("singleEvents").as_deref() == Some("true");
    if param("orderBy").as_deref() == Some("startTime") && !single {
        return bad_request(
            "The requested ordering is not available for the particular query.",
            "badRequest",
        );
    }
    if let (Some(a), Some(b)) = (min, max) {
        if b <= a {
            return bad_request("The specified time range is empty.", "timeRangeEmpty");
        }
    }
    let time_zone = param("timeZone").unwrap_or_else(|| "UTC".into());
    let max_results: usize = param("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(250)
        .clamp(1, 2500);
    let offset: usize = match param("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix('p').and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return bad_request("Invalid page token value.", "invalid"),
        },
    };
    let mut events: Vec<&FakeEvent> = inner
        .calendars
        .get(account)
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    events.retain(|e| {
        e.status != "cancelled"
            && min.is_none_or(|m| e.end.instant() > m)
            && max.is_none_or(|m| e.start.instant() < m)
    });
    events.sort_by_key(|e| e.start.instant());
    let page: Vec<Value> = events
        .iter()
        .skip(offset)
        .take(max_results)
        .map(|e| e.to_json(account, &time_zone))
        .collect();
    let mut body = json!({
        "kind": "calendar#events",
        "etag": "\"p33c9v1e8q1r8g0o\"",
        "summary": account,
        "description": "",
        "updated": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeZone": time_zone,
        "accessRole": "owner",
        "defaultReminders": [{ "method": "popup", "minutes": 10 }],
        "items": page,
    });
    if offset + max_results < events.len() {
        body["nextPageToken"] = json!(format!("p{}", offset + max_results));
    }
    json_response(StatusCode::OK, &body)
}

fn quick_add(inner: &mut Inner, account: &str, req: &Recorded) -> Response {
    let Some(text) = req.query_param("text").filter(|t| !t.trim().is_empty()) else {
        return bad_request("Required parameter: text", "required");
    };
    if !req.body.is_empty() {
        return bad_request("quickAdd takes no request body", "badRequest");
    }
    let start = inner.quick_add_start;
    let event = FakeEvent::timed(&event_id(), &text, start, chrono::Duration::hours(1));
    let json = event.to_json(account, "UTC");
    inner
        .calendars
        .entry(account.to_string())
        .or_default()
        .push(event);
    json_response(StatusCode::OK, &json)
}

fn insert(inner: &mut Inner, account: &str, req: &Recorded) -> Response {
    let is_json = req.has_content_type("application/json");
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) if is_json => v,
        _ => return bad_request("Parse Error", "parseError"),
    };
    let (Some(start), Some(end)) = (
        FakeTime::parse(&body["start"]),
        FakeTime::parse(&body["end"]),
    ) else {
        return bad_request("Missing end time.", "required");
    };
    if matches!(start, FakeTime::At(_)) != matches!(end, FakeTime::At(_)) {
        return bad_request(
            "Start and end times must either both be date or both be dateTime.",
            "invalid",
        );
    }
    if end.instant() <= start.instant() {
        return bad_request("The specified time range is empty.", "timeRangeEmpty");
    }
    let mut attendees = Vec::new();
    for a in body["attendees"].as_array().into_iter().flatten() {
        match a["email"].as_str() {
            Some(email) if email.contains('@') => attendees.push(email.to_string()),
            _ => return bad_request("Invalid attendee email.", "invalid"),
        }
    }
    let event = FakeEvent {
        id: event_id(),
        summary: body["summary"].as_str().unwrap_or_default().to_string(),
        start,
        end,
        location: body["location"].as_str().map(str::to_string),
        status: "confirmed".into(),
        attendees,
        time_zone: body["start"]["timeZone"].as_str().map(str::to_string),
    };
    let json = event.to_json(account, "UTC");
    inner
        .calendars
        .entry(account.to_string())
        .or_default()
        .push(event);
    json_response(StatusCode::OK, &json)
}
