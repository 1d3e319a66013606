//! When a day's call recordings are packed into its archive and when their files are purged
//! (REC-01, retention). Pure: the archive job passes the time and what it has done; this
//! module knows the system's time zone and business day.
//!
//! A day is the calendar day in the system time zone. Day D is archived once its business day
//! has ended. Calls still going on at that moment (and overtime calls after it) finish later, so
//! a day with recordings the archive does not hold yet is built once more, after the next
//! business day has ended — at most one rebuild a day, never one per late call.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("unknown time zone `{0}` (an IANA name such as Asia/Tokyo)")]
    TimeZone(String),
    #[error("`{0}` is not a time of day HH:MM")]
    TimeOfDay(String),
}

/// A time of day `HH:MM`, 00:00 to 23:59.
pub fn parse_time_of_day(s: &str) -> Result<Time, ScheduleError> {
    let bad = || ScheduleError::TimeOfDay(s.to_string());
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// An IANA time zone from the built-in database.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, ScheduleError> {
    jiff::tz::db()
        .get(name)
        .map_err(|_| ScheduleError::TimeZone(name.to_string()))
}

/// Day names in archives and URLs: `YYYYMMDD`.
pub fn day_name(day: Date) -> String {
    format!("{:04}{:02}{:02}", day.year(), day.month(), day.day())
}

/// The inverse of [`day_name`].
pub fn parse_day_name(s: &str) -> Option<Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i16 = s[0..4].parse().ok()?;
    let m: i8 = s[4..6].parse().ok()?;
    let d: i8 = s[6..8].parse().ok()?;
    Date::new(y, m, d).ok()
}

/// The folder of a recording that started at `at_ms`: its UTC day, `YYYY-MM-DD` (folders of a
/// bounded size, whatever the time zone setting says).
pub fn recording_folder(at_ms: i64) -> String {
    let ts = Timestamp::from_millisecond(at_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(TimeZone::UTC).date().to_string()
}

#[derive(Debug, Clone)]
pub struct Schedule {
    tz: TimeZone,
    business_start: Time,
    business_end: Time,
    /// Days a recording's file is kept; 0: for ever.
    retention_days: u32,
}

impl Schedule {
    pub fn new(
        time_zone: &str,
        business_start: &str,
        business_end: &str,
        retention_days: u32,
    ) -> Result<Schedule, ScheduleError> {
        Ok(Schedule {
            tz: parse_time_zone(time_zone)?,
            business_start: parse_time_of_day(business_start)?,
            business_end: parse_time_of_day(business_end)?,
            retention_days,
        })
    }

    /// The local day that holds the instant `at_ms` (epoch ms).
    pub fn day_of(&self, at_ms: i64) -> Date {
        let ts = Timestamp::from_millisecond(at_ms).unwrap_or(Timestamp::UNIX_EPOCH);
        ts.to_zoned(self.tz.clone()).date()
    }

    /// The instants a local day spans, `[from, to)` in epoch ms (23 or 25 hours on the days a
    /// daylight-saving zone changes its clocks).
    pub fn bounds(&self, day: Date) -> (i64, i64) {
        let start = |d: Date| {
            d.to_zoned(self.tz.clone())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(i64::MAX)
        };
        let next = day.tomorrow().map(start).unwrap_or(i64::MAX);
        (start(day), next)
    }

    /// When the business day that starts on `day` ends, epoch ms. A business day that ends at
    /// or before it starts (22:00 to 06:00) ends on the next calendar day.
    pub fn business_end(&self, day: Date) -> i64 {
        let end_day = if self.business_end > self.business_start {
            day
        } else {
            day.tomorrow().unwrap_or(day)
        };
        end_day
            .to_datetime(self.business_end)
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(i64::MAX)
    }

    fn closed(&self, day: Date, now_ms: i64) -> bool {
        now_ms >= self.business_end(day)
    }

    /// Whether day `day` is to be (re)built now: its business day has ended and it has no
    /// archive yet, or it has recordings its archive lacks and the next business day has
    /// ended too.
    pub fn due(&self, day: Date, built: bool, now_ms: i64) -> bool {
        if !self.closed(day, now_ms) {
            return false;
        }
        !built || day.tomorrow().is_ok_and(|next| self.closed(next, now_ms))
    }

    /// The last instant (exclusive, epoch ms) whose recordings may be in a due day: the end of
    /// the newest day whose business day has ended. The job looks for work before it.
    pub fn archivable_before(&self, now_ms: i64) -> i64 {
        let mut day = self.day_of(now_ms);
        // At most two steps: today, yesterday (an overnight business day), the day before.
        for _ in 0..3 {
            if self.closed(day, now_ms) {
                return self.bounds(day).1;
            }
            match day.yesterday() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        self.bounds(day).0
    }

    /// Recordings that started before this instant (epoch ms) are past their retention and,
    /// once archived, their files are deleted; `None` when they are kept for ever.
    pub fn purge_before(&self, now_ms: i64) -> Option<i64> {
        if self.retention_days == 0 {
            return None;
        }
        let today = self.day_of(now_ms);
        let first_kept = today
            .checked_sub(i64::from(self.retention_days).days())
            .unwrap_or(Date::MIN);
        Some(self.bounds(first_kept).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn tokyo() -> Schedule {
        Schedule::new("Asia/Tokyo", "09:00", "18:00", 30).expect("schedule")
    }

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().expect("timestamp").as_millisecond()
    }

    fn date(s: &str) -> Date {
        s.parse().expect("date")
    }

    #[test]
    fn a_day_is_the_local_calendar_day() {
        let s = tokyo();
        // 2026-12-01 15:30 UTC is 2026-12-02 00:30 in Tokyo.
        assert_eq!(s.day_of(ms("2026-12-01T15:30:00Z")), date("2026-12-02"));
        assert_eq!(s.day_of(ms("2026-12-01T14:59:59Z")), date("2026-12-01"));
        let (from, to) = s.bounds(date("2026-12-02"));
        assert_eq!(from, ms("2026-12-01T15:00:00Z"));
        assert_eq!(to - from, 24 * HOUR);
    }

    #[test]
    fn a_day_of_a_clock_change_is_23_or_25_hours() {
        let s = Schedule::new("America/New_York", "09:00", "18:00", 0).expect("schedule");
        let (from, to) = s.bounds(date("2026-03-08"));
        assert_eq!(to - from, 23 * HOUR);
        let (from, to) = s.bounds(date("2026-11-01"));
        assert_eq!(to - from, 25 * HOUR);
    }

    #[test]
    fn a_day_is_due_after_its_business_day_and_rebuilt_once_after_the_next() {
        let s = tokyo();
        let d = date("2026-12-01");
        // Tokyo 18:00 on 12-01 is 09:00 UTC.
        let cases = [
            ("2026-12-01T08:59:59Z", false, false),
            ("2026-12-01T09:00:00Z", false, true),
            ("2026-12-01T09:00:00Z", true, false),
            ("2026-12-02T08:59:59Z", true, false),
            ("2026-12-02T09:00:00Z", true, true),
        ];
        for (now, built, due) in cases {
            assert_eq!(s.due(d, built, ms(now)), due, "{now} built={built}");
        }
    }

    #[test]
    fn an_overnight_business_day_ends_the_next_morning() {
        let s = Schedule::new("Asia/Tokyo", "22:00", "06:00", 0).expect("schedule");
        let d = date("2026-12-01");
        // 06:00 Tokyo on 12-02 is 21:00 UTC on 12-01.
        assert_eq!(s.business_end(d), ms("2026-12-01T21:00:00Z"));
        assert!(!s.due(d, false, ms("2026-12-01T20:59:59Z")));
        assert!(s.due(d, false, ms("2026-12-01T21:00:00Z")));
    }

    #[test]
    fn work_is_looked_for_before_the_end_of_the_newest_closed_day() {
        let s = tokyo();
        // 10:00 Tokyo on 12-02: 12-02 is open, 12-01 closed.
        let now = ms("2026-12-02T01:00:00Z");
        assert_eq!(s.archivable_before(now), s.bounds(date("2026-12-01")).1);
        // 19:00 Tokyo on 12-02: 12-02 is closed.
        let now = ms("2026-12-02T10:00:00Z");
        assert_eq!(s.archivable_before(now), s.bounds(date("2026-12-02")).1);
    }

    #[test]
    fn retention_keeps_the_last_n_days_or_everything() {
        let s = tokyo();
        let now = ms("2026-12-31T03:00:00Z");
        assert_eq!(s.purge_before(now), Some(s.bounds(date("2026-12-01")).0));
        let forever = Schedule::new("Asia/Tokyo", "09:00", "18:00", 0).expect("schedule");
        assert_eq!(forever.purge_before(now), None);
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(
            Schedule::new("Mars/Olympus", "09:00", "18:00", 1).err(),
            Some(ScheduleError::TimeZone("Mars/Olympus".into()))
        );
        for bad in ["9:00", "24:00", "12:60", "ab:cd", "1200", ""] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
        assert!(parse_time_of_day("23:59").is_ok());
    }

    #[test]
    fn recordings_are_foldered_by_utc_day() {
        assert_eq!(recording_folder(ms("2026-12-01T23:59:59Z")), "2026-12-01");
        assert_eq!(recording_folder(ms("2024-02-29T00:00:00Z")), "2024-02-29");
    }

    #[test]
    fn day_names_round_trip() {
        let d = date("2026-03-07");
        assert_eq!(day_name(d), "20260307");
        assert_eq!(parse_day_name("20260307"), Some(d));
        for bad in ["2026030", "20261301", "2026-03-07", "2026030x", "20260230"] {
            assert_eq!(parse_day_name(bad), None, "{bad}");
        }
    }
}
