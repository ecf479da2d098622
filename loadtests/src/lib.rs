//! Refract's load tests: a load generator of simulated browser clients that speak the real
//! WebSocket protocol of `docs/protocol.md` (`hello` → `hydrate`, `event` → `delta`), the scenarios
//! of the load-test issue, the processes of the system under test, and the reports.
//!
//! * [`client`]: one simulated browser tab (its own token, sequence numbers, resync on reconnect);
//! * [`scenario`]: counter, idle, big-state and reconnect, each bounded by count and time;
//! * [`stack`]: starting and stopping the probe app as processes (embedded, or Redis + workers + a
//!   gateway) on loopback ports;
//! * [`procfs`]: CPU seconds and resident memory of those processes, and the machine, from `/proc`;
//! * [`report`]: latency summaries and the `results/SCENARIO.json` and `.md` files;
//! * [`progress`]: the progress line on stderr while a scenario runs.
//!
//! The runner binary `loadtests-run` (wrapped by `loadtests/run`) ties them together.

pub mod client;
pub mod procfs;
pub mod progress;
pub mod report;
pub mod scenario;
pub mod stack;

/// The loopback addresses clients bind to as their source when asked to spread connections: each
/// has its own ~28,000 ephemeral ports towards one gateway port, so 8 of them carry well over
/// 10,000 connections.
pub fn source_addresses(count: u8) -> Vec<std::net::IpAddr> {
    (0..count.max(1))
        .map(|i| std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2 + i)))
        .collect()
}
