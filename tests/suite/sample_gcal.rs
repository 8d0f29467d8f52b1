//! `sample-apps/google-calendar` end to end: the app runs in the real server and talks
//! over HTTPS to a fake of Google's OAuth and Calendar APIs at the real host names
//! (`palaver_tests::fake_google`), which checks every request it gets.
//!
//! - the OAuth flow: the authorize URL from `/gcal login`, the browser coming back to
//!   the public `oauth-callback`, the code exchange; wrong, replayed and expired
//!   `state`s refused; tokens kept per user;
//! - `/gcal today`/`week` asking Google for the user's day in their zone; token refresh
//!   (before expiry, and after a 401); a revoked grant asking to log in again;
//! - `/gcal add` (quick add), `/gcal invite` (the room's members by e-mail);
//! - `/gcal logout` revoking at Google;
//! - a reminder DM sent once before an event, and not again after a restart.

use crate::apps_support::channel;
use std::time::Duration;

use chrono::{DateTime, Duration as Span, FixedOffset, TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use palaver_tests::app_admin::{ephemeral, install_ok, run_ok, set_settings, set_status};
use palaver_tests::apps;
use palaver_tests::fake_google::{
    FakeEvent, FakeGoogle, Recorded, ACCOUNTS_HOST, API_HOST, AUTHORIZE_PATH, EVENTS_SCOPE,
    OAUTH_HOST,
};
use palaver_tests::server::{Body, Palaver, Resp, Session};

const APP: &str = "google-calendar";
const CLIENT_ID: &str = "1234-palaver.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-test-secret";
const EVENTS_PATH: &str = "/calendar/v3/calendars/primary/events";
/// A zone without daylight saving, so the test can compute its days with a fixed offset.
const ZONE: &str = "Asia/Kolkata";

fn ist() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600 + 1800).expect("+05:30")
}

/// A marketplace holding the app.
fn marketplace() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("palaver-gcal-market-")
        .tempdir()
        .expect("create a marketplace directory");
    apps::app_package(&apps::sample_apps_dir(), APP, dir.path());
    dir
}

/// A server that reaches `google` for Google's hosts, with the app installed,
/// configured with `settings` (on top of the client credentials and zone) and enabled.
async fn server(google: &FakeGoogle, market: &TempDir, settings: Value) -> (Palaver, Session) {
    let srv = Palaver::builder()
        .env(
            "PALAVER_MARKETPLACE_DIR",
            market.path().display().to_string(),
        )
        .envs(google.palaver_env())
        .start()
        .await;
    let admin = srv.admin().await;
    let app = install_ok(&srv, &admin, APP, None, false).await;
    let mut granted: Vec<&str> = app["permissionsGranted"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    granted.sort_unstable();
    assert_eq!(
        granted,
        [
            "api",
            "message.write",
            "networking",
            "persistence",
            "room.read",
            "scheduler",
            "slashcommand",
            "user.read"
        ],
        "{app}"
    );
    let mut values = json!({
        "client-id": CLIENT_ID,
        "client-secret": CLIENT_SECRET,
        "default-time-zone": ZONE,
    });
    for (k, v) in settings.as_object().into_iter().flatten() {
        values[k] = v.clone();
    }
    let r = set_settings(&srv, &admin, APP, values).await;
    assert_eq!(r.status, StatusCode::OK, "settings: {}", r.text);
    let r = set_status(&srv, &admin, APP, true).await;
    assert_eq!(r.status, StatusCode::OK, "enable: {}", r.text);
    (srv, admin)
}

/// The `https://` URL in a text.
fn url_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no https URL in {text:?}"))
        .to_string()
}

fn query(url: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(url)
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .query_pairs()
        .into_owned()
        .collect()
}

fn param(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in {pairs:?}"))
}

/// `/gcal login` as `who`: the authorize URL, checked.
async fn login_url(srv: &Palaver, who: &Session, rid: &str) -> String {
    let text = ephemeral(srv, who, rid, "gcal", "login").await;
    let url = url_in(&text);
    let parsed = reqwest::Url::parse(&url).expect("the authorize URL parses");
    assert_eq!(parsed.host_str(), Some(ACCOUNTS_HOST), "{url}");
    assert_eq!(parsed.path(), AUTHORIZE_PATH, "{url}");
    let q = query(&url);
    assert_eq!(param(&q, "client_id"), CLIENT_ID);
    assert_eq!(param(&q, "redirect_uri"), redirect_uri(srv));
    assert_eq!(param(&q, "response_type"), "code");
    assert_eq!(param(&q, "access_type"), "offline");
    assert_eq!(param(&q, "scope"), EVENTS_SCOPE);
    let state = param(&q, "state");
    assert!(
        state.len() >= 32 && state.bytes().all(|b| b.is_ascii_hexdigit()),
        "the state must carry at least 128 random bits: {state}"
    );
    url
}

fn redirect_uri(srv: &Palaver) -> String {
    format!("{}/api/apps/public/{APP}/oauth-callback", srv.base_url())
}

/// The browser follows Google's redirect back to the server.
async fn open(srv: &Palaver, url: &str) -> Resp {
    let parsed = reqwest::Url::parse(url).expect("the redirect parses");
    assert!(url.starts_with(&redirect_uri(srv)), "redirected to {url}");
    let path = format!("{}?{}", parsed.path(), parsed.query().unwrap_or(""));
    srv.request(Method::GET, &path, None, Body::None).await
}

/// Connects `who` as Google `account`; returns the code exchange Google saw.
async fn connect(
    srv: &Palaver,
    google: &FakeGoogle,
    who: &Session,
    rid: &str,
    account: &str,
) -> Recorded {
    let url = login_url(srv, who, rid).await;
    let back = google.consent(&url, account).expect("Google's consent");
    let before = google.requests_to(OAUTH_HOST, "/token").len();
    let page = open(srv, &back).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(
        page.text.contains("Google Calendar connected"),
        "{}",
        page.text
    );
    let exchanges = google.requests_to(OAUTH_HOST, "/token");
    assert_eq!(exchanges.len(), before + 1, "one code exchange");
    exchanges[before].clone()
}

/// The messages of `who`'s direct conversation with the app's bot (newest first).
async fn bot_dm(srv: &Palaver, who: &Session) -> Vec<Value> {
    let list = srv.get_ok("im.list", who).await;
    let Some(room) = list["ims"].as_array().into_iter().flatten().find(|im| {
        im["usernames"]
            .as_array()
            .is_some_and(|u| u.iter().any(|n| n == &json!(format!("{APP}.bot"))))
    }) else {
        return Vec::new();
    };
    let rid = room["_id"].as_str().expect("DM id");
    let body = srv
        .get_ok(&format!("im.history?roomId={rid}&count=100"), who)
        .await;
    body["messages"].as_array().cloned().unwrap_or_default()
}

/// Waits up to `wait` for a message of the bot in `who`'s DM containing `needle`.
async fn wait_dm(srv: &Palaver, who: &Session, needle: &str, wait: Duration) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let messages = bot_dm(srv, who).await;
        let found: Vec<Value> = messages
            .iter()
            .filter(|m| m["msg"].as_str().is_some_and(|t| t.contains(needle)))
            .cloned()
            .collect();
        if !found.is_empty() {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("no DM from the bot containing {needle:?} within {wait:?}: {messages:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn bearer(r: &Recorded) -> String {
    r.header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_else(|| panic!("no bearer token: {r:?}"))
        .to_string()
}

/// The JSON body of a token response the fake gave is not visible to the test; the
/// access token shows in the next API call instead.
fn last_list(google: &FakeGoogle) -> Recorded {
    google
        .requests_to(API_HOST, EVENTS_PATH)
        .into_iter()
        .rfind(|r| r.method == "GET")
        .expect("an events.list request")
}

fn ist_time(date: chrono::NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    ist()
        .from_local_datetime(&date.and_hms_opt(h, m, 0).expect("a time"))
        .single()
        .expect("IST has no gaps")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn gcal_login_state_agenda_refresh_add_invite_logout() {
    let google = FakeGoogle::start(CLIENT_ID, CLIENT_SECRET).await;
    let market = marketplace();
    // No reminders here: the reminder job would call Google between the steps.
    let (srv, admin) = server(&google, &market, json!({"reminder-lead-minutes": 0})).await;
    let alice = srv.create_user(&admin, "alice").await;
    let bob = srv.create_user(&admin, "bob").await;
    let _carol = srv.create_user(&admin, "carol").await;
    let rid = channel(&srv, &alice, "team", &["bob", "carol"]).await;

    // Not connected yet.
    let text = ephemeral(&srv, &alice, &rid, "gcal", "today").await;
    assert!(text.contains("/gcal login"), "{text}");
    let help = ephemeral(&srv, &alice, &rid, "gcal", "help").await;
    assert!(
        help.contains("/gcal invite <title> <start> <duration>"),
        "{help}"
    );

    // A state the app never issued is refused, and Google is not asked.
    let url = login_url(&srv, &alice, &rid).await;
    let forged = redirect_uri(&srv) + &format!("?state={}&code=4/0Aforged", "ab".repeat(32));
    let r = open(&srv, &forged).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.text.contains("not valid or was already used"),
        "{}",
        r.text
    );
    let r = open(&srv, &format!("{}?code=4/0Ax", redirect_uri(&srv))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(google.requests_to(OAUTH_HOST, "/token").is_empty());

    // The real flow: Google's consent, then the browser lands on the callback.
    let back = google.consent(&url, "alice@gmail.com").expect("consent");
    let page = open(&srv, &back).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(
        page.text.contains("Google Calendar connected"),
        "{}",
        page.text
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let exchanges = google.requests_to(OAUTH_HOST, "/token");
    assert_eq!(exchanges.len(), 1, "{exchanges:?}");
    let exchange = &exchanges[0];
    assert_eq!(exchange.method, "POST");
    assert!(exchange
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")));
    assert_eq!(
        exchange.form_param("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(exchange.form_param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        exchange.form_param("client_secret").as_deref(),
        Some(CLIENT_SECRET)
    );
    assert_eq!(
        exchange.form_param("redirect_uri"),
        Some(redirect_uri(&srv))
    );
    assert_eq!(
        exchange.form_param("code"),
        Some(param(&query(&back), "code"))
    );
    wait_dm(
        &srv,
        &alice,
        "Google Calendar is connected",
        Duration::from_secs(10),
    )
    .await;

    // Replayed: the same state (and code) again is refused before Google is asked.
    let r = open(&srv, &back).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.text.contains("not valid or was already used"),
        "{}",
        r.text
    );
    assert_eq!(google.requests_to(OAUTH_HOST, "/token").len(), 1);

    // Expired: a link older than its lifetime is refused.
    let r = set_settings(&srv, &admin, APP, json!({"login-link-seconds": 1})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let url = login_url(&srv, &bob, &rid).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let back = google.consent(&url, "bob@gmail.com").expect("consent");
    let r = open(&srv, &back).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("expired"), "{}", r.text);
    assert_eq!(google.requests_to(OAUTH_HOST, "/token").len(), 1);
    let r = set_settings(&srv, &admin, APP, json!({"login-link-seconds": 600})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Cancel on Google's consent page: nothing is connected and Google is not asked.
    let url = login_url(&srv, &bob, &rid).await;
    let r = open(&srv, &google.deny(&url).expect("deny")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("You did not allow access"), "{}", r.text);
    assert_eq!(google.requests_to(OAUTH_HOST, "/token").len(), 1);
    // Unticking the calendar scope: the code is exchanged, but the useless grant is
    // revoked and nothing is stored.
    let url = login_url(&srv, &bob, &rid).await;
    let back = google
        .consent_with_scope(&url, "bob@gmail.com", Some("openid"))
        .expect("consent");
    let r = open(&srv, &back).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("calendar events"), "{}", r.text);
    assert_eq!(google.requests_to(OAUTH_HOST, "/token").len(), 2);
    assert_eq!(google.requests_to(OAUTH_HOST, "/revoke").len(), 1);
    assert_eq!(google.active_grants("bob@gmail.com"), 0);
    let text = ephemeral(&srv, &bob, &rid, "gcal", "today").await;
    assert!(text.contains("not connected"), "{text}");

    // Bob connects his own account, with tokens that expire within the refresh margin.
    google.set_access_lifetime(Duration::from_secs(30));
    connect(&srv, &google, &bob, &rid, "bob@gmail.com").await;
    google.set_access_lifetime(Duration::from_secs(3599));

    // Today, in the user's zone.
    let now_ist = Utc::now().with_timezone(&ist());
    let today = now_ist.date_naive();
    let tomorrow = today.succ_opt().expect("tomorrow");
    google.add_event(
        "alice@gmail.com",
        FakeEvent::timed(
            "standup1",
            "Standup",
            ist_time(today, 10, 0),
            Span::minutes(30),
        )
        .location("Room 4"),
    );
    google.add_event(
        "alice@gmail.com",
        FakeEvent::timed("retro1", "Retro", ist_time(tomorrow, 16, 0), Span::hours(1)),
    );
    google.add_event(
        "alice@gmail.com",
        FakeEvent::timed(
            "gone1",
            "Cancelled thing",
            ist_time(today, 11, 0),
            Span::hours(1),
        )
        .cancelled(),
    );
    google.add_event(
        "bob@gmail.com",
        FakeEvent::timed(
            "bob1",
            "Bob's dentist",
            ist_time(today, 9, 0),
            Span::hours(1),
        ),
    );
    let text = ephemeral(&srv, &alice, &rid, "gcal", "today").await;
    assert!(text.contains("(Asia/Kolkata)"), "{text}");
    assert!(text.contains("10:00–10:30 [Standup]("), "{text}");
    assert!(text.contains("Room 4"), "{text}");
    assert!(
        !text.contains("Retro") && !text.contains("Cancelled") && !text.contains("dentist"),
        "{text}"
    );
    let list = last_list(&google);
    let alice_token = bearer(&list);
    let q = list.query();
    let day_start = |d: chrono::NaiveDate| format!("{}T00:00:00+05:30", d.format("%Y-%m-%d"));
    assert_eq!(param(&q, "timeMin"), day_start(today), "{q:?}");
    assert_eq!(param(&q, "timeMax"), day_start(tomorrow), "{q:?}");
    assert_eq!(param(&q, "singleEvents"), "true");
    assert_eq!(param(&q, "orderBy"), "startTime");
    assert_eq!(param(&q, "timeZone"), ZONE);
    let text = ephemeral(&srv, &alice, &rid, "gcal", "week").await;
    assert!(text.contains("Standup") && text.contains("Retro"), "{text}");
    let q = last_list(&google).query();
    assert_eq!(
        param(&q, "timeMax"),
        day_start(today + Span::days(7)),
        "{q:?}"
    );

    // Bob sees his own calendar only. His token expires within the margin, so the app
    // refreshed it before calling Google: no 401 on the way.
    let refreshes_before = refreshes(&google).len();
    let text = ephemeral(&srv, &bob, &rid, "gcal", "today").await;
    assert!(
        text.contains("Bob's dentist") && !text.contains("Standup"),
        "{text}"
    );
    let refresh = refreshes(&google);
    assert_eq!(
        refresh.len(),
        refreshes_before + 1,
        "bob's token was refreshed first"
    );
    let bob_list = last_list(&google);
    assert_ne!(bearer(&bob_list), alice_token);

    // Google stops accepting Alice's access token: a 401, a refresh, the same call again.
    google.invalidate_access_tokens();
    let before = google.requests().len();
    let text = ephemeral(&srv, &alice, &rid, "gcal", "today").await;
    assert!(text.contains("Standup"), "{text}");
    let seen: Vec<Recorded> = google.requests().split_off(before);
    let kinds: Vec<(String, String)> = seen
        .iter()
        .map(|r| (r.host.clone(), r.route().to_string()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (API_HOST.to_string(), EVENTS_PATH.to_string()),
            (OAUTH_HOST.to_string(), "/token".to_string()),
            (API_HOST.to_string(), EVENTS_PATH.to_string()),
        ],
        "{seen:?}"
    );
    assert_eq!(bearer(&seen[0]), alice_token);
    assert_eq!(
        seen[1].form_param("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(seen[1].form_param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        seen[1].form_param("client_secret").as_deref(),
        Some(CLIENT_SECRET)
    );
    assert!(seen[1]
        .form_param("refresh_token")
        .is_some_and(|t| t.starts_with("1//")));
    assert_ne!(
        bearer(&seen[2]),
        alice_token,
        "the retry uses the new token"
    );

    // Quick add.
    google.set_quick_add_start(ist_time(tomorrow, 13, 0));
    let text = ephemeral(
        &srv,
        &alice,
        &rid,
        "gcal",
        "add Lunch with Ana tomorrow 1pm",
    )
    .await;
    assert!(
        text.starts_with("Added **[Lunch with Ana tomorrow 1pm]("),
        "{text}"
    );
    assert!(
        text.contains("13:00–14:00") && text.contains(ZONE),
        "{text}"
    );
    let add = google
        .requests_to(API_HOST, &format!("{EVENTS_PATH}/quickAdd"))
        .pop()
        .expect("a quickAdd request");
    assert_eq!(add.method, "POST");
    assert_eq!(
        add.query_param("text").as_deref(),
        Some("Lunch with Ana tomorrow 1pm")
    );
    assert!(add.body.is_empty(), "quickAdd takes no body");
    assert_eq!(bearer(&add), bearer(&seen[2]));
    let usage = ephemeral(&srv, &alice, &rid, "gcal", "add").await;
    assert!(usage.starts_with("Usage: `/gcal add <text>`"), "{usage}");

    // Invite the room: Bob and Carol by their e-mail addresses; Alice organises.
    let result = run_ok(
        &srv,
        &alice,
        &rid,
        "gcal",
        "invite \"Design review\" 2030-01-15T15:00 1h30m",
    )
    .await;
    let private = result["ephemeral"].as_str().unwrap_or_default();
    assert!(
        private.contains("invited 2 members: @bob, @carol"),
        "{result}"
    );
    let insert = google
        .requests_to(API_HOST, EVENTS_PATH)
        .into_iter()
        .rfind(|r| r.method == "POST")
        .expect("an events.insert request");
    assert_eq!(insert.query_param("sendUpdates").as_deref(), Some("all"));
    assert!(insert
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let body = insert.json();
    assert_eq!(body["summary"], "Design review", "{body}");
    assert_eq!(
        body["start"]["dateTime"], "2030-01-15T15:00:00+05:30",
        "{body}"
    );
    assert_eq!(body["start"]["timeZone"], ZONE, "{body}");
    assert_eq!(
        body["end"]["dateTime"], "2030-01-15T16:30:00+05:30",
        "{body}"
    );
    assert_eq!(
        body["attendees"],
        json!([{"email": "bob@palaver.test"}, {"email": "carol@palaver.test"}]),
        "{body}"
    );
    let created = google
        .events("alice@gmail.com")
        .into_iter()
        .find(|e| e.summary == "Design review")
        .expect("the event is in Alice's calendar");
    assert_eq!(
        created.attendees,
        vec!["bob@palaver.test", "carol@palaver.test"]
    );
    let mid = result["messageId"].as_str().expect("the room notice");
    let history = srv
        .get_ok(&format!("channels.history?roomId={rid}"), &alice)
        .await;
    let notice = history["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["_id"] == mid)
        .unwrap_or_else(|| panic!("no notice {mid} in {history}"));
    let msg = notice["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("@alice invited @bob, @carol to **[Design review]("),
        "{msg}"
    );
    assert_eq!(notice["u"]["username"], format!("{APP}.bot"));
    let usage = ephemeral(&srv, &alice, &rid, "gcal", "invite Lunch at noon 1h").await;
    assert!(usage.contains("Usage: `/gcal invite"), "{usage}");

    // A time zone of her own: the agenda follows it.
    let text = ephemeral(&srv, &alice, &rid, "gcal", "tz Mars/Olympus_Mons").await;
    assert!(text.contains("not a time zone I know"), "{text}");
    let text = ephemeral(&srv, &alice, &rid, "gcal", "tz europe/berlin").await;
    assert_eq!(text, "Your time zone is now Europe/Berlin.");
    let text = ephemeral(&srv, &alice, &rid, "gcal", "today").await;
    assert!(text.contains("(Europe/Berlin)"), "{text}");
    let q = last_list(&google).query();
    assert_eq!(param(&q, "timeZone"), "Europe/Berlin");
    let min = param(&q, "timeMin");
    assert!(
        min.ends_with("T00:00:00+01:00") || min.ends_with("T00:00:00+02:00"),
        "{min}"
    );
    let text = ephemeral(&srv, &alice, &rid, "gcal", "tz default").await;
    assert!(text.contains(ZONE), "{text}");

    // Logout revokes the grant at Google and forgets the tokens.
    let text = ephemeral(&srv, &alice, &rid, "gcal", "logout").await;
    assert!(text.contains("revoked"), "{text}");
    let revoke = google
        .requests_to(OAUTH_HOST, "/revoke")
        .pop()
        .expect("a revocation");
    assert_eq!(google.requests_to(OAUTH_HOST, "/revoke").len(), 2);
    assert_eq!(revoke.method, "POST");
    assert!(
        revoke
            .form_param("token")
            .is_some_and(|t| t.starts_with("1//")),
        "{revoke:?}"
    );
    assert_eq!(google.active_grants("alice@gmail.com"), 0);
    let calls = google.requests().len();
    let text = ephemeral(&srv, &alice, &rid, "gcal", "today").await;
    assert!(text.contains("not connected"), "{text}");
    assert_eq!(
        google.requests().len(),
        calls,
        "no call to Google without tokens"
    );

    // Bob revokes the app in his Google account: the refresh fails with invalid_grant
    // and he is asked to log in again.
    google.revoke_account("bob@gmail.com");
    google.invalidate_access_tokens();
    let text = ephemeral(&srv, &bob, &rid, "gcal", "today").await;
    assert!(
        text.contains("no longer accepts") && text.contains("/gcal login"),
        "{text}"
    );
    let text = ephemeral(&srv, &bob, &rid, "gcal", "today").await;
    assert!(text.contains("not connected"), "{text}");
}

fn refreshes(google: &FakeGoogle) -> Vec<Recorded> {
    google
        .requests_to(OAUTH_HOST, "/token")
        .into_iter()
        .filter(|r| r.form_param("grant_type").as_deref() == Some("refresh_token"))
        .collect()
}

#[tokio::test]
async fn gcal_reminds_once_before_an_event_even_after_a_restart() {
    let google = FakeGoogle::start(CLIENT_ID, CLIENT_SECRET).await;
    let market = marketplace();
    let (mut srv, admin) = server(
        &google,
        &market,
        json!({"reminder-check-seconds": 1, "reminder-lead-minutes": 10}),
    )
    .await;
    let alice = srv.create_user(&admin, "alice").await;
    let rid = channel(&srv, &alice, "plans", &[]).await;
    connect(&srv, &google, &alice, &rid, "alice@gmail.com").await;

    let now = Utc::now();
    google.add_event(
        "alice@gmail.com",
        FakeEvent::timed(
            "soon1",
            "Standup",
            now + Span::seconds(100),
            Span::minutes(15),
        ),
    );
    google.add_event(
        "alice@gmail.com",
        FakeEvent::timed(
            "later1",
            "Planning",
            now + Span::minutes(40),
            Span::hours(1),
        ),
    );
    let reminders = wait_dm(&srv, &alice, "Standup", Duration::from_secs(20)).await;
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    let text = reminders[0]["msg"].as_str().unwrap_or_default();
    assert!(
        text.contains("starts in 2 minutes") || text.contains("starts in 1 minute"),
        "{text}"
    );
    assert!(text.contains(ZONE), "{text}");
    assert_eq!(reminders[0]["u"]["username"], format!("{APP}.bot"));

    // The job keeps running (every second) without sending it again.
    let lists = |g: &FakeGoogle| g.requests_to(API_HOST, EVENTS_PATH).len();
    let seen = lists(&google);
    wait_for(|| lists(&google) >= seen + 3, "three more checks").await;
    let list = last_list(&google);
    let q = list.query();
    let min = DateTime::parse_from_rfc3339(&param(&q, "timeMin")).expect("timeMin");
    let max = DateTime::parse_from_rfc3339(&param(&q, "timeMax")).expect("timeMax");
    assert_eq!(max - min, Span::minutes(10), "the lead time: {q:?}");
    assert_eq!(param(&q, "singleEvents"), "true");
    let count = |messages: &[Value], needle: &str| {
        messages
            .iter()
            .filter(|m| m["msg"].as_str().is_some_and(|t| t.contains(needle)))
            .count()
    };
    let dm = bot_dm(&srv, &alice).await;
    assert_eq!(count(&dm, "Standup"), 1, "{dm:?}");
    assert_eq!(
        count(&dm, "Planning"),
        0,
        "not within the lead time: {dm:?}"
    );

    // After a restart the job runs again, and still does not repeat the reminder.
    srv.restart().await;
    let seen = lists(&google);
    wait_for(
        || lists(&google) >= seen + 3,
        "three checks after the restart",
    )
    .await;
    let dm = bot_dm(&srv, &alice).await;
    assert_eq!(count(&dm, "Standup"), 1, "{dm:?}");
}

/// Polls `done` every 200 ms for up to 20 s.
async fn wait_for(done: impl Fn() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
