//! The shape every configuration table shares — an `id`, the editable columns, the four
//! stamps — and get, list, insert, update and delete written once for it. A table names its
//! columns, says which value each takes from the fields and how a row becomes a record; child
//! rows (members, offered numbers) are read and written by hooks.

use crate::query::{self, Filter};
use crate::{flag, Conn, Page, Result};
use sqlx::any::AnyRow;
use std::future::Future;

/// The value a column is written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(Some(flag(v)))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}

impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_owned))
    }
}

impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        Value::Text(v.clone())
    }
}

const STAMPS: &str = "created_at, created_by, updated_at, updated_by";

/// A record of a configuration table.
pub trait Record: Sized + Send + Sync + Unpin + 'static {
    /// What create and update write: every editable field.
    type Fields: Send + Sync;
    type Filter: Send + Sync;
    /// The row as selected: `id`, `COLUMNS`, `READ_ONLY` and the stamps.
    type Row: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin;

    const TABLE: &'static str;
    /// The columns `values` writes, in its order.
    const COLUMNS: &'static [&'static str];
    /// Columns read but not written by `update` (e.g. `password_updated_at`).
    const READ_ONLY: &'static [&'static str] = &[];
    /// The order of lists.
    const ORDER: &'static str = "id";

    /// The value of each of `COLUMNS`.
    fn values(f: &Self::Fields) -> Vec<Value>;
    /// The list's search conditions.
    fn filter(f: &Self::Filter, q: &mut Filter);
    fn from_row(row: Self::Row) -> Result<Self>;
    /// The fields a stored record is edited from.
    fn to_fields(&self) -> Self::Fields;

    /// Reads the child rows of a record just read.
    fn read_children(&mut self, _conn: &mut Conn) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Writes what lives outside the row (child rows) after an insert or update.
    fn after_write(
        _conn: &mut Conn,
        _id: i64,
        _f: &Self::Fields,
    ) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    fn get(conn: &mut Conn, id: i64) -> impl Future<Output = Result<Option<Self>>> + Send {
        async move {
            let sql = format!(
                "SELECT {} FROM {} WHERE id = $1",
                select::<Self>(),
                Self::TABLE
            );
            let row: Option<Self::Row> = sqlx::query_as(&sql)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            match row {
                Some(r) => Ok(Some(load(conn, r).await?)),
                None => Ok(None),
            }
        }
    }

    /// The record whose `column` (one of ours, unique) holds `value`.
    fn find(
        conn: &mut Conn,
        column: &'static str,
        value: &str,
    ) -> impl Future<Output = Result<Option<Self>>> + Send {
        async move {
            let sql = format!(
                "SELECT {} FROM {} WHERE {column} = $1",
                select::<Self>(),
                Self::TABLE
            );
            let row: Option<Self::Row> = sqlx::query_as(&sql)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await?;
            match row {
                Some(r) => Ok(Some(load(conn, r).await?)),
                None => Ok(None),
            }
        }
    }

    /// The id of the record whose `column` (one of ours, unique) holds `value`.
    fn id_where(
        conn: &mut Conn,
        column: &'static str,
        value: &str,
    ) -> impl Future<Output = Result<Option<i64>>> + Send {
        async move {
            let sql = format!("SELECT id FROM {} WHERE {column} = $1", Self::TABLE);
            let r: Option<(i64,)> = sqlx::query_as(&sql)
                .bind(value)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(r.map(|(id,)| id))
        }
    }

    /// A page of the records matching the filter, and how many match in all.
    fn list(
        conn: &mut Conn,
        f: &Self::Filter,
        page: Page,
    ) -> impl Future<Output = Result<(Vec<Self>, i64)>> + Send {
        async move {
            let mut filter = Filter::default();
            Self::filter(f, &mut filter);
            let cols = select::<Self>();
            let (rows, total): (Vec<Self::Row>, i64) =
                query::list(conn, &cols, Self::TABLE, Self::ORDER, &filter, page).await?;
            let mut items = Vec::with_capacity(rows.len());
            for r in rows {
                items.push(load(conn, r).await?);
            }
            Ok((items, total))
        }
    }

    fn insert(
        conn: &mut Conn,
        f: &Self::Fields,
        actor: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<i64>> + Send {
        Self::insert_with(conn, f, Vec::new(), actor, now)
    }

    /// Inserts a record with values for columns outside `COLUMNS` (a password hash).
    fn insert_with(
        conn: &mut Conn,
        f: &Self::Fields,
        extra: Vec<(&'static str, Value)>,
        actor: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<i64>> + Send {
        let mut cols: Vec<&str> = Self::COLUMNS.to_vec();
        let mut values = Self::values(f);
        for (c, v) in extra {
            cols.push(c);
            values.push(v);
        }
        let n = values.len();
        let sql =
            format!(
            "INSERT INTO {} ({}, {STAMPS}) VALUES ({}, ${at}, ${by}, ${at}, ${by}) RETURNING id",
            Self::TABLE,
            cols.join(", "),
            (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "),
            at = n + 1,
            by = n + 2,
        );
        let actor = actor.map(str::to_owned);
        async move {
            let (id,): (i64,) = bind_all(sqlx::query_as(&sql), values)
                .bind(now)
                .bind(actor)
                .fetch_one(&mut *conn)
                .await?;
            Self::after_write(conn, id, f).await?;
            Ok(id)
        }
    }

    /// Writes every field.
    fn update(
        conn: &mut Conn,
        id: i64,
        f: &Self::Fields,
        actor: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send {
        let values = Self::values(f);
        let n = values.len();
        let sets: Vec<String> = Self::COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let sql = format!(
            "UPDATE {} SET {}, updated_at = ${}, updated_by = ${} WHERE id = ${}",
            Self::TABLE,
            sets.join(", "),
            n + 1,
            n + 2,
            n + 3
        );
        let actor = actor.map(str::to_owned);
        async move {
            bind_all(sqlx::query(&sql), values)
                .bind(now)
                .bind(actor)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            Self::after_write(conn, id, f).await
        }
    }

    fn delete(conn: &mut Conn, id: i64) -> impl Future<Output = Result<()>> + Send {
        async move {
            let sql = format!("DELETE FROM {} WHERE id = $1", Self::TABLE);
            sqlx::query(&sql).bind(id).execute(&mut *conn).await?;
            Ok(())
        }
    }
}

/// The columns a record is read from.
fn select<R: Record>() -> String {
    let mut cols = vec!["id"];
    cols.extend(R::COLUMNS);
    cols.extend(R::READ_ONLY);
    format!("{}, {STAMPS}", cols.join(", "))
}

async fn load<R: Record>(conn: &mut Conn, row: R::Row) -> Result<R> {
    let mut r = R::from_row(row)?;
    r.read_children(conn).await?;
    Ok(r)
}

/// Binds values in order to a query or a query_as.
trait BindValues<'q>: Sized {
    fn bind_int(self, v: Option<i64>) -> Self;
    fn bind_text(self, v: Option<String>) -> Self;
}

impl<'q> BindValues<'q> for sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    fn bind_int(self, v: Option<i64>) -> Self {
        self.bind(v)
    }
    fn bind_text(self, v: Option<String>) -> Self {
        self.bind(v)
    }
}

impl<'q, O> BindValues<'q> for sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    fn bind_int(self, v: Option<i64>) -> Self {
        self.bind(v)
    }
    fn bind_text(self, v: Option<String>) -> Self {
        self.bind(v)
    }
}

fn bind_all<'q, Q: BindValues<'q>>(mut q: Q, values: Vec<Value>) -> Q {
    for v in values {
        q = match v {
            Value::Int(i) => q.bind_int(i),
            Value::Text(s) => q.bind_text(s),
        };
    }
    q
}

/// Rows linking two records (`agent_numbers`: the numbers an agent may use as caller ID).
pub(crate) struct Link {
    pub table: &'static str,
    /// The column holding the record's own id.
    pub from: &'static str,
    /// The column holding the linked record's id.
    pub to: &'static str,
}

impl Link {
    /// The linked ids, in order.
    pub async fn read(&self, conn: &mut Conn, id: i64) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT {to} FROM {t} WHERE {from} = $1 ORDER BY {to}",
            to = self.to,
            t = self.table,
            from = self.from
        );
        let rows: Vec<(i64,)> = sqlx::query_as(&sql).bind(id).fetch_all(&mut *conn).await?;
        Ok(rows.into_iter().map(|(i,)| i).collect())
    }

    /// Replaces the linked ids.
    pub async fn write(&self, conn: &mut Conn, id: i64, ids: &[i64]) -> Result<()> {
        let (t, from, to) = (self.table, self.from, self.to);
        sqlx::query(&format!("DELETE FROM {t} WHERE {from} = $1"))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let sql = format!("INSERT INTO {t} ({from}, {to}) VALUES ($1, $2)");
        for other in ids {
            sqlx::query(&sql)
                .bind(id)
                .bind(*other)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// Counts what refers to a record: `n` rows of `sql` (one `$1` for the id) make the reason
/// `format(n)`.
pub(crate) async fn reason(
    conn: &mut Conn,
    out: &mut Vec<String>,
    sql: &str,
    id: i64,
    format: impl FnOnce(i64) -> String,
) -> Result<()> {
    let n = crate::count(conn, sql, id).await?;
    if n > 0 {
        out.push(format(n));
    }
    Ok(())
}
