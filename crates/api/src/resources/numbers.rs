use super::collection::{Collection, Perms};
use super::{nullable, set, set_opt_text, set_text};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::validate;
use engine::{RouteTarget, TargetKind};
use serde::Deserialize;
use store::numbers::{
    self, Number, NumberDisplay, NumberFields, NumberFilter, NumberRecording, TargetDto,
};
use store::{agents, Conn, Page, Record};
use utoipa::ToSchema;

/// Phone numbers (NUM-*).
pub struct Numbers;

/// A routing destination in a request body.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    #[schema(value_type = String)]
    pub kind: TargetKind,
    pub id: i64,
}

impl From<TargetInput> for RouteTarget {
    fn from(t: TargetInput) -> Self {
        RouteTarget {
            kind: t.kind,
            id: t.id,
        }
    }
}

/// Checks that a target exists.
pub async fn check_target(
    conn: &mut Conn,
    e: &mut Vec<FieldError>,
    field: &str,
    t: Option<RouteTarget>,
) -> ApiResult<()> {
    let Some(t) = t else { return Ok(()) };
    if !numbers::target_exists(conn, t).await? {
        e.push(FieldError::new(
            field,
            "unknown",
            format!("There is no {} {}.", t.kind, t.id),
        ));
    }
    Ok(())
}

/// Body of POST and PATCH /numbers. `number` can only be set on create (NUM-02).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberInput {
    pub number: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub prefix: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<TargetDto>, nullable)]
    pub route: Option<Option<TargetInput>>,
    pub max_channels: Option<i64>,
    pub incoming_popup_url: Option<String>,
    pub answer_popup_url: Option<String>,
    pub display: Option<NumberDisplay>,
    pub incoming_message: Option<String>,
    pub outgoing_message: Option<String>,
    pub caller_area_routing: Option<bool>,
    pub agent_ids: Option<Vec<i64>>,
    pub recording: Option<NumberRecording>,
}

impl Collection for Numbers {
    type Table = Number;
    type Input = NumberInput;
    type Query = NumberFilter;
    const PATH: &'static str = "/api/v1/numbers";
    const TAG: &'static str = "Numbers";
    // The matrix has no create/delete verbs for numbers (NUM-02, PERM-34): provisioning them
    // is an update of the number plan.
    const PERMS: Perms = Perms {
        view: "number.view",
        create: "number.update",
        update: "number.update",
        delete: "number.update",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[
        ("number", Text),
        ("name", Text),
        ("prefix", Text),
        ("route_kind", Text),
    ];
    const ENTITY: &'static str = "number";
    const LABEL: &'static str = "phone number";

    fn new_draft() -> NumberFields {
        NumberFields::default()
    }

    fn apply(f: &mut NumberFields, i: NumberInput) -> Vec<&'static str> {
        set_text(&mut f.number, i.number);
        set_text(&mut f.name, i.name);
        set_opt_text(&mut f.prefix, i.prefix);
        if let Some(v) = i.route {
            f.route = v.map(Into::into);
        }
        set(&mut f.max_channels, i.max_channels);
        set_text(&mut f.incoming_popup_url, i.incoming_popup_url);
        set_text(&mut f.answer_popup_url, i.answer_popup_url);
        set(&mut f.display, i.display);
        set(&mut f.incoming_message, i.incoming_message);
        set(&mut f.outgoing_message, i.outgoing_message);
        set(&mut f.caller_area_routing, i.caller_area_routing);
        set(&mut f.agent_ids, i.agent_ids);
        set(&mut f.recording, i.recording);
        vec![]
    }

    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        before: Option<&Number>,
        f: &mut NumberFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        if let Some(b) = before {
            if b.fields.number != f.number {
                e.push(FieldError::new(
                    "number",
                    "read_only",
                    "The phone number itself cannot be changed.",
                ));
            }
        } else if validate::digits(&mut e, "number", &f.number, 2, 20)
            && numbers::id_by_number(conn, &f.number).await?.is_some()
        {
            e.push(FieldError::new(
                "number",
                "duplicate",
                "This phone number is already registered.",
            ));
        }
        validate::required_text(&mut e, "name", &f.name, 64);
        if let Some(p) = f.prefix.as_deref() {
            if !(1..=8).contains(&p.len())
                || !p
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
            {
                e.push(FieldError::new(
                    "prefix",
                    "format",
                    "Use 1 to 8 characters of 0-9, * and #.",
                ));
            } else if let Some(other) = Number::id_where(conn, "prefix", p).await? {
                if Some(&other) != id {
                    e.push(FieldError::new("prefix", "duplicate", PREFIX_USED));
                }
            }
        }
        check_target(conn, &mut e, "route", f.route).await?;
        validate::range(&mut e, "max_channels", f.max_channels, 0, 9999);
        validate::url(&mut e, "incoming_popup_url", &f.incoming_popup_url);
        validate::url(&mut e, "answer_popup_url", &f.answer_popup_url);
        validate::text(&mut e, "incoming_message", &f.incoming_message, 200);
        validate::text(&mut e, "outgoing_message", &f.outgoing_message, 200);
        for a in &f.agent_ids {
            if agents::get(conn, *a).await?.is_none() {
                e.push(FieldError::new(
                    "agent_ids",
                    "unknown",
                    format!("There is no agent {a}."),
                ));
            }
        }
        if let Some(id) = id {
            for a in agents::ids_with_caller_number(conn, *id).await? {
                if !f.agent_ids.contains(&a) {
                    e.push(FieldError::new(
                        "agent_ids",
                        "in_use",
                        format!("Agent {a} uses this number as caller ID; change that first."),
                    ));
                }
            }
        }
        ApiError::validation(e)
    }

    fn duplicate(creating: bool) -> Option<(&'static str, &'static str)> {
        Some(if creating {
            (
                "number",
                "This phone number or prefix is already registered.",
            )
        } else {
            ("prefix", PREFIX_USED)
        })
    }

    async fn list(conn: &mut Conn, q: NumberFilter, p: Page) -> ApiResult<(Vec<Number>, i64)> {
        Ok(Number::list(conn, &q, p).await?)
    }

    async fn references(conn: &mut Conn, id: &i64) -> store::Result<Vec<String>> {
        numbers::references(conn, *id).await
    }
}

const PREFIX_USED: &str = "Another number already uses this prefix.";
