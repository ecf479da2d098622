//! `stack`: the distributed topology on one machine, as plain child processes: a `redis-server` on a
//! free port (unless `--redis` is given), `--workers` workers and one gateway, all of them this app's
//! own binary in its `worker` and `gateway` roles, each given its options as typed arguments
//! (`WorkerArgs`, `GatewayArgs`) and the stack's log format. Stops them all on Ctrl-C or SIGTERM,
//! or when the gateway exits.
//!
//! With `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) set, which every
//! child would inherit, the gateway is named `<name>-gateway` and the workers `<name>-worker`;
//! each process has its own `service.instance.id` anyway.

use std::time::Duration;

use refract_gateway::serve::GatewayArgs;
use refract_process::grpc_tls::GrpcTlsArgs;
use refract_process::launch::{Child, Launch, free_port, start_local_redis};
use refract_process::{LogArgs, MetricsArgs, shutdown_signal};
use refract_worker::serve::WorkerArgs;

use crate::app::{App, AppError, build_dir};
use crate::cli::StackArgs;

/// How long a stopping child may take before it is killed.
const GRACE: Duration = Duration::from_secs(5);

fn stack_error(e: impl std::fmt::Display) -> AppError {
    AppError::Stack(e.to_string())
}

fn port() -> Result<u16, AppError> {
    free_port().map_err(|e| AppError::Stack(format!("no free port: {e}")))
}

/// Starts `launch` of `role` (dying with this process, logging as `log` says) and waits up to
/// 20 s until it accepts on `addr`.
async fn start(
    role: &str,
    launch: Launch,
    log: LogArgs,
    addr: std::net::SocketAddr,
) -> Result<Child, AppError> {
    let (key, format) = log.to_env();
    let mut launch = launch.env(key, format);
    if let Some(service) = refract_telemetry::role_service_name(role) {
        launch = launch.env("OTEL_SERVICE_NAME", service);
    }
    let mut child = launch.die_with_parent().spawn().map_err(stack_error)?;
    child
        .ready(addr, Duration::from_secs(20))
        .await
        .map_err(stack_error)?;
    tracing::info!(role = %child.name(), %addr, pid = child.pid(), "stack process");
    Ok(child)
}

/// Runs the stack until a signal or the gateway's exit.
pub(crate) async fn run(app: &App, args: StackArgs, log: LogArgs) -> Result<(), AppError> {
    let dist = app.compile(
        &build_dir(args.build.build_dir.as_deref()),
        args.build.npm_timeout(),
    )?;
    let exe = std::env::current_exe()
        .map_err(|e| AppError::Stack(format!("cannot find this program: {e}")))?;
    let mut children = Vec::new();
    let redis = match args.redis.clone() {
        Some(url) => url,
        None => {
            let (child, url) = start_local_redis().await.map_err(|e| {
                AppError::Stack(format!(
                    "{e}; install Redis (Debian: apt-get install redis-server) or pass --redis URL"
                ))
            })?;
            tracing::info!(role = "redis", %url, pid = child.pid(), "stack process");
            children.push(child);
            url
        }
    };
    let mut workers = Vec::new();
    for _ in 0..args.workers {
        let worker = WorkerArgs {
            listen: ([127, 0, 0, 1], port()?).into(),
            redis: redis.clone(),
            metrics: MetricsArgs { metrics_port: 0 },
            store: args.store.clone(),
            tls: GrpcTlsArgs::default(),
        };
        let launch = Launch::new("worker", &exe)
            .args(["worker".to_owned()])
            .args(worker.to_args())
            .env("REFRACT_REDIS", &redis);
        children.push(start("worker", launch, log, worker.listen).await?);
        workers.push(worker.listen.to_string());
    }
    // The gateway gets the secret in its environment, not on its command line (visible in `ps`).
    let secret = args.sockets.secret.clone().unwrap_or_else(|| {
        let mut bytes = [0u8; 24];
        let _ = getrandom::fill(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    });
    let gateway = GatewayArgs {
        listen: args.listen.clone(),
        sockets: args.sockets.clone(),
        metrics: MetricsArgs { metrics_port: 0 },
        workers,
        workers_dns: None,
        workers_k8s_service: None,
        workers_k8s_namespace: None,
        workers_dns_every_secs: 5,
        redis: redis.clone(),
        assets: Some(dist),
        // The workers' upload folder: the gateway serves their published files from it.
        upload_dir: Some(args.store.uploads.config().dir),
        call_timeout_ms: 30_000,
        tls: GrpcTlsArgs::default(),
    };
    let launch = Launch::new("gateway", &exe)
        .args(["gateway".to_owned()])
        .args(gateway.to_args())
        .env("REFRACT_SECRET", secret)
        .env("REFRACT_REDIS", &redis);
    children.push(start("gateway", launch, log, gateway.listen.addr()).await?);
    tracing::info!(url = %format!("http://{}", args.listen.addr()), redis = %refract_proto::layout::redacted(&redis), "stack running; Ctrl-C stops it");

    let gateway_exited = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Some(status) = children.last_mut().and_then(Child::try_wait) {
                return status;
            }
        }
    };
    tokio::select! {
        () = shutdown_signal() => tracing::info!("stopping the stack"),
        status = gateway_exited => tracing::warn!(%status, "the gateway exited; stopping the stack"),
    }
    // Gateway first (no new events), then workers (they drain), then Redis.
    for child in children.iter_mut().rev() {
        child.stop(GRACE).await;
    }
    Ok(())
}
