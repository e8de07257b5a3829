//! Headless mode: one idle client or N bots, a status line per second, a clean exit.
//!
//! Runs without a GPU or a display. Stops on Ctrl-C or after `--seconds`, disconnecting every
//! bot politely, and returns each bot's final status.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::bots::{run_bot, BotOptions, BotStatus};
use crate::net::recorder::SharedRecorder;
use crate::net::{ConnectOptions, ConnectionState, RateMeter};

/// What to run.
pub struct HeadlessOptions {
    /// `host:port` of the server.
    pub address: String,
    /// Player name (bots get `name1`, `name2`, …).
    pub name: String,
    /// Number of walking bots (0: one idle client named `name`).
    pub bots: usize,
    /// Stop after this long (None: until Ctrl-C).
    pub seconds: Option<f64>,
    /// Seed for the bots' decisions.
    pub seed: u64,
    /// Print a status line per second to stdout.
    pub print_status: bool,
    /// Recorder for the first client's session.
    pub recorder: Option<SharedRecorder>,
    /// Connect and play timeouts.
    pub connect_timeout: Duration,
    /// Silence allowed in play.
    pub play_timeout: Duration,
    /// Chat lines each client says once in play, one a second.
    pub say: Vec<String>,
}

/// Runs the clients until the time is up or Ctrl-C; returns each one's final status.
pub async fn run(mut options: HeadlessOptions) -> Vec<BotStatus> {
    let count = options.bots.max(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut statuses = Vec::with_capacity(count);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let name = if options.bots == 0 {
            options.name.clone()
        } else {
            format!("{}{}", options.name, i + 1)
        };
        let mut connect = ConnectOptions::new(options.address.clone(), name);
        connect.color = 0x40_80_c0 ^ (i as u32).wrapping_mul(0x9e_37_79) & 0xff_ffff;
        connect.connect_timeout = options.connect_timeout;
        connect.play_timeout = options.play_timeout;
        let mut bot = BotOptions::new(
            connect,
            options
                .seed
                .wrapping_add(i as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        bot.say.clone_from(&options.say);
        if options.bots == 0 {
            bot.walk = false;
            bot.break_tiles = false;
        }
        let status = Arc::new(Mutex::new(BotStatus::default()));
        statuses.push(Arc::clone(&status));
        let recorder = if i == 0 {
            options.recorder.take()
        } else {
            None
        };
        tasks.push(tokio::spawn(run_bot(
            bot,
            status,
            stop_rx.clone(),
            recorder,
        )));
    }
    let started = Instant::now();
    let deadline = options
        .seconds
        .map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    let mut meter = RateMeter::default();
    let mut chat_printed = 0usize;
    let mut second = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let all_done = tasks.iter().all(|t| t.is_finished());
        if all_done || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let sleep_until = deadline.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(Instant::now())
        });
        tokio::select! {
            _ = second.tick() => {
                let snapshot: Vec<BotStatus> = statuses.iter().filter_map(|s| s.lock().ok().map(|s| s.clone())).collect();
                let (sent, received): (u64, u64) = snapshot.iter().fold((0, 0), |a, s| (a.0 + s.counters.sent(), a.1 + s.counters.received()));
                let elapsed = started.elapsed().as_secs();
                meter.sample(elapsed, sent, received);
                if options.print_status {
                    println!("{}", status_line(elapsed, &snapshot, &meter));
                    // The first client's chat, as it arrived (every client gets the same lines).
                    if let Some(first) = snapshot.first() {
                        for line in first.chat.iter().skip(chat_printed) {
                            println!("chat {line}");
                        }
                        chat_printed = first.chat.len();
                    }
                }
            }
            _ = tokio::time::sleep(sleep_until) => {}
            _ = &mut ctrl_c => break,
        }
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    statuses
        .iter()
        .filter_map(|s| s.lock().ok().map(|s| s.clone()))
        .collect()
}

/// One status line: state, ping, kB/min in/out, totals, players.
pub fn status_line(elapsed: u64, bots: &[BotStatus], meter: &RateMeter) -> String {
    let rates = meter.rates();
    let connected = bots
        .iter()
        .filter(|b| b.state == ConnectionState::Success)
        .count();
    let state = if bots.len() == 1 {
        bots[0].state.name().to_owned()
    } else {
        format!("{connected}/{} connected", bots.len())
    };
    let pings: Vec<f64> = bots
        .iter()
        .filter_map(|b| b.ping.map(|p| p.as_secs_f64() * 1000.0))
        .collect();
    let ping = if pings.is_empty() {
        "-".to_owned()
    } else {
        format!("{:.1}ms", pings.iter().sum::<f64>() / pings.len() as f64)
    };
    let players = bots.iter().map(|b| b.players).max().unwrap_or(0);
    let tick = bots.iter().map(|b| b.tick).max().unwrap_or(0);
    let (mb_out, mb_in): (f64, f64) = bots.iter().fold((0.0, 0.0), |a, b| {
        (a.0 + b.counters.mb_sent(), a.1 + b.counters.mb_received())
    });
    format!(
        "[{elapsed:>4}s] state={state} ping={ping} in={:.2}kB/min out={:.2}kB/min total in={:.3}MB out={:.3}MB players={players} tick={tick}",
        rates.kb_received_per_min, rates.kb_sent_per_min, mb_in, mb_out
    )
}
