//! The probe app: states whose handlers make the distributed tests' checks possible.

use refract::prelude::*;
use serde::{Deserialize, Serialize};

/// What the distributed tests read back.
#[derive(State, Default, Serialize, Deserialize)]
pub struct ProbeState {
    /// The sum of everything added.
    count: i64,
    /// Every recorded number, in the order the events were applied.
    log: Vec<u64>,
}

#[refract::handlers]
impl ProbeState {
    /// Adds `n` to the count.
    pub fn add(&mut self, n: i64) {
        self.count += n;
    }

    /// Appends `n` to the log.
    pub fn record(&mut self, n: u64) {
        self.log.push(n);
    }

    /// Sleeps `ms` milliseconds, then adds one: a handler that can outlive its lock's lease.
    pub async fn slow(&mut self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        self.count += 1;
    }
}

/// What the last `visit` saw of its event's context (for the context tests).
#[derive(State, Default, Serialize, Deserialize)]
pub struct VisitState {
    /// The page's path.
    path: String,
    /// The query parameter `q`, decoded.
    q: Option<String>,
    /// The client's address.
    ip: Option<String>,
    /// The `User-Agent` header.
    user_agent: Option<String>,
    /// The cookie `theme`.
    theme: Option<String>,
    /// The session's name (the token's keyed hash).
    session: String,
    /// The tab.
    tab: String,
    /// When the gateway received the event (ms since the Unix epoch).
    received_at_ms: u64,
    /// The `Accept-Language` header.
    language: Option<String>,
    /// The argument of the last `tagged`.
    tag: u32,
    /// The route the page matched.
    route: Option<String>,
    /// Its parameter `id`.
    id: Option<String>,
}

#[refract::handlers]
impl VisitState {
    /// Records what the event's context says.
    pub fn visit(&mut self, cx: &EventContext) {
        *self = VisitState {
            path: cx.page.path.clone(),
            q: cx.query_param("q"),
            ip: cx.client_ip.map(|ip| ip.to_string()),
            user_agent: cx.headers.user_agent.clone(),
            theme: cx.cookie("theme").map(str::to_owned),
            session: cx.session.clone(),
            tab: cx.tab.clone(),
            received_at_ms: cx.received_at_ms,
            language: cx.headers.accept_language.clone(),
            tag: self.tag,
            route: cx.route.clone(),
            id: cx.param("id").map(str::to_owned),
        };
    }

    /// An async handler with the context after an argument that is itself named `cx`: records
    /// both (the macro's own name for the context cannot clash with the author's).
    pub async fn tagged(&mut self, cx: u32, context: &EventContext) {
        self.tag = cx;
        self.path = context.page.path.clone();
    }
}

/// Event chains: `first(n)` returns `second(n)`, which returns `third(n)`, which returns a toast;
/// each records its step, so a test reads whether every step of every chain ran exactly once and
/// in order.
#[derive(State, Default, Serialize, Deserialize)]
pub struct ChainState {
    /// `"<n>a"`, `"<n>b"`, `"<n>c"` as the steps of chain `n` ran.
    steps: Vec<String>,
    /// How many times `forever` ran.
    rounds: u32,
}

#[refract::handlers]
impl ChainState {
    /// The first step of chain `n`.
    pub fn first(&mut self, n: u32) -> EventSpec {
        self.steps.push(format!("{n}a"));
        Self::second(n)
    }

    /// The second step of chain `n`: takes 20 ms, so a worker killed during a chain is often
    /// killed in its middle.
    pub async fn second(&mut self, n: u32) -> EventSpec {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        self.steps.push(format!("{n}b"));
        Self::third(n)
    }

    /// The last step of chain `n`: ends with a toast.
    pub fn third(&mut self, n: u32) -> EventSpec {
        self.steps.push(format!("{n}c"));
        toast::success(format!("chain {n} done"))
    }

    /// A chain that never ends: counts a round and returns itself (stopped by the depth limit).
    pub fn forever(&mut self) -> EventSpec {
        self.rounds += 1;
        Self::forever()
    }
}

/// A streaming handler's progress.
#[derive(State, Default, Serialize, Deserialize)]
pub struct ProgressState {
    /// The last step flushed.
    step: u32,
    /// Whether the run finished.
    done: bool,
}

#[refract::handlers]
impl ProgressState {
    /// `steps` steps of `ms` milliseconds each, flushing after each: the page sees every step.
    pub async fn run(&mut self, steps: u32, ms: u64, emit: &Emitter<'_>) -> Result<(), FlushError> {
        self.done = false;
        for step in 1..=steps {
            // (A zero sleep would still wait for the timer's next 1 ms tick.)
            if ms > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            self.step = step;
            emit.flush(self).await?;
        }
        self.done = true;
        Ok(())
    }
}

/// An account whose handler moves money to [`SavingsState`]: two states changed by one event.
#[derive(State, Default, Serialize, Deserialize)]
pub struct AccountState {
    /// The account's balance.
    balance: i64,
}

/// The savings that [`AccountState::save`] fills: a substate of the account, whose handlers
/// read it.
#[derive(State, Default, Serialize, Deserialize)]
#[state(parent = AccountState)]
pub struct SavingsState {
    /// The savings' balance.
    balance: i64,
    /// The account's balance, as `check` last read it from the parent.
    seen: i64,
}

#[refract::handlers]
impl SavingsState {
    /// Reads the parent account's balance.
    pub fn check(&mut self, account: &Parent<AccountState>) {
        self.seen = account.balance;
    }
}

#[refract::handlers]
impl AccountState {
    /// Moves `amount` to the savings, then waits `ms` milliseconds before returning (a window in
    /// which to kill the worker between the change and the commit).
    pub async fn save(
        &mut self,
        amount: i64,
        ms: u64,
        states: &States<'_>,
    ) -> Result<(), StateAccessError> {
        let mut savings = states.get::<SavingsState>().await?;
        savings.balance += amount;
        self.balance -= amount;
        drop(savings);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        Ok(())
    }
}

/// A background task that counts, beside ordinary clicks on the same state.
#[derive(State, Default, Serialize, Deserialize)]
pub struct TaskState {
    /// What the task counted.
    count: u32,
    /// How many clicks (ordinary events) there were.
    clicks: u64,
    /// The task's status.
    job: TaskStatus,
}

#[refract::handlers]
impl TaskState {
    /// An ordinary event.
    pub fn click(&mut self) {
        self.clicks += 1;
    }

    /// Cancels the counting.
    pub fn cancel(&mut self) {
        self.job.cancel();
    }

    /// Counts to `to`, one section per step, pausing `ms` milliseconds after each.
    #[background(status = job)]
    pub async fn run(task: Task<Self>, to: u32, ms: u64) -> Result<(), TaskError> {
        for _ in 0..to {
            let mut state = task.lock().await?;
            state.count += 1;
            state.commit().await?;
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Ok(())
    }
}

/// A big state for the load tests' big-state scenario: about `rows × 64` bytes once `init` ran,
/// so a token can hold a ~1 MB shard beside the small [`ProbeState`].
#[derive(State, Default, Serialize, Deserialize)]
pub struct BigState {
    /// `rows` strings of 64 characters each (set by `init`).
    rows: Vec<String>,
    /// How many times `tick` ran: the small field that changes.
    ticks: u64,
}

#[refract::handlers]
impl BigState {
    /// Replaces the rows with `rows` strings of 64 characters (16,384 rows ≈ 1 MB of JSON).
    pub fn init(&mut self, rows: usize) {
        self.rows = (0..rows).map(|i| format!("{i:064}")).collect();
    }

    /// Adds one to `ticks`: a one-field change of the big state.
    pub fn tick(&mut self) {
        self.ticks += 1;
    }
}

fn index() -> Flex {
    vstack([heading(ProbeState::count()).prop("id", "count")])
}

/// The probe app.
pub fn app() -> App {
    App::new("Probe")
        .state::<ProbeState>()
        .state::<BigState>()
        .state::<VisitState>()
        .state::<ChainState>()
        .state::<ProgressState>()
        .state::<AccountState>()
        .state::<SavingsState>()
        .state::<TaskState>()
        .page("/", index)
        .page("/posts/:id", index)
}
