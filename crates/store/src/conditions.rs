//! WHERE clauses made of the filters a request actually sets.
//!
//! `AND ($2 IS NULL OR status = $2)` serves every combination of optional filters with one
//! statement, but SQLite's planner (which has no statistics) cannot see an index through the
//! `OR`: a filter on a rare value — the inbox's handed-off conversations, one contact's tasks —
//! then walks all of the tenant's rows. [`Conditions`] writes only the filters that are set, each
//! as a plain comparison an index can match, and numbers their parameters. The SQL stays the
//! same for both engines.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

/// A parameter of a condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_owned())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

/// `tenant_id = $1 AND …`: the conditions of one query and their parameters, in order.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    sql: String,
    params: Vec<Param>,
}

impl Conditions {
    /// Starts with `<column> = $1` (`tenant_id`, or `c.tenant_id` in a join).
    pub fn tenant(column: &str, tenant: &str) -> Self {
        let mut c = Self::default();
        c.and(&format!("{column} = ?"), [Param::from(tenant)]);
        c
    }

    /// Adds `AND <condition>` (the first condition goes alone), where each `?` in `condition`
    /// is the next parameter, taken from `params` in order.
    pub fn and<const N: usize>(&mut self, condition: &str, params: [Param; N]) -> &mut Self {
        debug_assert_eq!(condition.matches('?').count(), N, "one parameter per `?` in {condition}");
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        let mut params = params.into_iter();
        for (i, part) in condition.split('?').enumerate() {
            if i > 0 {
                if let Some(p) = params.next() {
                    self.params.push(p);
                    self.sql.push_str(&format!("${}", self.params.len()));
                }
            }
            self.sql.push_str(part);
        }
        self
    }

    /// Adds `AND <condition>` with one parameter when `value` is set; nothing otherwise.
    pub fn and_if(&mut self, condition: &str, value: Option<impl Into<Param>>) -> &mut Self {
        if let Some(v) = value {
            self.and(condition, [v.into()]);
        }
        self
    }

    /// The conditions, for after `WHERE` (`TRUE` when there are none).
    pub fn sql(&self) -> &str {
        if self.sql.is_empty() {
            "TRUE"
        } else {
            &self.sql
        }
    }

    /// How many parameters the conditions bind.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The placeholder of the next parameter (`$4`), for what follows the conditions (`LIMIT`).
    pub fn next_param(&self) -> String {
        format!("${}", self.params.len() + 1)
    }

    /// Binds the conditions' parameters to `query`, whose SQL embeds [`Self::sql`] first.
    pub fn bind<'q>(&self, mut query: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
        for p in &self.params {
            query = match p {
                Param::Text(s) => query.bind(s.clone()),
                Param::Int(n) => query.bind(*n),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_set_filters_are_written_and_numbered_in_order() {
        let mut c = Conditions::tenant("tenant_id", "ten_1");
        c.and_if("status = ?", Some("open"))
            .and_if("channel = ?", None::<&str>)
            .and("(last_message_at < ? OR (last_message_at = ? AND id < ?))", [7.into(), 7.into(), "cv_9".into()]);
        assert_eq!(
            c.sql(),
            "tenant_id = $1 AND status = $2 AND (last_message_at < $3 OR (last_message_at = $4 AND id < $5))"
        );
        assert_eq!(c.next_param(), "$6");
        assert_eq!(c.params[1], Param::from("open"));
        assert_eq!(c.params[4], Param::from("cv_9"));
    }
}
