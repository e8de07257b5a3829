//! tilegame-server: the authoritative dedicated server, as a library and a binary.
//!
//! [`Server::bind`] generates the world and listens; [`Server::run`] accepts connections (each
//! served by [`session`]) and drives the deterministic simulation ([`tilegame_sim`]) at a fixed
//! rate ([`ticker`]) until shutdown. The client embeds the same server on localhost through
//! [`ServerHandle::start`] (its `host` feature), which runs it on its own thread and runtime.
//! With `record` set ([`ServerConfig::record`], `--record FILE`) the simulation is recorded
//! into that file ([`tilegame_sim::simlog`]); `tilegame-replay` re-simulates such a file.
//! With `web` set ([`ServerConfig::web`], `--web ADDR`) a second listener serves the browser
//! client's files and the same game over WebSocket ([`web`]).

pub mod admin;
pub mod admission;
pub mod config;
pub mod drain;
pub mod http;
pub mod link;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod reading;
pub mod recording;
pub mod refusal;
pub mod session;
pub mod tick_batch;
pub mod tick_thread;
pub mod ticker;
pub mod warnings;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

pub use config::{ConfigError, ServerConfig};
use tilegame_sim::{simlog, Sim};
pub use tilegame_sim::{PhaseTimes, ReplicationCounts, TickStats, PHASES};

/// How often refused connections are logged (as one line with counts), and the interval of
/// the dropped-client warnings' summaries ([`warnings`]).
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// World generation failed.
    #[error("cannot generate the world: {0}")]
    World(#[from] tilegame_game::MapError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime could not be started.
    #[error("cannot start the server runtime: {0}")]
    Runtime(std::io::Error),
    /// The admin token could not be read or is unfit.
    #[error(transparent)]
    AdminToken(#[from] admin::token::TokenError),
    /// The bans file could not be read.
    #[error(transparent)]
    Bans(#[from] admin::bans::BansError),
    /// The admin API was configured without the listener it is served on.
    #[error("the admin API needs the HTTP listener: give --metrics ADDR with the admin token")]
    AdminWithoutListener,
    /// The simulation recording could not be created.
    #[error("cannot record the simulation into {path}: {source}")]
    Record {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: tilegame_protocol::replay_file::ReplayError,
    },
}

/// Creates the simulation recording's file and writes its start (`--record FILE`).
fn create_recording(
    path: &std::path::Path,
    start: tilegame_protocol::replay_format::SimStart,
    keyframe_every: u32,
    metrics: &Arc<metrics::Metrics>,
) -> Result<simlog::SimLog, tilegame_protocol::replay_file::ReplayError> {
    let file = std::fs::File::create(path)?;
    let file = metrics::CountingWriter::new(file, Arc::clone(metrics), "simulation");
    let out = Box::new(std::io::BufWriter::with_capacity(64 * 1024, file));
    let start_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    simlog::SimLog::record(
        out,
        path.display().to_string(),
        start,
        keyframe_every,
        format!("tilegame-server {}", env!("CARGO_PKG_VERSION")),
        start_unix_ms,
    )
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    metrics: Arc<metrics::Metrics>,
    web: Option<TcpListener>,
    admin: Arc<admin::Admin>,
    config: ServerConfig,
    sim: Sim,
    seed: String,
}

impl Server {
    /// Validates the config, generates the world and binds the listener.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let size = config.validate()?;
        let seed = if config.seed.is_empty() {
            let entropy = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                ^ u64::from(std::process::id()).rotate_left(32);
            tilegame_game::random_seed(entropy)
        } else {
            config.seed.clone()
        };
        // The environment's token only counts with the listener it would be served on (an
        // embedded server ignores it); a token file without the listener is an error.
        let token = if config.metrics.is_some() || config.admin_token_file.is_some() {
            admin::token::Token::configured(config.admin_token_file.as_deref())?
        } else {
            None
        };
        if token.is_some() && config.metrics.is_none() {
            return Err(ServerError::AdminWithoutListener);
        }
        let bans = admin::bans::Bans::load(config.bans.as_deref())?;
        let admin = Arc::new(admin::Admin::new(token, bans));
        let theme = config.theme.into();
        let map = tilegame_game::generate(&seed, theme, size)?;
        let world = tilegame_game::World::new(map);
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let bind_optional = |addr: Option<SocketAddr>| async move {
            match addr {
                Some(addr) => TcpListener::bind(addr)
                    .await
                    .map(Some)
                    .map_err(|source| ServerError::Bind { addr, source }),
                None => Ok(None),
            }
        };
        let metrics_listener = bind_optional(config.metrics).await?;
        let web = bind_optional(config.web).await?;
        let metrics = Arc::new(metrics::Metrics::new(config.tick_period()));
        let mut sim = Sim::new(
            world,
            seed.clone(),
            theme,
            config.max_players as usize,
            config.heartbeat_ticks,
        );
        sim.set_view_radius(config.view_radius_tiles);
        if let Some(path) = &config.record {
            let start = tilegame_protocol::replay_format::SimStart {
                seed: seed.clone(),
                theme: tilegame_protocol::convert::theme_to_wire(theme).tag(),
                width: sim.world().map.width(),
                height: sim.world().map.height(),
                map_hash: sim.world().map.hash(),
                max_players: config.max_players,
                heartbeat_ticks: config.heartbeat_ticks,
                view_radius_tiles: config.view_radius_tiles,
                outbox_bytes: u32::try_from(config.outbox_bytes).unwrap_or(u32::MAX),
                tick_rate: config.tps,
            };
            let log = create_recording(path, start, config.keyframe_interval, &metrics).map_err(
                |source| ServerError::Record {
                    path: path.clone(),
                    source,
                },
            )?;
            sim.set_log(log);
        }
        Ok(Server {
            listener,
            metrics_listener,
            metrics,
            web,
            admin,
            config,
            sim,
            seed,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.bind)
    }

    /// The address `/metrics`, `/healthz` and `/readyz` are served on (with `metrics` set).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The web listener's address (HTTP and WebSocket), when `web` is set.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The world seed in use.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// Whether the admin API is served (a token is configured).
    pub fn admin_enabled(&self) -> bool {
        self.admin.enabled()
    }

    /// Shared tick statistics.
    pub fn stats(&self) -> Arc<Mutex<TickStats>> {
        self.sim.stats()
    }

    /// Serves until `shutdown` completes (or the server empties, with `exit_when_empty_secs`);
    /// then stops accepting, kicks every connection with `ServerShutdown` whatever its state,
    /// seals the recordings and returns once every connection has closed or the drain time
    /// ([`ServerConfig::drain_secs`]) is up.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            metrics_listener,
            metrics,
            web,
            admin,
            config,
            sim,
            ..
        } = self;
        let metrics_task = metrics_listener.map(|l| {
            let router =
                metrics::router(Arc::clone(&metrics)).merge(admin::router(Arc::clone(&admin)));
            tokio::spawn(http::serve(l, router))
        });
        let (commands_tx, commands_rx) = mpsc::channel(4096);
        admin.connect(commands_tx.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let (sessions_stop, sessions_stop_rx) = watch::channel(false);
        let warnings = Arc::new(warnings::Warnings::new(REFUSAL_LOG_INTERVAL));
        let session_config = Arc::new(session::SessionConfig {
            server_name: config.name.clone(),
            tps: config.tps,
            max_players: config.max_players,
            handshake_timeout: Duration::from_secs(config.handshake_timeout_secs),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            outbox_bytes: config.outbox_bytes,
            write_timeout: Duration::from_secs(config.write_timeout_secs),
            read_timeout: Duration::from_secs(config.read_timeout_secs),
            record_dir: config.record_dir.clone(),
            stats: sim.stats(),
            stop: sessions_stop_rx,
            shutdown_message: config.shutdown_message.clone(),
            drain: config.drain(),
            metrics: Arc::clone(&metrics),
            admin: Arc::clone(&admin),
            warnings: Arc::clone(&warnings),
        });
        let connections = drain::Connections::default();
        // The loop runs on its own thread, ahead of the sockets (`tick_thread`).
        let sim_task = tick_thread::spawn(
            tick_thread::TickPriority {
                nice: config.tick_nice,
                realtime: config.tick_realtime,
            },
            ticker::run(
                sim,
                commands_rx,
                stop_rx,
                ticker::LoopOptions {
                    period: config.tick_period(),
                    exit_when_empty: config.exit_when_empty_secs.map(Duration::from_secs),
                    shutdown_message: config.shutdown_message.clone(),
                    metrics: Arc::clone(&metrics),
                    waker: Some(tick_batch::spawn_waker()),
                },
            ),
        );
        // Connections that have not joined yet are limited, per address and in all, so a flood
        // cannot exhaust descriptors; a full table evicts the oldest place of the address holding
        // the most, so silent sockets from many addresses cannot lock honest players out.
        let admission = admission::Admission::evicting(
            config.max_pending_per_address as usize,
            config.max_pending as usize,
        );
        let web_task = web.map(|listener| {
            if !config.web_root.is_dir() {
                warn!(root = %config.web_root.display(), "the web client's folder is missing: only the WebSocket is served");
            }
            tokio::spawn(web::serve(
                listener,
                web::WebContext {
                    root: config.web_root.clone(),
                    replays: config.replays.clone(),
                    session: Arc::clone(&session_config),
                    commands: commands_tx.clone(),
                    admission: admission.clone(),
                    socket_send_buffer: config.socket_send_buffer,
                    connections_per_address: config.max_pending_per_address as usize,
                    connections: config.max_pending as usize,
                    open: connections.clone(),
                },
            ))
        });
        let refuser = refusal::Refuser::new(Arc::clone(&metrics));
        let mut refusal_log = tokio::time::interval(REFUSAL_LOG_INTERVAL);
        refusal_log.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        tokio::pin!(sim_task);
        let mut sim_done = false;
        metrics.set_ready(true);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // Refused: the client is told why (Kick(Busy)) and the socket closed;
                        // the count is logged below.
                        let pending = match admission.admit(peer.ip()) {
                            Ok(pending) => pending,
                            Err(refusal) => {
                                refuser.refuse(stream, refusal);
                                continue;
                            }
                        };
                        if config.socket_send_buffer > 0 {
                            // Bounds what the kernel holds for a client that does not read, so
                            // the outbox's deadline is reached instead of megabytes queueing.
                            let _ = socket2::SockRef::from(&stream)
                                .set_send_buffer_size(config.socket_send_buffer as usize);
                        }
                        let session_config = Arc::clone(&session_config);
                        let commands = commands_tx.clone();
                        let open = connections.open();
                        tokio::spawn(session::serve(
                            stream,
                            peer,
                            session_config,
                            commands,
                            pending,
                            open,
                        ));
                    }
                    Err(e) => {
                        warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = &mut shutdown => break,
                _ = &mut sim_task => {
                    sim_done = true;
                    break;
                }
                _ = refusal_log.tick() => {
                    warnings.flush();
                    let r = admission.take_refusals();
                    if r.per_address + r.busy + r.evicted > 0 {
                        warn!(
                            per_address = r.per_address,
                            busy = r.busy,
                            evicted = r.evicted,
                            addresses = r.addresses,
                            pending = admission.pending(),
                            interval_secs = REFUSAL_LOG_INTERVAL.as_secs(),
                            "connections refused or evicted"
                        );
                    }
                }
            }
        }
        // Stop accepting: new connections are refused by the kernel from here on.
        drop(listener);
        if let Some(task) = web_task {
            task.abort();
        }
        metrics.set_ready(false);
        let drain = config.drain();
        info!(
            connections = connections.count(),
            drain_secs = drain.as_secs(),
            "stopping: no longer accepting; every connection is kicked"
        );
        let started = std::time::Instant::now();
        // The loop first: it kicks its players (with their last frames in order) and seals the
        // simulation recording; then every other connection, in whatever state, is kicked.
        if !sim_done {
            let _ = stop_tx.send(true);
            let _ = (&mut sim_task).await;
        }
        let _ = sessions_stop.send(true);
        match tokio::time::timeout(drain, connections.all_closed()).await {
            Ok(()) => info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "stopped: every connection was kicked and closed"
            ),
            Err(_) => warn!(
                open = connections.count(),
                drain_secs = drain.as_secs(),
                "drain time is up: exiting with connections still open"
            ),
        }
        if let Some(task) = metrics_task {
            task.abort();
        }
    }
}

/// A server running on its own thread (for embedding in the client and in tests).
pub struct ServerHandle {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    web_addr: Option<SocketAddr>,
    seed: String,
    stats: Arc<Mutex<TickStats>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    /// Starts a server on a new thread with its own runtime; returns once it listens.
    pub fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tilegame-server")
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let server = runtime.block_on(Server::bind(config))?;
        let addr = server.local_addr();
        let metrics_addr = server.metrics_addr();
        let web_addr = server.web_addr();
        let seed = server.seed().to_owned();
        let stats = server.stats();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tilegame-server".into())
            .spawn(move || {
                runtime.block_on(server.run(async {
                    let _ = stopped.await;
                }));
            })
            .map_err(ServerError::Runtime)?;
        Ok(ServerHandle {
            addr,
            metrics_addr,
            web_addr,
            seed,
            stats,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of `/metrics`, `/healthz` and `/readyz` (with `metrics` set).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The web listener's address, when `web` is set.
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }

    /// The world seed.
    pub fn seed(&self) -> &str {
        &self.seed
    }

    /// A copy of the tick statistics.
    pub fn stats(&self) -> TickStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Clears the recorded tick durations (to measure a window).
    pub fn reset_tick_times(&self) {
        if let Ok(mut s) = self.stats.lock() {
            s.tick_micros.clear();
        }
    }

    /// Whether the server thread has ended (e.g. it emptied with `exit_when_empty_secs`).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the server, kicking everyone with a reason, and waits for it.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
