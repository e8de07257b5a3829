//! `tilegame-server`: runs the dedicated server from flags and an optional RON config.
//!
//! SIGTERM (what service managers and orchestrators send) and SIGINT (Ctrl-C) both stop it
//! gracefully: no new connections, `Kick(ServerShutdown)` to every connection in every state,
//! recordings sealed, exit 0 within `--drain-secs`. A second signal during that exits at once
//! with 128 + the signal's number.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tilegame_server::config::ThemeName;
use tilegame_server::logging::LogFormat;
use tilegame_server::{Server, ServerConfig};

/// The tilegame dedicated server (authoritative, fixed tick rate).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// RON config file; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 0.0.0.0:35000].
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Player limit [default: 10].
    #[arg(long)]
    max_players: Option<u32>,
    /// Ticks per second [default: 20].
    #[arg(long)]
    tps: Option<u32>,
    /// World seed (up to 64 of [0-9a-zA-Z]; random when empty).
    #[arg(long)]
    seed: Option<String>,
    /// World theme.
    #[arg(long, value_enum)]
    theme: Option<ThemeName>,
    /// Map size: small, medium, large or WxH (up to 1024x1024).
    #[arg(long)]
    size: Option<String>,
    /// Server name shown to players.
    #[arg(long)]
    name: Option<String>,
    /// Seconds allowed for handshake and login.
    #[arg(long)]
    handshake_timeout: Option<u64>,
    /// Seconds a playing client may stay silent.
    #[arg(long)]
    idle_timeout: Option<u64>,
    /// Stop this many seconds after the last player leaves.
    #[arg(long)]
    exit_when_empty: Option<u64>,
    /// Record every connection into this folder (one replay file each).
    #[arg(long)]
    record_dir: Option<PathBuf>,
    /// Record the whole simulation into this file (`tilegame-replay verify FILE` re-simulates it).
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Ticks between the simulation recording's keyframes, for seeking (0 = none) [default: 200].
    #[arg(long, value_name = "TICKS")]
    keyframe_interval: Option<u32>,
    /// Seconds a stop (SIGTERM, SIGINT) waits for connections to take their Kick [default: 10].
    #[arg(long, value_name = "SECS")]
    drain_secs: Option<u64>,
    /// The message of the Kick(ServerShutdown) every connection gets when the server stops.
    #[arg(long, value_name = "TEXT")]
    shutdown_message: Option<String>,
    /// Nice value the simulation's thread asks for, so the tick runs ahead of the sockets
    /// (-20..=19; asking below the process's own needs CAP_SYS_NICE or RLIMIT_NICE) [default: -10].
    #[arg(long, value_name = "NICE", allow_negative_numbers = true)]
    tick_nice: Option<i32>,
    /// Real-time (SCHED_FIFO) priority the simulation's thread asks for, so the tick takes a
    /// core the moment it wakes (1..=99, 0: none; needs CAP_SYS_NICE or RLIMIT_RTPRIO; the
    /// tick leaves real time if it overruns its period) [default: 10].
    #[arg(long, value_name = "PRIO")]
    tick_realtime: Option<u8>,
    /// Serve /metrics (Prometheus), /healthz and /readyz on ADDR [default when given without
    /// ADDR: 127.0.0.1:35001].
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:35001")]
    metrics: Option<SocketAddr>,
    /// Serve the admin API (`/admin/...` on the --metrics listener) with the bearer token in
    /// FILE (else the environment variable TILEGAME_ADMIN_TOKEN; off without either).
    #[arg(long, value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// Keep bans in FILE (JSON), read back at start.
    #[arg(long, value_name = "FILE")]
    bans: Option<PathBuf>,
    /// Log format on standard error: one line of text per event, or one JSON object per line.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Also serve the browser client over HTTP and the game over WebSocket (`/ws`) on ADDR
    /// [default when given alone: 0.0.0.0:35080].
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "0.0.0.0:35080")]
    web: Option<SocketAddr>,
    /// The browser client's folder that `--web` serves [default: web/dist].
    #[arg(long, value_name = "DIR")]
    web_root: Option<PathBuf>,
    /// Serve the `.tgr` recordings in DIR under `/replays/` on the `--web` listener (for the
    /// page's `?replay=/replays/NAME.tgr`) [default: not served].
    #[arg(long, value_name = "DIR")]
    replays: Option<PathBuf>,
}

impl Args {
    fn into_config(self) -> Result<ServerConfig, tilegame_server::ConfigError> {
        let mut c = match &self.config {
            Some(path) => ServerConfig::load(path)?,
            None => ServerConfig::default(),
        };
        if let Some(v) = self.bind {
            c.bind = v;
        }
        if let Some(v) = self.max_players {
            c.max_players = v;
        }
        if let Some(v) = self.tps {
            c.tps = v;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = self.theme {
            c.theme = v;
        }
        if let Some(v) = self.size {
            c.size = v;
        }
        if let Some(v) = self.name {
            c.name = v;
        }
        if let Some(v) = self.handshake_timeout {
            c.handshake_timeout_secs = v;
        }
        if let Some(v) = self.idle_timeout {
            c.idle_timeout_secs = v;
        }
        if self.record_dir.is_some() {
            c.record_dir = self.record_dir;
        }
        if self.record.is_some() {
            c.record = self.record;
        }
        if let Some(v) = self.keyframe_interval {
            c.keyframe_interval = v;
        }
        if let Some(v) = self.drain_secs {
            c.drain_secs = v;
        }
        if let Some(v) = self.shutdown_message {
            c.shutdown_message = v;
        }
        if self.tick_nice.is_some() {
            c.tick_nice = self.tick_nice;
        }
        if let Some(v) = self.tick_realtime {
            c.tick_realtime = v;
        }
        if self.metrics.is_some() {
            c.metrics = self.metrics;
        }
        if self.web.is_some() {
            c.web = self.web;
        }
        if let Some(v) = self.web_root {
            c.web_root = v;
        }
        if self.replays.is_some() {
            c.replays = self.replays;
        }
        if self.admin_token_file.is_some() {
            c.admin_token_file = self.admin_token_file;
        }
        if self.bans.is_some() {
            c.bans = self.bans;
        }
        if self.exit_when_empty.is_some() {
            c.exit_when_empty_secs = self.exit_when_empty;
        }
        Ok(c)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tilegame_server::logging::init_as("info", args.log_format);
    let config = match args.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let server = match Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stop = match stop_signals() {
            Ok(stop) => stop,
            Err(e) => {
                eprintln!("error: cannot handle stop signals: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!(
            "tilegame-server listening on {} (seed {})",
            server.local_addr(),
            server.seed()
        );
        if let Some(addr) = server.metrics_addr() {
            println!("tilegame-server metrics on {addr} (/metrics /healthz /readyz)");
            if server.admin_enabled() {
                println!("tilegame-server admin API on {addr} (/admin/...)");
            }
        }
        if let Some(web) = server.web_addr() {
            println!(
                "tilegame-server serving the web client on http://{web}/ (WebSocket {web}{})",
                tilegame_server::web::WS_PATH
            );
        }
        server
            .run(async {
                let _ = stop.await;
            })
            .await;
        ExitCode::SUCCESS
    })
}

/// Installs the SIGTERM and SIGINT handlers; the returned channel fires at the first of them.
/// A second one exits the process at once, with 128 + its number.
fn stop_signals() -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = first,
            "stopping gracefully (a second signal exits at once)"
        );
        let _ = first_tx.send(());
        let (second, code) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 128 + 15),
            _ = int.recv() => ("SIGINT", 128 + 2),
        };
        tracing::warn!(signal = second, "second signal: exiting at once");
        std::process::exit(code);
    });
    Ok(first_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_alone_listens_on_the_documented_default() {
        let args = Args::try_parse_from(["tilegame-server", "--web"]).unwrap();
        let web = args.into_config().unwrap().web.unwrap();
        assert_eq!(web.port(), tilegame_server::web::DEFAULT_PORT);
        let args = Args::try_parse_from(["tilegame-server", "--web", "127.0.0.1:0"]).unwrap();
        assert_eq!(args.web, Some("127.0.0.1:0".parse().unwrap()));
        let args = Args::try_parse_from(["tilegame-server"]).unwrap();
        assert_eq!(args.into_config().unwrap().web, None);
    }
}
