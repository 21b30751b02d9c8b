//! The container runner against a real Docker daemon (`DOCKER_HOST`) and real app images built
//! from `examples/` and `tests/apps/` on Arca's offline base images (scripts/images.sh). Needs the `docker-tests`
//! feature; scripts/test.d/60-docker.sh starts the daemon and builds the base images first.
//!
//! Every test checks that no container of its task is left behind.
#![cfg(feature = "docker-tests")]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use arca_worker::runner::TASK_LABEL;
use arca_worker::{
    Checksum, ContainerRunner, DatasetEnv, DigestMatch, Error, Limits, RunRequest, TaskEnv,
    read_computed_file, result_digest,
};
use bollard::query_parameters::ListContainersOptionsBuilder;
use common::{app_dir, build_app, runner};

/// A task with fresh input/output directories and a unique id.
struct Task {
    env: TaskEnv,
    input: tempfile::TempDir,
    output: tempfile::TempDir,
}

fn task(tag: u8) -> Task {
    // Unique per test and per run, so parallel tests and reruns never share a container name.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let task_id = format!("0x{:02x}{:062x}", tag, nanos);
    Task {
        env: TaskEnv {
            deal_id: format!("0x{}", "de".repeat(32)),
            task_id,
            task_index: 0,
            bot_size: 1,
            bot_first_index: 0,
            ..Default::default()
        },
        input: tempfile::tempdir().unwrap(),
        output: tempfile::tempdir().unwrap(),
    }
}

impl Task {
    fn request(&self, image: &str, args: &[&str], max: Duration) -> RunRequest {
        let mut req = RunRequest::new(
            image,
            self.env.clone(),
            self.input.path(),
            self.output.path(),
            max,
        );
        req.args = args.iter().map(|a| a.to_string()).collect();
        req
    }

    fn out(&self, file: &str) -> String {
        std::fs::read_to_string(self.output.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
    }
}

/// How many containers, running or not, carry this task's label.
async fn task_containers(runner: &ContainerRunner, task_id: &str) -> usize {
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&HashMap::from([(
            "label",
            vec![format!("{TASK_LABEL}={task_id}")],
        )]))
        .build();
    runner
        .docker()
        .list_containers(Some(options))
        .await
        .unwrap()
        .len()
}

/// No container of this task is left.
async fn assert_no_leftover(runner: &ContainerRunner, task_id: &str) {
    assert_eq!(
        task_containers(runner, task_id).await,
        0,
        "containers left for {task_id}"
    );
}

#[tokio::test]
async fn seed_000_node_hello_world_with_args_and_checksum() {
    let runner = runner().await;
    let image = build_app(&runner, "hello-world").await;
    let id = runner.verify_image(&image, None).await.unwrap().id;
    let t = task(0);
    let mut req = t.request(&image, &["test"], Duration::from_secs(60));
    // A locally built image is checked by its image id (see arca_worker::checksum).
    req.expected_checksum = Some(id.parse::<Checksum>().unwrap());

    let outcome = runner.run(&req).await.unwrap();
    assert_eq!(outcome.digest_match, Some(DigestMatch::ImageId));
    assert_eq!(outcome.image_id, id);
    assert_eq!(outcome.logs.stdout.trim(), "Hello, test!");
    assert_eq!(t.out("result.txt"), "Hello, test!");

    let computed = read_computed_file(t.output.path()).unwrap();
    assert_eq!(
        computed.deterministic_output_path.as_deref(),
        Some("/iexec_out/result.txt")
    );
    // sha256("Hello, test!")
    assert_eq!(
        result_digest(&computed, t.output.path(), false).unwrap(),
        format!("0x{}", sha256_hex(b"Hello, test!"))
    );
    assert_no_leftover(&runner, &t.env.task_id).await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn seed_004_python_reads_the_excel_dataset_and_the_requester_secret() {
    let runner = runner().await;
    let image = build_app(&runner, "email-checker").await;
    for (email, expected) in [
        ("ALAN@example.org", "This email is compromised! \n"),
        ("nobody@example.org", "This email is safe! \n"),
    ] {
        let mut t = task(4);
        let address = "0x2Be21D2C4cA3E3A5A76B7cA1B5b7a5F5c3E1D9a0";
        std::fs::copy(
            app_dir("email-checker").join("emails.xlsx"),
            t.input.path().join(address),
        )
        .unwrap();
        t.env.dataset = Some(DatasetEnv::at_address(address));
        t.env.requester_secrets = BTreeMap::from([(1, email.to_owned())]);

        let outcome = runner
            .run(&t.request(&image, &[], Duration::from_secs(60)))
            .await
            .unwrap();
        assert_eq!(t.out("result.txt"), expected, "secret {email}");
        assert!(outcome.logs.stdout.contains("checked 3 rows"));
        let computed = read_computed_file(t.output.path()).unwrap();
        assert_eq!(
            result_digest(&computed, t.output.path(), false).unwrap(),
            format!("0x{}", sha256_hex(expected.as_bytes()))
        );
        assert_no_leftover(&runner, &t.env.task_id).await;
    }

    // Without the secret the seed app exits 11: the error says so.
    let t = task(5);
    match runner
        .run(&t.request(&image, &[], Duration::from_secs(60)))
        .await
    {
        Err(Error::AppExit {
            exit_code: 11,
            last_lines,
            ..
        }) => assert!(last_lines.contains("no requester secret 1"), "{last_lines}"),
        other => panic!("expected exit 11, got {other:?}"),
    }
    assert_no_leftover(&runner, &t.env.task_id).await;
}

#[tokio::test]
async fn app_sees_exactly_the_task_env_read_only_inputs_no_network_and_its_limits() {
    let runner = runner().await;
    let image = build_app(&runner, "shell").await;
    let mut t = task(6);
    t.env.input_file_names = vec!["0xaa".into(), "0xbb".into()];
    t.env.requester_secrets = BTreeMap::from([(2, "secret two".into())]);
    t.env.app_developer_secret = Some("dev-secret".into());
    let mut req = t.request(&image, &["sandbox"], Duration::from_secs(60));
    req.limits = Limits {
        memory_bytes: 256 << 20,
        nano_cpus: 500_000_000,
        pids: 64,
    };
    runner.run(&req).await.unwrap();

    let expected: String = t
        .env
        .vars()
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    assert_eq!(t.out("env.txt"), expected);
    assert_eq!(t.out("iexec_in.txt").trim(), "read-only");
    assert_eq!(t.out("interfaces.txt").trim(), "", "only loopback expected");
    assert_eq!(t.out("memory.txt").trim(), (256u64 << 20).to_string());
    assert_eq!(t.out("pids.txt").trim(), "64");
    assert_eq!(t.out("cpu.txt").trim(), "50000 100000");
    assert!(!t.input.path().join("probe").exists());
    // The declared output is the whole directory: its digest covers every file written.
    let computed = read_computed_file(t.output.path()).unwrap();
    assert!(
        result_digest(&computed, t.output.path(), false)
            .unwrap()
            .starts_with("0x")
    );
    assert_no_leftover(&runner, &t.env.task_id).await;
}

#[tokio::test]
async fn exit_code_3_is_reported_with_the_last_log_lines() {
    let runner = runner().await;
    let image = build_app(&runner, "shell").await;
    let t = task(3);
    let err = runner
        .run(&t.request(&image, &["exit", "3"], Duration::from_secs(60)))
        .await
        .unwrap_err();
    match &err {
        Error::AppExit {
            exit_code,
            oom_killed,
            last_lines,
            logs,
            task_id,
        } => {
            assert_eq!(*exit_code, 3);
            assert!(!oom_killed);
            assert_eq!(last_lines, "fatal: no input");
            assert_eq!(logs.stdout.trim(), "starting");
            assert_eq!(task_id, &t.env.task_id);
        }
        other => panic!("expected AppExit, got {other:?}"),
    }
    assert!(err.to_string().contains("code 3"), "{err}");
    assert_no_leftover(&runner, &t.env.task_id).await;
}

#[tokio::test]
async fn app_over_its_memory_limit_is_reported_as_oom_killed() {
    let runner = runner().await;
    let image = build_app(&runner, "shell").await;
    let t = task(10);
    let mut req = t.request(&image, &["hog", "512"], Duration::from_secs(60));
    req.limits.memory_bytes = 64 << 20;
    match runner.run(&req).await {
        Err(Error::AppExit {
            exit_code,
            oom_killed,
            logs,
            ..
        }) => {
            assert!(oom_killed, "exit {exit_code}, logs {logs:?}");
            assert_eq!(exit_code, 137);
            assert_eq!(logs.stdout.trim(), "allocating 512 MiB");
        }
        other => panic!("expected an OOM-killed AppExit, got {other:?}"),
    }
    assert_no_leftover(&runner, &t.env.task_id).await;
}

#[tokio::test]
async fn app_running_past_its_maximum_time_is_killed() {
    let runner = runner().await;
    let image = build_app(&runner, "shell").await;
    let t = task(7);
    let started = Instant::now();
    let err = runner
        .run(&t.request(&image, &["sleep", "300"], Duration::from_secs(2)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    match &err {
        Error::Timeout {
            after, last_lines, ..
        } => {
            assert_eq!(*after, Duration::from_secs(2));
            assert_eq!(last_lines, "going to sleep for 300 s");
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(took < Duration::from_secs(20), "kill took {took:?}");
    assert_no_leftover(&runner, &t.env.task_id).await;
}

#[tokio::test]
async fn abandoned_run_still_removes_its_container() {
    let runner = runner().await;
    let image = build_app(&runner, "shell").await;
    let t = task(11);
    let req = t.request(&image, &["sleep", "300"], Duration::from_secs(120));
    // The worker gives up on the task (shutdown, task cancelled): the run future is dropped
    // once its container exists.
    let mut run = Box::pin(runner.run(&req));
    tokio::select! {
        r = &mut run => panic!("the app should still be running: {r:?}"),
        () = async {
            while task_containers(&runner, &t.env.task_id).await == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        } => {}
    }
    drop(run);
    // The dropped run scheduled the removal on the runtime; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(15);
    while task_containers(&runner, &t.env.task_id).await > 0 {
        assert!(
            Instant::now() < deadline,
            "container of an abandoned run left behind"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn logs_keep_only_the_tail_under_the_cap() {
    let runner = runner().await;
    let image = build_app(&runner, "shell").await;
    let t = task(8);
    let mut req = t.request(&image, &["spam", "20000"], Duration::from_secs(60));
    req.log_cap = 1000;
    let outcome = runner.run(&req).await.unwrap();
    assert!(outcome.logs.stdout.len() <= 1000);
    assert!(outcome.logs.stdout_dropped > 0);
    assert!(
        outcome.logs.stdout.ends_with("line 19999\nline 20000\n"),
        "{:?}",
        &outcome.logs.stdout
    );
    assert_no_leftover(&runner, &t.env.task_id).await;
}

#[tokio::test]
async fn missing_image_and_wrong_digest_are_refused_before_any_container() {
    let runner = runner().await;
    let t = task(9);
    match runner
        .run(&t.request("arca-test/does-not-exist:1", &[], Duration::from_secs(10)))
        .await
    {
        // Not in the daemon, so it is pulled from Docker Hub (the registry of a reference
        // without a host): offline the registry is unreachable, online Hub refuses an unknown
        // repository as "pull access denied". Either way no container is created.
        Err(
            Error::RegistryUnreachable {
                image, registry, ..
            }
            | Error::RegistryAuthRequired {
                image, registry, ..
            },
        ) => {
            assert_eq!(image, "arca-test/does-not-exist:1");
            assert_eq!(registry, "docker.io");
        }
        other => panic!("expected a failed pull from Docker Hub, got {other:?}"),
    }

    let image = build_app(&runner, "shell").await;
    let mut req = t.request(&image, &["exit", "0"], Duration::from_secs(10));
    let wrong: Checksum = format!("0x{}", "ab".repeat(32)).parse().unwrap();
    req.expected_checksum = Some(wrong);
    match runner.run(&req).await {
        Err(Error::ImageDigestMismatch {
            expected, image_id, ..
        }) => {
            assert_eq!(expected, wrong.to_string());
            assert!(image_id.starts_with("sha256:"));
        }
        other => panic!("expected ImageDigestMismatch, got {other:?}"),
    }
    assert!(t.output.path().read_dir().unwrap().next().is_none());
    assert_no_leftover(&runner, &t.env.task_id).await;
}
