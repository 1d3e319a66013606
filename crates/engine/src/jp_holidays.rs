//! Japanese public holidays (国民の祝日, 振替休日, 国民の休日) by the rules of the Act on National
//! Holidays as in force since 2020, for an IVR that routes holidays like designated days. Pure:
//! the rules are computed, not looked up, so the calendar never needs updating for a year — only
//! for a change of the law, which the fixture test against the Cabinet Office's list catches.
//!
//! Years before 2022 had one-off moves (the 2019 enthronement, the Olympic years 2020–2021) the
//! rules do not know; [`is_holiday`] answers only for 2022 to 2099, where the equinox formula
//! holds.

use jiff::civil::{Date, Weekday};

/// First and last year the calendar answers for.
pub const YEARS: std::ops::RangeInclusive<i16> = 2022..=2099;

/// The name of the holiday `d` is, if it is one (and within [`YEARS`]).
pub fn holiday(d: Date) -> Option<&'static str> {
    if !YEARS.contains(&d.year()) {
        return None;
    }
    if let Some(name) = national(d) {
        return Some(name);
    }
    // 振替休日: a holiday on a Sunday moves to the next day that is not a holiday.
    let mut back = d;
    loop {
        back = back.yesterday().ok()?;
        match national(back) {
            Some(_) if back.weekday() == Weekday::Sunday => return Some("振替休日"),
            Some(_) => continue,
            None => break,
        }
    }
    // 国民の休日: a day between two holidays.
    let (prev, next) = (d.yesterday().ok()?, d.tomorrow().ok()?);
    if national(prev).is_some() && national(next).is_some() {
        return Some("国民の休日");
    }
    None
}

pub fn is_holiday(d: Date) -> bool {
    holiday(d).is_some()
}

/// The `n`th (1-based) Monday of a month.
fn nth_monday(year: i16, month: i8, n: i8) -> Option<Date> {
    let first = Date::new(year, month, 1).ok()?;
    let offset = (7 + 1 - first.weekday().to_monday_one_offset()) % 7;
    Date::new(year, month, 1 + offset + 7 * (n - 1)).ok()
}

/// Equinox days by the formula the National Astronomical Observatory's dates follow for
/// 1980–2099.
fn equinox(year: i16, base: f64) -> i8 {
    let y = f64::from(year - 1980);
    let leap = f64::from((year - 1980) / 4);
    (base + 0.242_194 * y - leap).floor() as i8
}

/// The holidays the Act names by date (no substitutes).
fn national(d: Date) -> Option<&'static str> {
    let (y, m, day) = (d.year(), d.month(), d.day());
    let fixed = match (m, day) {
        (1, 1) => Some("元日"),
        (2, 11) => Some("建国記念の日"),
        (2, 23) => Some("天皇誕生日"),
        (4, 29) => Some("昭和の日"),
        (5, 3) => Some("憲法記念日"),
        (5, 4) => Some("みどりの日"),
        (5, 5) => Some("こどもの日"),
        (8, 11) => Some("山の日"),
        (11, 3) => Some("文化の日"),
        (11, 23) => Some("勤労感謝の日"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let mondays = [
        (1, 2, "成人の日"),
        (7, 3, "海の日"),
        (9, 3, "敬老の日"),
        (10, 2, "スポーツの日"),
    ];
    for (month, n, name) in mondays {
        if m == month && nth_monday(y, month, n) == Some(d) {
            return Some(name);
        }
    }
    if m == 3 && day == equinox(y, 20.8431) {
        return Some("春分の日");
    }
    if m == 9 && day == equinox(y, 23.2488) {
        return Some("秋分の日");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Cabinet Office's lists (内閣府「国民の祝日について」) for 2025–2027, as published.
    const CABINET_OFFICE: &str = include_str!("../tests/fixtures/jp_holidays_2025_2027.txt");

    #[test]
    fn the_rules_give_exactly_the_cabinet_office_list_for_2025_to_2027() {
        let mut want = Vec::new();
        for line in CABINET_OFFICE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (date, name) = line.split_once(' ').expect("date name");
            want.push((date.parse::<Date>().expect("date"), name.trim().to_string()));
        }
        let mut got = Vec::new();
        let mut d = Date::constant(2025, 1, 1);
        while d.year() <= 2027 {
            if let Some(name) = holiday(d) {
                got.push((d, name.to_string()));
            }
            d = d.tomorrow().expect("tomorrow");
        }
        assert_eq!(got, want);
    }

    #[test]
    fn outside_the_years_of_the_rules_nothing_is_claimed() {
        assert_eq!(holiday(Date::constant(2021, 7, 23)), None);
        assert_eq!(holiday(Date::constant(2100, 1, 1)), None);
        assert!(is_holiday(Date::constant(2099, 1, 1)));
    }
}
