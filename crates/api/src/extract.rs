//! Extractors whose rejections speak our error format and name the offending field.

use crate::error::{ApiError, FieldError};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;

/// A JSON body. Wrong types, unknown fields and malformed JSON become a 400 naming the field.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(FieldError::general("body", e.body_text()))
            }
        })?;
        // Every body is an object: serde would also read a struct from an array (`[null, null]`).
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::BadRequest(FieldError::general(
                "body",
                "The request body must be a JSON object.",
            )));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let typed: Result<T, _> = serde_path_to_error::deserialize(de);
        if typed.is_err() {
            // JSON Schema counts `618.0` as an integer, as the document says these fields are:
            // read it as 618. Anything still wrong keeps the first error, with its position.
            if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if whole_floats_to_ints(&mut v) {
                    if let Ok(t) = serde_json::from_value(v) {
                        return Ok(ApiJson(t));
                    }
                }
            }
        }
        typed.map(ApiJson).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let code = if inner.is_syntax() || inner.is_eof() {
                "syntax"
            } else {
                "type"
            };
            let field = if path == "." || path.is_empty() {
                unknown_field(&inner.to_string())
            } else {
                Some(path)
            };
            ApiError::BadRequest(FieldError {
                field,
                code: code.into(),
                message: inner.to_string(),
            })
        })
    }
}

/// Turns numbers like `618.0` into `618`; true when there was any.
fn whole_floats_to_ints(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                // In range and whole: the conversion is exact.
                *v = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(a) => a
            .iter_mut()
            .fold(false, |any, x| whole_floats_to_ints(x) | any),
        Value::Object(m) => m
            .values_mut()
            .fold(false, |any, x| whole_floats_to_ints(x) | any),
        _ => false,
    }
}

/// serde reports an unknown field at the parent's path; pull the name out of its message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// Query-string parameters; a value of the wrong type is a 400 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.into_inner().to_string();
                let field = if path == "." {
                    unknown_field(&message)
                } else {
                    Some(path)
                };
                ApiError::BadRequest(FieldError {
                    field,
                    code: "type".into(),
                    message,
                })
            })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// What a path's `{id}` names: a number for most records, text for roles.
pub trait Key: Clone + std::fmt::Display + Send + Sync + 'static {
    /// What the OpenAPI document says of it.
    const PARAM: crate::routes::Param;
    fn parse(raw: &str) -> Option<Self>;
}

impl Key for i64 {
    const PARAM: crate::routes::Param = crate::routes::Param::Int;
    fn parse(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

impl Key for String {
    const PARAM: crate::routes::Param = crate::routes::Param::Text;
    fn parse(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
}

/// A path `{id}` that does not parse is a 404, as for any unknown record.
pub struct KeyPath<K>(pub K);

impl<S: Send + Sync, K: Key> FromRequestParts<S> for KeyPath<K> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::NotFound(e.into_response().status().to_string()))?;
        K::parse(&raw)
            .map(KeyPath)
            .ok_or_else(|| ApiError::NotFound(format!("no record with id `{raw}`")))
    }
}

/// A numeric path id.
pub struct IdPath(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let KeyPath(id) = KeyPath::from_request_parts(parts, state).await?;
        Ok(IdPath(id))
    }
}
