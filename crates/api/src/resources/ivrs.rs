//! IVRs (IVR-01…11): schedules and button menus; a loop among IVRs is refused on save, named.

use super::collection::{Collection, Perms};
use super::numbers::{check_target, TargetInput};
use super::{set, set_text};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::validate;
use serde::Deserialize;
use std::collections::BTreeMap;
use store::ivrs::{self, IvrEntry, IvrFields, IvrFilter, IvrRecord};
use store::numbers::TargetDto;
use store::{Conn, Page, Record};
use utoipa::ToSchema;

pub struct Ivrs;

/// Body of POST and PATCH /ivrs; on update only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrInput {
    pub name: Option<String>,
    #[schema(value_type = Option<TargetDto>)]
    pub default_route: Option<TargetInput>,
    pub schedule_on: Option<bool>,
    pub entries: Option<Vec<IvrEntry>>,
    pub designated_days: Option<Vec<String>>,
    pub jp_holidays: Option<bool>,
    pub buttons_on: Option<bool>,
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub menu_voice_id: Option<Option<i64>>,
    #[schema(value_type = Option<BTreeMap<String, TargetDto>>)]
    pub buttons: Option<BTreeMap<String, TargetInput>>,
}

const DUPLICATE: &str = "Another IVR has this name.";

impl Collection for Ivrs {
    type Table = IvrRecord;
    type Input = IvrInput;
    type Query = IvrFilter;
    const PATH: &'static str = "/api/v1/ivrs";
    const TAG: &'static str = "Ivrs";
    // IVR-11: view, update, delete; creating is an update of the IVR list.
    const PERMS: Perms = Perms {
        view: "ivr.view",
        create: "ivr.update",
        update: "ivr.update",
        delete: "ivr.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[("name", Text)];
    const ENTITY: &'static str = "ivr";
    const LABEL: &'static str = "IVR";
    const DELETE_NOTE: &'static str = " (refused while a phone number or another IVR routes to it)";

    fn new_draft() -> IvrFields {
        IvrFields::default()
    }

    fn apply(f: &mut IvrFields, i: IvrInput) -> Vec<&'static str> {
        set_text(&mut f.name, i.name);
        if let Some(t) = i.default_route {
            f.default_route = Some(t.into());
        }
        set(&mut f.schedule_on, i.schedule_on);
        set(&mut f.entries, i.entries);
        set(&mut f.designated_days, i.designated_days);
        set(&mut f.jp_holidays, i.jp_holidays);
        set(&mut f.buttons_on, i.buttons_on);
        if let Some(v) = i.menu_voice_id {
            f.menu_voice_id = v;
        }
        if let Some(b) = i.buttons {
            f.buttons = b.into_iter().map(|(k, t)| (k, t.into())).collect();
        }
        vec![]
    }

    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        _: Option<&IvrRecord>,
        f: &mut IvrFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        validate::required_text(&mut e, "name", &f.name, 100);
        if let Some(other) = IvrRecord::id_where(conn, "name", &f.name).await? {
            if Some(&other) != id {
                e.push(FieldError::new("name", "duplicate", DUPLICATE));
            }
        }
        if let Err(problems) = f.to_engine(id.copied().unwrap_or(0)) {
            for p in problems {
                e.push(FieldError::new(&p.field, "invalid", p.message));
            }
        }
        for (field, t) in f.targets() {
            check_target(conn, &mut e, &field, Some(t)).await?;
        }
        if let Some(v) = f.menu_voice_id {
            let voice = engine::RouteTarget {
                kind: engine::TargetKind::VoiceFile,
                id: v,
            };
            if !store::numbers::target_exists(conn, voice).await? {
                e.push(FieldError::new(
                    "menu_voice_id",
                    "unknown",
                    format!("There is no voice file {v}."),
                ));
            }
        }
        if e.is_empty() {
            if let Some(id) = id {
                refuse_loops(conn, *id, f, &mut e).await?;
            }
        }
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("name", DUPLICATE))
    }

    async fn list(conn: &mut Conn, q: IvrFilter, p: Page) -> ApiResult<(Vec<IvrRecord>, i64)> {
        Ok(IvrRecord::list(conn, &q, p).await?)
    }

    async fn references(conn: &mut Conn, id: &i64) -> store::Result<Vec<String>> {
        ivrs::references(conn, *id).await
    }
}

/// IVR-09: IVRs that would route to each other in a circle are refused, the circle named.
async fn refuse_loops(
    conn: &mut Conn,
    id: i64,
    f: &IvrFields,
    e: &mut Vec<FieldError>,
) -> ApiResult<()> {
    let all = ivrs::list_all(conn).await?;
    let mut names = BTreeMap::new();
    let mut graph = BTreeMap::new();
    for r in all {
        let fields = if r.id == id { f.clone() } else { r.fields };
        names.insert(r.id, fields.name.clone());
        if let Ok(ivr) = fields.to_engine(r.id) {
            graph.insert(r.id, ivr);
        }
    }
    if let Some(cycle) = engine::ivr::find_cycle(&graph) {
        let path: Vec<String> = cycle
            .iter()
            .map(|i| names.get(i).cloned().unwrap_or_else(|| i.to_string()))
            .collect();
        e.push(FieldError::new(
            "default_route",
            "loop",
            format!(
                "These IVRs would route to each other in a loop: {}.",
                path.join(" → ")
            ),
        ));
    }
    Ok(())
}
