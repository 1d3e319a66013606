//! API errors: every 4xx carries `{errors: [{field, code, message}]}` so forms can show each
//! message beside its field.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The request field the message is about; null for the request as a whole.
    pub field: Option<String>,
    /// Stable machine-readable reason, e.g. `required`, `format`, `duplicate`.
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: Some(field.to_owned()),
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn general(code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: None,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request")]
    BadRequest(FieldError),
    #[error("not logged in")]
    Unauthorized(String),
    #[error("forbidden")]
    Forbidden(String),
    #[error("not found")]
    NotFound(String),
    #[error("conflict")]
    Conflict(Vec<FieldError>),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("locked")]
    Locked(String),
    #[error("unavailable")]
    Unavailable(String),
    /// 429 with `Retry-After`: try again after this long.
    #[error("too many requests")]
    TooManyRequests {
        retry_after: std::time::Duration,
        message: String,
    },
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn validation(errors: Vec<FieldError>) -> ApiResult<()> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::NotFound(format!("{what} not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Whole seconds, rounded up: never invite a retry that is still too early.
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after, .. } => {
                Some((retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1))
            }
            _ => None,
        };
        let (status, errors) = match self {
            ApiError::BadRequest(e) => (StatusCode::BAD_REQUEST, vec![e]),
            ApiError::Unauthorized(m) => (
                StatusCode::UNAUTHORIZED,
                vec![FieldError::general("unauthorized", m)],
            ),
            ApiError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                vec![FieldError::general("forbidden", m)],
            ),
            ApiError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                vec![FieldError::general("not_found", m)],
            ),
            ApiError::Conflict(e) => (StatusCode::CONFLICT, e),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                vec![FieldError::general(
                    "too_large",
                    "The request body is too large.",
                )],
            ),
            ApiError::Validation(e) => (StatusCode::UNPROCESSABLE_ENTITY, e),
            ApiError::Locked(m) => (StatusCode::LOCKED, vec![FieldError::general("locked", m)]),
            ApiError::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                vec![FieldError::general("unavailable", m)],
            ),
            ApiError::Store(e) if e.is_unique_violation() => (
                StatusCode::CONFLICT,
                vec![FieldError::general(
                    "duplicate",
                    "A record with the same unique value already exists.",
                )],
            ),
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store error");
                internal()
            }
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                internal()
            }
            ApiError::TooManyRequests { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                vec![FieldError::general("throttled", message)],
            ),
        };
        let mut resp = (status, Json(ErrorBody { errors })).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl From<store::DbError> for ApiError {
    fn from(e: store::DbError) -> Self {
        ApiError::Store(store::StoreError::Db(e))
    }
}

fn internal() -> (StatusCode, Vec<FieldError>) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        vec![FieldError::general(
            "internal",
            "Internal error; see the server log.",
        )],
    )
}
