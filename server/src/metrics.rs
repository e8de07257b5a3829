//! The server's numbers for Prometheus, and the health and readiness a supervisor asks for.
//!
//! [`Metrics`] owns a `prometheus-client` registry: players, connections by protocol state,
//! ticks and their duration, wire bytes by packet kind and direction, kicks and refusals by
//! reason, and bytes written to recordings. Names and units follow Prometheus' conventions
//! (`tilegame_` prefix, base units, `_total` on counters). Everything is updated where it
//! happens (the loop, the sessions, the accept loop) with atomic operations; the counters the
//! loop's hot path needs are looked up once, not per frame.
//!
//! [`serve`] answers `GET /metrics` (OpenMetrics text), `GET /healthz` (200 while the loop has
//! ticked recently, else 503) and `GET /readyz` (200 once the world is generated and the server
//! accepts, 503 while it stops) on the opt-in listener (`--metrics ADDR`), with axum.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use tilegame_protocol::v1::{play, DisconnectReason, Packet};
use tilegame_protocol::State;

/// The loop counts as healthy if it ticked within this many tick periods (and at least
/// [`HEALTH_MIN`]).
const HEALTH_PERIODS: u32 = 20;
/// The shortest silence of the loop that makes it unhealthy.
const HEALTH_MIN: Duration = Duration::from_secs(2);

/// Tick-duration buckets in seconds: 0.25 ms to the 50 ms tick and beyond.
const TICK_BUCKETS: [f64; 11] = [
    0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25,
];

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Way {
    /// From the client.
    In,
    /// To the client.
    Out,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    direction: &'static str,
    packet: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordingLabel {
    recording: &'static str,
}

/// The label value of a protocol state.
fn state_label(state: State) -> &'static str {
    match state {
        State::Handshake => "handshake",
        State::Login => "login",
        State::MapTransfer => "map_transfer",
        State::Play => "play",
    }
}

/// Every number the server exports, and its health.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    players: Gauge,
    connections: Family<StateLabel, Gauge>,
    ticks: Counter,
    tick_duration: Histogram,
    /// 1 while the tick runs in real time (`tick_thread`), else 0.
    tick_realtime: Gauge,
    bytes: Family<BytesLabels, Counter>,
    /// Outgoing play frames by packet id (the simulation pushes encoded frames).
    play_out: Vec<(u8, Counter)>,
    /// The Snapshot's among them (counted in bulk: [`Metrics::snapshot_frames`]).
    snapshot_out: Counter,
    kicks: Family<ReasonLabel, Counter>,
    refusals: Family<ReasonLabel, Counter>,
    recording_bytes: Family<RecordingLabel, Counter>,
    started: Instant,
    /// Milliseconds since `started` at the last tick.
    last_tick_ms: AtomicU64,
    health_after: Duration,
    ready: AtomicBool,
}

impl Metrics {
    /// A registry with every metric registered, for a loop ticking every `period`.
    pub fn new(period: Duration) -> Metrics {
        let mut registry = Registry::with_prefix("tilegame");
        let players = Gauge::default();
        registry.register("players", "Players in the game", players.clone());
        let connections = Family::<StateLabel, Gauge>::default();
        registry.register(
            "connections",
            "Open connections by protocol state",
            connections.clone(),
        );
        for state in State::ALL {
            let _ = connections.get_or_create_owned(&StateLabel {
                state: state_label(state),
            });
        }
        let ticks = Counter::default();
        registry.register("ticks", "Simulation ticks run", ticks.clone());
        let tick_realtime = Gauge::default();
        registry.register(
            "tick_realtime",
            "1 while the tick runs under real-time scheduling (SCHED_FIFO), else 0",
            tick_realtime.clone(),
        );
        let tick_duration = Histogram::new(TICK_BUCKETS);
        registry.register_with_unit(
            "tick_duration",
            "Time one tick's work took",
            Unit::Seconds,
            tick_duration.clone(),
        );
        let bytes = Family::<BytesLabels, Counter>::default();
        registry.register_with_unit(
            "network",
            "Wire bytes by packet kind and direction (in: from clients, out: to clients)",
            Unit::Bytes,
            bytes.clone(),
        );
        // Every packet the server sends in Play, from the generated table (a packet added to
        // the spec is counted under its own name, never as "unknown").
        let play_out = play::ToClient::PACKETS
            .iter()
            .copied()
            .map(|(id, name)| {
                let labels = BytesLabels {
                    direction: "out",
                    packet: name,
                };
                (id, bytes.get_or_create_owned(&labels))
            })
            .collect::<Vec<_>>();
        let snapshot_out = play_out
            .iter()
            .find(|(id, _)| *id == play::Snapshot::ID)
            .map_or_else(Counter::default, |(_, counter)| counter.clone());
        let kicks = Family::<ReasonLabel, Counter>::default();
        registry.register("kicks", "Kicks sent, by reason", kicks.clone());
        let refusals = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "refusals",
            "Connections and joins refused, by reason",
            refusals.clone(),
        );
        let recording_bytes = Family::<RecordingLabel, Counter>::default();
        registry.register_with_unit(
            "recording",
            "Bytes written to recordings (simulation: --record, connection: --record-dir)",
            Unit::Bytes,
            recording_bytes.clone(),
        );
        Metrics {
            registry,
            players,
            connections,
            ticks,
            tick_duration,
            tick_realtime,
            bytes,
            play_out,
            snapshot_out,
            kicks,
            refusals,
            recording_bytes,
            started: Instant::now(),
            last_tick_ms: AtomicU64::new(0),
            health_after: (period * HEALTH_PERIODS).max(HEALTH_MIN),
            ready: AtomicBool::new(false),
        }
    }

    /// The exposition text (OpenMetrics).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// One tick done: its work took `took`; `players` are in the game.
    pub fn tick(&self, took: Duration, players: usize) {
        self.ticks.inc();
        self.tick_duration.observe(took.as_secs_f64());
        self.players.set(i64::try_from(players).unwrap_or(i64::MAX));
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_tick_ms.store(ms, Ordering::Release);
    }

    /// Whether the tick runs in real time now (see `tick_thread::after_tick`).
    pub fn tick_realtime(&self, realtime: bool) {
        self.tick_realtime.set(i64::from(realtime));
    }

    /// Whether the loop ticked recently: `Err` says how long ago it last did.
    pub fn health(&self) -> Result<(), Duration> {
        let now = self.started.elapsed();
        let last = Duration::from_millis(self.last_tick_ms.load(Ordering::Acquire));
        let silent = now.saturating_sub(last);
        if silent <= self.health_after {
            Ok(())
        } else {
            Err(silent)
        }
    }

    /// Marks the server as accepting (or no longer).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    /// Whether the world is generated and the server accepts connections.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Counts `bytes` of a `packet` travelling `way`.
    pub fn bytes(&self, way: Way, packet: &'static str, bytes: usize) {
        let direction = match way {
            Way::In => "in",
            Way::Out => "out",
        };
        self.bytes
            .get_or_create(&BytesLabels { direction, packet })
            .inc_by(bytes as u64);
    }

    /// Counts the play frames the simulation pushes to a client, by packet kind.
    pub fn play_frames(&self, frames: &[u8]) {
        for f in tilegame_protocol::frame::frames(frames, tilegame_protocol::v1::MAX_FRAME) {
            match self.play_out.iter().find(|(id, _)| *id == f.id()) {
                Some((_, counter)) => {
                    counter.inc_by(f.wire_len() as u64);
                }
                None => self.bytes(Way::Out, "unknown", f.wire_len()),
            }
        }
    }

    /// Counts `bytes` of Snapshot frames (whole frames, as on the wire) pushed to clients.
    pub fn snapshot_frames(&self, bytes: u64) {
        self.snapshot_out.inc_by(bytes);
    }

    /// Counts a Kick sent.
    pub fn kick(&self, reason: DisconnectReason) {
        self.kicks
            .get_or_create(&ReasonLabel {
                reason: reason.name(),
            })
            .inc();
    }

    /// Counts a refused connection or join (`reason` names why).
    pub fn refusal(&self, reason: &'static str) {
        self.refusals.get_or_create(&ReasonLabel { reason }).inc();
    }

    /// Counts bytes written to the simulation recording (`simulation`) or a connection's
    /// (`connection`).
    pub fn recording_bytes(&self, recording: &'static str, bytes: u64) {
        self.recording_bytes
            .get_or_create(&RecordingLabel { recording })
            .inc_by(bytes);
    }

    /// A connection's place in the connections-by-state gauge, starting in Handshake.
    pub fn connection(self: &Arc<Self>) -> ConnectionGauge {
        let g = ConnectionGauge {
            metrics: Arc::clone(self),
            state: State::Handshake,
        };
        g.gauge(State::Handshake).inc();
        g
    }
}

/// One connection counted under its protocol state; moves with [`ConnectionGauge::set`] and
/// leaves the count when dropped.
#[derive(Debug)]
pub struct ConnectionGauge {
    metrics: Arc<Metrics>,
    state: State,
}

impl ConnectionGauge {
    fn gauge(&self, state: State) -> Gauge {
        self.metrics.connections.get_or_create_owned(&StateLabel {
            state: state_label(state),
        })
    }

    /// The connection is now in `state`.
    pub fn set(&mut self, state: State) {
        if state != self.state {
            self.gauge(self.state).dec();
            self.gauge(state).inc();
            self.state = state;
        }
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        self.gauge(self.state).dec();
    }
}

/// A writer that counts what it writes into the recording-bytes metric.
pub struct CountingWriter<W> {
    inner: W,
    metrics: Arc<Metrics>,
    recording: &'static str,
}

impl<W> CountingWriter<W> {
    /// Counts what goes through to `inner` as `recording` bytes.
    pub fn new(inner: W, metrics: Arc<Metrics>, recording: &'static str) -> Self {
        CountingWriter {
            inner,
            metrics,
            recording,
        }
    }
}

impl<W: std::io::Write> std::io::Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.metrics.recording_bytes(self.recording, n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: std::io::Seek> std::io::Seek for CountingWriter<W> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    crate::http::serve(listener, router(metrics)).await;
}

/// The routes `/metrics`, `/healthz` and `/readyz`.
pub fn router(metrics: Arc<Metrics>) -> axum::Router {
    use axum::http::{header, StatusCode};
    use axum::routing::get;

    axum::Router::new()
        .route(
            "/metrics",
            get(
                |axum::extract::State(m): axum::extract::State<Arc<Metrics>>| async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                },
            ),
        )
        .route(
            "/healthz",
            get(
                |axum::extract::State(m): axum::extract::State<Arc<Metrics>>| async move {
                    match m.health() {
                        Ok(()) => (StatusCode::OK, "ok: the loop is ticking\n".to_owned()),
                        Err(silent) => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!("unhealthy: no tick for {} ms\n", silent.as_millis()),
                        ),
                    }
                },
            ),
        )
        .route(
            "/readyz",
            get(
                |axum::extract::State(m): axum::extract::State<Arc<Metrics>>| async move {
                    if m.is_ready() {
                        (StatusCode::OK, "ready: world generated, accepting\n")
                    } else {
                        (
                            StatusCode::SERVICE_UNAVAILABLE,
                            "not ready: not accepting\n",
                        )
                    }
                },
            ),
        )
        .with_state(metrics)
}

/// The address `--metrics` listens on when given without one.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 35001);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_units_and_labels_follow_the_conventions() {
        let m = Arc::new(Metrics::new(Duration::from_millis(50)));
        m.tick(Duration::from_micros(1500), 3);
        m.tick_realtime(true);
        m.bytes(Way::In, "Input", 12);
        m.kick(DisconnectReason::ServerShutdown);
        m.refusal("Busy");
        let mut c = m.connection();
        c.set(State::Play);
        let text = m.encode();
        for line in [
            "# TYPE tilegame_players gauge",
            "tilegame_players 3",
            "tilegame_connections{state=\"play\"} 1",
            "tilegame_connections{state=\"handshake\"} 0",
            "tilegame_ticks_total 1",
            "# TYPE tilegame_tick_realtime gauge",
            "tilegame_tick_realtime 1",
            "# TYPE tilegame_tick_duration_seconds histogram",
            "tilegame_tick_duration_seconds_count 1",
            "tilegame_tick_duration_seconds_bucket{le=\"0.002\"} 1",
            "tilegame_tick_duration_seconds_bucket{le=\"0.001\"} 0",
            "tilegame_network_bytes_total{direction=\"in\",packet=\"Input\"} 12",
            "tilegame_kicks_total{reason=\"ServerShutdown\"} 1",
            "tilegame_refusals_total{reason=\"Busy\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
        drop(c);
        assert!(m
            .encode()
            .contains("tilegame_connections{state=\"play\"} 0"));
        assert!(m.health().is_ok());
    }

    #[test]
    fn every_play_packet_the_server_sends_is_counted_by_name() {
        let m = Metrics::new(Duration::from_millis(50));
        let mut frames = Vec::new();
        for &(id, _) in play::ToClient::PACKETS {
            tilegame_protocol::frame::encode_frame(id, &[0; 3], &mut frames);
        }
        m.play_frames(&frames);
        let text = m.encode();
        for &(_, name) in play::ToClient::PACKETS {
            let line =
                format!("tilegame_network_bytes_total{{direction=\"out\",packet=\"{name}\"}} 5");
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
        assert!(!text.contains("packet=\"unknown\""), "{text}");
        assert!(play::ToClient::PACKETS.iter().any(|&(_, n)| n == "Chat"));
    }
}
