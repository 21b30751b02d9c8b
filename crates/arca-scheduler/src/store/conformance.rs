//! The behavioural tests every backend of [`Store`] passes: run on SQLite by `sqlite`'s tests
//! and on Postgres by `pg`'s (when `ARCA_TEST_POSTGRES_URL` is set, see
//! scripts/test.d/47-postgres.sh).

use alloy::primitives::{Address, B256, Bytes};
use arca_worker::agent::ReplicateStatus;
use arca_worker::logs::ComputeLogs;
use arca_worker::task::{Failure, FailureCause, FailureReport, Stage};

use super::{ReplicateRow, Store, TaskRow, TaskStatus, WorkerRow};
use crate::SchedulerError;

/// Opens a store on one storage; each call opens the same storage again (a restart).
pub(crate) type Opener = Box<dyn Fn() -> Store>;

/// Every test. `storage(name)` makes a fresh, empty storage for the test `name`.
pub(crate) fn all(storage: &dyn Fn(&str) -> Opener) {
    tasks_replicates_workers_and_the_cursor_survive_a_restart(&storage("restart"));
    known_tasks_are_kept_and_open_tasks_come_oldest_first(&storage("tasks")());
    assignment_is_once_per_worker_and_marks_the_task_running(&storage("assign")());
    workers_are_upserted(&storage("workers")());
    a_store_belongs_to_one_workerpool(&storage("workerpool"));
}

fn task(n: u8) -> TaskRow {
    TaskRow {
        task_id: B256::repeat_byte(n),
        deal_id: B256::repeat_byte(0xde),
        index: n as u64,
        trust: 1,
        tee: false,
        status: TaskStatus::Received,
        enclave_challenge: None,
        failure: None,
        result_location: None,
        note: None,
    }
}

fn worker(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn ids(tasks: &[TaskRow]) -> Vec<B256> {
    tasks.iter().map(|t| t.task_id).collect()
}

/// The restart of issue 7: everything written before is read back, field for field, by a
/// store reopened on the same storage, which then carries on (ordering included).
fn tasks_replicates_workers_and_the_cursor_survive_a_restart(open: &Opener) {
    let tee_task = TaskRow {
        tee: true,
        trust: 5,
        deal_id: B256::repeat_byte(0xdf),
        ..task(2)
    };
    let mut running = task(1);
    let mut done = task(3);
    let full = ReplicateRow {
        task_id: running.task_id,
        worker: worker(9),
        status: ReplicateStatus::Contributed,
        weight: 2,
        result_hash: Some(B256::repeat_byte(0x11)),
        result_digest: Some(B256::repeat_byte(0x12)),
        results: Some(Bytes::from_static(b"/ipfs/bafy\x00\xff")),
        callback_data: Some(Bytes::from(vec![0u8, 1, 2, 0xfe])),
        failure: Some(Failure {
            stage: Stage::Compute,
            cause: FailureCause::AppExitCode { code: 3 },
            message: "the app exited with code 3: see its logs".into(),
            logs: Some(ComputeLogs {
                stdout: "out ✓".into(),
                stderr: "err 'quoted' \"text\"".into(),
                stdout_dropped: 7,
                stderr_dropped: 0,
            }),
            // a TEE failure's signed report survives the store byte for byte
            report: Some(FailureReport {
                signer: Address::repeat_byte(0xe1),
                log_digest: B256::repeat_byte(0x1d),
                signature: Bytes::from(vec![0x5a; 65]),
            }),
        }),
        logs: Some(ComputeLogs {
            stdout: "hello\n".into(),
            stderr: String::new(),
            stdout_dropped: 0,
            stderr_dropped: 12,
        }),
        txs: vec![B256::repeat_byte(0x21), B256::repeat_byte(0x22)],
    };
    let w9 = WorkerRow {
        address: worker(9),
        tee: true,
        max_tasks: 4,
        last_seen: 1_764_500_000,
    };
    {
        let s = open();
        s.ping().unwrap();
        assert_eq!(s.cursor().unwrap(), None);
        s.add_tasks(&[running.clone(), tee_task.clone()], 41)
            .unwrap();
        s.add_tasks(std::slice::from_ref(&done), 42).unwrap();
        running.status = TaskStatus::Initialized;
        running.enclave_challenge = Some(Address::ZERO);
        running.note = Some("waiting for workers".into());
        s.save_task(&running).unwrap();
        s.assign(running.task_id, worker(9), 2).unwrap();
        s.assign(running.task_id, worker(8), 3).unwrap();
        running.status = TaskStatus::Running;
        s.save_replicate(&full).unwrap();
        done.status = TaskStatus::Completed;
        done.enclave_challenge = Some(worker(0x77));
        done.result_location =
            Some("/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".into());
        done.failure = Some(serde_json::json!({"cause": "NONE", "message": "kept as written"}));
        s.save_task(&done).unwrap();
        s.upsert_worker(&w9).unwrap();
    }
    let s = open();
    assert_eq!(s.cursor().unwrap(), Some(42));
    assert_eq!(s.task(running.task_id).unwrap(), Some(running.clone()));
    assert_eq!(s.task(done.task_id).unwrap(), Some(done.clone()));
    assert_eq!(s.task(tee_task.task_id).unwrap(), Some(tee_task.clone()));
    assert_eq!(
        s.open_tasks().unwrap(),
        vec![running.clone(), tee_task.clone()]
    );
    let reps = s.replicates(running.task_id).unwrap();
    assert_eq!(reps.len(), 2);
    assert_eq!(reps[0], full);
    let fresh = &reps[1];
    assert_eq!(
        (fresh.worker, fresh.status, fresh.weight),
        (worker(8), ReplicateStatus::Created, 3)
    );
    assert!(fresh.result_hash.is_none() && fresh.results.is_none() && fresh.txs.is_empty());
    assert_eq!(s.replicate(running.task_id, worker(9)).unwrap(), Some(full));
    assert_eq!(s.running_count(worker(9)).unwrap(), 1);
    assert_eq!(s.worker(worker(9)).unwrap(), Some(w9));

    // the reopened store carries on: sequences continue after the stored ones
    s.add_tasks(&[task(4)], 43).unwrap();
    assert_eq!(
        ids(&s.open_tasks().unwrap()),
        vec![running.task_id, tee_task.task_id, task(4).task_id]
    );
    s.assign(running.task_id, worker(7), 1).unwrap();
    let order: Vec<Address> = s
        .replicates(running.task_id)
        .unwrap()
        .iter()
        .map(|r| r.worker)
        .collect();
    assert_eq!(order, vec![worker(9), worker(8), worker(7)]);
    assert_eq!(s.cursor().unwrap(), Some(43));
}

fn known_tasks_are_kept_and_open_tasks_come_oldest_first(s: &Store) {
    s.add_tasks(&[task(10)], 5).unwrap();
    let mut ten = task(10);
    ten.status = TaskStatus::Initialized;
    s.save_task(&ten).unwrap();
    // a deal seen again (overlapping scans) neither resets a known task nor reorders it
    s.add_tasks(&[task(11), task(10)], 6).unwrap();
    assert_eq!(s.task(ten.task_id).unwrap(), Some(ten.clone()));
    assert_eq!(s.cursor().unwrap(), Some(6));
    // an empty scan still moves the cursor
    s.add_tasks(&[], 7).unwrap();
    assert_eq!(s.cursor().unwrap(), Some(7));
    s.add_tasks(&[task(12)], 8).unwrap();
    assert_eq!(
        ids(&s.open_tasks().unwrap()),
        vec![ten.task_id, task(11).task_id, task(12).task_id]
    );
    // final tasks leave the open list
    let mut eleven = task(11);
    eleven.status = TaskStatus::Failed;
    eleven.note = Some("claimed after the final deadline".into());
    s.save_task(&eleven).unwrap();
    let mut twelve = task(12);
    twelve.status = TaskStatus::Completed;
    s.save_task(&twelve).unwrap();
    assert_eq!(ids(&s.open_tasks().unwrap()), vec![ten.task_id]);
    assert_eq!(s.task(eleven.task_id).unwrap(), Some(eleven));
    // saving an unknown task creates nothing
    s.save_task(&task(13)).unwrap();
    assert_eq!(s.task(task(13).task_id).unwrap(), None);
}

fn assignment_is_once_per_worker_and_marks_the_task_running(s: &Store) {
    let mut t = task(20);
    s.add_tasks(&[t.clone(), task(21), task(22)], 1).unwrap();
    t.status = TaskStatus::Initialized;
    s.save_task(&t).unwrap();
    s.assign(t.task_id, worker(1), 2).unwrap();
    assert_eq!(
        s.task(t.task_id).unwrap().unwrap().status,
        TaskStatus::Running
    );
    let err = s.assign(t.task_id, worker(1), 2).unwrap_err();
    assert!(matches!(err, SchedulerError::Store(_)), "{err}");
    assert_eq!(s.replicates(t.task_id).unwrap().len(), 1);
    // only an INITIALIZED task becomes RUNNING (a task in consensus stays there)
    let mut consensus = task(21);
    consensus.status = TaskStatus::ConsensusReached;
    s.save_task(&consensus).unwrap();
    s.assign(consensus.task_id, worker(1), 2).unwrap();
    assert_eq!(
        s.task(consensus.task_id).unwrap().unwrap().status,
        TaskStatus::ConsensusReached
    );
    // running replicates of a worker: final ones do not count, other workers' neither
    s.assign(task(22).task_id, worker(1), 2).unwrap();
    s.assign(task(22).task_id, worker(2), 2).unwrap();
    assert_eq!(s.running_count(worker(1)).unwrap(), 3);
    for (task_id, status) in [
        (t.task_id, ReplicateStatus::Completed),
        (consensus.task_id, ReplicateStatus::WorkerLost),
    ] {
        let mut r = s.replicate(task_id, worker(1)).unwrap().unwrap();
        r.status = status;
        s.save_replicate(&r).unwrap();
    }
    assert_eq!(s.running_count(worker(1)).unwrap(), 1);
    assert_eq!(s.running_count(worker(2)).unwrap(), 1);
    assert_eq!(s.running_count(worker(3)).unwrap(), 0);
    assert_eq!(s.replicate(t.task_id, worker(2)).unwrap(), None);
}

fn workers_are_upserted(s: &Store) {
    assert_eq!(s.worker(worker(5)).unwrap(), None);
    let mut w = WorkerRow {
        address: worker(5),
        tee: false,
        max_tasks: 1,
        last_seen: 100,
    };
    s.upsert_worker(&w).unwrap();
    assert_eq!(s.worker(worker(5)).unwrap(), Some(w.clone()));
    w.tee = true;
    w.max_tasks = u32::MAX;
    w.last_seen = 200;
    s.upsert_worker(&w).unwrap();
    assert_eq!(s.worker(worker(5)).unwrap(), Some(w));
}

fn a_store_belongs_to_one_workerpool(open: &Opener) {
    let (mine, other) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb2));
    {
        let s = open();
        s.claim_workerpool(mine, "test store").unwrap();
        s.claim_workerpool(mine, "test store").unwrap();
    }
    let s = open();
    s.claim_workerpool(mine, "test store").unwrap();
    let err = s.claim_workerpool(other, "test store").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SchedulerError::Config(_)), "{text}");
    assert!(
        text.contains(&mine.to_string()) && text.contains(&other.to_string()),
        "{text}"
    );
}
