//! External forwarding (外線転送, FWD-01…04): external numbers calls are forwarded to.

use super::collection::{Collection, Perms};
use super::{nullable, set, set_opt_text, set_text};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::validate;
use serde::Deserialize;
use store::forwardings::{self, Forwarding, ForwardingFields, ForwardingFilter};
use store::{numbers, Conn, Page, Record};
use utoipa::ToSchema;

pub struct Forwardings;

/// Body of POST and PATCH /forwardings; on update only the fields sent change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardingInput {
    pub name: Option<String>,
    /// 外線転送番号: half-width digits.
    pub destination: Option<String>,
    /// 発信者番号: one of our phone numbers; required unless `use_called_number`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub caller_number_id: Option<Option<i64>>,
    /// 内線 (optional; `null` clears it).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub extension: Option<Option<String>>,
    /// 着信番号を発番に利用.
    pub use_called_number: Option<bool>,
}

const DUPLICATE: &str = "Another external forwarding has this name.";

impl Collection for Forwardings {
    type Table = Forwarding;
    type Input = ForwardingInput;
    type Query = ForwardingFilter;
    const PATH: &'static str = "/api/v1/forwardings";
    const TAG: &'static str = "Forwardings";
    // PERM-36: view, update, delete; creating is an update of the list.
    const PERMS: Perms = Perms {
        view: "forward.view",
        create: "forward.update",
        update: "forward.update",
        delete: "forward.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[("name", Text), ("destination", Text)];
    const ENTITY: &'static str = "forwarding";
    const LABEL: &'static str = "external forwarding";
    const DELETE_NOTE: &'static str =
        " (refused while a phone number, a group divert or an IVR routes to it)";

    fn new_draft() -> ForwardingFields {
        ForwardingFields::default()
    }

    fn apply(f: &mut ForwardingFields, i: ForwardingInput) -> Vec<&'static str> {
        set_text(&mut f.name, i.name);
        set_text(&mut f.destination, i.destination);
        if let Some(v) = i.caller_number_id {
            f.caller_number_id = v;
        }
        set_opt_text(&mut f.extension, i.extension);
        set(&mut f.use_called_number, i.use_called_number);
        vec![]
    }

    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        _: Option<&Forwarding>,
        f: &mut ForwardingFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        validate::required_text(&mut e, "name", &f.name, 100);
        if let Some(other) = Forwarding::id_where(conn, "name", &f.name).await? {
            if Some(&other) != id {
                e.push(FieldError::new("name", "duplicate", DUPLICATE));
            }
        }
        if f.destination.is_empty() {
            e.push(FieldError::new(
                "destination",
                "required",
                "This field is required.",
            ));
        } else {
            validate::digits(&mut e, "destination", &f.destination, 2, 20);
        }
        match f.caller_number_id {
            Some(n) if numbers::get(conn, n).await?.is_none() => e.push(FieldError::new(
                "caller_number_id",
                "unknown",
                format!("There is no phone number {n}."),
            )),
            None if !f.use_called_number => e.push(FieldError::new(
                "caller_number_id",
                "required",
                "Choose the caller number, or use the called number as caller ID.",
            )),
            _ => {}
        }
        validate::extension(
            conn,
            &mut e,
            "extension",
            f.extension.as_deref(),
            ("forwarding", id.copied()),
        )
        .await?;
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("name", DUPLICATE))
    }

    async fn list(
        conn: &mut Conn,
        q: ForwardingFilter,
        p: Page,
    ) -> ApiResult<(Vec<Forwarding>, i64)> {
        Ok(Forwarding::list(conn, &q, p).await?)
    }

    async fn references(conn: &mut Conn, id: &i64) -> store::Result<Vec<String>> {
        forwardings::references(conn, *id).await
    }
}
