//! Headless bots: seeded random walks that also break tiles, over real connections.
//!
//! A bot is one task: it joins, then every local tick (20 per second) decides an input from its
//! own seeded generator, predicts it and sends it, while applying the server's packets to its own
//! managers. Bots are what the load benchmark and the end-to-end tests drive; they measure what a
//! player would see (snapshots per second, ping, bytes each way, prediction error).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tilegame_game::{self as game, Action, SplitMix64, SUBPX};
use tilegame_protocol::convert::input_to_wire;
use tilegame_protocol::v1::play;
use tokio::sync::watch;

use crate::keyframe::Keyframe;
use crate::net::ping::PingTracker;
use crate::net::recorder::SharedRecorder;
use crate::net::{
    ByteCounters, ConnectError, ConnectOptions, Connection, ConnectionState, FrameObserver,
};
use crate::play::PlayState;

/// How a bot behaves.
#[derive(Debug, Clone)]
pub struct BotOptions {
    /// Where and as whom to connect.
    pub connect: ConnectOptions,
    /// Seed of the bot's decisions.
    pub seed: u64,
    /// Walk around (false: stand still, like an idle player).
    pub walk: bool,
    /// Break tiles now and then.
    pub break_tiles: bool,
    /// Local tick period (50 ms = 20 ticks/s).
    pub tick: Duration,
    /// How far from the centre the bot wanders, in pixels; it first walks to a random point
    /// within this square, then walks randomly inside it.
    pub roam_px: i32,
    /// Chat lines to say once in play, one a second (within the server's rate limit).
    pub say: Vec<String>,
}

impl BotOptions {
    /// A walking, breaking bot.
    pub fn new(connect: ConnectOptions, seed: u64) -> Self {
        BotOptions {
            connect,
            seed,
            walk: true,
            break_tiles: true,
            tick: Duration::from_millis(50),
            roam_px: 600,
            say: Vec::new(),
        }
    }
}

/// What a bot reports while it runs.
#[derive(Debug, Clone)]
pub struct BotStatus {
    /// Connection state.
    pub state: ConnectionState,
    /// Detail of the last failure.
    pub detail: String,
    /// Latest round-trip time.
    pub ping: Option<Duration>,
    /// Players known.
    pub players: usize,
    /// Latest server tick.
    pub tick: u32,
    /// Snapshots received.
    pub snapshots: u64,
    /// Inputs sent.
    pub inputs: u64,
    /// Tiles this bot broke (acknowledged break actions).
    pub tiles_broken: u64,
    /// Largest local prediction error seen, in pixels.
    pub max_prediction_error_px: i32,
    /// Whether the bot is done walking out to its first random point (it is spread out).
    pub roaming: bool,
    /// The socket's counters.
    pub counters: ByteCounters,
    /// Chat received, oldest first (at most [`CHAT_KEPT`]): `NAME: TEXT`, or `refused: REASON`
    /// for a line of this bot's that the server refused.
    pub chat: Vec<String>,
}

/// Chat lines a bot's status keeps.
pub const CHAT_KEPT: usize = 256;

impl Default for BotStatus {
    fn default() -> Self {
        BotStatus {
            state: ConnectionState::Idle,
            detail: String::new(),
            ping: None,
            players: 0,
            tick: 0,
            snapshots: 0,
            inputs: 0,
            tiles_broken: 0,
            max_prediction_error_px: 0,
            roaming: false,
            counters: ByteCounters::new(),
            chat: Vec::new(),
        }
    }
}

/// The bot's decision-making: a seeded random walk with occasional tile breaking.
#[derive(Debug)]
pub struct Brain {
    rng: SplitMix64,
    dir: (i8, i8),
    ticks_left: u32,
    walk: bool,
    break_tiles: bool,
    roam_px: i32,
    target: Option<(i32, i32)>,
    /// Ticks spent walking to `target` (given up after [`TARGET_TICKS`]: the way is blocked).
    target_ticks: u32,
}

/// Ticks a brain walks towards its first point before giving up (300 ticks at top speed cover
/// 5,250 px, more than any point of the roaming square is from the spawn).
const TARGET_TICKS: u32 = 300;

impl Brain {
    /// A brain seeded with `seed` that wanders within `roam_px` of the centre.
    pub fn new(seed: u64, walk: bool, break_tiles: bool, roam_px: i32) -> Self {
        let mut rng = SplitMix64::new(seed);
        let roam = roam_px.max(1);
        let span = 2 * roam as u64 + 1;
        let target = Some((rng.below(span) as i32 - roam, rng.below(span) as i32 - roam));
        Brain {
            rng,
            dir: (0, 0),
            ticks_left: 0,
            walk,
            break_tiles,
            roam_px: roam,
            target,
            target_ticks: 0,
        }
    }

    /// Whether the brain is done walking to its first random point (or does not walk).
    pub fn roaming(&self) -> bool {
        self.target.is_none() || !self.walk
    }

    /// Decides this tick's movement (and queues actions) from the current state.
    pub fn decide(&mut self, state: &mut PlayState) -> (i8, i8) {
        let Some(me) = state.players.local().cloned() else {
            return (0, 0);
        };
        if me.health == 0 {
            if state.actions.is_empty() {
                state.actions.push(Action::Respawn);
            }
            return (0, 0);
        }
        if !state.actions.is_empty() {
            return (0, 0); // stand still while breaking so the tile stays in reach
        }
        if self.break_tiles && self.rng.below(40) == 0 {
            if let Some(tile) = self.breakable_near(state) {
                state.actions.push(Action::Break {
                    x: tile.0,
                    y: tile.1,
                });
                return (0, 0);
            }
        }
        if !self.walk {
            return (0, 0);
        }
        let (x, y) = state.players.prediction().pos_px();
        if let Some((tx, ty)) = self.target {
            // First walk out to a random point, so bots spread over their roaming square.
            let (dx, dy) = (tx as f32 - x, ty as f32 - y);
            self.target_ticks += 1;
            if (dx.abs() < 24.0 && dy.abs() < 24.0) || self.target_ticks > TARGET_TICKS {
                self.target = None;
            } else {
                return (axis(dx), axis(dy));
            }
        }
        if self.ticks_left == 0 {
            self.dir = (self.rng.below(3) as i8 - 1, self.rng.below(3) as i8 - 1);
            self.ticks_left = 10 + self.rng.below(50) as u32;
            // Turn back when outside the roaming square.
            let roam = self.roam_px as f32;
            if x.abs() > roam {
                self.dir.0 = if x > 0.0 { -1 } else { 1 };
            }
            if y.abs() > roam {
                self.dir.1 = if y > 0.0 { -1 } else { 1 };
            }
        }
        self.ticks_left -= 1;
        self.dir
    }

    fn breakable_near(&mut self, state: &PlayState) -> Option<(u16, u16)> {
        let map = state.world.map()?;
        let s = state.players.prediction().state();
        let (cx, cy) = game::subpx_to_tile(map.width(), map.height(), s.x, s.y)?;
        let mut found = Vec::new();
        for dy in -2i32..=2 {
            for dx in -2i32..=2 {
                let (x, y) = (i32::from(cx) + dx, i32::from(cy) + dy);
                if x < 0 || y < 0 {
                    continue;
                }
                let (x, y) = (x as u16, y as u16);
                if map.get(x, y).is_some_and(|t| t.attrs().breakable)
                    && game::in_reach(map, &s, x, y)
                {
                    found.push((x, y));
                }
            }
        }
        if found.is_empty() {
            None
        } else {
            Some(found[self.rng.below(found.len() as u64) as usize])
        }
    }
}

/// Connection attempts a bot makes before it reports the failure.
const CONNECT_ATTEMPTS: u32 = 30;

/// Failures that a later attempt may not meet: the server was busy (Kick(Busy)), closed or
/// refused the connection before answering, or did not answer in time. Any other refusal with a
/// reason is final.
fn retryable(state: &ConnectionState) -> bool {
    matches!(
        state,
        ConnectionState::Busy
            | ConnectionState::Refused
            | ConnectionState::Disconnected
            | ConnectionState::Timeout
    )
}

/// How long a bot waits before connection attempt `attempt + 1`: doubling from 50 ms up to 2 s,
/// spread by the bot's seed so that a crowd does not come back all at once.
fn backoff(attempt: u32, seed: u64) -> std::time::Duration {
    let base = 50u64 << attempt.min(6);
    let base = base.min(2_000);
    let spread = (seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 33)
        .wrapping_add(u64::from(attempt) * 7919)
        % (base / 2 + 1);
    std::time::Duration::from_millis(base / 2 + spread)
}

fn axis(d: f32) -> i8 {
    if d > 12.0 {
        1
    } else if d < -12.0 {
        -1
    } else {
        0
    }
}

/// Runs one bot until `stop` turns true or the connection ends; `status` is updated as it goes.
pub async fn run_bot(
    options: BotOptions,
    status: Arc<Mutex<BotStatus>>,
    mut stop: watch::Receiver<bool>,
    recorder: Option<SharedRecorder>,
) -> Result<(), ConnectError> {
    let counters = status
        .lock()
        .map(|s| s.counters.clone())
        .unwrap_or_default();
    let set = |f: &mut dyn FnMut(&mut BotStatus)| {
        if let Ok(mut s) = status.lock() {
            f(&mut s);
        }
    };
    let mut report = |state: ConnectionState| set(&mut |s| s.state = state.clone());
    let mut attempt = 0u32;
    let (mut conn, joined) = loop {
        let result = Connection::connect(
            &options.connect,
            counters.clone(),
            recorder
                .clone()
                .map(|r| Box::new(r) as Box<dyn FrameObserver>),
            &mut report,
        )
        .await;
        match result {
            Ok(ok) => break ok,
            // A server admits a bounded number of pending connections per address and sends the
            // rest Kick(Busy): a crowd of bots from one machine backs off and tries again.
            Err(e) if retryable(&e.state) && attempt < CONNECT_ATTEMPTS && !*stop.borrow() => {
                attempt += 1;
                let wait = backoff(attempt, options.seed);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                set(&mut |s| {
                    s.state = e.state.clone();
                    s.detail.clone_from(&e.detail);
                });
                return Err(e);
            }
        }
    };
    let mut play = PlayState::new();
    play.join(&joined, &options.connect.name);
    let mut brain = Brain::new(
        options.seed,
        options.walk,
        options.break_tiles,
        options.roam_px,
    );
    let mut ticker = tokio::time::interval(options.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ping = PingTracker::new();
    let mut last_ping = Instant::now() - Duration::from_secs(10);
    let mut was_active = false;
    let mut roaming = false;
    let mut snapshots = 0u64;
    let mut inputs = 0u64;
    let mut to_say: std::collections::VecDeque<String> = options.say.iter().cloned().collect();
    let mut last_said: Option<Instant> = None;
    let result = loop {
        tokio::select! {
            packet = conn.recv() => {
                let packet = match packet {
                    Ok(p) => p,
                    Err(e) => break Err(e),
                };
                match &packet {
                    play::ToClient::Pong(p) => {
                        if let Some(rtt) = ping.pong(p.nonce, Instant::now()) {
                            set(&mut |s| s.ping = Some(rtt));
                        }
                    }
                    play::ToClient::Kick(k) => break Err(ConnectError::kicked(k)),
                    play::ToClient::Snapshot(_) => snapshots += 1,
                    _ => {}
                }
                play.apply(&packet);
                if let Some(line) = chat_line(&packet, &play) {
                    set(&mut |s| {
                        if s.chat.len() < CHAT_KEPT {
                            s.chat.push(line.clone());
                        }
                    });
                }
                if let (Some(r), play::ToClient::Snapshot(s)) = (&recorder, &packet) {
                    let hashes = play.state_hash();
                    r.with(|r| r.tick(s.tick, hashes, || Keyframe::capture(&play).map(|k| k.to_bytes()).unwrap_or_default()));
                }
                let (players, tick, err, broken) = (
                    play.players.len(),
                    play.players.tick(),
                    play.players.prediction().max_error_px(),
                    play.actions.acknowledged(),
                );
                set(&mut |s| {
                    s.players = players;
                    s.tick = tick;
                    s.snapshots = snapshots;
                    s.max_prediction_error_px = err;
                    s.tiles_broken = broken;
                });
            }
            _ = ticker.tick() => {
                let (mx, my) = brain.decide(&mut play);
                if brain.roaming() && !roaming {
                    roaming = true;
                    set(&mut |s| s.roaming = true);
                }
                let input = play.next_input(mx, my);
                let active = PlayState::is_active(&input);
                if active || was_active {
                    if let Err(e) = conn.send(&input_to_wire(&input, play.players.tick())).await {
                        break Err(e);
                    }
                    inputs += 1;
                    set(&mut |s| s.inputs = inputs);
                }
                was_active = active;
                let now = Instant::now();
                if !to_say.is_empty() && last_said.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
                    last_said = Some(now);
                    if let Some(text) = to_say.pop_front() {
                        if let Err(e) = conn.send(&play::Say { text }).await {
                            break Err(e);
                        }
                    }
                }
                if now.duration_since(last_ping) >= Duration::from_secs(1) && ping.due(now, Duration::from_secs(1)) {
                    last_ping = now;
                    let nonce = ping.sent(now);
                    if let Err(e) = conn.send(&play::Ping { nonce }).await {
                        break Err(e);
                    }
                }
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    conn.disconnect().await;
                    break Ok(());
                }
            }
        }
    };
    if let Some(r) = &recorder {
        let reason = match &result {
            Ok(()) => "the player left".to_owned(),
            Err(e) => e.to_string(),
        };
        r.with(|r| r.finish(&reason));
    }
    set(&mut |s| match &result {
        Ok(()) => s.state = ConnectionState::Disconnected,
        Err(e) => {
            s.state = e.state.clone();
            s.detail.clone_from(&e.detail);
        }
    });
    result
}

/// Position of the local player in whole pixels from a prediction state.
pub fn predicted_px(state: &PlayState) -> (i32, i32) {
    let s = state.players.prediction().state();
    (s.x.div_euclid(SUBPX), s.y.div_euclid(SUBPX))
}

/// A chat packet as a status line: `NAME: TEXT` (the sender's id when its name is unknown;
/// `[server]`, which no player can be named, for the operator's broadcast), or
/// `refused: REASON`.
fn chat_line(packet: &play::ToClient, play: &PlayState) -> Option<String> {
    match packet {
        play::ToClient::Chat(c) if c.from == tilegame_protocol::v1::CHAT_FROM_SERVER => {
            Some(format!("[server]: {}", c.text))
        }
        play::ToClient::Chat(c) => {
            let name = play
                .players
                .get(c.from)
                .map_or_else(|| format!("#{}", c.from), |p| p.name.clone());
            Some(format!("{name}: {}", c.text))
        }
        play::ToClient::ChatRefused(r) => Some(format!("refused: {}", r.reason.name())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_and_spreads_a_crowd() {
        for attempt in 1..=CONNECT_ATTEMPTS {
            let base = (50u64 << attempt.min(6)).min(2_000);
            let wait = backoff(attempt, u64::from(attempt) * 31).as_millis() as u64;
            assert!(
                (base / 2..=base).contains(&wait),
                "attempt {attempt}: {wait} ms"
            );
        }
        let waits: std::collections::BTreeSet<_> = (0..40).map(|seed| backoff(6, seed)).collect();
        assert!(
            waits.len() > 10,
            "40 bots should not all wait alike: {waits:?}"
        );
    }

    #[test]
    fn only_unanswered_and_busy_failures_are_retried() {
        assert!(retryable(&ConnectionState::Busy));
        assert!(retryable(&ConnectionState::Disconnected));
        assert!(retryable(&ConnectionState::Refused));
        for final_state in [
            ConnectionState::NameTaken,
            ConnectionState::ServerFull,
            ConnectionState::VersionMismatch,
            ConnectionState::InvalidHost,
        ] {
            assert!(!retryable(&final_state), "{final_state:?}");
        }
    }
}
