//! The progress line a scenario shows on stderr while it runs: counters the clients bump, printed
//! once a second on one line that rewrites itself (every five seconds on a line of its own when
//! stderr is not a terminal).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters shared by a scenario's clients.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events completed (delta, ack or resync).
    pub done: AtomicU64,
    /// Events that failed or were not answered.
    pub errors: AtomicU64,
    /// Clients connected (hydrated) now.
    pub connected: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one from `counter`.
    pub fn drop_one(counter: &AtomicU64) {
        counter.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A running progress line; stops (and ends the line) when dropped.
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
    tty: bool,
}

impl Progress {
    /// Starts printing `label` and the counters every second; `total` is the number of events the
    /// scenario expects (0: unknown).
    pub fn start(label: String, counters: Arc<Counters>, total: u64) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut last = (start, 0u64);
            let every = Duration::from_secs(if tty { 1 } else { 5 });
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = Instant::now();
                let done = counters.done.load(Ordering::Relaxed);
                let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                last = (now, done);
                let of = if total > 0 {
                    format!("/{total}")
                } else {
                    String::new()
                };
                let line = format!(
                    "[{label}] {:>5.1}s  connected {:>6}  events {done}{of}  {rate:>8.0}/s  errors {}",
                    now.duration_since(start).as_secs_f64(),
                    counters.connected.load(Ordering::Relaxed),
                    counters.errors.load(Ordering::Relaxed),
                );
                let mut err = std::io::stderr().lock();
                let _ = if tty {
                    write!(err, "\r{line}   ")
                } else {
                    writeln!(err, "{line}")
                };
                let _ = err.flush();
            }
        });
        Progress { task, tty }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
        if self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
