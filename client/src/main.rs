//! `tilegame`: the game client.
//!
//! With no arguments it opens the main menu. `--host` hosts a server on localhost and joins it,
//! `--connect HOST[:PORT]` joins another server (port 35000 when omitted); `--headless` runs
//! without a window (one idle client, or `--bots N`, hosting a server unless `--connect`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// The tilegame client.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server to join, HOST[:PORT] (port 35000 when omitted).
    #[arg(long, conflicts_with = "host")]
    connect: Option<String>,
    /// Host a server on localhost and join it straight away (skips the menu).
    #[arg(long)]
    host: bool,
    /// Player name (1..=16 of [A-Za-z0-9_-]).
    #[arg(long, default_value = "player")]
    name: String,
    /// Run without a window.
    #[arg(long)]
    headless: bool,
    /// Headless: run this many walking bots instead of one idle client.
    #[arg(long, default_value_t = 0)]
    bots: usize,
    /// Stop after this many seconds (headless bots; a window runs until it is closed).
    #[arg(long)]
    seconds: Option<f64>,
    /// Seed for the bots' decisions.
    #[arg(long, default_value_t = 1)]
    bot_seed: u64,
    /// Headless: say this chat line once in play (repeat for several; one a second); lines
    /// received are printed as `chat NAME: TEXT`.
    #[arg(long, value_name = "TEXT")]
    say: Vec<String>,
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
    /// When hosting: theme (default, hell, islands, hell_islands).
    #[arg(long, default_value = "default")]
    theme: String,
    /// Language of the interface (en, es, fr, ja, pl, ru, zh); default: settings, then system.
    #[arg(long)]
    lang: Option<String>,
    /// Window: open this screen (menu, host, join, options, credits; with --host or --connect also
    /// pause, map, players) — for screenshots.
    #[arg(long)]
    screen: Option<String>,
    /// Folder of settings.ron (default: $TILEGAME_CONFIG_DIR, else the user's config folder).
    #[arg(long)]
    config_dir: Option<std::path::PathBuf>,
    /// Window: close after this many frames (for tests and CI).
    #[arg(long)]
    frames: Option<u32>,
    /// Window: save a frame (the last with --frames) as PNG.
    #[arg(long)]
    screenshot: Option<std::path::PathBuf>,
    /// Window: initial size in pixels, WIDTHxHEIGHT (e.g. 640x360).
    #[arg(long, default_value = "1280x720", value_parser = parse_window_size)]
    window_size: [u32; 2],
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
    let mut args = Args::parse();
    if let Some(lang) = &args.lang {
        if tilegame_client::ui::i18n::match_language(lang).is_none() {
            eprintln!("error: unknown language {lang:?}; available: en, es, fr, ja, pl, ru, zh");
            return ExitCode::FAILURE;
        }
    }
    let connect = match args
        .connect
        .as_deref()
        .map(tilegame_client::ui::address::normalize_address)
    {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            eprintln!("error: --connect: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The name as it travels: NFC, checked with the server's rules.
    match tilegame_game::normalize_name(&args.name) {
        Ok(name) => args.name = name,
        Err(e) => {
            eprintln!("error: --name: {e}");
            return ExitCode::FAILURE;
        }
    }
    if !args.headless {
        return run_window(&args, connect);
    }
    // Headless: host a server on localhost unless told where to connect.
    let hosted = match &connect {
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
    let address = match (&connect, &hosted) {
        (Some(a), _) => a.clone(),
        (None, Some(h)) => h.addr().to_string(),
        (None, None) => unreachable!("a server is hosted when no address is given"),
    };
    let recorder = match recorder(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
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
            say: args.say,
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

/// The recorder for `--record`, if asked.
fn recorder(args: &Args) -> Result<Option<tilegame_client::net::recorder::SharedRecorder>, String> {
    let Some(path) = &args.record else {
        return Ok(None);
    };
    let name = if args.bots == 0 {
        args.name.clone()
    } else {
        format!("{}1", args.name)
    };
    tilegame_client::net::recorder::create(path, &name, args.keyframe_interval)
        .map(Some)
        .map_err(|e| format!("cannot record to {}: {e}", path.display()))
}

#[cfg(feature = "render")]
fn run_window(args: &Args, connect: Option<String>) -> ExitCode {
    use tilegame_client::app::{AppOptions, InGameView, Start};
    use tilegame_client::ui::screens::{Attempt, Screen};
    use tilegame_client::ui::settings::HostSettings;
    let attempt = match (connect, args.host) {
        (Some(address), _) => Some(Attempt {
            address,
            name: args.name.clone(),
            host: None,
        }),
        (None, true) => Some(Attempt {
            address: String::new(),
            name: args.name.clone(),
            host: Some(HostSettings {
                seed: args.seed.clone(),
                size: args.size.clone(),
                theme: args.theme.clone(),
            }),
        }),
        (None, false) => None,
    };
    let start = match (args.screen.as_deref(), attempt) {
        (None, None) | (Some("menu"), None) => Start::Menu,
        (Some("host"), None) => Start::Screen(Screen::Host(Default::default())),
        (Some("join"), None) => Start::Screen(Screen::Join(Default::default())),
        (Some("options"), None) => Start::Screen(Screen::Options(
            tilegame_client::ui::screens::OptionsFrom::Menu,
        )),
        (Some("credits"), None) => Start::Screen(Screen::Credits),
        (None, Some(a)) => Start::Play(a, InGameView::World),
        (Some("pause"), Some(a)) => Start::Play(a, InGameView::Pause),
        (Some("map"), Some(a)) => Start::Play(a, InGameView::Map),
        (Some("players"), Some(a)) => Start::Play(a, InGameView::Players),
        (Some(other), _) => {
            eprintln!(
                "error: --screen {other:?}: use menu, host, join, options or credits, or with --host / \
                 --connect: pause, map or players"
            );
            return ExitCode::FAILURE;
        }
    };
    let recorder = match recorder(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = AppOptions {
        frames: args.frames,
        screenshot: args.screenshot.clone(),
        config_dir: args.config_dir.clone(),
        language: args.lang.clone(),
        start,
        connect_timeout: Some(Duration::from_secs(args.connect_timeout)),
        play_timeout: Some(Duration::from_secs(args.play_timeout)),
        window_size: args.window_size,
    };
    match tilegame_client::app::run(options, recorder) {
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
fn run_window(_args: &Args, _connect: Option<String>) -> ExitCode {
    eprintln!("error: this build has no renderer (feature `render`); run with --headless");
    ExitCode::FAILURE
}

/// Parses `WIDTHxHEIGHT` for `--window-size` (each side 64 to 16384).
fn parse_window_size(s: &str) -> Result<[u32; 2], String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 640x360"))?;
    let side = |v: &str| match v.trim().parse::<u32>() {
        Ok(n) if (64..=16384).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?}: each side must be a number from 64 to 16384"
        )),
    };
    Ok([side(w)?, side(h)?])
}
