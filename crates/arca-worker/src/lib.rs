//! Arca's worker. Its task pipeline ([`pipeline::run_replicate`]): from a [`ReplicateSpec`] to a
//! [`ReplicateOutcome`] through the app check, pre-compute (downloads, SMS session and sim
//! enclave for TEE tasks: [`download`], [`enclave`]), compute (the app container through the
//! Docker Engine API, [`runner`], with the §4.2 environment, [`env`](mod@env), logs under a cap, [`logs`])
//! and post-compute (`computed.json` and the result digest, [`result`]; archive, [`postcompute`];
//! encryption and upload, [`store`]; the contribution hashes and enclave signature,
//! [`worker_key`]).

pub mod agent;
pub mod checksum;
pub mod download;
pub mod enclave;
pub mod env;
pub mod error;
pub mod logs;
pub mod pipeline;
pub mod postcompute;
pub mod result;
pub mod runner;
pub mod store;
pub mod task;
pub mod worker_key;

pub use checksum::{Checksum, DigestMatch};
pub use env::{DatasetEnv, TaskEnv};
pub use error::{Error, Result};
pub use logs::ComputeLogs;
pub use pipeline::{PipelineContext, run_replicate};
pub use result::{ComputedFile, read_computed_file, result_digest};
pub use runner::{ContainerRunner, Limits, Network, RunOutcome, RunRequest, VerifiedImage};
pub use store::{DirResultStore, ResultStore};
pub use task::{ReplicateOutcome, ReplicateSpec};
