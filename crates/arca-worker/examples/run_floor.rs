//! Runs one image N times through [`ContainerRunner`] and prints each run's wall time in
//! milliseconds, one per line: the runner's side of `scripts/bench.d/tasks-floor.sh`, measured
//! beside plain `docker run --rm` of the same image.
//!
//! Usage: `run_floor IMAGE N [ARGS...]` with `DOCKER_HOST` set.

use std::time::{Duration, Instant};

use arca_worker::{ContainerRunner, RunRequest, TaskEnv};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let image = argv.next().ok_or("usage: run_floor IMAGE N [ARGS...]")?;
    let n: usize = argv.next().ok_or("missing N")?.parse()?;
    let args: Vec<String> = argv.collect();
    let runner = ContainerRunner::from_env().await?;
    let input = tempfile::tempdir()?;
    for i in 0..n {
        // A fresh output directory per run, as a worker has one per task.
        let output = tempfile::tempdir()?;
        let env = TaskEnv {
            deal_id: format!("0x{:064x}", 1),
            task_id: format!("0x{:064x}", i + 1),
            bot_size: n as u64,
            ..Default::default()
        };
        let mut req = RunRequest::new(
            image.clone(),
            env,
            input.path(),
            output.path(),
            Duration::from_secs(60),
        );
        req.args = args.clone();
        let t0 = Instant::now();
        runner.run(&req).await?;
        println!("{:.1}", t0.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(())
}
