//! Fetching the app image from an OCI registry: seed 000's hello-world app pushed to a real
//! registry (Debian's docker-registry, started by scripts/lib/registry.sh and named by
//! `ARCA_TEST_REGISTRY`), removed from the daemon, then run as a replicate whose app multiaddr
//! is the registry reference and whose checksum is the pushed RepoDigest: the worker pulls it
//! by digest. Also the ways fetching fails (checksum the registry does not have, registry down,
//! image never pushed, private registry without or with the worker's credentials, registry
//! that never answers), each with its cause and message. Needs the `docker-tests` feature and
//! the registry: scripts/test.d/60-docker.sh starts both.
#![cfg(feature = "docker-tests")]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use arca_worker::runner::{PullSettings, RegistryCredentials};
use arca_worker::task::{Computed, Failure, FailureCause, Stage};
use arca_worker::{
    Checksum, ContainerRunner, DigestMatch, DirResultStore, PipelineContext, ReplicateOutcome,
    ReplicateSpec, run_replicate,
};
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, PushImageOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures::StreamExt;
use sha2::Digest as _;

use common::{app_dir, runner};

/// The test registry's `host:port`. Unset means the tests were started without it: they fail
/// (rather than pass without testing anything) and say how to run them.
fn registry() -> String {
    std::env::var("ARCA_TEST_REGISTRY")
        .ok()
        .filter(|r| !r.is_empty())
        .expect(
            "ARCA_TEST_REGISTRY (host:port of a test registry) is unset: run scripts/test.d/60-docker.sh, \
             which starts Debian's docker-registry (scripts/lib/registry.sh ensure_registry) and these tests",
        )
}

/// A nonce unique per test run, so images and task ids never collide across runs.
fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Builds the hello-world app with a unique file added (so its top layer exists nowhere else
/// and must really be fetched), tagged `reference`.
async fn build_unique_hello(runner: &ContainerRunner, reference: &str) {
    let mut context = tar::Builder::new(Vec::new());
    context.append_dir_all(".", app_dir("hello-world")).unwrap();
    let stamp = reference.as_bytes();
    let mut header = tar::Header::new_gnu();
    header.set_size(stamp.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    context
        .append_data(&mut header, "src/.arca-nonce", stamp)
        .unwrap();
    let context = context.into_inner().unwrap();
    let options = BuildImageOptionsBuilder::new()
        .t(reference)
        .rm(true)
        .forcerm(true)
        .networkmode("none")
        .build();
    let mut stream =
        runner
            .docker()
            .build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        let info = item.unwrap_or_else(|e| panic!("building {reference}: {e}"));
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            panic!("building {reference}: {err} (did scripts/images.sh run?)");
        }
    }
}

/// `docker push repo:tag` (with credentials for a private registry); returns the pushed
/// manifest digest (the image's RepoDigest).
async fn push(
    runner: &ContainerRunner,
    repository: &str,
    tag: &str,
    credentials: Option<&RegistryCredentials>,
) -> Checksum {
    let options = PushImageOptionsBuilder::new().tag(tag).build();
    let credentials = credentials.map(|c| DockerCredentials {
        username: Some(c.username.clone()),
        password: Some(c.password.clone()),
        serveraddress: repository.split_once('/').map(|(host, _)| host.to_owned()),
        ..Default::default()
    });
    let mut stream = runner
        .docker()
        .push_image(repository, Some(options), credentials);
    while let Some(item) = stream.next().await {
        item.unwrap_or_else(|e| panic!("pushing {repository}:{tag}: {e}"));
    }
    let inspect = runner
        .docker()
        .inspect_image(&format!("{repository}:{tag}"))
        .await
        .unwrap();
    let repo_digest = inspect
        .repo_digests
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.starts_with(&format!("{repository}@")))
        .unwrap_or_else(|| panic!("no RepoDigest for {repository} after the push"));
    repo_digest.rsplit_once('@').unwrap().1.parse().unwrap()
}

/// `docker rmi` of every reference to the image `id` (tag and digest); the image is gone after.
async fn remove_image(runner: &ContainerRunner, id: &str) {
    let options = RemoveImageOptionsBuilder::new().force(true).build();
    runner
        .docker()
        .remove_image(id, Some(options), None)
        .await
        .unwrap_or_else(|e| panic!("removing {id}: {e}"));
    assert!(
        runner.docker().inspect_image(id).await.is_err(),
        "{id} still in the daemon"
    );
}

struct Worker {
    ctx: PipelineContext,
    _work: tempfile::TempDir,
    _results: tempfile::TempDir,
}

async fn worker() -> Worker {
    let runner = runner().await;
    let work = tempfile::tempdir().unwrap();
    let results = tempfile::tempdir().unwrap();
    let store = Arc::new(DirResultStore::new(results.path()).unwrap());
    Worker {
        ctx: PipelineContext::new(runner, work.path(), PrivateKeySigner::random(), store),
        _work: work,
        _results: results,
    }
}

impl Worker {
    /// A standard task of the app `image` with on-chain checksum `checksum`, authorized for
    /// this worker.
    fn spec(&self, image: &str, checksum: B256, args: &str) -> ReplicateSpec {
        let mut task = [0u8; 32];
        task[0] = 0x7e;
        task[16..].copy_from_slice(&nonce().to_be_bytes());
        let task_id = B256::from(task);
        common::standard_spec(self.ctx.worker.address(), task_id, image, checksum, args)
    }
}

fn computed(outcome: ReplicateOutcome) -> Computed {
    match outcome {
        ReplicateOutcome::Computed(c) => *c,
        ReplicateOutcome::Failed(f) => panic!("expected a result, got {f:#?}"),
    }
}

fn failed(outcome: ReplicateOutcome) -> Failure {
    match outcome {
        ReplicateOutcome::Failed(f) => *f,
        ReplicateOutcome::Computed(c) => panic!("expected a failure, got {c:#?}"),
    }
}

#[tokio::test]
async fn app_image_is_pulled_from_the_registry_by_its_checksum() {
    let registry = registry();
    let w = worker().await;
    let runner = &w.ctx.runner;
    let n = nonce();
    let repository = format!("{registry}/arca-test/hello-world");
    let tag = format!("r{n}");
    let reference = format!("{repository}:{tag}");

    // The app owner's side: build, `docker push`, read the RepoDigest = the on-chain checksum.
    build_unique_hello(runner, &reference).await;
    let t0 = Instant::now();
    let digest = push(runner, &repository, &tag, None).await;
    let push_time = t0.elapsed();
    let image_id = runner
        .docker()
        .inspect_image(&reference)
        .await
        .unwrap()
        .id
        .unwrap();
    remove_image(runner, &image_id).await;

    // A checksum the registry does not have, while the tag points to the pushed image: the
    // app owner moved the tag without redeploying. Nothing is pulled, nothing runs.
    let wrong = B256::repeat_byte(0x42);
    let f = failed(run_replicate(&w.spec(&reference, wrong, "test"), &w.ctx).await);
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::AppDownload, &FailureCause::AppChecksumMismatch)
    );
    let registry_digest = format!("sha256:{}", hex::encode(digest.0));
    for part in [
        format!("the registry's tag {reference} points to {registry_digest}"),
        format!("on-chain checksum is {wrong}"),
        format!("redeploy the app with checksum {registry_digest}"),
    ] {
        assert!(f.message.contains(&part), "{part:?} not in: {}", f.message);
    }
    assert!(runner.docker().inspect_image(&image_id).await.is_err());

    // The registered checksum: pulled by digest, checked, run.
    let t0 = Instant::now();
    let c =
        computed(run_replicate(&w.spec(&reference, B256::from(digest.0), "test"), &w.ctx).await);
    let replicate_time = t0.elapsed();
    let hello: [u8; 32] = sha2::Sha256::digest(b"Hello, test!").into();
    assert_eq!(c.result_digest, B256::from(hello));
    assert_eq!(c.logs.stdout.trim(), "Hello, test!");
    let pull_time = c.timings["app"];
    // What ran is the pushed image, now in the daemon under its digest reference only.
    let pinned = format!("{repository}@{registry_digest}");
    let pulled = runner.verify_image(&pinned, Some(&digest)).await.unwrap();
    assert_eq!(pulled.id, image_id);
    assert_eq!(
        pulled.digest_match,
        Some(DigestMatch::RepoDigest(pinned.clone()))
    );
    // A second task finds it in the daemon (no tag was created by the digest pull).
    let c =
        computed(run_replicate(&w.spec(&reference, B256::from(digest.0), "again"), &w.ctx).await);
    assert_eq!(c.logs.stdout.trim(), "Hello, again!");
    let cached_time = c.timings["app"];

    // Without a checksum the tag is all there is: pulled as written.
    remove_image(runner, &image_id).await;
    let by_tag = runner.verify_image(&reference, None).await.unwrap();
    assert_eq!(by_tag.id, image_id);
    assert!(by_tag.digest_match.is_none());
    remove_image(runner, &image_id).await;

    eprintln!(
        "registry figures: push {push_time:.2?}, replicate with pull {replicate_time:.2?} \
         (app image stage {pull_time:.2?}), app image stage when already pulled {cached_time:.2?}"
    );
}

#[tokio::test]
async fn unreachable_registry_and_unpushed_image_are_image_missing_with_their_reasons() {
    let registry = registry();
    let w = worker().await;
    let checksum = B256::repeat_byte(0x24);

    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let down = "127.0.0.1:1/arca-test/hello-world:1";
    let f = failed(run_replicate(&w.spec(down, checksum, "x"), &w.ctx).await);
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::AppDownload, &FailureCause::AppImagePullFailed)
    );
    for part in [
        "registry 127.0.0.1:1 is unreachable",
        "connection refused",
        "restore access to 127.0.0.1:1",
    ] {
        assert!(f.message.contains(part), "{part:?} not in: {}", f.message);
    }

    // The registry answers but never had this repository.
    let absent = format!("{registry}/arca-test/never-pushed-{}:1", nonce());
    let f = failed(run_replicate(&w.spec(&absent, checksum, "x"), &w.ctx).await);
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::AppDownload, &FailureCause::AppImageMissing)
    );
    for part in [
        format!("is not in the registry {registry}"),
        "manifest unknown".to_owned(),
        "must push it".to_owned(),
    ] {
        assert!(f.message.contains(&part), "{part:?} not in: {}", f.message);
    }

    // A malformed multiaddr is refused with the reason, by Arca or by the daemon.
    for (bad, reason) in [
        ("bad image:1", "whitespace"),
        ("Arca/Upper:1", "repository name must be lowercase"),
    ] {
        let f = failed(run_replicate(&w.spec(bad, checksum, "x"), &w.ctx).await);
        assert_eq!(f.cause, FailureCause::AppImageMissing);
        assert!(
            f.message.contains("is invalid") && f.message.contains(reason),
            "{}",
            f.message
        );
    }
}

/// The basic-auth registry's `host:port` and `user:password` (scripts/lib/registry.sh).
fn auth_registry() -> (String, RegistryCredentials) {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| {
                panic!(
                    "{name} is unset: run scripts/test.d/60-docker.sh, which starts the test \
                 registries (scripts/lib/registry.sh ensure_registry) and these tests"
                )
            })
    };
    let host = var("ARCA_TEST_AUTH_REGISTRY");
    let credentials = var("ARCA_TEST_AUTH_REGISTRY_CREDENTIALS");
    let (username, password) = credentials.split_once(':').unwrap();
    (
        host,
        RegistryCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
        },
    )
}

#[tokio::test]
async fn private_registry_needs_the_workers_credentials() {
    let (host, credentials) = auth_registry();
    let w = worker().await;
    let runner = w.ctx.runner.clone();
    let repository = format!("{host}/arca-test/hello-world");
    let tag = format!("r{}", nonce());
    let reference = format!("{repository}:{tag}");
    build_unique_hello(&runner, &reference).await;
    let digest = push(&runner, &repository, &tag, Some(&credentials)).await;
    let image_id = runner
        .docker()
        .inspect_image(&reference)
        .await
        .unwrap()
        .id
        .unwrap();
    remove_image(&runner, &image_id).await;
    let checksum = B256::from(digest.0);

    // No credentials for this registry: refused, and the message says how to give them.
    let f = failed(run_replicate(&w.spec(&reference, checksum, "test"), &w.ctx).await);
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::AppDownload, &FailureCause::AppImagePullFailed)
    );
    for part in [
        format!("the registry {host} refused to serve"),
        "without valid credentials".to_owned(),
        format!("ARCA_REGISTRY_AUTH={host}=user:password"),
    ] {
        assert!(f.message.contains(&part), "{part:?} not in: {}", f.message);
    }

    // A wrong password is the same cause.
    let with = |c: RegistryCredentials| {
        let mut ctx = w.ctx.clone();
        ctx.runner = runner.clone().with_pull_settings(PullSettings {
            auth: HashMap::from([(host.clone(), c)]),
            ..PullSettings::default()
        });
        ctx
    };
    let wrong = with(RegistryCredentials {
        username: credentials.username.clone(),
        password: "not-the-password".into(),
    });
    let f = failed(run_replicate(&w.spec(&reference, checksum, "test"), &wrong).await);
    assert_eq!(f.cause, FailureCause::AppImagePullFailed);
    assert!(
        f.message.contains("without valid credentials"),
        "{}",
        f.message
    );
    // The password never appears in what the requester reads.
    assert!(!f.message.contains("not-the-password"), "{}", f.message);

    // With the worker's credentials for that host (ARCA_REGISTRY_AUTH): pulled and run.
    let right = with(credentials);
    let c = computed(run_replicate(&w.spec(&reference, checksum, "test"), &right).await);
    assert_eq!(c.logs.stdout.trim(), "Hello, test!");
    remove_image(&runner, &image_id).await;
}

#[tokio::test]
async fn a_registry_that_never_answers_is_abandoned_at_the_pull_timeout() {
    let _ = registry();
    let w = worker().await;
    // Accepts connections and never answers: the daemon's request hangs until we give up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut ctx = w.ctx.clone();
    ctx.runner = ctx.runner.clone().with_pull_settings(PullSettings {
        timeout: Duration::from_secs(2),
        ..PullSettings::default()
    });
    let image = format!("127.0.0.1:{port}/arca-test/hello-world:1");
    let t0 = Instant::now();
    let f = failed(run_replicate(&w.spec(&image, B256::repeat_byte(0x24), "x"), &ctx).await);
    let took = t0.elapsed();
    assert_eq!(
        (f.stage, &f.cause),
        (Stage::AppDownload, &FailureCause::AppImagePullFailed)
    );
    assert!(
        f.message.contains("did not finish within 2s")
            && f.message.contains("ARCA_PULL_TIMEOUT_SECS"),
        "{}",
        f.message
    );
    assert!(took < Duration::from_secs(10), "gave up after {took:?}");
}
