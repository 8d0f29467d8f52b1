//! Time: users' zones, the start and duration formats `/gcal invite` accepts, and
//! how event times are shown.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// The current instant (one place to read the clock, so tests pass their own `now`).
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// An IANA zone name (`Europe/Berlin`), case as written or in any case.
pub fn parse_tz(name: &str) -> Option<Tz> {
    let name = name.trim();
    name.parse::<Tz>()
        .ok()
        .or_else(|| Tz::from_str_insensitive(name).ok())
}

/// The first instant of `date` in `tz` (midnight, or the first hour that exists
/// where the clocks jump at midnight).
pub fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Tz> {
    (0..24)
        .filter_map(|h| NaiveTime::from_hms_opt(h, 0, 0))
        .find_map(|t| tz.from_local_datetime(&date.and_time(t)).earliest())
        // Every zone has some hour of every day.
        .unwrap_or_else(|| tz.from_utc_datetime(&date.and_time(NaiveTime::MIN)))
}

/// `local` in `tz`: the earlier of two readings when the clocks go back, an error
/// when it does not exist because they jump forward.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> Result<DateTime<Tz>, String> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier),
        LocalResult::None => Err(format!(
            "{} does not exist in {} (the clocks jump forward then)",
            local.format("%Y-%m-%d %H:%M"),
            tz.name()
        )),
    }
}

/// RFC 3339 with the zone's offset, as Google's `timeMin`/`dateTime` take it.
pub fn rfc3339<Z: TimeZone>(t: &DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn parse_time(word: &str) -> Option<NaiveTime> {
    let w = word.trim().to_ascii_lowercase();
    let (body, pm) = if let Some(b) = w.strip_suffix("pm") {
        (b.to_string(), Some(true))
    } else if let Some(b) = w.strip_suffix("am") {
        (b.to_string(), Some(false))
    } else {
        (w, None)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None if pm.is_some() => (body.parse::<u32>().ok()?, 0),
        None => return None,
    };
    let h = match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) => h % 12 + 12,
        Some(false) => h % 12,
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

/// `fri` or `Friday`, in any case (chrono's `%A` parsing).
fn parse_weekday(word: &str) -> Option<Weekday> {
    word.parse().ok()
}

/// The formats [`parse_start`] accepts, for help and error texts.
pub const START_FORMATS: &str = "`2026-12-01T15:00`, `2026-12-01 15:00`, `today 15:00`, \
`tomorrow 9:30`, `friday 3pm` or just `15:00` (today), in your time zone";

/// The formats [`parse_duration`] accepts.
pub const DURATION_FORMATS: &str = "`30m`, `1h`, `1h30m`, `2d` or minutes (`45`)";

/// A start time written as one or two words (see [`START_FORMATS`]), in `tz`, with
/// `now` for the relative forms. `None` when the words are not a start time at all.
pub fn parse_start(
    words: &[&str],
    tz: Tz,
    now: DateTime<Utc>,
) -> Option<Result<DateTime<Tz>, String>> {
    let today = now.with_timezone(&tz).date_naive();
    let local = match words {
        [one] => {
            if let Ok(t) = NaiveDateTime::parse_from_str(one, "%Y-%m-%dT%H:%M") {
                t
            } else if let Ok(t) = NaiveDateTime::parse_from_str(one, "%Y-%m-%dT%H:%M:%S") {
                t
            } else {
                today.and_time(parse_time(one)?)
            }
        }
        [day, time] => {
            let time = parse_time(time)?;
            let d = day.to_ascii_lowercase();
            let date = if d == "today" {
                today
            } else if d == "tomorrow" {
                today.succ_opt()?
            } else if let Ok(date) = NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                date
            } else {
                let weekday = parse_weekday(day)?;
                let ahead = (7 + weekday.num_days_from_monday()
                    - today.weekday().num_days_from_monday())
                    % 7;
                let mut date = today + Duration::days(i64::from(ahead));
                // "friday 9:00" on a Friday afternoon means next week.
                if ahead == 0 && date.and_time(time) <= now.with_timezone(&tz).naive_local() {
                    date += Duration::days(7);
                }
                date
            };
            date.and_time(time)
        }
        _ => return None,
    };
    Some(resolve_local(tz, local))
}

/// A duration such as `30m`, `1h30m`, `2d` or `45` (minutes), from one minute to
/// fourteen days.
pub fn parse_duration(word: &str) -> Result<Duration, String> {
    let bad = || format!("`{word}` is not a duration ({DURATION_FORMATS})");
    let w = word.trim().to_ascii_lowercase();
    if w.is_empty() {
        return Err(bad());
    }
    let total = if w.bytes().all(|b| b.is_ascii_digit()) {
        w.parse::<i64>().map_err(|_| bad())?
    } else {
        let mut total = 0i64;
        let mut number = String::new();
        for c in w.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: i64 = number.parse().map_err(|_| bad())?;
            number.clear();
            let minutes = match c {
                'd' => n.checked_mul(24 * 60).ok_or_else(bad)?,
                'h' => n.checked_mul(60).ok_or_else(bad)?,
                'm' => n,
                _ => return Err(bad()),
            };
            total = total.checked_add(minutes).ok_or_else(bad)?;
        }
        // "1h30" means 1h30m.
        if !number.is_empty() {
            let minutes = number.parse::<i64>().map_err(|_| bad())?;
            total = total.checked_add(minutes).ok_or_else(bad)?;
        }
        total
    };
    if !(1..=14 * 24 * 60).contains(&total) {
        return Err(format!(
            "`{word}` is out of range: an event lasts from one minute to 14 days"
        ));
    }
    Ok(Duration::minutes(total))
}

/// `1h30m`, `45m`, `2d`.
pub fn format_duration(d: Duration) -> String {
    let minutes = d.num_minutes();
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut out = String::new();
    if days > 0 {
        out.push_str(&format!("{days}d"));
    }
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if mins > 0 || out.is_empty() {
        out.push_str(&format!("{mins}m"));
    }
    out
}

/// `Tuesday 1 December 2026`.
pub fn format_day(date: NaiveDate) -> String {
    date.format("%A %-d %B %Y").to_string()
}

/// `Tue 1 Dec 2026 15:00`.
pub fn format_when(t: &DateTime<Tz>) -> String {
    t.format("%a %-d %b %Y %H:%M").to_string()
}

/// An event's start or end as Google gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// An all-day event's date (the end date is exclusive).
    Date(NaiveDate),
    At(DateTime<FixedOffset>),
}

impl Moment {
    /// Reads Google's `{date}` or `{dateTime}`.
    pub fn parse(date: Option<&str>, date_time: Option<&str>) -> Option<Moment> {
        if let Some(dt) = date_time {
            return DateTime::parse_from_rfc3339(dt).ok().map(Moment::At);
        }
        date.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(Moment::Date)
    }

    /// The instant, in `tz`; an all-day date starts at the start of that day.
    pub fn instant(&self, tz: Tz) -> DateTime<Tz> {
        match self {
            Moment::At(t) => t.with_timezone(&tz),
            Moment::Date(d) => start_of_day(tz, *d),
        }
    }
}

/// How an event's time reads in an agenda of `day` in `tz`: `09:00–09:30`,
/// `all day`, `until 10:00`, `from 22:00`, or `Mon 1 Dec 09:00 – Wed 3 Dec 10:00`.
pub fn format_span(start: Moment, end: Option<Moment>, tz: Tz, day: Option<NaiveDate>) -> String {
    match (start, end) {
        (Moment::Date(s), end) => {
            let last = match end {
                Some(Moment::Date(e)) => e.pred_opt().unwrap_or(e),
                _ => s,
            };
            if last <= s {
                "all day".into()
            } else {
                format!(
                    "all day, {} – {}",
                    s.format("%a %-d %b"),
                    last.format("%a %-d %b")
                )
            }
        }
        (Moment::At(s), end) => {
            let s = s.with_timezone(&tz);
            let e = end.map(|e| e.instant(tz));
            let same_day = |t: &DateTime<Tz>| day.is_some_and(|d| t.date_naive() == d);
            match e {
                Some(e) if e.date_naive() == s.date_naive() => {
                    if day.is_some() {
                        format!("{}–{}", s.format("%H:%M"), e.format("%H:%M"))
                    } else {
                        format!("{}–{}", format_when(&s), e.format("%H:%M"))
                    }
                }
                Some(e) if day.is_some() && !same_day(&s) && !same_day(&e) => "all day".into(),
                Some(e) if day.is_some() && !same_day(&s) => format!("until {}", e.format("%H:%M")),
                Some(e) if day.is_some() => format!(
                    "from {} (until {})",
                    s.format("%H:%M"),
                    e.format("%a %H:%M")
                ),
                Some(e) => format!("{} – {}", format_when(&s), format_when(&e)),
                None if day.is_some() => s.format("%H:%M").to_string(),
                None => format_when(&s),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn zones() {
        assert_eq!(parse_tz("Europe/Berlin"), Some(Tz::Europe__Berlin));
        assert_eq!(parse_tz("europe/berlin"), Some(Tz::Europe__Berlin));
        assert_eq!(parse_tz("Mars/Olympus"), None);
        let d = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(
            rfc3339(&start_of_day(Tz::Europe__Berlin, d)),
            "2026-03-29T00:00:00+01:00"
        );
        let d = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(
            rfc3339(&start_of_day(Tz::Asia__Kolkata, d)),
            "2026-07-01T00:00:00+05:30"
        );
    }

    #[test]
    fn starts() {
        // Tuesday 1 December 2026, 10:00 in Berlin.
        let now = at("2026-12-01T09:00:00Z");
        let tz = Tz::Europe__Berlin;
        let p = |w: &[&str]| parse_start(w, tz, now).map(|r| r.map(|t| rfc3339(&t)));
        assert_eq!(
            p(&["2026-12-03T15:00"]),
            Some(Ok("2026-12-03T15:00:00+01:00".into()))
        );
        assert_eq!(
            p(&["2026-07-03", "15:00"]),
            Some(Ok("2026-07-03T15:00:00+02:00".into()))
        );
        assert_eq!(p(&["15:00"]), Some(Ok("2026-12-01T15:00:00+01:00".into())));
        assert_eq!(
            p(&["tomorrow", "9:30"]),
            Some(Ok("2026-12-02T09:30:00+01:00".into()))
        );
        assert_eq!(
            p(&["Friday", "3pm"]),
            Some(Ok("2026-12-04T15:00:00+01:00".into()))
        );
        assert_eq!(
            p(&["tue", "9am"]),
            Some(Ok("2026-12-08T09:00:00+01:00".into()))
        );
        assert_eq!(
            p(&["tue", "12pm"]),
            Some(Ok("2026-12-01T12:00:00+01:00".into()))
        );
        assert_eq!(
            p(&["TUESDAY", "9:00"]),
            Some(Ok("2026-12-08T09:00:00+01:00".into()))
        );
        assert_eq!(
            p(&["wed", "9:00"]),
            Some(Ok("2026-12-02T09:00:00+01:00".into()))
        );
        assert_eq!(p(&["tues", "9:00"]), None);
        assert_eq!(p(&["fridays", "9:00"]), None);
        assert_eq!(p(&["review"]), None);
        assert_eq!(p(&["soon", "15:00"]), None);
        assert!(matches!(p(&["2026-03-29", "2:30"]), Some(Err(e)) if e.contains("does not exist")));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::minutes(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("1H30"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("45"), Ok(Duration::minutes(45)));
        assert_eq!(parse_duration("2d"), Ok(Duration::days(2)));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("15d").is_err());
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("h").is_err());
        // Parts that overflow when added are refused, not wrapped.
        let huge = format!("{}m1m", i64::MAX);
        assert_eq!(
            parse_duration(&huge),
            Err(format!("`{huge}` is not a duration ({DURATION_FORMATS})"))
        );
        assert!(parse_duration(&format!("{}m1", i64::MAX)).is_err());
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
        assert_eq!(format_duration(Duration::minutes(45)), "45m");
        assert_eq!(format_duration(Duration::minutes(1440 + 60)), "1d1h");
    }

    #[test]
    fn spans() {
        let tz = Tz::Europe__Berlin;
        let s = Moment::parse(None, Some("2026-12-01T08:00:00Z")).unwrap();
        let e = Moment::parse(None, Some("2026-12-01T08:30:00Z")).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 1);
        assert_eq!(format_span(s, Some(e), tz, day), "09:00–09:30");
        assert_eq!(
            format_span(s, Some(e), tz, None),
            "Tue 1 Dec 2026 09:00–09:30"
        );
        let d = Moment::parse(Some("2026-12-01"), None).unwrap();
        let d2 = Moment::parse(Some("2026-12-02"), None).unwrap();
        assert_eq!(format_span(d, Some(d2), tz, day), "all day");
        let d3 = Moment::parse(Some("2026-12-04"), None).unwrap();
        assert_eq!(
            format_span(d, Some(d3), tz, day),
            "all day, Tue 1 Dec – Thu 3 Dec"
        );
        let late = Moment::parse(None, Some("2026-12-01T21:00:00Z")).unwrap();
        let next = Moment::parse(None, Some("2026-12-02T01:00:00Z")).unwrap();
        assert_eq!(
            format_span(late, Some(next), tz, day),
            "from 22:00 (until Wed 02:00)"
        );
        assert_eq!(
            format_span(late, Some(next), tz, NaiveDate::from_ymd_opt(2026, 12, 2)),
            "until 02:00"
        );
        assert_eq!(
            format_day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()),
            "Tuesday 1 December 2026"
        );
        assert_eq!(
            format_day(NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()),
            "Sunday 29 November 2026"
        );
    }
}
