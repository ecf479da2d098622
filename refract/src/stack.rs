//! `stack`: the distributed topology on one machine, as plain child processes: a `redis-server` on a
//! free port (unless `--redis` is given), `--workers` workers and one gateway, all of them this app's
//! own binary in its `worker` and `gateway` roles. Stops them all on Ctrl-C or SIGTERM, or when the
//! gateway exits.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use refract_gateway::serve::{GatewayArgs, ListenArgs};
use refract_process::shutdown_signal;
use refract_worker::serve::WorkerArgs;
use tokio::process::{Child, Command};

use crate::app::{App, AppError, build_dir};
use crate::cli::StackArgs;

/// A child process of the stack.
struct Proc {
    role: String,
    addr: String,
    child: Child,
}

fn free_port() -> Result<u16, AppError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| AppError::Stack(format!("no free port: {e}")))
}

fn spawn(
    role: &str,
    addr: String,
    program: &std::path::Path,
    args: &[String],
) -> Result<Proc, AppError> {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            AppError::Stack(format!("cannot start {role} ({}): {e}", program.display()))
        })?;
    Ok(Proc {
        role: role.to_owned(),
        addr,
        child,
    })
}

/// Sends SIGTERM, waits up to 5 s, then kills.
async fn stop(proc: &mut Proc) {
    if let Some(pid) = proc.child.id() {
        // SAFETY: `kill` with a pid we started and SIGTERM has no memory effects.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        if tokio::time::timeout(Duration::from_secs(5), proc.child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = proc.child.kill().await;
}

/// Runs the stack until a signal or the gateway's exit.
pub(crate) async fn run(app: &App, args: StackArgs) -> Result<(), AppError> {
    let dist = app.compile(&build_dir(args.build.build_dir.as_deref()))?;
    let exe = std::env::current_exe()
        .map_err(|e| AppError::Stack(format!("cannot find this program: {e}")))?;
    let mut procs = Vec::new();
    let redis = match args.redis.clone() {
        Some(url) => url,
        None => {
            let port = free_port()?;
            let addr = format!("127.0.0.1:{port}");
            let redis_args = refract_worker::redis::local_server_args(port);
            let proc = spawn(
                "redis",
                addr.clone(),
                std::path::Path::new("redis-server"),
                &redis_args,
            )
            .map_err(|e| {
                AppError::Stack(format!(
                    "{e}; install Redis (Debian: apt-get install redis-server) or pass --redis URL"
                ))
            })?;
            procs.push(proc);
            format!("redis://{addr}")
        }
    };
    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let worker = WorkerArgs {
            listen: ([127, 0, 0, 1], free_port()?).into(),
            redis: redis.clone(),
            metrics_port: 0,
            store: args.store.clone(),
        };
        let mut worker_args = vec!["worker".to_owned()];
        worker_args.extend(worker.to_args());
        let addr = worker.listen.to_string();
        procs.push(spawn("worker", addr.clone(), &exe, &worker_args)?);
        workers.push(addr);
    }
    // The gateway gets the secret in its environment, not on its command line (visible in `ps`).
    let secret = args.sockets.secret.clone().unwrap_or_else(|| {
        let mut bytes = [0u8; 24];
        let _ = getrandom::fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    let gateway = GatewayArgs {
        listen: ListenArgs {
            host: std::net::Ipv4Addr::LOCALHOST.into(),
            port: args.port,
        },
        sockets: args.sockets.clone(),
        workers,
        workers_dns: None,
        workers_k8s_service: None,
        workers_k8s_namespace: None,
        workers_dns_every_secs: 5,
        redis: redis.clone(),
        assets: Some(dist),
        call_timeout_ms: 30_000,
    };
    let mut gateway_args = vec!["gateway".to_owned()];
    gateway_args.extend(gateway.to_args());
    let mut gateway = Command::new(&exe);
    gateway.args(&gateway_args).env("REFRACT_SECRET", secret);
    let gateway = gateway
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| AppError::Stack(format!("cannot start the gateway: {e}")))?;
    procs.push(Proc {
        role: "gateway".into(),
        addr: format!("127.0.0.1:{}", args.port),
        child: gateway,
    });
    for p in &procs {
        tracing::info!(role = %p.role, addr = %p.addr, pid = p.child.id().unwrap_or_default(), "stack process");
    }
    tracing::info!(url = %format!("http://127.0.0.1:{}", args.port), redis = %redis, "stack running; Ctrl-C stops it");

    let gateway = procs.len() - 1;
    tokio::select! {
        () = shutdown_signal() => tracing::info!("stopping the stack"),
        status = procs[gateway].child.wait() => tracing::warn!(?status, "the gateway exited; stopping the stack"),
    }
    // Gateway first (no new events), then workers (they drain), then Redis.
    for p in procs.iter_mut().rev() {
        stop(p).await;
    }
    Ok(())
}
