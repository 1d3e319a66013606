use super::collection::{Collection, Perms};
use super::{nullable, set, set_opt_text, set_text};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::validate;
use serde::Deserialize;
use store::trunks::{CallerIdHeader, Trunk, TrunkFields, TrunkFilter};
use store::{Conn, Page, Record};
use utoipa::ToSchema;

/// SIP trunks (TRUNK-*).
pub struct Trunks;

/// Body of POST and PATCH /trunks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrunkInput {
    pub name: Option<String>,
    pub allowed_sources: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub outbound_host: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub username: Option<Option<String>>,
    /// Write-only; empty means unchanged, null clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub password: Option<Option<String>>,
    pub register: Option<bool>,
    pub caller_id_header: Option<CallerIdHeader>,
    pub enabled: Option<bool>,
}

impl Collection for Trunks {
    type Table = Trunk;
    type Input = TrunkInput;
    type Query = TrunkFilter;
    const PATH: &'static str = "/api/v1/trunks";
    const TAG: &'static str = "Trunks";
    const PERMS: Perms = Perms {
        view: "trunk.view",
        create: "trunk.update",
        update: "trunk.update",
        delete: "trunk.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[("name", Text)];
    const ENTITY: &'static str = "trunk";
    const LABEL: &'static str = "trunk";

    fn new_draft() -> TrunkFields {
        TrunkFields {
            enabled: true,
            ..Default::default()
        }
    }

    fn apply(f: &mut TrunkFields, i: TrunkInput) -> Vec<&'static str> {
        set_text(&mut f.name, i.name);
        if let Some(v) = i.allowed_sources {
            f.allowed_sources = v.into_iter().map(|s| s.trim().to_owned()).collect();
        }
        set_opt_text(&mut f.outbound_host, i.outbound_host);
        set_opt_text(&mut f.username, i.username);
        set(&mut f.register, i.register);
        set(&mut f.caller_id_header, i.caller_id_header);
        set(&mut f.enabled, i.enabled);
        let changed = match i.password {
            Some(None) => f.password.take().is_some(),
            Some(Some(p)) if !p.is_empty() => {
                f.password = Some(p);
                true
            }
            _ => false,
        };
        changed.then_some("password").into_iter().collect()
    }

    async fn validate(
        _: &mut Conn,
        _: Option<&i64>,
        _: Option<&Trunk>,
        f: &mut TrunkFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        validate::required_text(&mut e, "name", &f.name, 64);
        for s in &f.allowed_sources {
            if !validate::ip_or_cidr(s) {
                e.push(FieldError::new(
                    "allowed_sources",
                    "format",
                    format!("`{s}` is not an IP address, an address with a port (a.b.c.d:port) or a CIDR block."),
                ));
            }
        }
        if let Some(h) = f.outbound_host.as_deref() {
            if !validate::host_port(h) {
                e.push(FieldError::new(
                    "outbound_host",
                    "format",
                    "Use host or host:port.",
                ));
            }
        }
        if let Some(u) = f.username.as_deref() {
            validate::text(&mut e, "username", u, 64);
        }
        if f.register {
            if f.username.is_none() {
                e.push(FieldError::new(
                    "username",
                    "required",
                    "Registration needs a user name.",
                ));
            }
            if f.password.is_none() {
                e.push(FieldError::new(
                    "password",
                    "required",
                    "Registration needs a password.",
                ));
            }
            if f.outbound_host.is_none() {
                e.push(FieldError::new(
                    "outbound_host",
                    "required",
                    "Registration needs the carrier's host.",
                ));
            }
        }
        if f.allowed_sources.is_empty() && !f.register {
            e.push(FieldError::new(
                "allowed_sources",
                "required",
                "Give the carrier's source addresses, or register to the carrier.",
            ));
        }
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("name", "A trunk with this name exists."))
    }

    async fn list(conn: &mut Conn, q: TrunkFilter, p: Page) -> ApiResult<(Vec<Trunk>, i64)> {
        Ok(Trunk::list(conn, &q, p).await?)
    }
}
