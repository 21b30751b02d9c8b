//! The crate's error: which part of the stack failed to start, and why.

use std::path::{Path, PathBuf};

/// Why the stack could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A part (chain, SMS, …) failed.
    #[error("{part}: {message}")]
    Part {
        /// Which part.
        part: &'static str,
        /// Its error.
        message: String,
    },
    /// Reading or writing the data directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The data directory holds something unusable.
    #[error("{0}")]
    State(String),
}

impl StackError {
    pub(crate) fn part(part: &'static str, err: impl std::fmt::Display) -> Self {
        StackError::Part {
            part,
            message: err.to_string(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StackError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The crate's result.
pub type Result<T, E = StackError> = std::result::Result<T, E>;
