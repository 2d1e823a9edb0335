//! ternd: the tern IKEv2 daemon.

mod check;
mod config_source;
mod control;
mod daemon;
mod diagnose;
mod dispatch;
mod end_kind;
mod env;
mod history;
mod instance;
mod intake;
mod kernel;
mod kernel_events;
mod log_filter;
mod log_output;
mod metrics;
mod metrics_http;
mod present;
mod radius;
mod shards;
mod stats;
mod steering;
mod systemd;
mod udp;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::Parser;
use tokio::sync::mpsc;

use crate::daemon::{Daemon, Inbound};
use crate::kernel::{Kernel, XfrmKernel};
use crate::shards::Shards;
use crate::stats::SocketCounters;
use crate::udp::BoundSocket;

#[derive(Parser, Debug)]
#[command(
    name = "ternd",
    version,
    about = "tern: an IKEv2 daemon that keeps tunnels up"
)]
struct Args {
    /// Configuration file [default: /etc/tern/ternd.toml].
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Run the embedded demo configuration (conf/ternd.toml, with its published
    /// key) instead of a file: for tests/demo/run and trying tern out, never a host.
    #[arg(long, conflicts_with = "config")]
    demo: bool,
    /// Check the configuration and start nothing: print every error with its
    /// file:line:column (exit status 1), or the connections it holds (0).
    #[arg(long)]
    check: bool,
    /// Control socket path (overrides [daemon].socket).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Where the SA history is kept across restarts (overrides [daemon].state_file).
    #[arg(long, value_name = "PATH")]
    state_file: Option<PathBuf>,
    /// error, warn (or warning), info, debug, trace or off; then, after commas,
    /// TARGET=LEVEL for one subsystem (e.g. `info,tern_engine=debug`).
    #[arg(long, default_value = "info", value_parser = log_filter::parse)]
    log_level: log_filter::LogFilter,
    /// Where the log goes: `journald` (native, with fields such as CONN and IKE_SPI),
    /// `stderr` (text), or `auto`: the journal when stderr is connected to it, as
    /// under systemd.
    #[arg(long, value_enum, default_value_t = log_output::LogTarget::Auto)]
    log_target: log_output::LogTarget,
    /// Negotiate IKE only; keep CHILD SAs in memory instead of the kernel (for
    /// hosts without ESP support).
    #[arg(long)]
    no_kernel: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if args.check {
        let source = config_source::ConfigSource::from_args(args.config.clone(), args.demo);
        return check::check(&source, &mut std::io::stdout(), &mut std::io::stderr());
    }
    match log_output::init(args.log_target, &args.log_level) {
        Ok(log_output::Chosen::StderrBecause(why)) => {
            tracing::warn!("logging to stderr: {why}")
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("ternd: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ternd: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let source = config_source::ConfigSource::from_args(args.config.clone(), args.demo);
    let config = source.load()?;
    let origin = source.describe();
    tracing::info!(
        connections = config.engine.connections.len(),
        "configuration loaded from {origin}"
    );
    // Before any socket is bound: a missing group is a configuration error.
    let socket_group = match &config.daemon.socket_group {
        Some(group) => Some(control::resolve_group(group)?),
        None => None,
    };

    // Before any socket is bound: one ternd per control socket and IKE address.
    let socket_path = args.socket.clone().unwrap_or(config.daemon.socket.clone());
    let mut instance = instance::Instance::claim(&socket_path)?;

    let workers = config.daemon.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }) as u32;
    // One kernel backend per engine, each with its own XFRM netlink socket (or
    // in-memory model): an engine's kernel operations concern its own SAs, so
    // engines never queue behind one another's on a shared socket and lock.
    let kernels: Vec<Arc<Mutex<dyn Kernel>>> = if args.no_kernel {
        tracing::warn!(
            "--no-kernel: CHILD SAs are negotiated but not installed; no traffic is protected"
        );
        (0..workers)
            .map(|i| {
                let kernel = XfrmKernel::in_memory(std::process::id().wrapping_add(i));
                Arc::new(Mutex::new(kernel)) as Arc<Mutex<dyn Kernel>>
            })
            .collect()
    } else {
        let report = tern_xfrm::probe();
        if !report.ready() {
            anyhow::bail!("this kernel cannot carry tern's tunnels: {report}\n(run with --no-kernel to negotiate IKE only)");
        }
        // The first removes what a previous ternd left; the others only connect.
        let mut kernels: Vec<Arc<Mutex<dyn Kernel>>> = vec![Arc::new(Mutex::new(
            XfrmKernel::open().map_err(anyhow::Error::msg)?,
        ))];
        for _ in 1..workers {
            let kernel = XfrmKernel::connect().map_err(anyhow::Error::msg)?;
            kernels.push(Arc::new(Mutex::new(kernel)));
        }
        kernels
    };
    // All free before any is bound: ours may share a port among themselves
    // (a wildcard and a specific address), not with another daemon.
    for ip in &config.daemon.listen {
        for port in [config.daemon.port, config.daemon.nat_port] {
            instance::check_udp_free(SocketAddr::new(*ip, port))?;
        }
    }
    // Each engine gets its own socket on every address and port (see steering.rs).
    let mut engine_sockets: Vec<Vec<BoundSocket>> = (0..workers).map(|_| Vec::new()).collect();
    for ip in &config.daemon.listen {
        for port in [config.daemon.port, config.daemon.nat_port] {
            let addr = SocketAddr::new(*ip, port);
            let nat_t = port == config.daemon.nat_port;
            match bind_group(addr, workers, nat_t, !args.no_kernel) {
                Ok(group) => {
                    tracing::info!(%addr, "listening");
                    for (engine, socket) in engine_sockets.iter_mut().zip(group) {
                        engine.push(socket);
                    }
                }
                Err(e) if ip.is_ipv6() => {
                    tracing::warn!(%addr, "IPv6 unavailable, not listening: {e}")
                }
                Err(e) => return Err(e).with_context(|| format!("binding IKE socket {addr}")),
            }
        }
    }
    let counted = Arc::new(SocketCounters::default());
    let setup_times = metrics::setup_times();
    let state_file = args
        .state_file
        .clone()
        .unwrap_or_else(|| config.daemon.state_file.clone());
    let history: history::SharedHistory = Arc::new(Mutex::new(history::History::load(
        &state_file,
        config.daemon.history_length,
    )));

    // One engine per worker, each on its own thread (see dispatch.rs for who gets what).
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let mut to_shards = Vec::new();
    let mut control_queues = Vec::new();
    let mut kernel_queues = Vec::new();
    let mut snapshot_queues = Vec::new();
    let mut threads = Vec::new();
    let connections = config.engine.connections.len();
    let mut inbound_queues = Vec::new();
    for _ in 0..workers {
        let (inbound_tx, inbound_rx) = mpsc::channel::<Inbound>(1024);
        to_shards.push(inbound_tx);
        inbound_queues.push(inbound_rx);
    }
    let to_shards: Arc<[mpsc::Sender<Inbound>]> = to_shards.into();
    let radius = config
        .daemon
        .radius
        .as_ref()
        .map(|r| Arc::new(radius::Relayer::new(r)));
    for (((index, inbound_rx), sockets), kernel) in (0..workers)
        .zip(inbound_queues)
        .zip(engine_sockets)
        .zip(kernels)
    {
        let (control_tx, control_rx) = mpsc::channel(64);
        let (kernel_tx, kernel_rx) = mpsc::channel(256);
        let (snapshot_tx, snapshot_rx) = mpsc::channel(4);
        let shard = tern_engine::Shard::new(index, workers).expect("index < workers");
        let environment = env::DaemonEnv::default();
        let engine =
            tern_engine::Engine::sharded(config.engine.clone(), Box::new(environment), shard);
        // What the thread builds its Daemon from, once its sockets are registered.
        let parts = (
            kernel,
            to_shards.clone(),
            config.daemon.nat_port,
            daemon::Shared {
                sockets_counted: counted.clone(),
                history: history.clone(),
                setup_times: setup_times.clone(),
                radius: radius.clone(),
            },
        );
        let shutdown = shutdown_rx.clone();
        let (started_tx, started) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name(format!("ternd-shard-{index}"))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(started_tx.send(Err(e))),
                };
                // The sockets join this thread's reactor: their datagrams wake it alone.
                let registered = {
                    let _in_runtime = runtime.enter();
                    sockets
                        .into_iter()
                        .map(|s| s.register().map(Arc::new))
                        .collect::<std::io::Result<Vec<_>>>()
                };
                let sockets = match registered {
                    Ok(sockets) => sockets,
                    Err(e) => return drop(started_tx.send(Err(e))),
                };
                let _ = started_tx.send(Ok(()));
                let (kernel, shards, nat_port, shared) = parts;
                let daemon = Daemon::new(engine, kernel, sockets, shards, nat_port, shared);
                runtime.block_on(daemon.run(
                    inbound_rx,
                    control_rx,
                    kernel_rx,
                    snapshot_rx,
                    shutdown,
                ));
            })
            .context("starting a shard thread")?;
        started
            .recv()
            .context("a shard thread ended while starting")?
            .context("starting a shard's runtime and sockets")?;
        threads.push(thread);
        control_queues.push(control_tx);
        kernel_queues.push(kernel_tx);
        snapshot_queues.push(snapshot_tx);
    }
    tracing::info!(workers, "engines started");

    let listener = control::bind(&socket_path, socket_group)
        .with_context(|| format!("control socket {}", socket_path.display()))?;
    instance.bound_socket()?;
    tracing::info!(path = %socket_path.display(), group = ?socket_group, "control socket ready");
    let (control_tx, control_rx) = mpsc::channel(64);
    tokio::spawn(control::serve(listener, control_tx, socket_group));
    let shards = Shards::new(control_queues, source.path().map(PathBuf::from));
    tokio::spawn(shards.clone().serve(control_rx));

    if let Some(addr) = config.daemon.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("metrics endpoint {addr} (daemon.metrics_listen)"))?;
        tracing::info!(%addr, "metrics at http://{addr}/metrics");
        tokio::spawn(metrics_http::serve(
            listener,
            snapshot_queues,
            counted.clone(),
            setup_times.clone(),
            radius.clone(),
        ));
    }

    tokio::spawn(history::keep_saved(history.clone(), state_file.clone()));

    let notifier = systemd::Notifier::from_env();
    notifier.ready(&format!("{connections} connection(s) loaded"));
    if let Some(every) = systemd::Notifier::watchdog_interval() {
        tokio::spawn(async move {
            let notifier = systemd::Notifier::from_env();
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                notifier.watchdog();
            }
        });
    }
    // Kernel EXPIREs (traffic limits), MAPPINGs (a NAT moved a peer) and ACQUIREs
    // (traps); none without a kernel backend. Every shard hears each: an outbound
    // SPI is the peer's choice and carries no shard, and these events are rare, so
    // asking all beats keeping a table. The engines ignore what is not theirs.
    if !args.no_kernel {
        let monitor = kernel_events::open()
            .map_err(anyhow::Error::msg)
            .context("subscribing to XFRM EXPIRE, MAPPING and ACQUIRE events")?;
        let (expire_tx, mut expire_rx) = mpsc::channel::<tern_engine::KernelEvent>(256);
        tokio::spawn(kernel_events::forward(monitor, expire_tx));
        tokio::spawn(async move {
            while let Some(event) = expire_rx.recv().await {
                for shard in &kernel_queues {
                    let _ = shard.send(event.clone()).await;
                }
            }
        });
    }

    signals(&shards).await;
    notifier.stopping();
    let _ = shutdown_tx.send(true);
    // Each shard deletes its IKE SAs (up to 2 s for the peers' answers) and ends.
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            let _ = thread.join();
        }
    })
    .await
    .context("waiting for the shards")?;
    // With the ends of the SAs deleted while stopping.
    tokio::task::spawn_blocking(move || history::save(&history, &state_file))
        .await
        .context("saving the SA history")?;
    control::finish_streams(std::time::Duration::from_secs(1)).await;
    instance.remove_socket();
    tracing::info!("stopped");
    Ok(())
}

/// Until SIGTERM or SIGINT; SIGHUP reloads the configuration meanwhile.
async fn signals(shards: &Shards) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hangup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hangup.recv() => match shards.reload().await {
                tern_control::Response::Ok { body: tern_control::ResponseBody::Reloaded { message } } => {
                    tracing::info!("SIGHUP: {message}")
                }
                tern_control::Response::Error { message } => tracing::error!("SIGHUP: {message}"),
                tern_control::Response::Ok { .. } => {}
            },
        }
    }
}

/// The sockets of `workers` engines on `addr`, in engine order: one socket for
/// one engine, as ever; for more, a reuseport group that the kernel steers.
fn bind_group(
    addr: SocketAddr,
    workers: u32,
    nat_t: bool,
    esp_in_udp: bool,
) -> std::io::Result<Vec<BoundSocket>> {
    let mut group = Vec::new();
    for _ in 0..workers {
        let socket = BoundSocket::bind(addr, workers > 1)?;
        if nat_t && esp_in_udp {
            // Every socket of the group: the kernel may hand ESP to any of them.
            if let Err(e) = socket.enable_esp_in_udp() {
                tracing::warn!(%addr, "cannot enable ESP in UDP (UDP_ENCAP) on the NAT-T port: {e}");
            }
        }
        group.push(socket);
    }
    if workers > 1 {
        let steering = steering::Group {
            count: workers,
            nat_t,
            ipv6: addr.is_ipv6(),
        };
        if let Err(e) = steering::attach(&group[0], steering) {
            tracing::warn!(%addr, "cannot steer datagrams to their engines in the kernel ({e}): engines hand them on instead, which is slower");
        }
    }
    Ok(group)
}
