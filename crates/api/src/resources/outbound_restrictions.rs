//! Outbound restrictions (RESTRICT-*), with the CSV upload (RESTRICT-05).

use super::collection::{get_or_404, Collection, Perms};
use super::{nullable, record_change, set_text};
use crate::auth::CurrentUser;
use crate::csv_text;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use crate::{now_ms, validate, AppState};
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Arc;
use store::outbound_restrictions::{
    self, OutboundRestriction, OutboundRestrictionFields, OutboundRestrictionFilter,
};
use store::{Conn, Page, Record};
use utoipa::ToSchema;

pub struct OutboundRestrictions;

const DUPLICATE: &str = "This number is already restricted for this caller number.";

/// Largest CSV file accepted by the upload (as CSV-02).
pub const MAX_UPLOAD: usize = 5 * 1024 * 1024;
/// At most this many line errors are listed; `error_count` has them all.
const MAX_LISTED_ERRORS: usize = 1000;

/// Body of POST and PATCH /outbound-restrictions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutboundRestrictionInput {
    /// The restricted destination, half-width digits only.
    pub number: Option<String>,
    /// Limit the restriction to calls from this caller number; null or "" = every number.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub caller_number: Option<Option<String>>,
    pub remarks: Option<String>,
}

/// One refused line of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadLineError {
    /// 1-based line number in the file.
    pub line: usize,
    pub message: String,
}

/// What an upload did.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResult {
    pub created: usize,
    /// Lines whose number and caller number were already registered (or repeated in the file).
    pub skipped_duplicates: usize,
    /// Refused lines (the first 1000), each with its line number.
    pub errors: Vec<UploadLineError>,
    /// How many lines were refused in all.
    pub error_count: usize,
}

impl Collection for OutboundRestrictions {
    type Table = OutboundRestriction;
    type Input = OutboundRestrictionInput;
    type Query = OutboundRestrictionFilter;
    const PATH: &'static str = "/api/v1/outbound-restrictions";
    const TAG: &'static str = "OutboundRestrictions";
    // RESTRICT-07 has no delete verb: deleting is the bulk delete.
    const PERMS: Perms = Perms {
        view: "restrict.view",
        create: "restrict.update",
        update: "restrict.update",
        delete: "restrict.bulk_delete",
    };
    const FILTERS: &'static [(&'static str, Param)] =
        &[("number", Text), ("remarks", Text), ("caller_number", Text)];
    const ENTITY: &'static str = "outbound_restriction";
    const LABEL: &'static str = "outbound restriction";

    fn new_draft() -> OutboundRestrictionFields {
        OutboundRestrictionFields::default()
    }

    fn apply(f: &mut OutboundRestrictionFields, i: OutboundRestrictionInput) -> Vec<&'static str> {
        set_text(&mut f.number, i.number);
        if let Some(v) = i.caller_number {
            f.caller_number = v.map(|c| c.trim().to_owned()).unwrap_or_default();
        }
        set_text(&mut f.remarks, i.remarks);
        vec![]
    }

    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        _: Option<&OutboundRestriction>,
        f: &mut OutboundRestrictionFields,
    ) -> ApiResult<()> {
        let mut e = Vec::new();
        if check_fields(&mut e, f) {
            if let Some(other) =
                outbound_restrictions::id_by_key(conn, &f.number, &f.caller_number).await?
            {
                if Some(&other) != id {
                    e.push(FieldError::new("number", "duplicate", DUPLICATE));
                }
            }
        }
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("number", DUPLICATE))
    }

    async fn list(
        conn: &mut Conn,
        q: OutboundRestrictionFilter,
        p: Page,
    ) -> ApiResult<(Vec<OutboundRestriction>, i64)> {
        Ok(OutboundRestriction::list(conn, &q, p).await?)
    }
}

/// Field rules without the database: shared by the form and the upload.
fn check_fields(e: &mut Vec<FieldError>, f: &OutboundRestrictionFields) -> bool {
    let before = e.len();
    validate::digits(e, "number", &f.number, 2, 20);
    if !f.caller_number.is_empty() {
        validate::digits(e, "caller_number", &f.caller_number, 2, 20);
    }
    validate::text(e, "remarks", &f.remarks, 200);
    e.len() == before
}

fn bad_file(message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError::new("file", "format", message)])
}

/// Reads the `file` field of a multipart body, enforcing the size limit.
async fn read_file(multipart: Result<Multipart, MultipartRejection>) -> ApiResult<Vec<u8>> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::BadRequest(FieldError::new(
            "file",
            "multipart",
            format!(
                "Send the CSV file as multipart/form-data in the field `file` ({}).",
                e.body_text()
            ),
        ))
    })?;
    let too_large_or_bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(FieldError::new("file", "multipart", e.body_text()))
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(too_large_or_bad)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut data = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(too_large_or_bad)? {
            if data.len() + chunk.len() > MAX_UPLOAD {
                return Err(ApiError::PayloadTooLarge);
            }
            data.extend_from_slice(&chunk);
        }
        return Ok(data);
    }
    Err(ApiError::BadRequest(FieldError::new(
        "file",
        "required",
        "The multipart field `file` with the CSV file is required.",
    )))
}

/// A number as typed in a spreadsheet: hyphens and blanks are dropped.
fn clean_number(v: &str) -> String {
    v.chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .collect()
}

/// `POST /outbound-restrictions/upload`: one restriction per line, `number[,caller_number
/// [,remarks]]`, an optional header line, UTF-8 or Shift_JIS. Good lines are registered, lines
/// already registered are skipped and bad lines are reported with their line number.
pub async fn upload(
    State(s): State<AppState>,
    Extension(me): Extension<Arc<CurrentUser>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<UploadResult>> {
    let bytes = read_file(multipart).await?;
    let text = csv_text::decode(&bytes).map_err(bad_file)?;
    let mut result = UploadResult {
        created: 0,
        skipped_duplicates: 0,
        errors: Vec::new(),
        error_count: 0,
    };
    let error = |r: &mut UploadResult, line: usize, message: String| {
        r.error_count += 1;
        if r.errors.len() < MAX_LISTED_ERRORS {
            r.errors.push(UploadLineError { line, message });
        }
    };
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut first_content_line = true;
    let now = now_ms();
    let mut tx = s.store.begin().await?;
    for (line, raw) in csv_text::lines(&text) {
        if raw.trim().is_empty() {
            continue;
        }
        let cols = match csv_text::fields(raw) {
            Ok(c) => c,
            Err(m) => {
                error(&mut result, line, m);
                first_content_line = false;
                continue;
            }
        };
        // A first line whose first column holds no digit at all is a header.
        let is_header = first_content_line && !cols[0].chars().any(|c| c.is_ascii_digit());
        first_content_line = false;
        if is_header {
            continue;
        }
        if cols.len() > 3 {
            error(
                &mut result,
                line,
                format!(
                    "{} columns; expected number, caller number and remarks.",
                    cols.len()
                ),
            );
            continue;
        }
        let f = OutboundRestrictionFields {
            number: clean_number(&cols[0]),
            caller_number: cols.get(1).map(|c| clean_number(c)).unwrap_or_default(),
            remarks: cols.get(2).map(|r| r.trim().to_owned()).unwrap_or_default(),
        };
        let mut e = Vec::new();
        if !check_fields(&mut e, &f) {
            let msg = e
                .iter()
                .map(|e| {
                    let field = e.field.as_deref().unwrap_or("line");
                    format!("{field}: {}", e.message)
                })
                .collect::<Vec<_>>()
                .join(" ");
            error(&mut result, line, msg);
            continue;
        }
        let key = (f.number.clone(), f.caller_number.clone());
        if !seen.insert(key)
            || outbound_restrictions::id_by_key(&mut tx, &f.number, &f.caller_number)
                .await?
                .is_some()
        {
            result.skipped_duplicates += 1;
            continue;
        }
        let id = OutboundRestriction::insert(&mut tx, &f, Some(me.login_id()), now).await?;
        let item = get_or_404::<OutboundRestrictions>(&mut tx, &id).await?;
        record_change(
            &mut tx,
            OutboundRestrictions::ENTITY,
            &id.to_string(),
            Some(me.login_id()),
            "create",
            &item,
            &item,
            &[],
            now,
        )
        .await?;
        result.created += 1;
    }
    tx.commit().await?;
    Ok(Json(result))
}
