//! Background tasks on the engine over the memory store, with a hand-written state (the macros
//! live downstream): a guard dropped without a commit is committed before the next section; a
//! panic mid-section writes nothing of it; the run-time and per-process limits; the sweep records
//! a dead worker's task interrupted, survives the app's code panicking, and a task whose entry
//! is gone stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use refract_core::{
    BoxFuture, Emitter, EventContext, EventError, EventSpec, Handlers, State, StateRegistry, Task,
    TaskError, TaskFuture, TaskPhase, TaskSink, TaskStatus, decode_args,
};
use refract_proto::{ErrorCode, EventRequest, Outcome, Processor};
use refract_worker::{Engine, MemoryStore, StateStore, TaskLimits};
use serde_json::{Map, Value, json};

/// A state with one background handler, `run`, whose status var is `job`.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Jobs {
    n: u32,
    job: TaskStatus,
}

impl State for Jobs {
    const NAME: &'static str = "jobs";
    fn frontend_vars(&self) -> Result<Map<String, Value>, serde_json::Error> {
        Ok(Map::from_iter([
            ("n".to_owned(), json!(self.n)),
            ("job".to_owned(), serde_json::to_value(&self.job)?),
        ]))
    }
}

#[derive(serde::Deserialize)]
struct RunArgs {
    mode: String,
    steps: u32,
}

impl Handlers for Jobs {
    const HANDLERS: &'static [&'static str] = &["run", "ghost", "unlucky"];
    const BACKGROUND: &'static [(&'static str, &'static str)] = &[("run", "job")];

    fn computed_vars(&self, vars: &mut Map<String, Value>) -> Result<(), serde_json::Error> {
        // The app's code failing where the engine writes a status: unlucky 13 may not be
        // interrupted.
        assert!(
            !(self.n == 13 && self.job.phase == TaskPhase::Interrupted),
            "unlucky"
        );
        vars.insert("double".into(), json!(self.n * 2));
        Ok(())
    }

    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        _args: Value,
        _cx: &'a EventContext,
        _emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>> {
        Box::pin(async move {
            match method {
                // A task that some worker started and then died with.
                "ghost" => {
                    self.job = TaskStatus {
                        id: "ghost".into(),
                        phase: TaskPhase::Running,
                        message: String::new(),
                    };
                    Ok(vec![])
                }
                "unlucky" => {
                    self.n = 13;
                    Ok(vec![])
                }
                other => Err(EventError::UnknownHandler(other.into())),
            }
        })
    }

    fn start(method: &str, args: Value, task: Arc<dyn TaskSink>) -> Result<TaskFuture, EventError> {
        if method != "run" {
            return Err(EventError::UnknownHandler(method.into()));
        }
        let RunArgs { mode, steps } = decode_args("jobs", method, args)?;
        let task = Task::<Jobs>::new(task);
        Ok(Box::pin(async move {
            work(task, &mode, steps).await.map_err(|e| e.to_string())
        }))
    }

    fn task_status(&mut self, var: &str) -> Option<&mut TaskStatus> {
        (var == "job").then_some(&mut self.job)
    }
}

async fn work(task: Task<Jobs>, mode: &str, steps: u32) -> Result<(), TaskError> {
    match mode {
        "count" => {
            for _ in 0..steps {
                let mut jobs = task.lock().await?;
                jobs.n += 1;
                jobs.commit().await?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        "drop_guard" => {
            let mut jobs = task.lock().await?;
            jobs.n += 1;
            drop(jobs);
            let mut jobs = task.lock().await?;
            jobs.n += 1;
            jobs.commit().await?;
        }
        "panic_mid" => {
            let mut jobs = task.lock().await?;
            jobs.n += 100;
            panic!("boom");
        }
        "sleep" => tokio::time::sleep(Duration::from_secs(3600)).await,
        "hold" => {
            let mut jobs = task.lock().await?;
            jobs.n += 50;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            jobs.commit().await?;
        }
        _ => return Err("no such mode".into()),
    }
    Ok(())
}

fn limits() -> TaskLimits {
    TaskLimits {
        lease: Duration::from_millis(300),
        max_run: Duration::from_secs(30),
        max_running: 10,
        drain: Duration::from_secs(1),
        max_section: Duration::from_secs(5),
    }
}

fn engine(limits: TaskLimits) -> Engine<Arc<MemoryStore>> {
    let mut states = StateRegistry::default();
    states.register::<Jobs>();
    Engine::new(Arc::new(states), Arc::new(MemoryStore::new())).task_limits(limits)
}

async fn call(
    engine: &Engine<Arc<MemoryStore>>,
    token: &str,
    seq: u64,
    handler: &str,
    args: Value,
) -> Result<Outcome, refract_proto::Failure> {
    engine
        .process(EventRequest {
            token: token.into(),
            tab: "tab".into(),
            seq,
            handler: handler.into(),
            args,
            depth: 0,
            context: Default::default(),
        })
        .await
}

/// Starts `jobs.run` in `mode` for `steps` as event `seq` of `token`.
async fn start(engine: &Engine<Arc<MemoryStore>>, token: &str, seq: u64, mode: &str, steps: u32) {
    let args = json!({"mode": mode, "steps": steps});
    let outcome = call(engine, token, seq, "jobs.run", args).await;
    assert!(
        matches!(outcome, Ok(Outcome::Applied { .. })),
        "{outcome:?}"
    );
}

async fn jobs(engine: &Engine<Arc<MemoryStore>>, token: &str) -> Value {
    engine.hydrate(token, "tab").await.unwrap().state["jobs"].clone()
}

/// Waits until the task's phase is `phase`; the state then.
async fn until(engine: &Engine<Arc<MemoryStore>>, token: &str, phase: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = jobs(engine, token).await;
        if state["job"]["phase"] == phase {
            return state;
        }
        assert!(Instant::now() < deadline, "not {phase}: {state}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_dropped_guard_is_committed_before_the_next_section() {
    let e = engine(limits());
    let args = json!({"mode": "drop_guard", "steps": 0});
    assert!(matches!(
        call(&e, "t", 1, "jobs.run", args).await,
        Ok(Outcome::Applied { .. })
    ));
    let state = until(&e, "t", "done").await;
    assert_eq!(state["n"], 2);
    assert_eq!(e.running_tasks(), 0);
}

#[tokio::test]
async fn a_panic_mid_section_writes_nothing_of_it_and_frees_the_lock() {
    let e = engine(limits());
    start(&e, "t", 1, "panic_mid", 0).await;
    let state = until(&e, "t", "failed").await;
    assert_eq!(state["n"], 0, "half a section is not saved");
    assert_eq!(state["job"]["message"], "the task panicked");
    // The lock is free: an event applies at once.
    assert!(matches!(
        call(&e, "t", 2, "jobs.unlucky", Value::Null).await,
        Ok(Outcome::Applied { .. })
    ));
}

#[tokio::test]
async fn a_task_past_its_run_time_is_stopped_and_failed() {
    let e = engine(TaskLimits {
        max_run: Duration::from_millis(100),
        ..limits()
    });
    start(&e, "t", 1, "sleep", 0).await;
    let state = until(&e, "t", "failed").await;
    let message = state["job"]["message"].as_str().unwrap();
    assert!(message.contains("100ms"), "{message}");
}

#[tokio::test]
async fn a_task_stopped_inside_a_section_releases_it_and_saves_none_of_it() {
    let e = engine(TaskLimits {
        max_run: Duration::from_millis(100),
        ..limits()
    });
    start(&e, "t", 1, "hold", 0).await;
    let state = until(&e, "t", "failed").await;
    assert_eq!(state["n"], 0);
}

#[tokio::test]
async fn a_start_past_the_process_limit_is_overloaded_not_retried() {
    let e = engine(TaskLimits {
        max_running: 1,
        ..limits()
    });
    start(&e, "a", 1, "sleep", 0).await;
    let refused = call(&e, "b", 1, "jobs.run", json!({"mode": "sleep", "steps": 0}))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::Overloaded);
    assert!(!refused.code.retryable());
    assert_eq!(
        jobs(&e, "b").await["job"]["phase"],
        "idle",
        "nothing applied"
    );
    assert_eq!(e.running_tasks(), 1);
}

#[tokio::test]
async fn the_sweep_records_a_dead_workers_task_interrupted() {
    let e = engine(limits());
    // A task whose worker died: its status says running, its entry's lease ran out.
    call(&e, "t", 1, "jobs.ghost", Value::Null).await.unwrap();
    let entry = r#"["t","jobs","job","ghost"]"#;
    e.store()
        .keep_task(entry, Duration::ZERO, false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(e.sweep_tasks().await.unwrap(), 1);
    let state = jobs(&e, "t").await;
    assert_eq!(state["job"]["phase"], "interrupted");
    assert_eq!(state["job"]["id"], "ghost");
    assert_eq!(e.sweep_tasks().await.unwrap(), 0, "forgotten once recorded");
    // The status is the token's: a new task starts.
    start(&e, "t", 2, "count", 2).await;
    assert_eq!(until(&e, "t", "done").await["n"], 2);
}

#[tokio::test]
async fn the_sweep_survives_the_apps_code_panicking_and_tries_again_later() {
    let e = engine(limits());
    call(&e, "t", 1, "jobs.unlucky", Value::Null).await.unwrap();
    call(&e, "t", 2, "jobs.ghost", Value::Null).await.unwrap();
    let entry = r#"["t","jobs","job","ghost"]"#;
    e.store()
        .keep_task(entry, Duration::ZERO, false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(e.sweep_tasks().await.unwrap(), 1);
    assert_eq!(jobs(&e, "t").await["job"]["phase"], "running");
    // Pushed one lease on, out of the way of the others.
    assert_eq!(e.sweep_tasks().await.unwrap(), 0);
    assert_eq!(e.store().expired_tasks(10).await.unwrap().len(), 0);
}

#[tokio::test]
async fn a_task_whose_entry_is_gone_stops() {
    let e = engine(limits());
    start(&e, "t", 1, "count", 100_000).await;
    // Another worker recorded it interrupted (and forgot its entry).
    let entry = r#"["t","jobs","job","1.tab"]"#;
    e.store().forget_task(entry).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.running_tasks() > 0 {
        assert!(Instant::now() < deadline, "the task still runs");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n = jobs(&e, "t").await["n"].clone();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(jobs(&e, "t").await["n"], n, "it counts no more");
}
