//! The clock around the simulation: runs [`Sim`] at the configured rate on the server's runtime.
//!
//! The simulation itself neither waits nor reads the time. This task does both: at every
//! period it hands the loop the commands queued by the sessions, runs one tick and notes how long
//! the tick's work took; it stops on shutdown (kicking everyone with a reason) or, for an
//! embedded server, once it has been empty long enough after its last player left.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tilegame_protocol::v1::DisconnectReason;
use tilegame_sim::{Command, Sim};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info};

use crate::metrics::Metrics;
use crate::tick_batch::{TickBatch, Waker};

/// Commands taken from the sessions' channel at once (its capacity: one batch empties it).
const COMMAND_BATCH: usize = 4096;

/// Nanoseconds since the first call: what the loop times its phases with (`TickStats::phases`).
fn phase_clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// How the loop runs, besides its simulation and its channels.
pub struct LoopOptions {
    /// Time between ticks.
    pub period: Duration,
    /// For an embedded server: stop once empty this long after the last player left.
    pub exit_when_empty: Option<Duration>,
    /// The text of the `Kick(ServerShutdown)` every player gets at the stop.
    pub shutdown_message: String,
    /// Where ticks, tick times and the tick's scheduling are counted.
    pub metrics: Arc<Metrics>,
    /// The task that wakes each tick's writers in bulk (`None`: this thread wakes them).
    pub waker: Option<Waker>,
}

/// Runs the loop until `shutdown` fires or, with `exit_when_empty`, the server has been empty
/// that long after its last player left; then kicks every player with `shutdown_message`.
/// Each tick's pushes are batched ([`crate::tick_batch`]): their writers are woken by `waker`'s
/// task once the tick is done (`None`: by this thread, then).
pub async fn run(
    mut sim: Sim,
    mut commands: mpsc::Receiver<Command>,
    mut shutdown: watch::Receiver<bool>,
    options: LoopOptions,
) {
    let LoopOptions {
        period,
        exit_when_empty,
        shutdown_message,
        metrics,
        waker,
    } = options;
    sim.set_phase_clock(phase_clock);
    let stats = sim.stats();
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut empty_since: Option<Instant> = None;
    let mut ever_joined = false;
    let mut pending = Vec::with_capacity(COMMAND_BATCH);
    loop {
        tokio::select! {
            _ = interval.tick() => {
                let busy_from = Instant::now();
                // Taken in batches: each single receive hands its slot back to the senders
                // under the channel's lock, which the sessions sending inputs contend for; a
                // batch hands back all of its slots at once. (A batch is only taken if ready.)
                loop {
                    let n = commands
                        .recv_many(&mut pending, COMMAND_BATCH)
                        .now_or_never()
                        .unwrap_or(0);
                    for command in pending.drain(..) {
                        ever_joined |= matches!(command, Command::Join { .. });
                        sim.handle(command);
                    }
                    if n < COMMAND_BATCH {
                        break;
                    }
                }
                let started = Instant::now();
                // What the tick queues is counted and its writers woken in bulk, on closing.
                let players = stats.lock().map_or(0, |s| s.players);
                let batch = TickBatch::open(&metrics, waker.clone(), players);
                sim.tick();
                drop(batch);
                let took = started.elapsed();
                let micros = took.as_micros().min(u128::from(u32::MAX)) as u32;
                sim.record_tick_time(micros);
                metrics.tick(took, stats.lock().map_or(0, |s| s.players));
                // A real-time tick that keeps overrunning its period gives real time up.
                let realtime = crate::tick_thread::after_tick(busy_from.elapsed(), period);
                metrics.tick_realtime(realtime);
                if sim.is_empty() && ever_joined {
                    let since = *empty_since.get_or_insert_with(Instant::now);
                    if exit_when_empty.is_some_and(|limit| since.elapsed() >= limit) {
                        info!("no players left; shutting down");
                        break;
                    }
                } else {
                    empty_since = None;
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    debug!("simulation loop stopping");
    sim.kick_all(DisconnectReason::ServerShutdown, &shutdown_message);
    // Dropping the simulation here ends and seals its recording.
}
