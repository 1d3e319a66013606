use super::collection::{Collection, Perms};
use super::{int_filter, nullable, set, set_text};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::routes::Param::{self, *};
use serde::Deserialize;
use store::terminals::{self, Terminal, TerminalFields, TerminalFilter};
use store::{agents, Conn, Page, Record};
use utoipa::ToSchema;

/// Terminals (TERM-*).
pub struct Terminals;

/// Body of POST and PATCH /terminals. `password` (the SIP digest password) is required on
/// create; `username` is generated when omitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminalInput {
    pub username: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, nullable)]
    pub agent_id: Option<Option<i64>>,
    /// Write-only; empty means unchanged.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TerminalQuery {
    pub username: Option<String>,
    pub name: Option<String>,
    pub agent_id: Option<String>,
}

const DUPLICATE: &str = "This terminal ID is already in use.";

impl Collection for Terminals {
    type Table = Terminal;
    type Input = TerminalInput;
    type Query = TerminalQuery;
    const PATH: &'static str = "/api/v1/terminals";
    const TAG: &'static str = "Terminals";
    const PERMS: Perms = Perms {
        view: "terminal.view",
        create: "terminal.update",
        update: "terminal.update",
        delete: "terminal.delete",
    };
    const FILTERS: &'static [(&'static str, Param)] =
        &[("username", Text), ("name", Text), ("agent_id", Int)];
    const ENTITY: &'static str = "terminal";
    const LABEL: &'static str = "terminal";

    fn new_draft() -> TerminalFields {
        TerminalFields::default()
    }

    fn apply(f: &mut TerminalFields, i: TerminalInput) -> Vec<&'static str> {
        set_text(&mut f.username, i.username);
        set_text(&mut f.name, i.name);
        set(&mut f.agent_id, i.agent_id);
        match i.password.filter(|p| !p.is_empty()) {
            Some(p) => {
                f.sip_password = p;
                vec!["password"]
            }
            None => vec![],
        }
    }

    /// A new terminal without a username gets a generated one (TERM-03).
    async fn validate(
        conn: &mut Conn,
        id: Option<&i64>,
        _: Option<&Terminal>,
        f: &mut TerminalFields,
    ) -> ApiResult<()> {
        if id.is_none() && f.username.is_empty() {
            loop {
                let u = generated_username();
                if terminals::by_username(conn, &u).await?.is_none() {
                    f.username = u;
                    break;
                }
            }
        }
        let mut e = Vec::new();
        let u = &f.username;
        if !(3..=32).contains(&u.len())
            || !u
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            e.push(FieldError::new(
                "username",
                "format",
                "Use 3 to 32 half-width letters, digits, '.', '_' or '-'.",
            ));
        } else if let Some(other) = terminals::by_username(conn, u).await? {
            if Some(&other.id) != id {
                e.push(FieldError::new("username", "duplicate", DUPLICATE));
            }
        }
        crate::validate::required_text(&mut e, "name", &f.name, 64);
        let p = &f.sip_password;
        if p.is_empty() {
            e.push(FieldError::new(
                "password",
                "required",
                "This field is required.",
            ));
        } else if !(6..=64).contains(&p.len()) || !p.chars().all(|c| c.is_ascii_graphic()) {
            e.push(FieldError::new(
                "password",
                "format",
                "Use 6 to 64 half-width characters without spaces.",
            ));
        }
        if let Some(a) = f.agent_id {
            if agents::get(conn, a).await?.is_none() {
                e.push(FieldError::new(
                    "agent_id",
                    "unknown",
                    format!("There is no agent {a}."),
                ));
            }
        }
        ApiError::validation(e)
    }

    fn duplicate(_: bool) -> Option<(&'static str, &'static str)> {
        Some(("username", DUPLICATE))
    }

    async fn list(conn: &mut Conn, q: TerminalQuery, p: Page) -> ApiResult<(Vec<Terminal>, i64)> {
        let f = TerminalFilter {
            username: q.username,
            name: q.name,
            agent_id: int_filter("agent_id", q.agent_id.as_deref())?,
        };
        Ok(Terminal::list(conn, &f, p).await?)
    }
}

/// TERM-03: system-generated IDs look like `JHJTAT1`.
fn generated_username() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let letters: String = (0..6)
        .map(|_| char::from(rng.gen_range(b'A'..=b'Z')))
        .collect();
    format!("{letters}{}", rng.gen_range(0..10))
}
