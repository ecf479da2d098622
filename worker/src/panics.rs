//! Panics of event handlers: caught by the engine (the event fails with `handler_failed`), and
//! logged here without flooding the log. Rust's default panic hook writes every panic to stderr,
//! with a backtrace of several KB when `RUST_BACKTRACE` is set, so a client repeating an event that
//! panics could write the log full. While a handler runs ([`InHandler`]), a panic is logged
//! instead as one `tracing` error per panic location per minute, counting the ones left out;
//! panics elsewhere go to the hook that was installed before.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, Once};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// How often one panic location is logged at most.
const EVERY: Duration = Duration::from_secs(60);

thread_local! {
    /// Whether this thread is polling a handler right now.
    static IN_HANDLER: Cell<bool> = const { Cell::new(false) };
}

/// When each panic location was last logged, and how many panics there were since.
static SEEN: Mutex<Option<HashMap<String, (Instant, u64)>>> = Mutex::new(None);

/// Installs the hook once per process (the engine calls it when it is made).
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_HANDLER.with(Cell::get) {
                log(info);
            } else {
                previous(info);
            }
        }));
    });
}

fn log(info: &std::panic::PanicHookInfo<'_>) {
    let location = info
        .location()
        .map_or_else(|| "unknown".to_owned(), ToString::to_string);
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let now = Instant::now();
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let entry = seen
        .get_or_insert_with(HashMap::new)
        .entry(location.clone())
        .or_insert((now - EVERY, 0));
    entry.1 += 1;
    if now.duration_since(entry.0) >= EVERY {
        let since = std::mem::take(&mut entry.1);
        entry.0 = now;
        tracing::error!(%location, %message, panics = since, "an event handler panicked (logged at most once a minute per location)");
    }
}

/// Runs `f`, the app's code, with the panic hook told that a handler runs.
pub(crate) fn in_handler<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_HANDLER.with(|h| h.set(false));
        }
    }
    IN_HANDLER.with(|h| h.set(true));
    let _reset = Reset;
    f()
}

/// A handler's future, polled with the panic hook told that a handler runs.
pub(crate) struct InHandler<F: ?Sized>(pub(crate) Pin<Box<F>>);

impl<F: Future + ?Sized> Future for InHandler<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // The flag is reset also when the poll unwinds.
        in_handler(|| self.0.as_mut().poll(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    #[tokio::test]
    async fn a_handlers_panics_are_counted_once_a_minute_per_location() {
        install();
        let panicking = || {
            InHandler(Box::pin(async {
                panic!("boom");
            }))
        };
        for _ in 0..5 {
            let caught = std::panic::AssertUnwindSafe(panicking())
                .catch_unwind()
                .await;
            assert!(caught.is_err());
        }
        let seen = SEEN.lock().unwrap();
        let counts: Vec<u64> = seen.as_ref().unwrap().values().map(|(_, n)| *n).collect();
        // The first was logged (its count reset to 0); the four after it wait for the minute.
        assert_eq!(counts, [4]);
        assert!(
            !IN_HANDLER.with(Cell::get),
            "the flag is reset after an unwinding poll"
        );
    }
}
