//! One failure, many callers: when a group commit fails, every logical transaction of the batch
//! gets its own copy of the error (`sqlx::Error` is not `Clone`), keeping what callers inspect —
//! the database's message, code, constraint and kind, or the I/O error kind.

use sqlx::error::{DatabaseError, ErrorKind};
use std::borrow::Cow;
use std::fmt;

/// A copy of `error` for one member of a failed batch.
pub(crate) fn replicate(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::Database(db) => sqlx::Error::Database(Box::new(SharedDatabaseError {
            message: db.message().to_owned(),
            code: db.code().map(Cow::into_owned),
            constraint: db.constraint().map(str::to_owned),
            table: db.table().map(str::to_owned),
            kind: same_kind(&db.kind()),
        })),
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// `ErrorKind` is neither `Clone` nor exhaustive.
fn same_kind(kind: &ErrorKind) -> ErrorKind {
    match kind {
        ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
        ErrorKind::ForeignKeyViolation => ErrorKind::ForeignKeyViolation,
        ErrorKind::NotNullViolation => ErrorKind::NotNullViolation,
        ErrorKind::CheckViolation => ErrorKind::CheckViolation,
        _ => ErrorKind::Other,
    }
}

#[derive(Debug)]
struct SharedDatabaseError {
    message: String,
    code: Option<String>,
    constraint: Option<String>,
    table: Option<String>,
    kind: ErrorKind,
}

impl fmt::Display for SharedDatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (the batch this transaction was committed in failed)", self.message)
    }
}

impl std::error::Error for SharedDatabaseError {}

impl DatabaseError for SharedDatabaseError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.as_deref().map(Cow::Borrowed)
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }

    fn kind(&self) -> ErrorKind {
        same_kind(&self.kind)
    }
}
