//! IVRs (IVR-01…11): as stored and edited, and as the engine runs them ([`IvrFields::to_engine`]).

use crate::numbers::{target, TargetDto};
use crate::record::{Record, Value};
use crate::{Conn, Filter, Result, Stamps, StoreError};
use engine::ivr::{Entry, Ivr, Key, Menu};
use engine::RouteTarget;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::ToSchema;

/// One schedule entry as edited (1番, 2番, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrEntry {
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM`, exclusive; at or before `from`: the range crosses midnight; `00:00`–`00:00` is
    /// the whole day.
    pub to: String,
    /// Monday to Sunday (月 火 水 木 金 土 日), seven flags.
    pub weekdays: Vec<bool>,
    /// ★: applies on designated days (and only ★ entries do, on those days).
    pub designated: bool,
    #[schema(value_type = TargetDto)]
    pub target: RouteTarget,
}

#[derive(Debug, Clone, Serialize, ToSchema, Default, PartialEq)]
pub struct IvrFields {
    pub name: String,
    /// Default routing (標準ルーティング, IVR-03).
    #[schema(value_type = Option<TargetDto>)]
    pub default_route: Option<RouteTarget>,
    pub schedule_on: bool,
    pub entries: Vec<IvrEntry>,
    /// `YYYY-MM-DD` dates (指定日, IVR-07).
    pub designated_days: Vec<String>,
    /// Japanese public holidays are designated days too.
    pub jp_holidays: bool,
    pub buttons_on: bool,
    /// The voice file played before the buttons are read (IVR-08).
    pub menu_voice_id: Option<i64>,
    /// Key (`0`–`9`, `*`, `#`) to destination.
    #[schema(value_type = BTreeMap<String, TargetDto>)]
    pub buttons: BTreeMap<String, RouteTarget>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IvrRecord {
    pub id: i64,
    #[serde(flatten)]
    pub fields: IvrFields,
    #[serde(flatten)]
    pub stamps: Stamps,
}

#[derive(sqlx::FromRow)]
pub struct Row {
    id: i64,
    name: String,
    default_kind: Option<String>,
    default_id: Option<i64>,
    schedule_on: i64,
    entries: String,
    designated_days: String,
    jp_holidays: i64,
    buttons_on: i64,
    menu_voice_id: Option<i64>,
    buttons: String,
    #[sqlx(flatten)]
    stamps: Stamps,
}

#[derive(Debug, Default, Deserialize)]
pub struct IvrFilter {
    pub name: Option<String>,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

impl Record for IvrRecord {
    type Fields = IvrFields;
    type Filter = IvrFilter;
    type Row = Row;
    const TABLE: &'static str = "ivrs";
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "default_kind",
        "default_id",
        "schedule_on",
        "entries",
        "designated_days",
        "jp_holidays",
        "buttons_on",
        "menu_voice_id",
        "buttons",
    ];
    const ORDER: &'static str = "name, id";

    fn values(f: &IvrFields) -> Vec<Value> {
        vec![
            (&f.name).into(),
            f.default_route.map(|t| t.kind.as_str()).into(),
            f.default_route.map(|t| t.id).into(),
            f.schedule_on.into(),
            Value::Text(Some(json(&f.entries))),
            Value::Text(Some(f.designated_days.join(","))),
            f.jp_holidays.into(),
            f.buttons_on.into(),
            f.menu_voice_id.into(),
            Value::Text(Some(json(&f.buttons))),
        ]
    }

    fn filter(f: &IvrFilter, q: &mut Filter) {
        q.contains("name", f.name.as_deref());
    }

    fn from_row(r: Row) -> Result<IvrRecord> {
        let corrupt = |what: &str, e: serde_json::Error| {
            StoreError::Corrupt(format!("ivr {} {what}: {e}", r.id))
        };
        Ok(IvrRecord {
            id: r.id,
            fields: IvrFields {
                name: r.name.clone(),
                default_route: target(r.default_kind.clone(), r.default_id)?,
                schedule_on: r.schedule_on != 0,
                entries: serde_json::from_str(&r.entries).map_err(|e| corrupt("entries", e))?,
                designated_days: r
                    .designated_days
                    .split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect(),
                jp_holidays: r.jp_holidays != 0,
                buttons_on: r.buttons_on != 0,
                menu_voice_id: r.menu_voice_id,
                buttons: serde_json::from_str(&r.buttons).map_err(|e| corrupt("buttons", e))?,
            },
            stamps: r.stamps,
        })
    }

    fn to_fields(&self) -> IvrFields {
        self.fields.clone()
    }
}

/// What is wrong with an IVR, by field, for the API's 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl IvrFields {
    /// The IVR as the engine runs it, or every field that stops it.
    pub fn to_engine(&self, id: i64) -> Result<Ivr, Vec<Invalid>> {
        use engine::archive_schedule::parse_time_of_day;
        let mut errors = Vec::new();
        let default = match self.default_route {
            Some(t) => t,
            None => {
                errors.push(invalid("default_route", "Choose the default routing."));
                RouteTarget {
                    kind: engine::TargetKind::VoiceFile,
                    id: 0,
                }
            }
        };
        let mut entries = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let from = parse_time_of_day(&e.from)
                .map_err(|err| errors.push(invalid(format!("entries[{i}].from"), err.to_string())))
                .ok();
            let to = parse_time_of_day(&e.to)
                .map_err(|err| errors.push(invalid(format!("entries[{i}].to"), err.to_string())))
                .ok();
            let weekdays: Option<[bool; 7]> = e.weekdays.clone().try_into().ok();
            if weekdays.is_none() {
                errors.push(invalid(
                    format!("entries[{i}].weekdays"),
                    "Seven flags, Monday to Sunday.",
                ));
            }
            if let (Some(from), Some(to), Some(weekdays)) = (from, to, weekdays) {
                entries.push(Entry {
                    from,
                    to,
                    weekdays,
                    designated: e.designated,
                    target: e.target,
                });
            }
        }
        let mut designated_days = BTreeSet::new();
        for d in &self.designated_days {
            match d.parse::<jiff::civil::Date>() {
                Ok(date) if d.len() == 10 => {
                    designated_days.insert(date);
                }
                _ => errors.push(invalid(
                    "designated_days",
                    format!("`{d}` is not a date YYYY-MM-DD."),
                )),
            }
        }
        let mut buttons = BTreeMap::new();
        for (k, t) in &self.buttons {
            let mut chars = k.chars();
            match (chars.next().and_then(Key::from_char), chars.next()) {
                (Some(key), None) => {
                    buttons.insert(key, *t);
                }
                _ => errors.push(invalid(
                    format!("buttons.{k}"),
                    "A button is one of 0-9, * and #.",
                )),
            }
        }
        let menu = match (self.buttons_on, self.menu_voice_id) {
            (false, _) => None,
            (true, Some(prompt)) => Some(Menu { prompt, buttons }),
            (true, None) => {
                errors.push(invalid(
                    "menu_voice_id",
                    "Choose the voice file played before the buttons.",
                ));
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Ivr {
            id,
            default,
            schedule: self.schedule_on.then_some(entries),
            designated_days,
            jp_holidays: self.jp_holidays,
            menu,
        })
    }

    /// Every destination the IVR names, with the field that names it.
    pub fn targets(&self) -> Vec<(String, RouteTarget)> {
        let mut out = Vec::new();
        if let Some(t) = self.default_route {
            out.push(("default_route".to_string(), t));
        }
        for (i, e) in self.entries.iter().enumerate() {
            out.push((format!("entries[{i}].target"), e.target));
        }
        for (k, t) in &self.buttons {
            out.push((format!("buttons.{k}"), *t));
        }
        out
    }
}

pub async fn list_all(conn: &mut Conn) -> Result<Vec<IvrRecord>> {
    let page = crate::Page {
        offset: 0,
        limit: i64::MAX / 4,
    };
    Ok(IvrRecord::list(conn, &IvrFilter::default(), page).await?.0)
}

pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<IvrRecord>> {
    IvrRecord::get(conn, id).await
}

pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let sql = "SELECT COUNT(*) FROM numbers WHERE route_kind = 'ivr' AND route_id = $1";
    crate::record::reason(conn, &mut out, sql, id, |n| {
        format!("the routing of {n} phone number(s)")
    })
    .await?;
    let sql = "SELECT COUNT(*) FROM ivrs WHERE default_kind = 'ivr' AND default_id = $1";
    crate::record::reason(conn, &mut out, sql, id, |n| {
        format!("the default routing of {n} IVR(s)")
    })
    .await?;
    Ok(out)
}
