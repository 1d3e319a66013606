//! A small builder for the search filters of list screens, portable across both backends.

use serde::Deserialize;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::Any;

/// Paging of a list: `offset` rows skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: 50,
        }
    }
}

enum Bind {
    Int(i64),
    Text(String),
}

/// WHERE clauses with numbered placeholders.
#[derive(Default)]
pub struct Filter {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    fn placeholder(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// Case-insensitive "contains" on a text column; `%` and `_` typed by the user match
    /// themselves.
    pub fn contains(&mut self, column: &str, value: Option<&str>) {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return;
        };
        let escaped = v
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = self.placeholder(Bind::Text(format!("%{escaped}%")));
        self.clauses
            .push(format!("LOWER({column}) LIKE {p} ESCAPE '\\'"));
    }

    pub fn eq_text(&mut self, column: &str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            let p = self.placeholder(Bind::Text(v.to_owned()));
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    pub fn eq_int(&mut self, column: &str, value: Option<i64>) {
        if let Some(v) = value {
            let p = self.placeholder(Bind::Int(v));
            self.clauses.push(format!("{column} = {p}"));
        }
    }

    /// A clause with one integer placeholder written as `{}`.
    pub fn raw_int(&mut self, template: &str, value: Option<i64>) {
        if let Some(v) = value {
            let p = self.placeholder(Bind::Int(v));
            self.clauses.push(template.replace("{}", &p));
        }
    }

    fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// `LIMIT/OFFSET` placeholders appended after the filter's own.
    fn page_sql(&self) -> String {
        let n = self.binds.len();
        format!(" LIMIT ${} OFFSET ${}", n + 1, n + 2)
    }

    fn bind<'q, O>(
        &self,
        mut q: QueryAs<'q, Any, O, AnyArguments<'q>>,
    ) -> QueryAs<'q, Any, O, AnyArguments<'q>> {
        for b in &self.binds {
            q = match b {
                Bind::Int(i) => q.bind(*i),
                Bind::Text(s) => q.bind(s.clone()),
            };
        }
        q
    }
}

/// Runs `SELECT COUNT(*) FROM {from}{where}` and `SELECT {cols} FROM {from}{where} ORDER BY …`
/// with paging, returning the rows and the total.
pub(crate) async fn list<R>(
    conn: &mut crate::Conn,
    cols: &str,
    from: &str,
    order: &str,
    filter: &Filter,
    page: Page,
) -> crate::Result<(Vec<R>, i64)>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let where_sql = filter.where_sql();
    let count_sql = format!("SELECT COUNT(*) FROM {from}{where_sql}");
    let (total,): (i64,) = filter
        .bind(sqlx::query_as(&count_sql))
        .fetch_one(&mut *conn)
        .await?;
    let sql = format!(
        "SELECT {cols} FROM {from}{where_sql} ORDER BY {order}{}",
        filter.page_sql()
    );
    let rows = filter
        .bind(sqlx::query_as(&sql))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&mut *conn)
        .await?;
    Ok((rows, total))
}
