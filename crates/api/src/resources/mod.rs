//! The administration collections, each a [`collection::Collection`], and what they share:
//! paging, filters given as text, PATCH's `null`, the change history and the 409 of a refused
//! delete.

pub mod agent_statuses;
pub mod agents;
pub mod calls;
pub mod collection;
pub mod forwardings;
pub mod groups;
pub mod incoming_blocks;
pub mod ivrs;
pub mod numbers;
pub mod outbound_restrictions;
pub mod roles;
pub mod terminals;
pub mod trunks;
pub mod voice_files;
pub mod voicemails;

use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::{MAX_LIMIT, MAX_OFFSET};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use store::{changes, Conn, Page};

/// A page of a list (the OpenAPI document spells out one schema per item type).
#[derive(Debug, Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// Paging parameters common to every list; text so that a bad value gets our 400.
#[derive(Debug, Deserialize, Default)]
pub struct Paging {
    pub offset: Option<String>,
    pub limit: Option<String>,
}

pub fn page(offset: Option<&str>, limit: Option<&str>) -> ApiResult<Page> {
    let parse = |field: &str, v: Option<&str>, default: i64, lo: i64, hi: i64| -> ApiResult<i64> {
        match v {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| {
                    ApiError::BadRequest(FieldError::new(
                        field,
                        "range",
                        format!("`{field}` must be a whole number from {lo} to {hi}."),
                    ))
                }),
        }
    };
    Ok(Page {
        offset: parse("offset", offset, 0, 0, MAX_OFFSET)?,
        limit: parse("limit", limit, 50, 1, MAX_LIMIT)?,
    })
}

/// An optional integer parameter given as text; present but empty is not a number either.
pub fn int_filter(field: &str, v: Option<&str>) -> ApiResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            ApiError::BadRequest(FieldError::new(
                field,
                "type",
                format!("`{field}` must be a number."),
            ))
        }),
    }
}

/// Sets a field the request sent; an absent one keeps its value.
pub fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

/// Sets a text field the request sent, without surrounding blanks.
pub fn set_text(slot: &mut String, v: Option<String>) {
    set(slot, v.map(|v| v.trim().to_owned()));
}

/// Sets a nullable text field the request sent; `null` or blank text clears it.
pub fn set_opt_text(slot: &mut Option<String>, v: Option<Option<String>>) {
    set(
        slot,
        v.map(|v| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())),
    );
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`, which clears a nullable field).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Records a create/update/delete in the change history. `secrets` names write-only fields
/// that changed; they appear masked.
#[allow(clippy::too_many_arguments)]
pub async fn record_change<T: Serialize>(
    conn: &mut Conn,
    entity: &str,
    id: &str,
    actor: Option<&str>,
    action: &str,
    before: &T,
    after: &T,
    secrets: &[&str],
    now: i64,
) -> ApiResult<()> {
    let to_json = |v: &T| serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()));
    let (b, a) = match action {
        "create" => (Value::Object(Default::default()), to_json(after)?),
        "delete" => (to_json(before)?, Value::Object(Default::default())),
        _ => (to_json(before)?, to_json(after)?),
    };
    let mut diff = changes::diff(&b, &a);
    let old = if action == "create" {
        Value::Null
    } else {
        "***".into()
    };
    for s in secrets {
        diff.insert(
            (*s).to_owned(),
            Value::Array(vec![old.clone(), "***".into()]),
        );
    }
    changes::append(conn, entity, id, actor, action, diff, now).await?;
    Ok(())
}

/// Refuses a delete while other records still point at this one.
pub fn refuse_if_referenced(what: &str, reasons: Vec<String>) -> ApiResult<()> {
    if reasons.is_empty() {
        return Ok(());
    }
    Err(ApiError::Conflict(vec![FieldError::general(
        "in_use",
        format!(
            "This {what} cannot be deleted because it is {}.",
            reasons.join(" and ")
        ),
    )]))
}
