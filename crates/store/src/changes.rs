//! Change history of configuration records (AGENT-02): who changed which fields when.

use crate::{Conn, Page, Result, StoreError};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    pub id: i64,
    pub at: i64,
    /// Login ID of whoever made the change; null for the system.
    pub actor: Option<String>,
    /// `create`, `update` or `delete`.
    pub action: String,
    /// Changed fields as `{"field": [old, new]}`.
    #[schema(value_type = std::collections::HashMap<String, Vec<serde_json::Value>>)]
    pub changes: Value,
}

/// The fields that differ between two JSON objects, as `{"field": [old, new]}`. Bookkeeping
/// fields (`updated_at`, …) are left out: the change row has its own time and actor.
pub fn diff(before: &Value, after: &Value) -> Map<String, Value> {
    const SKIP: &[&str] = &["created_at", "created_by", "updated_at", "updated_by"];
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    for key in b.keys().chain(a.keys()) {
        if SKIP.contains(&key.as_str()) || out.contains_key(key) {
            continue;
        }
        let old = b.get(key).cloned().unwrap_or(Value::Null);
        let new = a.get(key).cloned().unwrap_or(Value::Null);
        if old != new {
            out.insert(key.clone(), Value::Array(vec![old, new]));
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
pub async fn append(
    conn: &mut Conn,
    entity: &str,
    entity_id: &str,
    actor: Option<&str>,
    action: &str,
    changes: Map<String, Value>,
    now: i64,
) -> Result<()> {
    if action == "update" && changes.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO change_log (entity, entity_id, at, actor, action, changes)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entity)
    .bind(entity_id)
    .bind(now)
    .bind(actor)
    .bind(action)
    .bind(Value::Object(changes).to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn list(
    conn: &mut Conn,
    entity: &str,
    entity_id: &str,
    ascending: bool,
    page: Page,
) -> Result<(Vec<Change>, i64)> {
    let (total,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM change_log WHERE entity = $1 AND entity_id = $2")
            .bind(entity)
            .bind(entity_id)
            .fetch_one(&mut *conn)
            .await?;
    let order = if ascending { "id ASC" } else { "id DESC" };
    let rows: Vec<(i64, i64, Option<String>, String, String)> = sqlx::query_as(&format!(
        "SELECT id, at, actor, action, changes FROM change_log
         WHERE entity = $1 AND entity_id = $2 ORDER BY {order} LIMIT $3 OFFSET $4"
    ))
    .bind(entity)
    .bind(entity_id)
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(&mut *conn)
    .await?;
    let items = rows
        .into_iter()
        .map(|(id, at, actor, action, changes)| {
            let changes = serde_json::from_str(&changes)
                .map_err(|e| StoreError::Corrupt(format!("change_log {id}: {e}")))?;
            Ok(Change {
                id,
                at,
                actor,
                action,
                changes,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((items, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_reports_only_changed_fields() {
        let d = diff(
            &json!({"name": "a", "x": 1, "updated_at": 1}),
            &json!({"name": "b", "x": 1, "updated_at": 2, "y": true}),
        );
        assert_eq!(
            Value::Object(d),
            json!({"name": ["a", "b"], "y": [null, true]})
        );
    }
}
