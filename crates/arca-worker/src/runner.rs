//! The worker's compute stage: runs an app image through the Docker Engine API (bollard over the
//! `DOCKER_HOST` unix socket) the way an iExec worker does (iexec-protocol.md §4):
//! image entrypoint + the deal's args as cmd, `/iexec_in` read-only and `/iexec_out` bind mounts,
//! the §4.2 environment, no network unless asked, memory/CPU/pids limits, a maximum execution
//! time after which the container is killed, and stdout/stderr captured under a size cap.
//!
//! Every container this module creates is removed before `run` returns, whatever happened
//! (exit, timeout, API error); if the `run` future itself is dropped mid-way, a guard schedules
//! the removal on the runtime. Containers carry the label `org.arca.task-id` so an operator can
//! find strays of a killed worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures::StreamExt;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::checksum::{Checksum, DigestMatch, match_image_digest};
use crate::env::{IEXEC_IN, IEXEC_OUT, TaskEnv};
use crate::error::{Error, Result};
use crate::logs::{ComputeLogs, DEFAULT_LOG_CAP, TailBuffer};

/// Where a daemon is looked for when `DOCKER_HOST` is unset (Docker's own default).
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
/// Label put on every app container, holding its task id.
pub const TASK_LABEL: &str = "org.arca.task-id";
/// Lines of log quoted in failure errors.
const LAST_LINES: usize = 20;
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

/// An image found in the daemon, checked against an expected checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedImage {
    /// `sha256:…` image id.
    pub id: String,
    /// `repo@sha256:…` registry digests.
    pub repo_digests: Vec<String>,
    /// What matched, when a checksum was checked.
    pub digest_match: Option<DigestMatch>,
}

/// A connection to a Docker daemon that runs app containers.
#[derive(Debug, Clone)]
pub struct ContainerRunner {
    docker: Docker,
    host: String,
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

    /// Connects to a daemon at `host` (`unix:///path/to/docker.sock`).
    pub async fn connect(host: &str) -> Result<Self> {
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
        })
    }

    /// The daemon address in use.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying API client, for callers that need more (image loading, builds in tests).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Looks `image` up in the daemon and checks it against `expected` (skipped when `None` or
    /// all zeros).
    pub async fn verify_image(
        &self,
        image: &str,
        expected: Option<&Checksum>,
    ) -> Result<VerifiedImage> {
        let inspect = match self.docker.inspect_image(image).await {
            Ok(i) => i,
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(Error::ImageMissing {
                    image: image.to_owned(),
                });
            }
            Err(e) => return Err(self.api_error("inspect image", e)),
        };
        let id = inspect.id.unwrap_or_default();
        let repo_digests = inspect.repo_digests.unwrap_or_default();
        let digest_match = match expected.filter(|c| !c.is_zero()) {
            None => None,
            Some(expected) => match match_image_digest(expected, &id, &repo_digests) {
                Some(m) => Some(m),
                None => {
                    return Err(Error::ImageDigestMismatch {
                        image: image.to_owned(),
                        expected: expected.to_string(),
                        image_id: id,
                        repo_digests,
                    });
                }
            },
        };
        Ok(VerifiedImage {
            id,
            repo_digests,
            digest_match,
        })
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
