//! The worker's compute stage: runs an app image through the Docker Engine API (bollard over the
//! `DOCKER_HOST` unix socket) the way an iExec worker does (iexec-protocol.md §4):
//! image entrypoint + the deal's args as cmd, `/iexec_in` read-only and `/iexec_out` bind mounts,
//! the §4.2 environment, no network unless asked, memory/CPU/pids limits, a maximum execution
//! time after which the container is killed, and stdout/stderr captured under a size cap.
//!
//! The app image is looked up in the daemon first (a locally built or loaded image whose id or
//! RepoDigest matches the on-chain checksum is used as is). When it is absent, it is pulled
//! through the daemon by digest, `repo@sha256:<checksum>`, so what runs is exactly the manifest
//! the app owner registered whatever the tag points to now; the pull is bounded by
//! [`PullSettings::timeout`], may use per-registry credentials, and each way it can fail is a
//! distinct [`Error`] saying who should do what.
//!
//! Every container this module creates is removed before `run` returns, whatever happened
//! (exit, timeout, API error); if the `run` future itself is dropped mid-way, a guard schedules
//! the removal on the runtime. Containers carry the label `org.arca.task-id` so an operator can
//! find strays of a killed worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, KillContainerOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::StreamExt;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::checksum::{Checksum, DigestMatch, ImageRef, match_image_digest};
use crate::env::{IEXEC_IN, IEXEC_OUT, TaskEnv};
use crate::error::{Error, Result};
use crate::logs::{ComputeLogs, DEFAULT_LOG_CAP, TailBuffer};

/// Where a daemon is looked for when `DOCKER_HOST` is unset (Docker's own default).
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// Label put on every app container, holding its task id.
pub const TASK_LABEL: &str = "org.arca.task-id";
/// Lines of log quoted in failure errors.
const LAST_LINES: usize = 20;
/// Default bound on one image pull: a few hundred MB from a slow registry.
pub const DEFAULT_PULL_TIMEOUT: Duration = Duration::from_secs(600);
/// Environment variable overriding [`DEFAULT_PULL_TIMEOUT`], in seconds.
pub const PULL_TIMEOUT_ENV: &str = "ARCA_PULL_TIMEOUT_SECS";
/// Environment variable holding registry credentials: `host=user:password` entries separated
/// by commas (`registry.example.com=bot:s3cret,127.0.0.1:5000=ci:pw`).
pub const REGISTRY_AUTH_ENV: &str = "ARCA_REGISTRY_AUTH";
/// Per-request timeout of the API client. Long-running calls (wait) are not bound by it: the
/// daemon sends their response headers at once and the body when the container stops.
const API_TIMEOUT_SECS: u64 = 120;

/// Resource limits of an app container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes; swap is disabled (memory-swap = memory) so the limit is real.
    pub memory_bytes: i64,
    /// CPU quota in billionths of a CPU (1_000_000_000 = one core).
    pub nano_cpus: i64,
    /// Maximum number of processes/threads (fork bombs stop here).
    pub pids: i64,
}

impl Default for Limits {
    /// 2 GiB, one core, 512 processes: room for a Python or Node app on the 2-core, 24 GiB
    /// machines this runs on, while leaving a core to the worker and the daemon.
    fn default() -> Self {
        Self {
            memory_bytes: 2 << 30,
            nano_cpus: 1_000_000_000,
            pids: 512,
        }
    }
}

/// The app container's network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Network {
    /// No network interface but loopback: iExec apps get their inputs from `/iexec_in`.
    #[default]
    None,
    /// A Docker network by name (`host`, `bridge`, a user network) for apps that need one.
    Named(String),
}

/// One app execution.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The app image reference (`arca/app:1`, `127.0.0.1:5000/app@sha256:…`).
    pub image: String,
    /// The app's on-chain checksum; the image must match it (see [`crate::checksum`]).
    /// `None` or an all-zero checksum skips the check.
    pub expected_checksum: Option<Checksum>,
    /// The deal's args, already split; appended after the image's entrypoint. Empty keeps the
    /// image's default cmd.
    pub args: Vec<String>,
    /// Replaces the image's entrypoint (TEE apps whose registered enclave configuration names
    /// one, so the container runs exactly what was measured). `None` keeps the image's.
    pub entrypoint: Option<Vec<String>>,
    /// The task's environment (§4.2).
    pub env: TaskEnv,
    /// Host directory mounted read-only at `/iexec_in`.
    pub input_dir: PathBuf,
    /// Host directory mounted read-write at `/iexec_out`.
    pub output_dir: PathBuf,
    /// Network access.
    pub network: Network,
    /// Resource limits.
    pub limits: Limits,
    /// The category's maximum execution time; the container is killed after it.
    pub max_execution_time: Duration,
    /// Bytes kept from the end of each of stdout and stderr.
    pub log_cap: usize,
    /// Container name; defaults to `arca-<task id>` (iExec uses `<worker>-<task id>`).
    pub container_name: Option<String>,
}

impl RunRequest {
    /// A request with the defaults: no network, [`Limits::default`], 100 kB of logs per stream,
    /// no checksum check, no args.
    pub fn new(
        image: impl Into<String>,
        env: TaskEnv,
        input_dir: impl Into<PathBuf>,
        output_dir: impl Into<PathBuf>,
        max_execution_time: Duration,
    ) -> Self {
        Self {
            image: image.into(),
            expected_checksum: None,
            args: Vec::new(),
            entrypoint: None,
            env,
            input_dir: input_dir.into(),
            output_dir: output_dir.into(),
            network: Network::None,
            limits: Limits::default(),
            max_execution_time,
            log_cap: DEFAULT_LOG_CAP,
            container_name: None,
        }
    }
}

/// A successful execution (exit code 0).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The image id that actually ran (the checked one, not whatever the tag points to now).
    pub image_id: String,
    /// Which digest matched the expected checksum, if one was checked.
    pub digest_match: Option<DigestMatch>,
    /// What the app printed.
    pub logs: ComputeLogs,
    /// From container start to exit.
    pub duration: Duration,
}

/// An image found in (or pulled into) the daemon, checked against an expected checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedImage {
    /// `sha256:…` image id.
    pub id: String,
    /// `repo@sha256:…` registry digests.
    pub repo_digests: Vec<String>,
    /// What matched, when a checksum was checked.
    pub digest_match: Option<DigestMatch>,
}

fn verified(l: &LocalImage, digest_match: Option<DigestMatch>) -> VerifiedImage {
    VerifiedImage {
        id: l.id.clone(),
        repo_digests: l.repo_digests.clone(),
        digest_match,
    }
}

/// How app images are pulled when they are not in the daemon.
#[derive(Clone)]
pub struct PullSettings {
    /// Bound on one pull (connection, manifest, every layer); the pull is abandoned after it.
    pub timeout: Duration,
    /// Credentials by registry host (`registry.example.com`, `127.0.0.1:5000`); registries not
    /// listed are pulled from anonymously.
    pub auth: HashMap<String, RegistryCredentials>,
}

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for PullSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut hosts: Vec<_> = self.auth.keys().collect();
        hosts.sort();
        f.debug_struct("PullSettings")
            .field("timeout", &self.timeout)
            .field("auth_for", &hosts)
            .finish()
    }
}

impl Default for PullSettings {
    /// [`DEFAULT_PULL_TIMEOUT`], no credentials.
    fn default() -> Self {
        Self {
            timeout: DEFAULT_PULL_TIMEOUT,
            auth: HashMap::new(),
        }
    }
}

impl PullSettings {
    /// The defaults overridden by `ARCA_PULL_TIMEOUT_SECS` and `ARCA_REGISTRY_AUTH` when set.
    pub fn from_env() -> Result<Self> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut settings = Self::default();
        if let Some(secs) = var(PULL_TIMEOUT_ENV) {
            settings.timeout = parse_pull_timeout(&secs)?;
        }
        if let Some(auth) = var(REGISTRY_AUTH_ENV) {
            settings.auth = parse_registry_auth(&auth)?;
        }
        Ok(settings)
    }
}

fn parse_pull_timeout(value: &str) -> Result<Duration> {
    match value.trim().parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(Error::InvalidConfig {
            name: PULL_TIMEOUT_ENV,
            reason: format!("{value:?} is not a positive number of seconds (e.g. 600)"),
        }),
    }
}

fn parse_registry_auth(value: &str) -> Result<HashMap<String, RegistryCredentials>> {
    let mut auth = HashMap::new();
    for (i, entry) in value.split(',').map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        // The secret is never echoed back: only the entry's position and host.
        let parsed = entry.split_once('=').and_then(|(host, cred)| {
            let (user, password) = cred.split_once(':')?;
            (!host.is_empty() && !user.is_empty()).then(|| {
                (
                    host.trim().to_owned(),
                    RegistryCredentials {
                        username: user.to_owned(),
                        password: password.to_owned(),
                    },
                )
            })
        });
        let Some((host, cred)) = parsed else {
            return Err(Error::InvalidConfig {
                name: REGISTRY_AUTH_ENV,
                reason: format!(
                    "entry {} is not host=user:password (expected e.g. registry.example.com=bot:token,127.0.0.1:5000=ci:pw)",
                    i + 1
                ),
            });
        };
        auth.insert(host, cred);
    }
    Ok(auth)
}

/// A connection to a Docker daemon that runs app containers.
#[derive(Debug, Clone)]
pub struct ContainerRunner {
    docker: Docker,
    host: String,
    pull: PullSettings,
}

impl ContainerRunner {
    /// Connects to `DOCKER_HOST` (or Docker's default socket), checks the daemon answers and
    /// settles the API version.
    pub async fn from_env() -> Result<Self> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_owned());
        Self::connect(&host).await
    }

    /// Connects to a daemon at `host` (`unix:///path/to/docker.sock`). Pull settings come from
    /// the environment ([`PullSettings::from_env`]); a malformed one is an error here, at
    /// start-up, rather than at the first task.
    pub async fn connect(host: &str) -> Result<Self> {
        let pull = PullSettings::from_env()?;
        let Some(path) = host.strip_prefix("unix://") else {
            return Err(Error::UnsupportedDockerHost {
                host: host.to_owned(),
            });
        };
        let unreachable = |source| Error::DaemonUnreachable {
            host: host.to_owned(),
            source,
        };
        let docker =
            Docker::connect_with_unix(path, API_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(unreachable)?;
        // bollard speaks API 1.53 by default; Debian's dockerd 20.10 stops at 1.41 and refuses
        // newer paths, while recent daemons refuse very old ones. Ask the daemon and meet it.
        let docker = docker.negotiate_version().await.map_err(unreachable)?;
        debug!(host, api = %docker.client_version(), "connected to Docker");
        Ok(Self {
            docker,
            host: host.to_owned(),
            pull,
        })
    }

    /// Replaces the pull settings (timeout, registry credentials).
    pub fn with_pull_settings(mut self, pull: PullSettings) -> Self {
        self.pull = pull;
        self
    }

    /// The pull settings in use.
    pub fn pull_settings(&self) -> &PullSettings {
        &self.pull
    }

    /// The daemon address in use.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying API client, for callers that need more (image loading, builds in tests).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Finds `image` in the daemon, pulling it when it is absent, and checks it against
    /// `expected` (skipped when `None` or all zeros):
    /// 1. `image` as written, if the daemon has it and it matches (a locally built or loaded
    ///    image matches by id, a pulled one by RepoDigest);
    /// 2. else, with a checksum, `repo@sha256:<checksum>` in the daemon, else pulled from the
    ///    registry, then checked again; without one, `image` pulled as written.
    pub async fn verify_image(
        &self,
        image: &str,
        expected: Option<&Checksum>,
    ) -> Result<VerifiedImage> {
        let expected = expected.filter(|c| !c.is_zero());
        let reference = ImageRef::parse(image)?;
        let local = self.inspect_local(image).await?;
        if let Some(local) = &local {
            match expected {
                None => return Ok(verified(local, None)),
                Some(e) => {
                    if let Some(m) = match_image_digest(e, &local.id, &local.repo_digests) {
                        return Ok(verified(local, Some(m)));
                    }
                }
            }
        }

        let Some(expected) = expected else {
            // No checksum declared: the tag is all there is to go by (as in iExec).
            let target = reference.as_pulled();
            self.pull(image, &reference, &target).await?;
            let pulled = self
                .inspect_local(&target)
                .await?
                .ok_or_else(|| Error::ImageMissing {
                    image: image.to_owned(),
                })?;
            return Ok(verified(&pulled, None));
        };

        let mismatch_with_local = |pull_error: Option<String>| {
            local.as_ref().map(|l| Error::ImageDigestMismatch {
                image: image.to_owned(),
                expected: expected.to_string(),
                image_id: l.id.clone(),
                repo_digests: l.repo_digests.clone(),
                pull_error,
            })
        };
        // A reference pinned to another digest than the checksum can never be satisfied.
        if let Some(pinned) = reference.digest.filter(|d| d != expected) {
            return Err(mismatch_with_local(None).unwrap_or_else(|| {
                Error::RegistryDigestMismatch {
                    image: image.to_owned(),
                    expected: expected.to_string(),
                    found: format!("sha256:{}", hex::encode(pinned.0)),
                    origin: "the reference pins".to_owned(),
                }
            }));
        }

        let target = reference.pinned(expected);
        let checked = |l: &LocalImage| {
            match match_image_digest(expected, &l.id, &l.repo_digests) {
                Some(m) => Ok(verified(l, Some(m))),
                // The daemon verifies what it pulls by digest, so only a daemon bug lands here.
                None => Err(Error::ImageDigestMismatch {
                    image: image.to_owned(),
                    expected: expected.to_string(),
                    image_id: l.id.clone(),
                    repo_digests: l.repo_digests.clone(),
                    pull_error: None,
                }),
            }
        };
        // Pulled by an earlier task (a digest pull leaves no tag, only the digest reference).
        if let Some(l) = self.inspect_local(&target).await? {
            return checked(&l);
        }
        match self.pull(image, &reference, &target).await {
            Ok(()) => {
                let l = self
                    .inspect_local(&target)
                    .await?
                    .ok_or_else(|| Error::ImageMissing {
                        image: target.clone(),
                    })?;
                checked(&l)
            }
            // What the operator has locally is the wrong image: that is the first thing to say.
            Err(e) if local.is_some() => Err(mismatch_with_local(Some(e.to_string())).unwrap_or(e)),
            Err(e @ Error::ImageNotInRegistry { .. }) => Err(self
                .diagnose_missing_digest(image, &reference, expected)
                .await
                .unwrap_or(e)),
            Err(e) => Err(e),
        }
    }

    /// The registry has no manifest with the checksum's digest: if the reference's tag names
    /// another one, the app owner moved the tag without redeploying, which is a checksum
    /// mismatch rather than a missing image. Asks the registry through the daemon
    /// (`GET /distribution/…/json`), which fetches no layer.
    async fn diagnose_missing_digest(
        &self,
        image: &str,
        reference: &ImageRef,
        expected: &Checksum,
    ) -> Option<Error> {
        let tagged = reference.as_pulled();
        let found = self
            .docker
            .inspect_registry_image(&tagged, self.credentials(reference))
            .await
            .ok()?
            .descriptor
            .digest?;
        let same = found.parse::<Checksum>().is_ok_and(|c| c == *expected);
        (!same).then(|| Error::RegistryDigestMismatch {
            image: image.to_owned(),
            expected: expected.to_string(),
            found,
            origin: format!("the registry's tag {tagged} points to"),
        })
    }

    /// The image as the daemon knows it, `None` when it has no such reference.
    async fn inspect_local(&self, reference: &str) -> Result<Option<LocalImage>> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(Some(LocalImage {
                id: i.id.unwrap_or_default(),
                repo_digests: i.repo_digests.unwrap_or_default(),
            })),
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            // Shapes ImageRef::parse lets through but Docker refuses (upper case, odd characters).
            Err(DockerError::DockerResponseServerError {
                status_code: 400,
                message,
            }) => Err(Error::InvalidImageReference {
                image: reference.to_owned(),
                reason: message,
            }),
            Err(e) => Err(self.api_error("inspect image", e)),
        }
    }

    fn credentials(&self, reference: &ImageRef) -> Option<DockerCredentials> {
        self.pull
            .auth
            .get(&reference.registry)
            .map(|c| DockerCredentials {
                username: Some(c.username.clone()),
                password: Some(c.password.clone()),
                serveraddress: Some(reference.registry.clone()),
                ..Default::default()
            })
    }

    /// Pulls `target` (`repo@sha256:…` or `repo:tag`) through the daemon within the pull
    /// timeout, streaming its progress to debug logs. `image` is the app's reference, for errors.
    async fn pull(&self, image: &str, reference: &ImageRef, target: &str) -> Result<()> {
        let span = info_span!("pull", reference = %target, registry = %reference.registry);
        async {
            let started = Instant::now();
            info!("pulling app image");
            let options = CreateImageOptionsBuilder::new().from_image(target).build();
            let mut stream =
                self.docker
                    .create_image(Some(options), None, self.credentials(reference));
            // Progress events come per layer and per chunk; one debug line per change of a
            // layer's status keeps the log readable.
            let mut last_status: HashMap<String, String> = HashMap::new();
            let consume = async {
                while let Some(event) = stream.next().await {
                    let event = event?;
                    let (Some(status), id) = (event.status, event.id.unwrap_or_default()) else {
                        continue;
                    };
                    if last_status.get(&id) != Some(&status) {
                        debug!(layer = %id, %status, "pull progress");
                        last_status.insert(id, status);
                    }
                }
                Ok::<(), DockerError>(())
            };
            let outcome = tokio::time::timeout(self.pull.timeout, consume).await;
            let failed = |kind: PullFailure, detail: String| {
                let (image, reference_s, registry) = (
                    image.to_owned(),
                    target.to_owned(),
                    reference.registry.clone(),
                );
                match kind {
                    PullFailure::Unreachable => Error::RegistryUnreachable {
                        image,
                        reference: reference_s,
                        registry,
                        detail,
                    },
                    PullFailure::NotFound => Error::ImageNotInRegistry {
                        image,
                        reference: reference_s,
                        registry,
                        detail,
                    },
                    PullFailure::Auth => Error::RegistryAuthRequired {
                        image,
                        reference: reference_s,
                        registry,
                        detail,
                    },
                    PullFailure::Other => Error::ImagePullFailed {
                        image,
                        reference: reference_s,
                        detail,
                    },
                }
            };
            let result = match outcome {
                Err(_elapsed) => Err(Error::ImagePullTimeout {
                    image: image.to_owned(),
                    reference: target.to_owned(),
                    after: self.pull.timeout,
                }),
                Ok(Ok(())) => Ok(()),
                // Refused before streaming (bad reference, registry answer) or failed mid-way.
                Ok(Err(DockerError::DockerResponseServerError {
                    status_code: 400,
                    message,
                })) => Err(Error::InvalidImageReference {
                    image: image.to_owned(),
                    reason: message,
                }),
                Ok(Err(
                    DockerError::DockerResponseServerError { message, .. }
                    | DockerError::DockerStreamError { error: message },
                )) => Err(failed(classify_pull_failure(&message), message)),
                Ok(Err(e)) => Err(self.api_error("pull image", e)),
            };
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(()) => info!(elapsed_ms, "app image pulled"),
                Err(e) => warn!(elapsed_ms, error = %e, "app image pull failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Runs one app to completion. `Ok` only for exit code 0; a non-zero exit, a timeout and
    /// every setup failure are distinct [`Error`]s, the first two carrying the captured logs.
    pub async fn run(&self, req: &RunRequest) -> Result<RunOutcome> {
        let span = info_span!("compute", task_id = %req.env.task_id, image = %req.image);
        self.run_inner(req).instrument(span).await
    }

    async fn run_inner(&self, req: &RunRequest) -> Result<RunOutcome> {
        check_mount_dir(&req.input_dir, IEXEC_IN)?;
        check_mount_dir(&req.output_dir, IEXEC_OUT)?;
        if req.max_execution_time.is_zero() {
            return Err(Error::InvalidRequest(
                "max_execution_time must be positive".into(),
            ));
        }
        let image = self
            .verify_image(&req.image, req.expected_checksum.as_ref())
            .await?;

        let name = req
            .container_name
            .clone()
            .unwrap_or_else(|| format!("arca-{}", req.env.task_id));
        // Armed with the name before the create call: if this future is dropped while the
        // daemon is creating the container (it exists before the answer arrives), the guard
        // still removes it, by name.
        let mut guard = RemoveGuard {
            docker: self.docker.clone(),
            id: Some(name.clone()),
        };
        let id = match self.create(req, &image.id, &name).await {
            Ok(id) => id,
            Err(e) => {
                // Nothing of ours to remove: creation failed (a same-named container, if any,
                // is not this run's).
                guard.id = None;
                return Err(e);
            }
        };
        guard.id = Some(id.clone());

        let (finished, logs) = self.start_and_follow(req, &id).await;
        let oom_killed = match &finished {
            Ok(Finished::Exited { code, .. }) if *code != 0 => self.oom_killed(&id).await,
            _ => false,
        };
        guard.id = None;
        self.remove(&id).await;

        match finished? {
            Finished::Exited { code: 0, duration } => {
                info!(duration_ms = duration.as_millis() as u64, "app exited 0");
                Ok(RunOutcome {
                    image_id: image.id,
                    digest_match: image.digest_match,
                    logs,
                    duration,
                })
            }
            Finished::Exited { code, .. } => {
                info!(exit_code = code, oom_killed, "app failed");
                Err(Error::AppExit {
                    task_id: req.env.task_id.clone(),
                    exit_code: code,
                    oom_killed,
                    last_lines: logs.last_lines(LAST_LINES),
                    logs: Box::new(logs),
                })
            }
            Finished::TimedOut => {
                info!(
                    after_s = req.max_execution_time.as_secs(),
                    "app killed at its maximum execution time"
                );
                Err(Error::Timeout {
                    task_id: req.env.task_id.clone(),
                    after: req.max_execution_time,
                    last_lines: logs.last_lines(LAST_LINES),
                    logs: Box::new(logs),
                })
            }
        }
    }

    async fn create(&self, req: &RunRequest, image_id: &str, name: &str) -> Result<String> {
        let network_mode = match &req.network {
            Network::None => "none".to_owned(),
            Network::Named(n) => n.clone(),
        };
        // json-file with rotation bounds the daemon's disk use for chatty apps; the logs are
        // followed live (start_and_follow), so rotation loses nothing we keep. JSON framing
        // costs up to ~7x on short lines, hence the margin.
        let log_file_size = (req.log_cap.max(256 << 10) * 8).to_string();
        let config = ContainerCreateBody {
            // The checked id, not the tag: the tag could be moved between check and run.
            image: Some(image_id.to_owned()),
            cmd: (!req.args.is_empty()).then(|| req.args.clone()),
            entrypoint: req.entrypoint.clone(),
            env: Some(req.env.to_docker_env()),
            labels: Some(HashMap::from([(
                TASK_LABEL.to_owned(),
                req.env.task_id.clone(),
            )])),
            network_disabled: Some(matches!(req.network, Network::None)),
            host_config: Some(HostConfig {
                binds: Some(vec![
                    format!("{}:{IEXEC_IN}:ro", req.input_dir.display()),
                    format!("{}:{IEXEC_OUT}:rw", req.output_dir.display()),
                ]),
                network_mode: Some(network_mode),
                memory: Some(req.limits.memory_bytes),
                memory_swap: Some(req.limits.memory_bytes),
                nano_cpus: Some(req.limits.nano_cpus),
                pids_limit: Some(req.limits.pids),
                security_opt: Some(vec!["no-new-privileges".to_owned()]),
                log_config: Some(HostConfigLogConfig {
                    typ: Some("json-file".to_owned()),
                    config: Some(HashMap::from([
                        ("max-size".to_owned(), log_file_size),
                        ("max-file".to_owned(), "2".to_owned()),
                    ])),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        let created = match self
            .docker
            .create_container(Some(options.clone()), config.clone())
            .await
        {
            // A container of the same name is left over from a worker that died mid-task;
            // the task is being run again, so the old attempt goes.
            Err(DockerError::DockerResponseServerError {
                status_code: 409, ..
            }) => {
                warn!(name, "removing a leftover container of the same name");
                self.remove(name).await;
                self.docker.create_container(Some(options), config).await
            }
            other => other,
        }
        .map_err(|e| self.api_error("create container", e))?;
        for w in created.warnings.iter().filter(|w| !w.is_empty()) {
            warn!(warning = %w, "Docker warning on create");
        }
        debug!(container = %created.id, name, "container created");
        Ok(created.id)
    }

    /// Starts the container, then follows its logs while waiting for it to stop (or killing it
    /// at the time limit). Following live, rather than reading the daemon's log file at the
    /// end, sees every byte even when the file has rotated, so the tail and the dropped count
    /// are exact. When the run fails, its error is the one reported, with whatever logs were read.
    async fn start_and_follow(
        &self,
        req: &RunRequest,
        id: &str,
    ) -> (Result<Finished>, ComputeLogs) {
        if let Err(e) = self.docker.start_container(id, None).await {
            return (
                Err(self.api_error("start container", e)),
                ComputeLogs::default(),
            );
        }
        let started = Instant::now();
        // The stream ends when the container stops; the deadline only guards against a daemon
        // that never closes it.
        let follow_until = tokio::time::Instant::from_std(started)
            + req.max_execution_time
            + Duration::from_secs(30);
        tokio::join!(
            self.wait_or_kill(req, id, started),
            self.collect_logs(id, req.log_cap, follow_until)
        )
    }

    async fn wait_or_kill(&self, req: &RunRequest, id: &str, started: Instant) -> Result<Finished> {
        let mut wait = self.docker.wait_container(id, None);
        match tokio::time::timeout(req.max_execution_time, wait.next()).await {
            Ok(next) => {
                let code = wait_exit_code(next).map_err(|e| self.api_error("wait container", e))?;
                Ok(Finished::Exited {
                    code,
                    duration: started.elapsed(),
                })
            }
            Err(_elapsed) => {
                let kill = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
                match self.docker.kill_container(id, Some(kill)).await {
                    Ok(()) => {}
                    // 409: it exited on its own between the timeout and the kill.
                    Err(DockerError::DockerResponseServerError {
                        status_code: 409, ..
                    }) => {}
                    Err(e) => return Err(self.api_error("kill container", e)),
                }
                // Wait for the kill to land so the logs are complete and removal is clean.
                let _ = tokio::time::timeout(Duration::from_secs(10), wait.next()).await;
                Ok(Finished::TimedOut)
            }
        }
    }

    /// Follows the container's output until it stops. Logs are evidence, not the result: a
    /// broken stream is logged and what was read so far is kept, so it never masks the app's
    /// own outcome.
    async fn collect_logs(&self, id: &str, cap: usize, until: tokio::time::Instant) -> ComputeLogs {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .build();
        let mut stream = self.docker.logs(id, Some(options));
        let mut out = TailBuffer::new(cap);
        let mut err = TailBuffer::new(cap);
        loop {
            match tokio::time::timeout_at(until, stream.next()).await {
                Ok(None) => break,
                Ok(Some(Ok(LogOutput::StdErr { message }))) => err.push(&message),
                Ok(Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message }))) => {
                    out.push(&message)
                }
                Ok(Some(Ok(LogOutput::StdIn { .. }))) => {}
                Ok(Some(Err(e))) => {
                    warn!(error = %e, "app log stream broke; keeping what was read");
                    break;
                }
                Err(_) => {
                    warn!("app log stream still open past the time limit; keeping what was read");
                    break;
                }
            }
        }
        let (stdout, stdout_dropped) = out.finish();
        let (stderr, stderr_dropped) = err.finish();
        ComputeLogs {
            stdout,
            stderr,
            stdout_dropped,
            stderr_dropped,
        }
    }

    async fn oom_killed(&self, id: &str) -> bool {
        self.docker
            .inspect_container(id, None)
            .await
            .ok()
            .and_then(|c| c.state)
            .and_then(|s| s.oom_killed)
            .unwrap_or(false)
    }

    async fn remove(&self, id: &str) {
        if let Err(e) = remove_container(&self.docker, id).await {
            warn!(container = id, error = %e, "could not remove container");
        }
    }

    /// Maps an API error: a transport failure means the daemon went away, anything else is
    /// the operation's own failure.
    fn api_error(&self, operation: &'static str, source: DockerError) -> Error {
        match source {
            DockerError::HyperResponseError { .. }
            | DockerError::SocketNotFoundError(_)
            | DockerError::IOError { .. }
            | DockerError::RequestTimeoutError => Error::DaemonUnreachable {
                host: self.host.clone(),
                source,
            },
            source => Error::Docker { operation, source },
        }
    }
}

/// What the daemon reported about an image, or its absence.
struct LocalImage {
    id: String,
    repo_digests: Vec<String>,
}

/// Which kind of pull failure a daemon message describes. The daemon only gives text (its
/// status codes are 404 or 500 for most of them), so this reads the registry error codes and
/// Go network errors it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PullFailure {
    Unreachable,
    NotFound,
    Auth,
    Other,
}

fn classify_pull_failure(message: &str) -> PullFailure {
    let m = message.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    // Auth first: Docker Hub answers an unknown repository with "pull access denied … may
    // require 'docker login'", which is also what a private one looks like.
    if any(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "pull access denied",
        "denied: ",
        "incorrect username or password",
    ]) {
        PullFailure::Auth
    } else if any(&[
        "manifest unknown",
        "name unknown",
        "not found",
        "does not exist",
    ]) {
        PullFailure::NotFound
    } else if any(&[
        "dial tcp",
        "connection refused",
        "no such host",
        "i/o timeout",
        "no route to host",
        "network is unreachable",
        "connection reset",
        "tls:",
        "x509:",
        "server gave http response to https client",
        "context deadline exceeded",
        "client.timeout exceeded",
    ]) {
        PullFailure::Unreachable
    } else {
        PullFailure::Other
    }
}

/// How a started container ended.
enum Finished {
    Exited { code: i64, duration: Duration },
    TimedOut,
}

/// The exit code out of bollard's wait stream, which reports non-zero codes as errors.
fn wait_exit_code(
    next: Option<std::result::Result<bollard::models::ContainerWaitResponse, DockerError>>,
) -> std::result::Result<i64, DockerError> {
    match next {
        Some(Ok(r)) => Ok(r.status_code),
        Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(e),
        None => Err(DockerError::DockerStreamError {
            error: "wait stream ended without a status".into(),
        }),
    }
}

async fn remove_container(docker: &Docker, id: &str) -> std::result::Result<(), DockerError> {
    // force: also a still-running one; v: its anonymous volumes too, so nothing is left.
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        other => other,
    }
}

/// Removes the container if `run` is abandoned (future dropped) between create and removal.
struct RemoveGuard {
    docker: Docker,
    id: Option<String>,
}

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        if let (Some(id), Ok(handle)) = (self.id.take(), tokio::runtime::Handle::try_current()) {
            let docker = self.docker.clone();
            handle.spawn(async move {
                let _ = remove_container(&docker, &id).await;
            });
        }
    }
}

fn check_mount_dir(dir: &Path, target: &str) -> Result<()> {
    if !dir.is_absolute() {
        return Err(Error::InvalidRequest(format!(
            "host directory for {target} must be absolute: {}",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Error::InvalidRequest(format!(
            "host directory for {target} does not exist: {}",
            dir.display()
        )));
    }
    // A ':' would be read as the bind's separator by the daemon.
    if dir.to_string_lossy().contains(':') {
        return Err(Error::InvalidRequest(format!(
            "host directory for {target} contains ':': {}",
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_codes_come_from_either_shape() {
        let ok = bollard::models::ContainerWaitResponse {
            status_code: 0,
            error: None,
        };
        assert_eq!(wait_exit_code(Some(Ok(ok))).unwrap(), 0);
        let failed = DockerError::DockerContainerWaitError {
            error: String::new(),
            code: 3,
        };
        assert_eq!(wait_exit_code(Some(Err(failed))).unwrap(), 3);
        assert!(wait_exit_code(None).is_err());
    }

    #[test]
    fn mount_dirs_must_be_absolute_existing_and_colon_free() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_mount_dir(dir.path(), IEXEC_IN).is_ok());
        assert!(matches!(
            check_mount_dir(Path::new("relative"), IEXEC_IN),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            check_mount_dir(&dir.path().join("absent"), IEXEC_OUT),
            Err(Error::InvalidRequest(_))
        ));
        let colon = dir.path().join("a:b");
        std::fs::create_dir(&colon).unwrap();
        assert!(matches!(
            check_mount_dir(&colon, IEXEC_OUT),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn pull_failures_are_told_apart_by_the_daemon_message() {
        // Messages as dockerd 20.10 reports them (measured against docker-registry 2.8).
        for (message, kind) in [
            (
                "manifest for 127.0.0.1:5000/hello@sha256:1111 not found: manifest unknown: manifest unknown",
                PullFailure::NotFound,
            ),
            (
                "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
                PullFailure::Unreachable,
            ),
            (
                "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 10.0.0.53:53: no such host",
                PullFailure::Unreachable,
            ),
            (
                "Head \"http://127.0.0.1:5000/v2/app/manifests/1\": no basic auth credentials",
                PullFailure::Auth,
            ),
            (
                "pull access denied for arca/nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
                PullFailure::Auth,
            ),
            (
                "failed to register layer: no space left on device",
                PullFailure::Other,
            ),
        ] {
            assert_eq!(classify_pull_failure(message), kind, "{message}");
        }
    }

    #[test]
    fn pull_settings_parse_and_never_show_secrets() {
        let auth =
            parse_registry_auth("registry.example.com=bot:s3:cret, 127.0.0.1:5000=ci:pw").unwrap();
        assert_eq!(auth.len(), 2);
        let bot = &auth["registry.example.com"];
        assert_eq!(
            (bot.username.as_str(), bot.password.as_str()),
            ("bot", "s3:cret")
        );
        assert_eq!(auth["127.0.0.1:5000"].password, "pw");
        let shown = format!(
            "{:?}",
            PullSettings {
                timeout: DEFAULT_PULL_TIMEOUT,
                auth
            }
        );
        assert!(!shown.contains("s3:cret") && shown.contains("registry.example.com"));

        for bad in ["registry.example.com", "host=user", "=u:p", "host=:p"] {
            match parse_registry_auth(&format!("ok.example=u:p,{bad}")) {
                Err(e @ Error::InvalidConfig { .. }) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains(REGISTRY_AUTH_ENV) && msg.contains("entry 2"),
                        "{msg}"
                    );
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(parse_pull_timeout(" 30 ").unwrap(), Duration::from_secs(30));
        for bad in ["0", "-1", "ten"] {
            assert!(matches!(
                parse_pull_timeout(bad),
                Err(Error::InvalidConfig {
                    name: PULL_TIMEOUT_ENV,
                    ..
                })
            ));
        }
    }

    #[tokio::test]
    async fn unsupported_and_absent_hosts_are_typed_errors() {
        assert!(matches!(
            ContainerRunner::connect("tcp://127.0.0.1:2375").await,
            Err(Error::UnsupportedDockerHost { .. })
        ));
        let dir = tempfile::tempdir().unwrap();
        let host = format!("unix://{}/nothing.sock", dir.path().display());
        match ContainerRunner::connect(&host).await {
            Err(Error::DaemonUnreachable { host: tried, .. }) => assert_eq!(tried, host),
            other => panic!("expected DaemonUnreachable, got {other:?}"),
        }
    }
}
