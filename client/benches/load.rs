//! Load and bandwidth benchmark: real headless clients against a real server on loopback.
//!
//! `cargo bench -p tilegame-client --bench load [-- --clients 10,100,1000,2000 --seconds 30 --scenario-seconds 10 --burst 1000 --pin --tick-realtime N]`
//!
//! `--pin` runs the server child on core 0 and these clients on core 1 (with `taskset`), so the
//! server's figures are its own rather than shared with a thousand clients. `--burst N` adds a
//! row where N bots join at once (no pacing) and reports how many were kicked.
//! `--tick-realtime N` sets the server's `--tick-realtime` (0: its tick at nice -10 only); each
//! row says how the tick was scheduled (real time needs root or `CAP_SYS_NICE`).
//!
//! The server runs in a child process (this executable started with `--serve`), so its memory
//! per client is measured alone and its tick timings come from its own counters; the clients run
//! here, all in one runtime. Two tables are printed:
//!
//! 1. Load: for each N, server tick work p50/p99/max, snapshots received per client per second,
//!    bytes per player per tick in each direction, clients dropped, server memory per client.
//! 2. Bandwidth against the original game, per client, side by side, for 1/5/10 players standing
//!    still, 10 moving and 10 breaking tiles. The original's figures are its measured ones
//!    (ORIGINAL.md) where they exist. Its state does not depend on movement, so "10 moving" uses
//!    its 10-player figure; "10 breaking" is modelled: every state resends all players (288 B)
//!    plus the run-length dynatile layer (~1.18 B per broken tile, from its 160 B → 1,344 B at
//!    1,000 broken), 10 states per second plus one extra state per break; its client sends
//!    639 B/s plus 64 B per break.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tilegame_client::bots::{run_bot, BotOptions, BotStatus};
use tilegame_client::net::{ConnectOptions, ConnectionState};
use tokio::sync::watch;

/// Original game, per client (ORIGINAL.md): (players, client→server B/s, server→client B/s, states/s).
const ORIGINAL_STILL: [(usize, f64, f64, f64); 3] = [
    (1, 639.0, 2235.0, 9.98),
    (5, 638.0, 2872.0, 9.97),
    (10, 639.0, 3834.0, 9.98),
];

struct ServerChild {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    addr: String,
}

impl ServerChild {
    fn start(size: &str, theme: &str, pin: bool) -> ServerChild {
        let exe = std::env::current_exe().expect("own executable");
        let mut command = if pin {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        if let Some(Some(prio)) = TICK_REALTIME.get() {
            command.env(TICK_REALTIME_ENV, prio.to_string());
        }
        let mut child = command
            .args(["--serve", size, theme])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server child");
        let stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = lines
            .next()
            .and_then(Result::ok)
            .expect("server address line");
        ServerChild {
            child,
            stdin,
            lines,
            addr,
        }
    }

    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("command");
        self.stdin.flush().expect("flush");
        self.lines.next().and_then(Result::ok).unwrap_or_default()
    }

    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

/// `--tick-realtime N`: the server child's real-time priority for its tick (unset: the
/// server's default), passed to the child in [`TICK_REALTIME_ENV`].
static TICK_REALTIME: std::sync::OnceLock<Option<u8>> = std::sync::OnceLock::new();

/// The environment variable that hands `--tick-realtime` to the server child.
const TICK_REALTIME_ENV: &str = "LOADBENCH_TICK_REALTIME";

/// How this process's `tilegame-tick` thread is scheduled now ("real-time", "normal" or
/// "unknown"), from its `/proc` entry: what the tick figures were measured under.
fn tick_scheduling() -> &'static str {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return "unknown";
    };
    for task in tasks.flatten() {
        let path = task.path();
        let is_tick =
            std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "tilegame-tick");
        if !is_tick {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the command name: the policy is the 41st field of the line, the 39th
        // after the name.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        return match rest.split_whitespace().nth(38) {
            Some("1") | Some("2") => "real-time",
            Some(_) => "normal",
            None => "unknown",
        };
    }
    "unknown"
}

/// The `--serve` mode: a server that answers `reset`, `stats` and `quit` on stdin.
fn serve(size: &str, theme: &str) {
    let theme = match theme {
        "hell" => tilegame_server::config::ThemeName::Hell,
        _ => tilegame_server::config::ThemeName::Default,
    };
    let config = tilegame_server::ServerConfig {
        bind: "127.0.0.1:0".parse().expect("address"),
        seed: "loadbench".into(),
        size: size.into(),
        theme,
        max_players: 4096,
        max_pending_per_address: 1024,
        max_pending: 2048,
        idle_timeout_secs: 30,
        ..tilegame_server::ServerConfig::default()
    };
    let config = match std::env::var(TICK_REALTIME_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(tick_realtime) => tilegame_server::ServerConfig {
            tick_realtime,
            ..config
        },
        None => config,
    };
    let server = tilegame_server::ServerHandle::start(config).expect("server starts");
    println!("{}", server.addr());
    let _ = std::io::stdout().flush();
    let mut since = tilegame_server::ReplicationCounts::default();
    let mut phases_since = tilegame_server::PhaseTimes::default();
    for line in std::io::stdin().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "reset" => {
                server.reset_tick_times();
                let s = server.stats();
                since = s.replication;
                phases_since = s.phases;
                println!("ok");
            }
            "stats" => {
                let s = server.stats();
                let mut t = s.tick_micros.clone();
                t.sort_unstable();
                let pct = |p: f64| {
                    t.get(((t.len() as f64 - 1.0) * p).round() as usize)
                        .copied()
                        .unwrap_or(0)
                };
                let r = s.replication;
                let ticks = r.ticks.saturating_sub(since.ticks).max(1);
                let per_client_tick = |now: u64, then: u64| {
                    now.saturating_sub(then) as f64 / ticks as f64 / s.players.max(1) as f64
                };
                let phases = s.phases.mean_micros_since(&phases_since);
                println!(
                    "{} {} {} {} {} {} {:.1} {:.1} {:.1} {:.0} {:.0} {:.0} {:.0} {:.0} {}",
                    pct(0.5),
                    pct(0.99),
                    t.last().copied().unwrap_or(0),
                    s.dropped_slow,
                    s.players,
                    t.len(),
                    per_client_tick(r.visible, since.visible),
                    per_client_tick(r.candidates, since.candidates),
                    per_client_tick(r.deltas, since.deltas),
                    phases[0],
                    phases[1],
                    phases[2],
                    phases[3],
                    phases[4],
                    tick_scheduling(),
                );
            }
            _ => break,
        }
        let _ = std::io::stdout().flush();
    }
    server.shutdown();
}

struct Fleet {
    statuses: Vec<Arc<Mutex<BotStatus>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<Result<(), tilegame_client::net::ConnectError>>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    sent: u64,
    received: u64,
    snapshots: u64,
    connected: usize,
    tiles: u64,
    roaming: usize,
}

impl Fleet {
    fn spawn(
        rt: &tokio::runtime::Runtime,
        addr: &str,
        n: usize,
        walk: bool,
        breaks: bool,
        roam_px: i32,
        burst: bool,
    ) -> Fleet {
        let (stop, stop_rx) = watch::channel(false);
        let mut statuses = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..n {
            let mut connect = ConnectOptions::new(addr.to_owned(), format!("bot{i}"));
            connect.play_timeout = Duration::from_secs(30);
            let mut o = BotOptions::new(connect, 1000 + i as u64);
            o.walk = walk;
            o.break_tiles = breaks;
            o.roam_px = roam_px;
            let status = Arc::new(Mutex::new(BotStatus::default()));
            statuses.push(Arc::clone(&status));
            tasks.push(rt.spawn(run_bot(o, status, stop_rx.clone(), None)));
            if !burst && i % 10 == 9 {
                // Join at up to ~200 per second, as players arrive, not as one burst.
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Fleet {
            statuses,
            stop,
            tasks,
        }
    }

    fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.statuses {
            let s = s.lock().expect("status");
            t.sent += s.counters.sent();
            t.received += s.counters.received();
            t.snapshots += s.snapshots;
            t.tiles += s.tiles_broken;
            t.connected += usize::from(s.state == ConnectionState::Success);
            t.roaming += usize::from(s.roaming);
        }
        t
    }

    fn wait_connected(&self, n: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.totals().connected >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn stop(self, rt: &tokio::runtime::Runtime) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), t).await });
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(
            args.get(2).map_or("medium", String::as_str),
            args.get(3).map_or("default", String::as_str),
        );
        return;
    }
    let clients: Vec<usize> = arg(&args, "--clients")
        .unwrap_or_else(|| "10,100,1000,2000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: f64 = arg(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(30.0);
    let scenario_seconds: f64 = arg(&args, "--scenario-seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let pin = args.iter().any(|a| a == "--pin");
    let _ = TICK_REALTIME.set(arg(&args, "--tick-realtime").and_then(|s| s.parse().ok()));
    let burst: usize = arg(&args, "--burst")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    if pin {
        // The clients on core 1; the server child goes on core 0 (ServerChild::start).
        let pinned = Command::new("taskset")
            .args(["-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
        if !pinned.is_ok_and(|s| s.success()) {
            eprintln!("--pin: taskset failed; running unpinned");
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    println!(
        "\n== Load: N clients in one process, one server (child process{}), {seconds:.0} s at 20 ticks/s ==",
        if pin { ", server on core 0, clients on core 1" } else { ", same 2 cores" }
    );
    println!(
        "{:>6} | {:>9} {:>9} {:>9} | {:>7} {:>7} {:>7} | {:>10} | {:>10} {:>10} | {:>7} | {:>10}",
        "N",
        "tick p50",
        "tick p99",
        "tick max",
        "seen/cl",
        "looked",
        "Δ/cl",
        "snaps/cl/s",
        "B/pl/tick↓",
        "B/pl/tick↑",
        "dropped",
        "server KB/cl"
    );
    let mut n10_tick_p50 = None;
    let mut phase_lines = Vec::new();
    for &n in &clients {
        // Bots roam a Large map (192², ±3,072 px) and spread beyond each other's view.
        let mut server = ServerChild::start("large", "default", pin);
        let rss_before = server.rss_kb();
        let roam = if n >= 500 { 2900 } else { 2500 };
        let fleet = Fleet::spawn(&rt, &server.addr, n, true, true, roam, false);
        let all = fleet.wait_connected(n, Duration::from_secs(120));
        // Spread out: every bot first walks to its own random point. Wait until 95% of them
        // are done (bots starved of CPU walk out late), at least 3 s, at most 90 s.
        let spread_from = Instant::now();
        std::thread::sleep(Duration::from_secs(3));
        while fleet.totals().roaming < n * 95 / 100
            && spread_from.elapsed() < Duration::from_secs(90)
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        let rss_after = server.rss_kb();
        server.ask("reset");
        let t0 = fleet.totals();
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let t1 = fleet.totals();
        let elapsed = started.elapsed().as_secs_f64();
        let stats = server.ask("stats");
        let f: Vec<f64> = stats
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
        let (p50, p99, max, dropped_slow) =
            (at(0) as u64, at(1) as u64, at(2) as u64, at(3) as u64);
        let (seen, looked, deltas) = (at(6), at(7), at(8));
        let connected_end = fleet.totals().connected;
        let dropped = (n - connected_end.min(n)) as u64;
        let ticks = elapsed * 20.0;
        let per = |bytes: u64| bytes as f64 / n as f64 / ticks;
        println!(
            "{:>6} | {:>7}µs {:>7}µs {:>7}µs | {:>7.1} {:>7.1} {:>7.1} | {:>10.2} | {:>10.1} {:>10.1} | {:>7} | {:>10.0}{}",
            n,
            p50,
            p99,
            max,
            seen,
            looked,
            deltas,
            (t1.snapshots - t0.snapshots) as f64 / n as f64 / elapsed,
            per(t1.received - t0.received),
            per(t1.sent - t0.sent),
            format!("{dropped} ({dropped_slow} slow)"),
            rss_after.saturating_sub(rss_before) as f64 / n as f64,
            if all { "" } else { "  (not all connected)" }
        );
        phase_lines.push(format!(
            "{n:>6} | {} | tick scheduling: {}",
            (0..tilegame_server::PHASES.len())
                .map(|i| format!("{} {:.0}", tilegame_server::PHASES[i], at(9 + i)))
                .collect::<Vec<_>>()
                .join(" / "),
            stats.split_whitespace().last().unwrap_or("unknown")
        ));
        if n == 10 {
            n10_tick_p50 = Some(p50);
        }
        fleet.stop(&rt);
    }
    if !phase_lines.is_empty() {
        println!(
            "\nserver tick by phase, mean µs per tick ({}):",
            tilegame_server::PHASES.join(", ")
        );
        for line in &phase_lines {
            println!("{line}");
        }
    }
    if burst > 0 {
        // Everyone at once: joins and their events must evict nobody that reads its socket.
        let mut server = ServerChild::start("large", "default", pin);
        server.ask("reset");
        let started = Instant::now();
        let fleet = Fleet::spawn(&rt, &server.addr, burst, true, false, 2900, true);
        let all = fleet.wait_connected(burst, Duration::from_secs(120));
        let joined_in = started.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(5));
        let stats = server.ask("stats");
        // The same fields as the rows above (some are decimals).
        let f: Vec<u64> = stats
            .split_whitespace()
            .map(|v| v.parse::<f64>().map_or(0, |v| v as u64))
            .collect();
        let connected = fleet.totals().connected;
        let phase = |i: usize| f.get(9 + i).copied().unwrap_or(0);
        println!(
            "burst of {burst} joins at once: {connected} connected after {joined_in:.1} s{}, {} kicked as too slow, {} dropped; tick p50 {} µs p99 {} µs max {} µs during the burst",
            if all { "" } else { " (not all)" },
            f.get(3).copied().unwrap_or(0),
            burst - connected.min(burst),
            f.first().copied().unwrap_or(0),
            f.get(1).copied().unwrap_or(0),
            f.get(2).copied().unwrap_or(0),
        );
        println!(
            "  tick scheduling: {}",
            stats.split_whitespace().last().unwrap_or("unknown")
        );
        println!(
            "  by phase, mean µs per tick: {}",
            (0..tilegame_server::PHASES.len())
                .map(|i| format!("{} {}", tilegame_server::PHASES[i], phase(i)))
                .collect::<Vec<_>>()
                .join(" / ")
        );
        fleet.stop(&rt);
        drop(server);
    }
    if let Some(p50) = n10_tick_p50 {
        println!("server CPU per tick at N = 10: {p50} µs of work (target < 1,000 µs); original: ~2.3% of a core per client");
    }

    if scenario_seconds <= 0.0 {
        return;
    }
    println!("\n== Bandwidth per client against the original ({scenario_seconds:.0} s each) ==");
    println!(
        "{:<22} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7} | {:>7} {:>7} | {:>9}",
        "scenario",
        "ours ↑B/s",
        "orig ↑B/s",
        "ratio",
        "ours ↓B/s",
        "orig ↓B/s",
        "ratio",
        "ours st/s",
        "orig st/s",
        "↓B/pl/snap"
    );
    let scenarios: [(&str, usize, bool, bool); 5] = [
        ("1 standing still", 1, false, false),
        ("5 standing still", 5, false, false),
        ("10 standing still", 10, false, false),
        ("10 moving", 10, true, false),
        ("10 breaking tiles", 10, false, true),
    ];
    for (name, n, walk, breaks) in scenarios {
        let server = ServerChild::start("large", if breaks { "hell" } else { "default" }, pin);
        let fleet = Fleet::spawn(&rt, &server.addr, n, walk, breaks, 400, false);
        fleet.wait_connected(n, Duration::from_secs(30));
        std::thread::sleep(Duration::from_secs(3));
        let t0 = fleet.totals();
        let started = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(scenario_seconds));
        let t1 = fleet.totals();
        let secs = started.elapsed().as_secs_f64();
        let up = (t1.sent - t0.sent) as f64 / n as f64 / secs;
        let down = (t1.received - t0.received) as f64 / n as f64 / secs;
        let states = (t1.snapshots - t0.snapshots) as f64 / n as f64 / secs;
        let per_player_snapshot = if states > 0.0 {
            down / states / n as f64
        } else {
            0.0
        };
        let (orig_up, orig_down, orig_states) = match ORIGINAL_STILL.iter().find(|o| o.0 == n) {
            Some(&(_, up, down, st)) if !breaks => (up, down, st),
            _ => {
                // Model of the original for breaking (see the module doc).
                let breaks_per_s = (t1.tiles - t0.tiles) as f64 / secs;
                let broken_avg = t0.tiles as f64 + breaks_per_s * secs / 2.0;
                let state = 288.0 + 1.18 * broken_avg;
                (
                    639.0 + 64.0 * breaks_per_s / n as f64,
                    (9.98 + breaks_per_s) * state,
                    9.98,
                )
            }
        };
        println!(
            "{:<22} | {:>9.0} {:>9.0} {:>6.1}% | {:>9.0} {:>9.0} {:>6.1}% | {:>7.2} {:>7.2} | {:>9.2}",
            name,
            up,
            orig_up,
            100.0 * up / orig_up,
            down,
            orig_down,
            100.0 * down / orig_down,
            states,
            orig_states,
            per_player_snapshot
        );
        fleet.stop(&rt);
        drop(server);
    }
    println!("\ntargets: standing still ≤ 5% of the original's bytes; 10 moving: ≤ 50% downstream at 20 states/s (≤ 8 B per moving player per snapshot); upstream ≤ 50%");
}
