//! Refract's load tests: a load generator of simulated browser clients that speak the real
//! WebSocket protocol of `docs/protocol.md` (`hello` → `hydrate`, `event` → `delta`; each client is
//! `refract_test_support::Client`, the protocol client the tests use too), the scenarios
//! of the load-test issue, the processes of the system under test, and the reports.
//!
//! * [`scenario`]: counter, idle, big-state, reconnect and stream, each bounded by count and time;
//! * [`stack`]: starting and stopping the probe app as processes (embedded, or Redis + workers + a
//!   gateway) on loopback ports;
//! * [`procfs`]: CPU seconds and resident memory of those processes, and the machine, from `/proc`;
//! * [`report`]: latency summaries and the `results/SCENARIO.json` and `.md` files;
//! * [`progress`]: the progress line on stderr while a scenario runs.
//!
//! The runner binary `loadtests-run` (wrapped by `loadtests/run`) ties them together.

pub mod procfs;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod stack;

use std::time::{Duration, Instant};

/// The most loopback source addresses [`source_addresses`] gives: 127.0.0.2 to 127.0.0.254.
pub const MAX_SOURCES: u8 = 253;

/// The loopback addresses clients bind to as their source when asked to spread connections: each
/// has its own ~28,000 ephemeral ports towards one gateway port, so 8 of them carry well over
/// 10,000 connections. `count` is clamped to 1..=[`MAX_SOURCES`].
pub fn source_addresses(count: u8) -> Vec<std::net::IpAddr> {
    (0..count.clamp(1, MAX_SOURCES))
        .map(|i| std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2 + i)))
        .collect()
}

/// The longest wait [`deadline`] allows: a year, far beyond any run.
const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// `from + wait`, with `wait` capped at a year so that the sum cannot overflow.
pub fn deadline(from: Instant, wait: Duration) -> Instant {
    from.checked_add(wait.min(LONGEST_WAIT)).unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_addresses_stay_on_loopback() {
        assert_eq!(source_addresses(0).len(), 1);
        assert_eq!(source_addresses(2)[1].to_string(), "127.0.0.3");
        let all = source_addresses(u8::MAX);
        assert_eq!(all.len(), usize::from(MAX_SOURCES));
        assert_eq!(all[all.len() - 1].to_string(), "127.0.0.254");
    }

    #[test]
    fn a_deadline_does_not_overflow() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(deadline(now, Duration::MAX) > now);
    }
}
