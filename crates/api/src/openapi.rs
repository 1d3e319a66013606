//! The OpenAPI 3.1 document, generated from the route table and the types' schemas.

use crate::routes::{table, Param, Route};
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(components(schemas(
    crate::error::ErrorBody,
    crate::error::FieldError,
    crate::auth::LoginRequest,
    crate::telephony::AgentState,
    crate::telephony::WsMessage,
    crate::phone::WsCommand,
    engine::live::Realtime,
    crate::telephony::AgentStateInput,
    crate::auth::Me,
    crate::auth::MePatch,
    crate::auth::PasswordChange,
    crate::resources::roles::PermissionCatalog,
    crate::resources::roles::RoleInput,
    crate::resources::agents::AgentInput,
    crate::resources::terminals::TerminalInput,
    crate::resources::numbers::NumberInput,
    crate::resources::groups::GroupInput,
    crate::resources::groups::SkillLevelInput,
    crate::presence::PresenceGroup,
    crate::presence::PresenceAgent,
    crate::presence::CallbackInput,
    crate::phone::PhoneInfo,
    crate::phone::CallerNumber,
    crate::resources::agent_statuses::AgentStatusInput,
    crate::resources::trunks::TrunkInput,
    crate::resources::incoming_blocks::IncomingBlockInput,
    crate::resources::outbound_restrictions::OutboundRestrictionInput,
    crate::resources::outbound_restrictions::UploadResult,
    crate::resources::outbound_restrictions::UploadLineError,
    crate::resources::voice_files::VoiceFile,
    crate::resources::voice_files::VoiceFileInput,
    store::agents::Agent,
    store::roles::Role,
    store::terminals::Terminal,
    store::numbers::Number,
    store::groups::Group,
    store::agent_statuses::AgentStatus,
    store::trunks::Trunk,
    store::incoming_blocks::IncomingBlock,
    store::outbound_restrictions::OutboundRestriction,
    store::calls::CallRecord,
    store::calls::CallRecording,
    store::numbers::NumberRecording,
    store::recordings::RecordingState,
    crate::resources::calls::RecordingPause,
    store::voicemails::Voicemail,
    crate::resources::voicemails::VoicemailDelete,
    crate::resources::voicemails::VoicemailDeleted,
    store::calls::CallFilterChoices,
    store::calls::CallKind,
    store::calls::Direction,
    store::changes::Change,
    store::system::SystemSettings,
    store::ivrs::IvrRecord,
    store::ivrs::IvrEntry,
    crate::resources::ivrs::IvrInput,
    store::forwardings::Forwarding,
    crate::resources::forwardings::ForwardingInput,
    crate::settings::S3SettingsView,
    crate::settings::S3SettingsInput,
    crate::settings::S3TestResult,
    crate::mail::MailSettingsView,
    crate::mail::MailSettingsInput,
    crate::mail::MailTestInput,
    crate::mail::MailTestResult,
    crate::mail::OutboxItem,
    store::mail::MailSecurity,
    store::mail::MailState,
    crate::archive::RecordingArchive,
    crate::archive::ArchiveProgress,
    crate::archive::S3Link,
    store::archives::ArchiveState,
    store::archives::S3State,
)))]
struct Schemas;

fn schema_ref(name: &str) -> Value {
    match name.strip_prefix("List:") {
        Some(item) => json!({
            "type": "object",
            "required": ["items", "total"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
                "total": {"type": "integer"}
            }
        }),
        None => json!({"$ref": format!("#/components/schemas/{name}")}),
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// The schema of a parameter.
fn param(t: Param) -> Value {
    match t {
        Param::Text => json!({"type": "string"}),
        Param::Int => {
            json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
        }
        Param::Range(lo, hi) => {
            json!({"type": "integer", "format": "int64", "minimum": lo, "maximum": hi})
        }
        Param::OneOf(words) => json!({"type": "string", "enum": words}),
        Param::IntOneOf(n) => json!({"type": "integer", "format": "int64", "enum": n}),
        Param::Pattern(p) => json!({"type": "string", "pattern": p}),
    }
}

/// JSON integers the server reads as 64-bit: the document says how far they go, so that a
/// larger one is known to be refused.
fn bound_int64(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("format").and_then(Value::as_str) == Some("int64") {
                m.entry("minimum").or_insert(json!(i64::MIN));
                m.entry("maximum").or_insert(json!(i64::MAX));
            }
            m.values_mut().for_each(bound_int64);
        }
        Value::Array(a) => a.iter_mut().for_each(bound_int64),
        _ => {}
    }
}

/// The words of the engine's enums, which have no schema of their own: the server refuses any
/// other word with a 400, so the document lists them.
fn name_the_words(components: &mut Value) {
    let targets: Vec<&str> = engine::TargetKind::ALL.iter().map(|k| k.as_str()).collect();
    let strategies: Vec<&str> = engine::RingStrategy::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    let schemas = &mut components["schemas"];
    schemas["Target"]["properties"]["kind"]["enum"] = json!(targets);
    // Bodies refuse unknown fields, here as in every input.
    schemas["Target"]["additionalProperties"] = json!(false);
    schemas["GroupFields"]["properties"]["strategy"]["enum"] = json!(strategies);
    let mut nullable = strategies.iter().map(|s| json!(s)).collect::<Vec<_>>();
    nullable.push(Value::Null);
    schemas["GroupInput"]["properties"]["strategy"]["enum"] = Value::Array(nullable);
}

fn operation(r: &Route) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), json!(r.summary));
    op.insert("tags".into(), json!([r.tag]));
    let id = format!(
        "{}{}",
        r.method.as_str().to_lowercase(),
        r.path
            .replace("/api/v1", "")
            .replace(['/', '-', '{', '}', '.'], "_")
    );
    op.insert("operationId".into(), json!(id));
    let access = match r.access {
        crate::auth::Access::Public => "public".to_owned(),
        crate::auth::Access::LoggedIn => "logged-in".to_owned(),
        crate::auth::Access::Perm(p) => p.to_owned(),
        crate::auth::Access::SelfOr(p) => format!("self or {p}"),
    };
    op.insert("x-permission".into(), json!(access));
    let mut params: Vec<Value> = Vec::new();
    if r.path.contains("{id}") {
        params.push(json!({"name": "id", "in": "path", "required": true, "schema": param(r.id)}));
    }
    for (q, t) in &r.query {
        params.push(json!({"name": q, "in": "query", "required": false, "schema": param(*t)}));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some(b) = &r.body {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema_ref(b)}}}),
        );
    }
    if let Some((field, _)) = r.upload {
        let mut props = Map::new();
        props.insert(field.into(), json!({"type": "string", "format": "binary"}));
        for (name, ty, description) in r.form {
            props.insert(
                (*name).into(),
                json!({"type": ty, "description": description}),
            );
        }
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "required": [field],
                "properties": props,
                "additionalProperties": false
            }}}}),
        );
    }
    let mut responses = Map::new();
    let ok = match (&r.ok.1, r.produces) {
        (_, Some(media)) => {
            json!({"description": "Success", "content": {media: {"schema": {"type": "string", "format": "binary"}}}})
        }
        (Some(s), None) => {
            json!({"description": "Success", "content": {"application/json": {"schema": schema_ref(s)}}})
        }
        (None, None) => json!({"description": "Success"}),
    };
    responses.insert(r.ok.0.to_string(), ok);
    if let Some((_, limit)) = r.upload {
        responses.insert(
            "400".into(),
            error_response("Not a multipart body, or the file field is missing"),
        );
        responses.insert(
            "413".into(),
            error_response(&format!("The file is larger than {} MiB", limit >> 20)),
        );
        responses.insert("422".into(), error_response(r.upload_invalid));
    }
    if !r.query.is_empty() {
        responses.insert(
            "400".into(),
            error_response("A query parameter is not what it should be (the error names it)"),
        );
    }
    if r.body.is_some() {
        responses.insert(
            "400".into(),
            error_response("Malformed body, wrong type or unknown field"),
        );
        responses.insert(
            "413".into(),
            error_response(&format!(
                "The body is larger than {} KiB",
                crate::MAX_BODY >> 10
            )),
        );
        responses.insert(
            "422".into(),
            error_response("Validation failed; one entry per field"),
        );
    }
    for (status, description) in &r.errors {
        responses.insert(status.to_string(), error_response(description));
    }
    if r.access != crate::auth::Access::Public {
        responses.insert("401".into(), error_response("Not logged in"));
        responses.insert(
            "403".into(),
            error_response("Permission missing or CSRF token wrong"),
        );
    }
    if r.path.contains("{id}") {
        responses.insert("404".into(), error_response("No such record"));
    }
    if r.method == axum::http::Method::DELETE {
        responses.insert(
            "409".into(),
            error_response("Still referenced by other records"),
        );
    }
    if r.path.ends_with("/auth/login") {
        responses.insert("401".into(), error_response("Wrong login ID or password"));
        responses.insert(
            "423".into(),
            error_response("Account locked (after failed logins it unlocks by itself later)"),
        );
        responses.insert(
            "429".into(),
            error_response(
                "Too many failed logins from this address or for this account: wait for \
                 Retry-After seconds (the password was not checked)",
            ),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    if r.access != crate::auth::Access::Public {
        op.insert("security".into(), json!([{"session": []}]));
    }
    Value::Object(op)
}

/// Builds the document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in table() {
        let entry = paths
            .entry(r.path.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(r.method.as_str().to_lowercase(), operation(&r));
        }
    }
    let mut components = serde_json::to_value(Schemas::openapi().components).unwrap_or(Value::Null);
    bound_int64(&mut components);
    name_the_words(&mut components);
    let mut components = match components {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    components.insert(
        "securitySchemes".into(),
        json!({"session": {"type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tsunagu API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "State-changing requests need the X-CSRF-Token header with the token from login or GET /api/v1/me. Errors are {errors: [{field, code, message}]}."
        },
        "paths": paths,
        "components": components,
    })
}

pub async fn serve() -> Json<Value> {
    Json(document())
}
