//! Arca's worker. For now its compute stage: running an iExec app container through the Docker
//! Engine API ([`runner`]) with the environment an app expects ([`env`]), checking the app image
//! against its on-chain checksum ([`checksum`]), capturing logs under a cap ([`logs`]), and
//! reading `computed.json` to compute the result digest ([`result`]).

pub mod checksum;
pub mod env;
pub mod error;
pub mod logs;
pub mod result;
pub mod runner;
pub mod task;

pub use checksum::{Checksum, DigestMatch};
pub use env::{DatasetEnv, TaskEnv};
pub use error::{Error, Result};
pub use logs::ComputeLogs;
pub use result::{ComputedFile, read_computed_file, result_digest};
pub use runner::{ContainerRunner, Limits, Network, RunOutcome, RunRequest, VerifiedImage};
