use frontdesk_kernel::Error;

pub type StoreResult<T> = Result<T, StoreError>;

/// The few storage outcomes callers act on; converted once into [`Error`] with `From`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write (the constraint's name when the engine tells it).
    #[error("conflict on {0}")]
    Conflict(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration {component}/{version}: {message}")]
    Migration { component: String, version: u32, message: String },
    #[error("configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Maps unique violations to [`StoreError::Conflict`]; use on writes that may collide.
    pub fn from_write(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_owned())
            }
            sqlx::Error::RowNotFound => StoreError::NotFound,
            _ => StoreError::Database(e),
        }
    }
}

impl From<StoreError> for Error {
    #[track_caller]
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict(_) => Error::conflict("already_exists", "An object with these values already exists."),
            StoreError::Database(sqlx::Error::PoolTimedOut) => {
                Error::Unavailable { detail: "The database is busy; try again.".into() }
            }
            other => Error::internal(other),
        }
    }
}
