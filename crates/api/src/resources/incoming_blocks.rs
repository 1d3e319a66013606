//! Incoming-call blocks (BLOCK-*).

use super::collection::{Collection, Perms};
use super::set_text;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::validate;
use serde::Deserialize;
use store::incoming_blocks::{IncomingBlock, IncomingBlockFields, IncomingBlockFilter};
use store::{Conn, Page, Record};
use utoipa::ToSchema;

const DUPLICATE: &str = "This number is already blocked.";

pub struct IncomingBlocks;

/// Body of POST and PATCH /incoming-blocks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomingBlockInput {
    /// Half-width digits only.
    pub number: Option<String>,
    pub remarks: Option<String>,
}

impl Collection for IncomingBlocks {
    type Table = IncomingBlock;
    type Input = IncomingBlockInput;
    type Query = IncomingBlockFilter;
    const PATH: &'static str = "/api/v1/incoming-blocks";
    const TAG: &'static str = "IncomingBlocks";
    // BLOCK-05 has no delete verb: deleting is the bulk delete.
    const PERMS: Perms = Perms {
        view: "block.view",
        create: "block.update",
        update: "block.update",
        delete: "block.bulk_delete",
    };
    const FILTERS: &'static [(&'static str, Param)] = &[("number", Text), ("remarks", Text)];
    const ENTITY: &'static str = "incoming_block";
    const LABEL: &'static str = "incoming block";

    fn new_draft() -> IncomingBlockFields {
        IncomingBlockFields::default()
    }

    fn apply(f: &mut IncomingBlockFields, i: IncomingBlockInput) -> Vec<&'static str> {
        set_text(&mut f.number, i.number);
        set_text(&mut f.remarks, i.remarks);
        vec![]
    }

    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        _: Option<&IncomingBlock>,
        f: &mut IncomingBlockFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        if validate::digits(&mut e, "number", &f.number, 2, 20) {
            if let Some(other) = IncomingBlock::id_where(conn, "number", &f.number).await? {
                if Some(&other) != id {
                    e.push(FieldError::new("number", "duplicate", DUPLICATE));
                }
            }
        }
        validate::text(&mut e, "remarks", &f.remarks, 200);
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("number", DUPLICATE))
    }

    async fn list(
        conn: &mut Conn,
        q: IncomingBlockFilter,
        p: Page,
    ) -> ApiResult<(Vec<IncomingBlock>, i64)> {
        Ok(IncomingBlock::list(conn, &q, p).await?)
    }
}
