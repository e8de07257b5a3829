//! `tilegame`: the game client.
//!
//! With no arguments it hosts a server on localhost and joins it in a window. `--connect` joins
//! another server; `--headless` runs without a window (one idle client, or `--bots N`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The tilegame client.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server to join, HOST:PORT (default: host one on localhost).
    #[arg(long)]
    connect: Option<String>,
    /// Player name (1..=16 of [A-Za-z0-9_-]).
    #[arg(long, default_value = "player")]
    name: String,
    /// Run without a window.
    #[arg(long)]
    headless: bool,
    /// Headless: run this many walking bots instead of one idle client.
    #[arg(long, default_value_t = 0)]
    bots: usize,
    /// Stop after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
    /// Seed for the bots' decisions.
    #[arg(long, default_value_t = 1)]
    bot_seed: u64,
    /// Record the session (every frame, tick hashes, keyframes) to this replay file.
    #[arg(long)]
    record: Option<std::path::PathBuf>,
    /// Ticks between keyframes in the recording.
    #[arg(long, default_value_t = tilegame_client::net::recorder::DEFAULT_KEYFRAME_INTERVAL)]
    keyframe_interval: u32,
    /// When hosting: world seed (random when empty).
    #[arg(long, default_value = "")]
    seed: String,
    /// When hosting: map size (small, medium, large or WxH).
    #[arg(long, default_value = "medium")]
    size: String,
    /// Window: close after this many frames (for tests and CI).
    #[arg(long)]
    frames: Option<u32>,
    /// Window: save a frame (the last with --frames) as PNG.
    #[arg(long)]
    screenshot: Option<std::path::PathBuf>,
    /// Seconds allowed for connecting.
    #[arg(long, default_value_t = 60)]
    connect_timeout: u64,
    /// Seconds of server silence allowed in play.
    #[arg(long, default_value_t = 10)]
    play_timeout: u64,
}

fn main() -> ExitCode {
    tilegame_server::logging::init("warn");
    // winit and Mesa warn (harmlessly, but it reads as fatal) when XDG_RUNTIME_DIR is unset.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        if let Some(dir) = tilegame_server::logging::private_runtime_dir() {
            std::env::set_var("XDG_RUNTIME_DIR", dir);
        }
    }
    let args = Args::parse();
    // Host a server on localhost unless told where to connect.
    let hosted = match &args.connect {
        Some(_) => None,
        None => {
            let config = tilegame_server::ServerConfig {
                bind: "127.0.0.1:0".parse().expect("a valid literal address"),
                seed: args.seed.clone(),
                size: args.size.clone(),
                max_players: 1024,
                exit_when_empty_secs: Some(5),
                ..tilegame_server::ServerConfig::default()
            };
            match tilegame_server::ServerHandle::start(config) {
                Ok(h) => Some(h),
                Err(e) => {
                    eprintln!("error: cannot host a server: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let address = match (&args.connect, &hosted) {
        (Some(a), _) => a.clone(),
        (None, Some(h)) => h.addr().to_string(),
        (None, None) => unreachable!("a server is hosted when no address is given"),
    };
    let recorder = match &args.record {
        None => None,
        Some(path) => {
            let name = if args.bots == 0 {
                args.name.clone()
            } else {
                format!("{}1", args.name)
            };
            match tilegame_client::net::recorder::create(path, &name, args.keyframe_interval) {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("error: cannot record to {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    if !args.headless {
        return run_window(&args, address, recorder, hosted);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let statuses = runtime.block_on(tilegame_client::headless::run(
        tilegame_client::headless::HeadlessOptions {
            address,
            name: args.name,
            bots: args.bots,
            seconds: args.seconds,
            seed: args.bot_seed,
            print_status: true,
            recorder,
            connect_timeout: Duration::from_secs(args.connect_timeout),
            play_timeout: Duration::from_secs(args.play_timeout),
        },
    ));
    drop(hosted);
    let failed: Vec<_> = statuses
        .iter()
        .filter(|s| {
            s.state.is_terminal() && s.state != tilegame_client::net::ConnectionState::Disconnected
        })
        .collect();
    for f in &failed {
        eprintln!("error: {} {}", f.state.message(), f.detail);
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(feature = "render")]
fn run_window(
    args: &Args,
    address: String,
    recorder: Option<tilegame_client::net::recorder::SharedRecorder>,
    hosted: Option<tilegame_server::ServerHandle>,
) -> ExitCode {
    let mut connect = tilegame_client::net::ConnectOptions::new(address, args.name.clone());
    connect.connect_timeout = Duration::from_secs(args.connect_timeout);
    connect.play_timeout = Duration::from_secs(args.play_timeout);
    let options = tilegame_client::app::AppOptions {
        frames: args.frames,
        screenshot: args.screenshot.clone(),
    };
    let result = tilegame_client::app::run(connect, recorder, options);
    drop(hosted);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(tilegame_client::render::RenderError::NoDisplay(detail)) => {
            eprintln!("error: no display to open a window on ({detail}); run with --headless to play without one");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "render"))]
fn run_window(
    _args: &Args,
    _address: String,
    _recorder: Option<tilegame_client::net::recorder::SharedRecorder>,
    _hosted: Option<tilegame_server::ServerHandle>,
) -> ExitCode {
    eprintln!("error: this build has no renderer (feature `render`); run with --headless");
    ExitCode::FAILURE
}
