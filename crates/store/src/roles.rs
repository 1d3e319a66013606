//! Roles (ROLE-*, PERM-*): a name and the set of permission keys it grants.

use crate::query::{self, Filter};
use crate::{permissions, Conn, Page, Result, Stamps};
use serde::Serialize;
use utoipa::ToSchema;

pub const BUILTIN: &[(&str, &str)] = &[
    ("agent", "エージェント"),
    ("sv", "SV"),
    ("admin", "システム管理者"),
];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Role {
    /// Stable identifier: `agent`, `sv`, `admin` for the built-in roles.
    pub id: String,
    pub name: String,
    pub builtin: bool,
    /// Granted permission keys (`row.verb`).
    pub permissions: Vec<String>,
    #[serde(flatten)]
    pub stamps: Stamps,
}

#[derive(Debug, Clone, Default)]
pub struct RoleFields {
    pub name: String,
    pub permissions: Vec<String>,
}

impl Role {
    pub fn fields(&self) -> RoleFields {
        RoleFields {
            name: self.name.clone(),
            permissions: self.permissions.clone(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    builtin: i64,
    #[sqlx(flatten)]
    stamps: Stamps,
}

#[derive(Debug, Default)]
pub struct RoleFilter {
    pub name: Option<String>,
}

const COLS: &str = "id, name, builtin, created_at, created_by, updated_at, updated_by";

async fn permissions_of(conn: &mut Conn, id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT permission FROM role_permissions WHERE role_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    // Return keys in matrix order so that diffs in the change history are stable.
    let granted: Vec<String> = rows.into_iter().map(|(p,)| p).collect();
    Ok(permissions::all_keys()
        .filter(|k| granted.contains(k))
        .collect())
}

async fn hydrate(conn: &mut Conn, r: Row) -> Result<Role> {
    let permissions = permissions_of(conn, &r.id).await?;
    Ok(Role {
        id: r.id,
        name: r.name,
        builtin: r.builtin != 0,
        permissions,
        stamps: r.stamps,
    })
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<Role>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLS} FROM roles WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => Ok(Some(hydrate(conn, r).await?)),
        None => Ok(None),
    }
}

pub async fn list(conn: &mut Conn, f: &RoleFilter, page: Page) -> Result<(Vec<Role>, i64)> {
    let mut filter = Filter::default();
    filter.contains("name", f.name.as_deref());
    let (rows, total): (Vec<Row>, i64) = query::list(
        conn,
        COLS,
        "roles",
        "builtin DESC, created_at, id",
        &filter,
        page,
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(hydrate(conn, r).await?);
    }
    Ok((items, total))
}

async fn write_permissions(conn: &mut Conn, id: &str, perms: &[String]) -> Result<()> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for p in perms {
        sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
            .bind(id)
            .bind(p)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn insert(
    conn: &mut Conn,
    id: &str,
    f: &RoleFields,
    builtin: bool,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO roles (id, name, builtin, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $4, $5)",
    )
    .bind(id)
    .bind(&f.name)
    .bind(crate::flag(builtin))
    .bind(now)
    .bind(actor)
    .execute(&mut *conn)
    .await?;
    write_permissions(conn, id, &f.permissions).await
}

pub async fn update(
    conn: &mut Conn,
    id: &str,
    f: &RoleFields,
    actor: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE roles SET name = $1, updated_at = $2, updated_by = $3 WHERE id = $4")
        .bind(&f.name)
        .bind(now)
        .bind(actor)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    write_permissions(conn, id, &f.permissions).await
}

pub async fn delete(conn: &mut Conn, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM roles WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Number of agents holding the role (a role in use cannot be deleted).
pub async fn holders(conn: &mut Conn, id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM agents WHERE role_id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(n)
}

/// A fresh id for a custom role: `role<n>` with the next free n.
pub async fn next_custom_id(conn: &mut Conn) -> Result<String> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM roles")
        .fetch_one(&mut *conn)
        .await?;
    let mut n = n + 1;
    loop {
        let id = format!("role{n}");
        if get(conn, &id).await?.is_none() {
            return Ok(id);
        }
        n += 1;
    }
}

/// Creates the three built-in roles with their default permissions if they are missing.
pub async fn ensure_builtin(conn: &mut Conn, now: i64) -> Result<()> {
    for (id, name) in BUILTIN {
        if get(conn, id).await?.is_none() {
            let f = RoleFields {
                name: (*name).to_owned(),
                permissions: permissions::builtin_defaults(id),
            };
            insert(conn, id, &f, true, None, now).await?;
        }
    }
    Ok(())
}
