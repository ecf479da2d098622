//! `upload-rss`: uploads one large file (default 200 MiB) through the distributed stack (Redis,
//! one worker and one gateway: the probe app's processes on loopback ports) with `POST /_upload`,
//! and samples the gateway's resident memory (`/proc/PID/status`: `VmRSS` every 20 ms, and
//! `VmHWM`) before, during and after, to check that the gateway streams the body to the worker
//! instead of holding it. Writes `results/upload-rss.json` and `results/upload-rss.md`; exits
//! with 1 when the gateway grew by more than `--max-growth-mib` (default 64). A benchmark, not a
//! timed test:
//!
//! ```text
//! cargo build -p refract-probe -p loadtests
//! target/debug/upload-rss --probe target/debug/refract-probe
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use loadtests::procfs;
use loadtests::report::mib;
use loadtests::stack::{Mode, Role, Stack, StackConfig};
use refract_test_support::Client;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Uploads one large file through the distributed stack and reports the gateway's memory.
#[derive(Parser, Debug)]
struct Args {
    /// The `refract-probe` binary.
    #[arg(long)]
    probe: PathBuf,
    /// The file's size, in MiB.
    #[arg(long, default_value_t = 200)]
    mib: u64,
    /// The most the gateway's resident memory may grow during the upload, in MiB.
    #[arg(long, default_value_t = 64)]
    max_growth_mib: u64,
    /// Where the processes' logs go.
    #[arg(long, default_value = "target/loadtests/upload-rss")]
    work_dir: PathBuf,
    /// Where the report goes.
    #[arg(long, default_value = "loadtests/results")]
    out: PathBuf,
}

/// The bytes sent per write.
const CHUNK: usize = 64 << 10;

/// Sends `size` bytes as one upload over HTTP/1.1 and returns the status line and the body.
async fn upload(
    addr: std::net::SocketAddr,
    token: &str,
    size: u64,
) -> anyhow::Result<(String, String)> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /_upload HTTP/1.1\r\nHost: {addr}\r\nX-Refract-Token: {token}\r\n\
         X-Refract-File-Name: big.bin\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {size}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await?;
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let mut left = size;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        tcp.write_all(&chunk[..n]).await?;
        left -= n as u64;
    }
    tcp.flush().await?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

/// Deletes the upload `id` from the worker's default upload folder (the probe's workers keep
/// it there, and no event of the probe uses it).
fn forget(id: &str) {
    let Ok(tokens) = std::fs::read_dir(refract_worker::uploads::default_dir()) else {
        return;
    };
    for token in tokens.flatten() {
        for name in [id.to_owned(), format!("{id}.json")] {
            let _ = std::fs::remove_file(token.path().join(name));
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let stack = Stack::start(StackConfig {
        probe: args.probe.clone(),
        mode: Mode::Distributed,
        workers: 1,
        work_dir: args.work_dir.clone(),
        ready_timeout: Duration::from_secs(60),
    })
    .await
    .context("starting the stack")?;
    let gateway = stack
        .sample()
        .into_iter()
        .find(|r| r.role == Role::Gateway)
        .context("no gateway")?;
    let pid = gateway.pid;
    let client = Client::connect(stack.addr, None).await.context("hello")?;
    let before = procfs::sample(pid)?;
    let peak = Arc::new(AtomicU64::new(before.rss_bytes));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Ok(s) = procfs::sample(pid) {
                    peak.fetch_max(s.rss_bytes, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let size = args.mib << 20;
    let started = Instant::now();
    let answered = upload(stack.addr, &client.token, size).await;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    let after = procfs::sample(pid)?;
    stack.stop(Duration::from_secs(5)).await;
    let (status, body) = answered.context("the upload")?;
    if !status.contains(" 200 ") {
        bail!("the upload was refused: {status} {body}");
    }
    let reply: serde_json::Value = serde_json::from_str(&body)?;
    if reply["size"] != size {
        bail!("the worker kept {} bytes, not {size}", reply["size"]);
    }
    if let Some(id) = reply["id"].as_str() {
        forget(id);
    }
    let sampled_peak = peak.load(Ordering::Relaxed);
    let growth = sampled_peak
        .max(after.peak_rss_bytes)
        .saturating_sub(before.rss_bytes);
    let ok = growth <= args.max_growth_mib << 20;
    let report = json!({
        "scenario": "upload-rss",
        "file_mib": args.mib,
        "mode": "distributed (1 worker), debug build",
        "seconds": elapsed.as_secs_f64(),
        "mib_per_s": args.mib as f64 / elapsed.as_secs_f64(),
        "gateway_rss_before_mib": mib(before.rss_bytes),
        "gateway_rss_peak_sampled_mib": mib(sampled_peak),
        "gateway_vmhwm_after_mib": mib(after.peak_rss_bytes),
        "gateway_rss_after_mib": mib(after.rss_bytes),
        "gateway_growth_mib": mib(growth),
        "limit_mib": args.max_growth_mib,
        "passed": ok,
        "machine": procfs::machine(),
    });
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("upload-rss.json"),
        serde_json::to_string_pretty(&report)? + "\n",
    )?;
    let md = format!(
        "# Upload: gateway memory\n\n\
         One {mib} MiB file uploaded with `POST /_upload` through the distributed stack (Redis, one \
         worker, one gateway; debug build), `loadtests/src/bin/upload-rss.rs`.\n\n\
         | measure | value |\n| --- | --- |\n\
         | time | {secs:.1} s ({rate:.0} MiB/s) |\n\
         | gateway RSS before | {before:.1} MiB |\n\
         | gateway RSS, highest sampled (every 20 ms) | {peak:.1} MiB |\n\
         | gateway VmHWM after | {hwm:.1} MiB |\n\
         | gateway RSS after | {after:.1} MiB |\n\
         | growth (highest − before) | {growth:.1} MiB (limit {limit} MiB: {verdict}) |\n",
        mib = args.mib,
        secs = elapsed.as_secs_f64(),
        rate = args.mib as f64 / elapsed.as_secs_f64(),
        before = mib(before.rss_bytes),
        peak = mib(sampled_peak),
        hwm = mib(after.peak_rss_bytes),
        after = mib(after.rss_bytes),
        growth = mib(growth),
        limit = args.max_growth_mib,
        verdict = if ok { "passed" } else { "FAILED" },
    );
    std::fs::write(args.out.join("upload-rss.md"), &md)?;
    tracing::info!(report = %md, "written to {}", args.out.display());
    Ok(ok)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "no async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            tracing::error!("the gateway grew past the limit");
            ExitCode::FAILURE
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "upload-rss failed");
            ExitCode::FAILURE
        }
    }
}
