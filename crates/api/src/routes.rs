//! The route table: every API route with the access it requires and what the OpenAPI
//! document says of it. The router, the guard, the OpenAPI document and the route × role test
//! are all built from this one table, so they cannot drift apart.

use crate::auth::{self, Access};
use crate::extract::Key;
use crate::resources::collection::{self, Collection, Item, KeyOf};
use crate::resources::{
    agent_statuses, agents, calls, groups, incoming_blocks, numbers, outbound_restrictions, roles,
    terminals, trunks, voice_files,
};
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use std::borrow::Cow;
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub struct Route {
    pub method: Method,
    /// Path in OpenAPI/axum syntax, e.g. `/api/v1/agents/{id}`.
    pub path: String,
    pub access: Access,
    pub summary: Cow<'static, str>,
    pub tag: &'static str,
    /// Schema name of the JSON body, if any.
    pub body: Option<Cow<'static, str>>,
    /// Success status and the schema of its body (`List:X` for `{items: [X], total}`).
    pub ok: (u16, Option<Cow<'static, str>>),
    pub query: Vec<(&'static str, Param)>,
    /// What `{id}` in the path is.
    pub id: Param,
    /// For a file upload: the multipart field that carries the file, and the size limit.
    pub upload: Option<(&'static str, usize)>,
    /// Text fields sent beside the file in the same form: (name, JSON type, description).
    pub form: &'static [(&'static str, &'static str, &'static str)],
    /// What a 422 of the upload means.
    pub upload_invalid: &'static str,
    /// Media type of a success body that is not JSON (a download).
    pub produces: Option<&'static str>,
    /// Error statuses the route answers besides the ones every route of its kind has.
    pub errors: Vec<(u16, &'static str)>,
    handler: MethodRouter<AppState>,
}

fn route<H, T>(method: Method, path: impl Into<String>, access: Access, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
    Route {
        method,
        path: path.into(),
        access,
        summary: Cow::Borrowed(""),
        tag: "",
        body: None,
        ok: (200, None),
        query: Vec::new(),
        id: Param::Int,
        upload: None,
        form: &[],
        upload_invalid: "",
        produces: None,
        errors: Vec::new(),
        handler: on(filter, handler),
    }
}

impl Route {
    fn doc(mut self, tag: &'static str, summary: impl Into<Cow<'static, str>>) -> Self {
        self.tag = tag;
        self.summary = summary.into();
        self
    }

    fn body(mut self, schema: impl Into<Cow<'static, str>>) -> Self {
        self.body = Some(schema.into());
        self
    }

    fn ok(mut self, status: u16, schema: Option<&'static str>) -> Self {
        self.ok = (status, schema.map(Cow::Borrowed));
        self
    }

    fn ok_schema(mut self, status: u16, schema: impl Into<Cow<'static, str>>) -> Self {
        self.ok = (status, Some(schema.into()));
        self
    }

    fn query(mut self, q: &[(&'static str, Param)]) -> Self {
        self.query = q.to_vec();
        self
    }

    fn id(mut self, id: Param) -> Self {
        self.id = id;
        self
    }

    /// A multipart/form-data upload with the file in `field`, at most `limit` bytes of file.
    fn upload(mut self, field: &'static str, limit: usize) -> Self {
        self.upload = Some((field, limit));
        // Room for the multipart framing around the file; the handler checks the file itself.
        self.handler = self.handler.layer(DefaultBodyLimit::max(limit + 64 * 1024));
        self
    }

    /// Text fields of an upload form, and what its 422 means.
    fn form(
        mut self,
        fields: &'static [(&'static str, &'static str, &'static str)],
        invalid: &'static str,
    ) -> Self {
        self.form = fields;
        self.upload_invalid = invalid;
        self
    }

    /// An error status this route answers, and what it means.
    fn error(mut self, status: u16, description: &'static str) -> Self {
        self.errors.push((status, description));
        self
    }

    /// A success body of this media type instead of JSON.
    fn produces(mut self, media: &'static str) -> Self {
        self.produces = Some(media);
        self
    }
}

const VOICE_FORM: &[(&str, &str, &str)] = &[
    ("name", "string", "Name (required)"),
    (
        "voicemail",
        "boolean",
        "Voicemail after playing: true or false (default false)",
    ),
    (
        "notify_email",
        "boolean",
        "Email recorded messages: true or false (default false)",
    ),
    (
        "email",
        "string",
        "Address for notifications; required when notify_email is true",
    ),
];
const WAV_INVALID: &str = "A field is invalid, or the file is not an 8000 Hz mono 16-bit PCM WAV \
    of at most 10 minutes (the message beside `file` says what was found)";

/// Voice files (VOICE-*): the file is uploaded as multipart, the fields edited as JSON.
fn voice_file_routes(v: &mut Vec<Route>) {
    use voice_files::VoiceFiles;
    const TAG: &str = VoiceFiles::TAG;
    collection::<VoiceFiles>(v);
    v.push(
        route(
            Method::POST,
            VoiceFiles::PATH,
            Access::Perm(VoiceFiles::PERMS.create),
            voice_files::create,
        )
        .doc(
            TAG,
            "Create VoiceFile: multipart form with the WAV in `file` (8000 Hz mono 16-bit \
                 PCM, at most 10 minutes and 20 MiB) and the fields as text",
        )
        .upload("file", voice_files::MAX_UPLOAD)
        .form(VOICE_FORM, WAV_INVALID)
        .ok(201, Some("VoiceFile")),
    );
    v.push(
        route(
            Method::PUT,
            "/api/v1/voice-files/{id}/file",
            Access::Perm("voice.update"),
            voice_files::replace_file,
        )
        .doc(
            TAG,
            "Replace the audio of VoiceFile (multipart, field `file`)",
        )
        .upload("file", voice_files::MAX_UPLOAD)
        .form(&[], WAV_INVALID)
        .ok(200, Some("VoiceFile")),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/voice-files/{id}/download",
            Access::Perm("voice.view"),
            voice_files::download,
        )
        .doc(
            TAG,
            "Download the WAV file (as an attachment; ranges supported)",
        )
        .produces("audio/wav"),
    );
}

/// What a query or path parameter holds. Integers are refused with a 400 (a 404 in a path)
/// when they are empty, not whole numbers or out of range; text is taken as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Text,
    /// A whole number of 64 bits (an id, a time in epoch ms).
    Int,
    /// A whole number from the first to the second, both included.
    Range(i64, i64),
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// One of these numbers.
    IntOneOf(&'static [i64]),
    /// Text matching this regular expression (anchored); a value that matches but means
    /// nothing (a 31st of February) is the handler's 422.
    Pattern(&'static str),
}

use Param::{Int, IntOneOf, OneOf, Pattern, Range, Text};

pub const MAX_OFFSET: i64 = i64::MAX / 2;
pub const MAX_LIMIT: i64 = 500;
const PAGING: [(&str, Param); 2] = [
    ("offset", Range(0, MAX_OFFSET)),
    ("limit", Range(1, MAX_LIMIT)),
];

const CONFLICT: &str = "Refused by another record: a unique value is taken (or, for an agent, \
    the last unlocked administrator would be lost)";
const NO_TELEPHONY: &str = "Telephony is not running";

/// The routes of a collection: list, create, get, update, delete and change history.
fn collection<C: Collection>(v: &mut Vec<Route>) {
    let item = <Item<C> as ToSchema>::name();
    let input = <C::Input as ToSchema>::name();
    let (base, p) = (C::PATH, C::PERMS);
    let one = format!("{base}/{{id}}");
    let key = <KeyOf<C> as Key>::PARAM;
    let list = route(
        Method::GET,
        base,
        Access::Perm(p.view),
        collection::list::<C>,
    )
    .doc(C::TAG, format!("List {}", C::TAG))
    .ok_schema(200, format!("List:{item}"))
    .query(&[C::FILTERS, &PAGING].concat());
    v.push(list);
    if C::JSON_CREATE {
        let create = route(
            Method::POST,
            base,
            Access::Perm(p.create),
            collection::create::<C>,
        )
        .doc(C::TAG, format!("Create {item}"))
        .body(input.clone())
        .ok_schema(201, item.clone())
        .error(409, CONFLICT);
        v.push(create);
    }
    let get = route(
        Method::GET,
        &one,
        Access::Perm(p.view),
        collection::get::<C>,
    )
    .doc(C::TAG, format!("Get {item}"))
    .ok_schema(200, item.clone());
    let update = route(
        Method::PATCH,
        &one,
        Access::Perm(p.update),
        collection::update::<C>,
    )
    .doc(C::TAG, format!("Update {item}{}", C::UPDATE_NOTE))
    .body(input)
    .ok_schema(200, item.clone())
    .error(409, CONFLICT);
    let delete = route(
        Method::DELETE,
        &one,
        Access::Perm(p.delete),
        collection::delete::<C>,
    )
    .doc(C::TAG, format!("Delete {item}{}", C::DELETE_NOTE))
    .ok(204, None);
    let history = format!("{base}/{{id}}/history");
    let history = route(
        Method::GET,
        history,
        Access::Perm(p.view),
        collection::history::<C>,
    )
    .doc(C::TAG, format!("Change history of {item}"))
    .ok(200, Some("List:Change"))
    .query(&PAGING);
    v.extend([get, update, delete, history].map(|r| r.id(key)));
}

pub fn table() -> Vec<Route> {
    let mut v = vec![
        route(
            Method::POST,
            "/api/v1/auth/login",
            Access::Public,
            auth::login,
        )
        .doc(
            "Auth",
            "Log in; sets the session cookie and returns the CSRF token",
        )
        .body("LoginRequest")
        .ok(200, Some("Me")),
        route(
            Method::POST,
            "/api/v1/auth/logout",
            Access::LoggedIn,
            auth::logout,
        )
        .doc("Auth", "Log out")
        .ok(204, None),
        route(Method::GET, "/api/v1/me", Access::LoggedIn, auth::me)
            .doc(
                "Auth",
                "The logged-in user, role, permissions and CSRF token",
            )
            .ok(200, Some("Me")),
        route(
            Method::PATCH,
            "/api/v1/me",
            Access::LoggedIn,
            auth::patch_me,
        )
        .doc(
            "Auth",
            "Change one's personal settings (needs preference.update)",
        )
        .body("MePatch")
        .ok(200, Some("Me")),
        route(
            Method::PUT,
            "/api/v1/me/password",
            Access::Perm("password.update"),
            auth::change_password,
        )
        .doc("Auth", "Change one's own password and PIN")
        .body("PasswordChange")
        .ok(204, None),
        route(
            Method::GET,
            "/api/v1/permissions",
            Access::LoggedIn,
            roles::catalog,
        )
        .doc(
            "Roles",
            "The permission matrix: every row and verb with labels",
        )
        .ok(200, Some("PermissionCatalog")),
        route(
            Method::GET,
            "/api/v1/realtime",
            Access::Perm("realtime.view"),
            crate::telephony::realtime,
        )
        .doc(
            "Realtime",
            "RT rows of every group and All; ?group=ID&hours=N adds its detail and chart",
        )
        .query(&[("group", Int), ("hours", IntOneOf(&[3, 6, 9, 12, 24]))])
        .ok(200, Some("Realtime"))
        .error(503, NO_TELEPHONY),
        route(
            Method::GET,
            "/api/v1/ws",
            Access::LoggedIn,
            crate::telephony::ws,
        )
        .doc(
            "Realtime",
            "WebSocket of live changes. The server sends WsMessage (agent_status, realtime, \
             the incoming-call pop-ups, the browser phone's phone_* events, resync); the \
             browser sends WsCommand (the browser phone's phone_* commands)",
        )
        .ok(101, None)
        .error(503, NO_TELEPHONY),
        route(
            Method::GET,
            "/api/v1/agents/{id}/state",
            Access::SelfOr("realtime.view"),
            crate::telephony::get_state,
        )
        .doc(
            "Agents",
            "An agent's status in each of their groups (oneself, or with realtime.view)",
        )
        .ok(200, Some("AgentState"))
        .error(503, NO_TELEPHONY),
        route(
            Method::PUT,
            "/api/v1/agents/{id}/state",
            Access::SelfOr("realtime.agent_status"),
            crate::telephony::put_state,
        )
        .doc(
            "Agents",
            "Change an agent's status in one group or all (status.update / realtime.agent_status)",
        )
        .body("AgentStateInput")
        .ok(200, Some("AgentState"))
        .error(503, NO_TELEPHONY),
        route(
            Method::GET,
            "/api/v1/phone",
            Access::Perm("phone.browser_phone"),
            crate::phone::info,
        )
        .doc(
            "Phone",
            "The browser phone panel: the agent's extension, own caller ID and the numbers \
             they may choose (PHONE-03/04). Calls are signalled over /api/v1/ws (phone_* messages)",
        )
        .ok(200, Some("PhoneInfo")),
        route(
            Method::GET,
            "/api/v1/presence/groups",
            Access::LoggedIn,
            crate::presence::groups,
        )
        .doc(
            "Presence",
            "Groups for the presence panel and the header: one's own, or all with \
             realtime.view or group.view",
        )
        .ok(200, Some("List:PresenceGroup")),
        route(
            Method::GET,
            "/api/v1/presence/groups/{id}",
            Access::LoggedIn,
            crate::presence::agents,
        )
        .doc(
            "Presence",
            "The agents of a group with their live status (members of the group, or with \
             realtime.view or group.view)",
        )
        .ok(200, Some("List:PresenceAgent")),
        route(
            Method::POST,
            "/api/v1/presence/callback",
            Access::LoggedIn,
            crate::presence::callback,
        )
        .doc(
            "Presence",
            "Callback (PRES-06): rings the user's own desk phone and, when it is answered, \
             calls the colleague",
        )
        .body("CallbackInput")
        .ok(202, None)
        .error(404, "No agent with this id")
        .error(503, NO_TELEPHONY),
        route(
            Method::PUT,
            "/api/v1/groups/{id}/skill-level",
            Access::Perm("realtime.skill_level"),
            groups::set_skill_level,
        )
        .doc(
            "Groups",
            "Change one member's skill level from the realtime screen (RT-11)",
        )
        .body("SkillLevelInput")
        .ok(200, Some("Member")),
        route(
            Method::GET,
            "/api/v1/agent-status-choices",
            Access::LoggedIn,
            agent_statuses::choices,
        )
        .doc(
            "AgentStatuses",
            "Every agent status (name, icon, colours) for the status menus",
        )
        .ok(200, Some("List:AgentStatus")),
        route(
            Method::GET,
            "/api/v1/openapi.json",
            Access::Public,
            crate::openapi::serve,
        )
        .doc("Meta", "This document")
        .ok(200, None),
    ];
    collection::<agents::Agents>(&mut v);
    collection::<roles::Roles>(&mut v);
    collection::<terminals::Terminals>(&mut v);
    collection::<numbers::Numbers>(&mut v);
    collection::<groups::Groups>(&mut v);
    collection::<agent_statuses::AgentStatuses>(&mut v);
    collection::<trunks::Trunks>(&mut v);
    collection::<incoming_blocks::IncomingBlocks>(&mut v);
    collection::<crate::resources::ivrs::Ivrs>(&mut v);
    collection::<crate::resources::forwardings::Forwardings>(&mut v);
    collection::<outbound_restrictions::OutboundRestrictions>(&mut v);
    v.push(
        route(
            Method::POST,
            "/api/v1/outbound-restrictions/upload",
            Access::Perm("restrict.upload"),
            outbound_restrictions::upload,
        )
        .doc(
            "OutboundRestrictions",
            "Register restrictions from a CSV file (number[,caller_number[,remarks]] per line; \
             header optional; UTF-8 or Shift_JIS)",
        )
        .upload("file", outbound_restrictions::MAX_UPLOAD)
        .form(&[], "The file is not CSV text (UTF-8 or Shift_JIS)")
        .ok(200, Some("UploadResult")),
    );
    voice_file_routes(&mut v);
    v.push(
        route(
            Method::GET,
            "/api/v1/calls",
            Access::Perm("history.view"),
            calls::list,
        )
        .doc(
            "Calls",
            "Call history, newest first (from/to: epoch ms on the start, `to` exclusive; \
             users without the SV tab see only their own calls)",
        )
        .ok(200, Some("List:CallRecord"))
        .query(&[
            ("from", Int),
            ("to", Int),
            ("party", Text),
            ("number", Text),
            (
                "kind",
                OneOf(&[
                    // Empty: every kind.
                    "",
                    "incoming",
                    "incoming_missed",
                    "outgoing",
                    "outgoing_unanswered",
                ]),
            ),
            ("agent_id", Int),
            ("group_id", Int),
            ("min_duration", Range(0, i64::MAX)),
            PAGING[0],
            PAGING[1],
        ]),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/calls/choices",
            Access::Perm("history.view"),
            calls::choices,
        )
        .doc(
            "Calls",
            "The agents and groups offered by the call-history search",
        )
        .ok(200, Some("CallFilterChoices")),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/calls/{id}",
            Access::Perm("history.view"),
            calls::get,
        )
        .doc("Calls", "One call of the history")
        .ok(200, Some("CallRecord")),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/calls/{id}/recording",
            Access::Perm("history.voice"),
            calls::recording,
        )
        .doc(
            "Calls",
            "The call's recording: stereo WAV, the external party left and the agent right \
             (ranges supported; download=true as an attachment)",
        )
        .query(&[("download", OneOf(&["", "true", "false"]))])
        .error(409, "The call is still being recorded")
        .produces("audio/wav"),
    );
    v.push(
        route(
            Method::PUT,
            "/api/v1/calls/{id}/recording/pause",
            Access::Perm("history.view"),
            calls::pause_recording,
        )
        .doc(
            "Calls",
            "Pause (paused=true) or resume the recording of a call in progress",
        )
        .body("RecordingPause")
        .ok(204, None)
        .error(
            409,
            "The call has ended, is not recorded, or is not on this server",
        )
        .error(503, "Telephony is not running"),
    );
    voicemail_routes(&mut v);
    settings_routes(&mut v);
    mail_routes(&mut v);
    archive_routes(&mut v);
    v
}

/// Voicemail history (VM-01…05).
fn voicemail_routes(v: &mut Vec<Route>) {
    use crate::resources::voicemails;
    const TAG: &str = "Voicemails";
    v.push(
        route(
            Method::GET,
            "/api/v1/voicemails",
            Access::Perm("voicemail.view"),
            voicemails::list,
        )
        .doc(
            TAG,
            "Voicemail messages, newest call first (from/to: epoch ms on the call's start, `to` \
             exclusive; party: part of the caller's number)",
        )
        .query(&[
            ("from", Int),
            ("to", Int),
            ("party", Text),
            ("voice_file_id", Int),
            PAGING[0],
            PAGING[1],
        ])
        .ok(200, Some("List:Voicemail")),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/voicemails/{id}/audio",
            Access::Perm("voicemail.view"),
            voicemails::audio,
        )
        .doc(TAG, "The message: mono WAV (ranges supported)")
        .produces("audio/wav"),
    );
    v.push(
        route(
            Method::POST,
            "/api/v1/voicemails/delete",
            Access::Perm("voicemail.bulk_delete"),
            voicemails::delete,
        )
        .doc(TAG, "Delete messages (VM-03)")
        .body("VoicemailDelete")
        .ok(200, Some("VoicemailDeleted")),
    );
}

/// System settings (time zone, business day, recording) and the AWS S3 integration.
fn settings_routes(v: &mut Vec<Route>) {
    use crate::settings;
    v.push(
        route(
            Method::GET,
            "/api/v1/settings/system",
            Access::LoggedIn,
            settings::get_system,
        )
        .doc(
            "Settings",
            "System settings: time zone, business day, recording and its retention",
        )
        .ok(200, Some("SystemSettings")),
    );
    v.push(
        route(
            Method::PUT,
            "/api/v1/settings/system",
            Access::Perm("tab.admin"),
            settings::put_system,
        )
        .doc("Settings", "Change the system settings")
        .body("SystemSettings")
        .ok(200, Some("SystemSettings")),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/settings/s3",
            Access::Perm("s3.view"),
            settings::get_s3,
        )
        .doc(
            "Settings",
            "The AWS S3 integration (S3-01); the secret is never returned",
        )
        .ok(200, Some("S3SettingsView")),
    );
    v.push(
        route(
            Method::PUT,
            "/api/v1/settings/s3",
            Access::Perm("s3.update"),
            settings::put_s3,
        )
        .doc(
            "Settings",
            "Change the AWS S3 integration (leave secret_access_key out to keep it)",
        )
        .body("S3SettingsInput")
        .ok(200, Some("S3SettingsView")),
    );
    v.push(
        route(
            Method::POST,
            "/api/v1/settings/s3/test",
            Access::Perm("s3.update"),
            settings::test_s3,
        )
        .doc(
            "Settings",
            "Test S3 settings by writing and deleting a small object; reports the store's error",
        )
        .body("S3SettingsInput")
        .ok(200, Some("S3TestResult")),
    );
}

/// Notification mail (VOICE-06): the SMTP settings, a test mail and the outbox.
fn mail_routes(v: &mut Vec<Route>) {
    use crate::mail;
    v.push(
        route(
            Method::GET,
            "/api/v1/settings/mail",
            Access::Perm("tab.admin"),
            mail::get_settings,
        )
        .doc(
            "Settings",
            "SMTP settings of notification mail; the password is never returned",
        )
        .ok(200, Some("MailSettingsView")),
    );
    v.push(
        route(
            Method::PUT,
            "/api/v1/settings/mail",
            Access::Perm("tab.admin"),
            mail::put_settings,
        )
        .doc(
            "Settings",
            "Change the SMTP settings (leave password out to keep it)",
        )
        .body("MailSettingsInput")
        .ok(200, Some("MailSettingsView")),
    );
    v.push(
        route(
            Method::POST,
            "/api/v1/settings/mail/test",
            Access::Perm("tab.admin"),
            mail::test,
        )
        .doc(
            "Settings",
            "Send a test mail now, with the stored settings or those given; a 422 with code \
             `smtp` carries the server's error",
        )
        .body("MailTestInput")
        .ok(200, Some("MailTestResult")),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/mail/outbox",
            Access::Perm("tab.admin"),
            mail::outbox,
        )
        .doc(
            "Mail",
            "Notification mails, newest first: queued, sent, or failed with the last error",
        )
        .query(&[
            ("state", OneOf(&["", "queued", "sent", "failed"])),
            ("ref_kind", Text),
            ("ref_id", Int),
            PAGING[0],
            PAGING[1],
        ])
        .ok(200, Some("List:OutboxItem")),
    );
    v.push(
        route(
            Method::POST,
            "/api/v1/mail/outbox/{id}/retry",
            Access::Perm("tab.admin"),
            mail::retry,
        )
        .doc(
            "Mail",
            "Send a queued or failed mail again now, with a fresh count of attempts",
        )
        .ok(200, Some("OutboxItem"))
        .error(409, "The mail has been sent"),
    );
}

/// A day `YYYYMMDD` (empty: no bound).
const DAY: Param = Pattern("^([0-9]{8})?$");

/// The daily recording archive (REC-01…05).
fn archive_routes(v: &mut Vec<Route>) {
    use crate::archive;
    const TAG: &str = "RecordingArchives";
    v.push(
        route(
            Method::GET,
            "/api/v1/recording-archives",
            Access::Perm("archive.view"),
            archive::list,
        )
        .doc(
            TAG,
            "Daily ZIPs of the recordings, newest first (from/to: days YYYYMMDD, both included)",
        )
        .query(&[("from", DAY), ("to", DAY), PAGING[0], PAGING[1]])
        .ok(200, Some("List:RecordingArchive"))
        .error(
            422,
            "`from` or `to` is eight digits but no day of the calendar",
        ),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/recording-archives/{id}/download",
            Access::Perm("archive.download"),
            archive::download,
        )
        .id(Text)
        .doc(
            TAG,
            "Download a day's ZIP from this server (id: YYYYMMDD; ranges supported)",
        )
        .error(409, "The day's archive is not ready")
        .produces("application/zip"),
    );
    v.push(
        route(
            Method::GET,
            "/api/v1/recording-archives/{id}/s3-link",
            Access::Perm("archive.download"),
            archive::s3_link,
        )
        .id(Text)
        .doc(TAG, "A presigned S3 download link of a day's ZIP")
        .ok(200, Some("S3Link"))
        .error(409, "The archive is not ready or not in S3")
        .error(503, "S3 could not sign the link"),
    );
}

/// The API router: each route wrapped in the guard for its own access requirement.
pub fn router(state: AppState) -> Router<AppState> {
    let mut by_path: BTreeMap<String, MethodRouter<AppState>> = BTreeMap::new();
    for r in table() {
        let guarded = r.handler.layer(axum::middleware::from_fn_with_state(
            (state.clone(), r.access),
            auth::guard,
        ));
        let merged = match by_path.remove(&r.path) {
            Some(existing) => existing.merge(guarded),
            None => guarded,
        };
        by_path.insert(r.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, mr)| router.route(&path, mr))
}
