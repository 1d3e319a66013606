//! IVRs (IVR-01…11): where a call to an IVR goes, by schedule and by the caller's button.
//! Pure: the local time comes from the session's injected clock (through the system time zone),
//! the digits from the SIP edge as events.
//!
//! - The schedule (IVR-04…07) is a list of entries tried in order; the first whose time range
//!   and weekday match routes the call. On a designated day (typed dates, or a Japanese public
//!   holiday when the IVR asks for the built-in calendar) only ★ entries can match, and with no
//!   ★ entry the default routing applies.
//! - The button menu (IVR-08) plays a voice file and waits for one key. No key or a key with no
//!   destination replays the menu, at most [`MENU_TRIES`] times in all, then the default
//!   routing applies.
//! - With both on (IVR-10), the schedule is tried first and the menu plays only when no entry
//!   matches.

use crate::route_target::{RouteTarget, TargetKind};
use jiff::civil::{Date, DateTime, Time, Weekday};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Times the menu is played before the default routing takes the call.
pub const MENU_TRIES: u8 = 3;
/// How long the menu waits for a key after its prompt has played.
pub const DIGIT_TIMEOUT: Duration = Duration::from_secs(5);

/// One schedule entry (1番, 2番, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub from: Time,
    /// Exclusive; `to <= from` is a range that crosses midnight (22:00 → 06:00), and
    /// `00:00 → 00:00` is the whole day.
    pub to: Time,
    /// Monday first.
    pub weekdays: [bool; 7],
    /// ★: matches on designated days (and only such entries do, on those days).
    pub designated: bool,
    pub target: RouteTarget,
}

/// A key of the phone's keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Digit(u8),
    Star,
    Hash,
}

impl Key {
    pub fn from_char(c: char) -> Option<Key> {
        match c {
            '0'..='9' => Some(Key::Digit(c as u8 - b'0')),
            '*' => Some(Key::Star),
            '#' => Some(Key::Hash),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// The voice file played before the keys are read.
    pub prompt: i64,
    pub buttons: BTreeMap<Key, RouteTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ivr {
    pub id: i64,
    pub default: RouteTarget,
    /// `None`: the schedule is OFF.
    pub schedule: Option<Vec<Entry>>,
    pub designated_days: BTreeSet<Date>,
    /// Japanese public holidays count as designated days.
    pub jp_holidays: bool,
    /// `None`: button routing is OFF.
    pub menu: Option<Menu>,
}

/// What a call entering the IVR does first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Go on to this destination at once.
    Route(RouteTarget),
    /// Run the button menu.
    Menu(MenuRun),
}

impl Ivr {
    pub fn is_designated(&self, day: Date) -> bool {
        self.designated_days.contains(&day)
            || (self.jp_holidays && crate::jp_holidays::is_holiday(day))
    }

    /// The schedule's destination at local time `now`, if an entry matches.
    pub fn scheduled(&self, now: DateTime) -> Option<RouteTarget> {
        let entries = self.schedule.as_ref()?;
        let designated = self.is_designated(now.date());
        // An entry that crosses midnight matches the early hours by the weekday (and designated
        // day) it started on.
        let yesterday = now.date().yesterday().ok();
        let designated_yesterday = yesterday.is_some_and(|d| self.is_designated(d));
        entries
            .iter()
            .find(|e| {
                let t = now.time();
                let matches_day = |day: Date, designated_day: bool| {
                    if designated_day {
                        e.designated
                    } else {
                        e.weekdays[weekday_index(day.weekday())]
                    }
                };
                if e.from < e.to {
                    t >= e.from && t < e.to && matches_day(now.date(), designated)
                } else if t >= e.from {
                    matches_day(now.date(), designated)
                } else if t < e.to {
                    yesterday.is_some_and(|d| matches_day(d, designated_yesterday))
                } else {
                    false
                }
            })
            .map(|e| e.target)
    }

    /// Where a call entering at local time `now` goes (IVR-10's order).
    pub fn start(&self, now: DateTime) -> Start {
        if let Some(t) = self.scheduled(now) {
            return Start::Route(t);
        }
        match &self.menu {
            Some(m) => Start::Menu(MenuRun::new(m.clone(), self.default)),
            None => Start::Route(self.default),
        }
    }
}

fn weekday_index(w: Weekday) -> usize {
    usize::from(w.to_monday_zero_offset().unsigned_abs())
}

/// What the menu asks the session to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuCmd {
    /// Play the menu's voice file (keys pressed while it plays count).
    Play(i64),
    /// Wake the menu with [`MenuRun::on_timeout`] after this long.
    StartTimer(Duration),
    /// The menu is done: go here.
    Route(RouteTarget),
}

/// One caller's way through a button menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuRun {
    menu: Menu,
    default: RouteTarget,
    tries: u8,
    done: bool,
}

impl MenuRun {
    pub fn new(menu: Menu, default: RouteTarget) -> MenuRun {
        MenuRun {
            menu,
            default,
            tries: 0,
            done: false,
        }
    }

    /// The first play.
    pub fn begin(&mut self) -> Vec<MenuCmd> {
        self.replay_or_give_up()
    }

    /// The prompt has finished playing: wait for a key.
    pub fn on_prompt_done(&mut self) -> Vec<MenuCmd> {
        if self.done {
            return Vec::new();
        }
        vec![MenuCmd::StartTimer(DIGIT_TIMEOUT)]
    }

    /// A key (RFC 4733 or SIP INFO), during the prompt or after it.
    pub fn on_key(&mut self, key: Key) -> Vec<MenuCmd> {
        if self.done {
            return Vec::new();
        }
        match self.menu.buttons.get(&key) {
            Some(t) => {
                self.done = true;
                vec![MenuCmd::Route(*t)]
            }
            // A key with no destination: as if nothing was pressed.
            None => self.replay_or_give_up(),
        }
    }

    /// No key in time.
    pub fn on_timeout(&mut self) -> Vec<MenuCmd> {
        if self.done {
            return Vec::new();
        }
        self.replay_or_give_up()
    }

    fn replay_or_give_up(&mut self) -> Vec<MenuCmd> {
        if self.tries >= MENU_TRIES {
            self.done = true;
            return vec![MenuCmd::Route(self.default)];
        }
        self.tries += 1;
        vec![MenuCmd::Play(self.menu.prompt)]
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// IVRs that reach themselves through their defaults, entries and buttons (IVR-09): the first
/// cycle found, as the ids in order with the first repeated at the end, or `None`.
pub fn find_cycle(ivrs: &BTreeMap<i64, Ivr>) -> Option<Vec<i64>> {
    fn next(ivr: &Ivr) -> BTreeSet<i64> {
        let mut out = BTreeSet::new();
        let mut add = |t: &RouteTarget| {
            if t.kind == TargetKind::Ivr {
                out.insert(t.id);
            }
        };
        add(&ivr.default);
        for e in ivr.schedule.iter().flatten() {
            add(&e.target);
        }
        for t in ivr.menu.iter().flat_map(|m| m.buttons.values()) {
            add(t);
        }
        out
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        id: i64,
        ivrs: &BTreeMap<i64, Ivr>,
        marks: &mut BTreeMap<i64, Mark>,
        path: &mut Vec<i64>,
    ) -> Option<Vec<i64>> {
        match marks.get(&id) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(id);
                return Some(cycle);
            }
            None => {}
        }
        let ivr = ivrs.get(&id)?;
        marks.insert(id, Mark::Open);
        path.push(id);
        for n in next(ivr) {
            if let Some(c) = visit(n, ivrs, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(id, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for id in ivrs.keys() {
        let mut path = Vec::new();
        if let Some(c) = visit(*id, ivrs, &mut marks, &mut path) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: TargetKind, id: i64) -> RouteTarget {
        RouteTarget { kind, id }
    }
    const DEFAULT: RouteTarget = RouteTarget {
        kind: TargetKind::VoiceFile,
        id: 99,
    };
    const DAY: RouteTarget = RouteTarget {
        kind: TargetKind::Group,
        id: 1,
    };
    const NIGHT: RouteTarget = RouteTarget {
        kind: TargetKind::VoiceFile,
        id: 2,
    };
    const HOLIDAY: RouteTarget = RouteTarget {
        kind: TargetKind::VoiceFile,
        id: 3,
    };

    fn time(s: &str) -> Time {
        s.parse().expect("time")
    }
    fn at(s: &str) -> DateTime {
        s.parse().expect("datetime")
    }
    const WEEKDAYS: [bool; 7] = [true, true, true, true, true, false, false];
    const EVERY_DAY: [bool; 7] = [true; 7];

    fn entry(
        from: &str,
        to: &str,
        weekdays: [bool; 7],
        designated: bool,
        target: RouteTarget,
    ) -> Entry {
        Entry {
            from: time(from),
            to: time(to),
            weekdays,
            designated,
            target,
        }
    }

    fn ivr(entries: Vec<Entry>) -> Ivr {
        Ivr {
            id: 1,
            default: DEFAULT,
            schedule: Some(entries),
            designated_days: BTreeSet::new(),
            jp_holidays: false,
            menu: None,
        }
    }

    #[test]
    fn schedule_entries_are_tried_in_order_and_the_first_match_wins() {
        let i = ivr(vec![
            entry("09:00", "18:00", WEEKDAYS, false, DAY),
            entry("00:00", "00:00", EVERY_DAY, false, NIGHT),
        ]);
        // 2026-12-01 is a Tuesday, 12-05 a Saturday.
        let cases = [
            ("2026-12-01T09:00", Some(DAY)),
            ("2026-12-01T17:59:59", Some(DAY)),
            ("2026-12-01T18:00", Some(NIGHT)),
            ("2026-12-01T08:59", Some(NIGHT)),
            ("2026-12-05T10:00", Some(NIGHT)),
            ("2026-12-05T23:59:30", Some(NIGHT)),
        ];
        for (now, want) in cases {
            assert_eq!(i.scheduled(at(now)), want, "{now}");
        }
    }

    #[test]
    fn a_range_that_crosses_midnight_belongs_to_the_day_it_starts() {
        // Friday night only: 22:00 Friday to 06:00 Saturday.
        let mut friday = [false; 7];
        friday[4] = true;
        let i = ivr(vec![entry("22:00", "06:00", friday, false, NIGHT)]);
        let cases = [
            ("2026-12-04T21:59", None),        // Friday
            ("2026-12-04T22:00", Some(NIGHT)), // Friday
            ("2026-12-05T05:59", Some(NIGHT)), // Saturday morning, started Friday
            ("2026-12-05T06:00", None),
            ("2026-12-05T22:30", None), // Saturday night: not Friday
            ("2026-12-04T03:00", None), // Friday morning: started Thursday
        ];
        for (now, want) in cases {
            assert_eq!(i.scheduled(at(now)), want, "{now}");
        }
    }

    #[test]
    fn on_a_designated_day_only_starred_entries_match() {
        let mut i = ivr(vec![
            entry("09:00", "18:00", WEEKDAYS, false, DAY),
            entry("00:00", "00:00", EVERY_DAY, true, HOLIDAY),
        ]);
        i.designated_days
            .insert("2026-12-01".parse().expect("date"));
        assert_eq!(i.scheduled(at("2026-12-01T10:00")), Some(HOLIDAY));
        assert_eq!(i.scheduled(at("2026-12-02T10:00")), Some(DAY));
        // Without any ★ entry a designated day takes the default routing.
        let mut plain = ivr(vec![entry("09:00", "18:00", WEEKDAYS, false, DAY)]);
        plain
            .designated_days
            .insert("2026-12-01".parse().expect("date"));
        assert_eq!(plain.start(at("2026-12-01T10:00")), Start::Route(DEFAULT));
    }

    #[test]
    fn public_holidays_can_be_designated_days() {
        let mut i = ivr(vec![
            entry("09:00", "18:00", WEEKDAYS, false, DAY),
            entry("09:00", "18:00", EVERY_DAY, true, HOLIDAY),
        ]);
        // 2026-11-23 (Monday) is 勤労感謝の日.
        assert_eq!(i.scheduled(at("2026-11-23T10:00")), Some(DAY));
        i.jp_holidays = true;
        assert_eq!(i.scheduled(at("2026-11-23T10:00")), Some(HOLIDAY));
        assert_eq!(i.scheduled(at("2026-11-24T10:00")), Some(DAY));
    }

    fn menu() -> Menu {
        Menu {
            prompt: 7,
            buttons: BTreeMap::from([(Key::Digit(2), DAY), (Key::Hash, NIGHT)]),
        }
    }

    #[test]
    fn the_schedule_comes_before_the_menu() {
        let mut i = ivr(vec![entry("09:00", "18:00", WEEKDAYS, false, DAY)]);
        i.menu = Some(menu());
        assert_eq!(i.start(at("2026-12-01T10:00")), Start::Route(DAY));
        assert!(matches!(i.start(at("2026-12-01T20:00")), Start::Menu(_)));
        i.schedule = None;
        assert!(matches!(i.start(at("2026-12-01T10:00")), Start::Menu(_)));
        i.menu = None;
        assert_eq!(i.start(at("2026-12-01T10:00")), Start::Route(DEFAULT));
    }

    #[test]
    fn a_key_routes_and_nothing_three_times_falls_to_the_default() {
        let mut m = MenuRun::new(menu(), DEFAULT);
        assert_eq!(m.begin(), [MenuCmd::Play(7)]);
        assert_eq!(m.on_prompt_done(), [MenuCmd::StartTimer(DIGIT_TIMEOUT)]);
        assert_eq!(m.on_key(Key::Digit(2)), [MenuCmd::Route(DAY)]);
        assert!(m.is_done());
        assert!(m.on_key(Key::Hash).is_empty());

        let mut m = MenuRun::new(menu(), DEFAULT);
        m.begin();
        m.on_prompt_done();
        assert_eq!(m.on_timeout(), [MenuCmd::Play(7)]);
        m.on_prompt_done();
        // A key with no destination counts as no key.
        assert_eq!(m.on_key(Key::Digit(9)), [MenuCmd::Play(7)]);
        m.on_prompt_done();
        assert_eq!(m.on_timeout(), [MenuCmd::Route(DEFAULT)]);
        assert!(m.on_timeout().is_empty());
    }

    #[test]
    fn keys_parse_from_rfc_4733_characters() {
        assert_eq!(Key::from_char('0'), Some(Key::Digit(0)));
        assert_eq!(Key::from_char('#'), Some(Key::Hash));
        assert_eq!(Key::from_char('*'), Some(Key::Star));
        assert_eq!(Key::from_char('A'), None);
    }

    #[test]
    fn ivrs_that_reach_each_other_in_a_loop_are_found() {
        let mut ivrs = BTreeMap::new();
        let mut a = ivr(vec![]);
        a.id = 1;
        a.default = t(TargetKind::Ivr, 2);
        let mut b = ivr(vec![]);
        b.id = 2;
        b.default = DEFAULT;
        b.menu = Some(Menu {
            prompt: 1,
            buttons: BTreeMap::from([(Key::Digit(1), t(TargetKind::Ivr, 3))]),
        });
        let mut c = ivr(vec![entry("09:00", "18:00", WEEKDAYS, false, DAY)]);
        c.id = 3;
        ivrs.insert(1, a);
        ivrs.insert(2, b);
        ivrs.insert(3, c.clone());
        assert_eq!(find_cycle(&ivrs), None);
        c.schedule = Some(vec![entry(
            "09:00",
            "18:00",
            WEEKDAYS,
            false,
            t(TargetKind::Ivr, 1),
        )]);
        ivrs.insert(3, c);
        assert_eq!(find_cycle(&ivrs), Some(vec![1, 2, 3, 1]));
        // An IVR that is its own default.
        let mut selfish = ivr(vec![]);
        selfish.id = 9;
        selfish.default = t(TargetKind::Ivr, 9);
        assert_eq!(
            find_cycle(&BTreeMap::from([(9, selfish)])),
            Some(vec![9, 9])
        );
    }
}
