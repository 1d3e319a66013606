use super::collection::{Collection, Perms, Table, Write};
use super::set_text;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::validate;
use axum::Json;
use serde::{Deserialize, Serialize};
use store::roles::{self, Role, RoleFields, RoleFilter};
use store::{permissions, Conn, Page};
use utoipa::ToSchema;

/// Roles (ROLE-*), keyed by text: `agent`, `sv` and `admin` are built in.
pub struct Roles;

/// Body of POST and PATCH /roles. The id of a new role is generated.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub name: Option<String>,
    /// The complete set of granted permission keys.
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RoleQuery {
    pub name: Option<String>,
}

/// One cell of the permission matrix with its labels.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionInfo {
    pub key: String,
    pub row: String,
    pub verb: String,
    pub row_ja: String,
    pub row_en: String,
    pub verb_ja: String,
    pub verb_en: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionCatalog {
    pub items: Vec<PermissionInfo>,
}

pub async fn catalog() -> Json<PermissionCatalog> {
    let items = permissions::MATRIX
        .iter()
        .flat_map(|r| {
            r.verbs.iter().map(move |v| {
                let (verb_ja, verb_en) = permissions::verb_labels(v);
                PermissionInfo {
                    key: format!("{}.{}", r.row, v),
                    row: r.row.into(),
                    verb: (*v).into(),
                    row_ja: r.ja.into(),
                    row_en: r.en.into(),
                    verb_ja: verb_ja.into(),
                    verb_en: verb_en.into(),
                }
            })
        })
        .collect();
    Json(PermissionCatalog { items })
}

impl Collection for Roles {
    type Table = Roles;
    type Input = RoleInput;
    type Query = RoleQuery;
    const PATH: &'static str = "/api/v1/roles";
    const TAG: &'static str = "Roles";
    const PERMS: Perms = Perms {
        view: "role.view",
        create: "role.update",
        update: "role.update",
        delete: "role.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[("name", Text)];
    const ENTITY: &'static str = "role";
    const LABEL: &'static str = "role";

    fn new_draft() -> RoleFields {
        RoleFields::default()
    }

    fn apply(f: &mut RoleFields, i: RoleInput) -> Vec<&'static str> {
        set_text(&mut f.name, i.name);
        if let Some(mut v) = i.permissions {
            v.sort();
            v.dedup();
            f.permissions = v;
        }
        vec![]
    }

    async fn validate(
        _: &mut Conn,
        id: Option<&String>,
        _: Option<&Role>,
        f: &mut RoleFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        validate::required_text(&mut e, "name", &f.name, 64);
        let unknown: Vec<&str> = f
            .permissions
            .iter()
            .filter(|p| !permissions::is_known(p))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            e.push(FieldError::new(
                "permissions",
                "unknown",
                format!("Unknown permissions: {}.", unknown.join(", ")),
            ));
        }
        ApiError::validation(e)?;
        // Without these the administrators could lock themselves out of the matrix for good.
        if id.is_some_and(|id| id == "admin") {
            for p in ["tab.admin", "role.view", "role.update"] {
                if !f.permissions.iter().any(|k| k == p) {
                    return Err(ApiError::Validation(vec![FieldError::new(
                        "permissions",
                        "required",
                        format!("The system administrator role must keep `{p}`."),
                    )]));
                }
            }
        }
        Ok(())
    }

    async fn list(conn: &mut Conn, q: RoleQuery, p: Page) -> ApiResult<(Vec<Role>, i64)> {
        Ok(roles::list(conn, &RoleFilter { name: q.name }, p).await?)
    }

    async fn references(conn: &mut Conn, id: &String) -> store::Result<Vec<String>> {
        let n = roles::holders(conn, id).await?;
        Ok(if n > 0 {
            vec![format!("held by {n} agent(s)")]
        } else {
            vec![]
        })
    }

    async fn may_delete(
        _: &mut Conn,
        _: &CurrentUser,
        role: &Role,
        refs: Vec<String>,
    ) -> ApiResult<()> {
        if role.builtin {
            return Err(ApiError::Conflict(vec![FieldError::general(
                "builtin",
                "Built-in roles cannot be deleted.",
            )]));
        }
        super::refuse_if_referenced(Self::LABEL, refs)
    }
}

impl Table for Roles {
    type Item = Role;
    type Draft = RoleFields;
    type Key = String;

    fn draft(role: &Role) -> RoleFields {
        role.fields()
    }

    async fn get(conn: &mut Conn, id: &String) -> store::Result<Option<Role>> {
        roles::get(conn, id).await
    }

    /// The id of a new role is generated.
    async fn insert(conn: &mut Conn, f: &RoleFields, w: &Write<'_>) -> ApiResult<String> {
        let id = roles::next_custom_id(conn).await?;
        roles::insert(conn, &id, f, false, w.actor(), w.now).await?;
        Ok(id)
    }

    async fn update(
        conn: &mut Conn,
        id: &String,
        _: &Role,
        f: &RoleFields,
        w: &Write<'_>,
    ) -> ApiResult<()> {
        Ok(roles::update(conn, id, f, w.actor(), w.now).await?)
    }

    async fn delete(conn: &mut Conn, id: &String) -> store::Result<()> {
        roles::delete(conn, id).await
    }
}
