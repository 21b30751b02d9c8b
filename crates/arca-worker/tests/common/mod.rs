//! Shared by the Docker tests: the daemon from `DOCKER_HOST` and app images built once per test
//! binary from `examples/` (the seed apps users run) or `tests/apps/` (apps only tests need).
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arca_worker::ContainerRunner;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;

/// Builds serialised across tests (they share images) and done once per tag per test run.
static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// The seed apps are the ones users get in the repository's `examples/`; apps that exist only
/// for these tests live in `tests/apps/`.
pub fn app_dir(name: &str) -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = crate_dir.join("../../examples").join(name);
    if example.is_dir() {
        example
    } else {
        crate_dir.join("tests/apps").join(name)
    }
}

/// `docker build` of the app `name` (see [`app_dir`]) through the Engine API, tagged `arca-test/<name>:1`.
pub async fn build_app(runner: &ContainerRunner, name: &str) -> String {
    let tag = format!("arca-test/{name}:1");
    let _lock = BUILD_LOCK.lock().await;
    if BUILT
        .lock()
        .unwrap()
        .get_or_insert_with(HashSet::new)
        .contains(&tag)
    {
        return tag;
    }
    let mut context = tar::Builder::new(Vec::new());
    context.append_dir_all(".", app_dir(name)).unwrap();
    let context = context.into_inner().unwrap();
    let options = BuildImageOptionsBuilder::new()
        .t(&tag)
        .rm(true)
        .forcerm(true)
        // The apps only COPY files: no build step may reach a network.
        .networkmode("none")
        .build();
    let mut stream =
        runner
            .docker()
            .build_image(options, None, Some(bollard::body_full(context.into())));
    let mut output = String::new();
    while let Some(item) = stream.next().await {
        let info = item.unwrap_or_else(|e| panic!("building {tag}: {e}\n{output}"));
        if let Some(line) = info.stream {
            output.push_str(&line);
        }
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            panic!("building {tag}: {err}\n{output} (did scripts/images.sh run?)");
        }
    }
    BUILT.lock().unwrap().as_mut().unwrap().insert(tag.clone());
    tag
}

pub async fn runner() -> ContainerRunner {
    ContainerRunner::from_env()
        .await
        .expect("a Docker daemon at DOCKER_HOST (scripts/test.d/60-docker.sh starts one)")
}

/// A standard (non-TEE) task `task_id` of the app `image` (on-chain checksum `checksum`) with
/// `args`, authorized for `worker` with no enclave challenge: what the scheduler would send.
pub fn standard_spec(
    worker: alloy::primitives::Address,
    task_id: alloy::primitives::B256,
    image: &str,
    checksum: alloy::primitives::B256,
    args: &str,
) -> arca_worker::task::ReplicateSpec {
    use alloy::primitives::{Address, B256, Bytes};
    use arca_worker::task::{AppSpec, DealParams, ReplicateSpec, WorkerpoolAuthorization};
    ReplicateSpec {
        chain_id: 65535,
        deal_id: B256::repeat_byte(0xde),
        task_id,
        task_index: 0,
        bot_first: 0,
        bot_size: 1,
        app: AppSpec {
            address: Address::repeat_byte(0xa1),
            image: image.to_owned(),
            checksum,
            mrenclave: String::new(),
        },
        dataset: None,
        params: DealParams {
            args: args.into(),
            ..Default::default()
        },
        requester: Address::repeat_byte(0x44),
        beneficiary: Address::repeat_byte(0x44),
        callback: Address::ZERO,
        tag: B256::ZERO,
        max_execution_time: std::time::Duration::from_secs(60),
        authorization: WorkerpoolAuthorization {
            worker_wallet: worker,
            chain_task_id: task_id,
            enclave_challenge: Address::ZERO,
            signature: Bytes::from(vec![0u8; 65]),
        },
        tee: None,
    }
}

/// The files of a zip archive (a result archive), by name.
pub fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read as _;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        out.insert(f.name().unwrap().into_owned(), content);
    }
    out
}
