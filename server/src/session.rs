//! One client connection: handshake → login → map transfer → play.
//!
//! A session owns its socket and nothing else. It checks every packet against the state it is
//! in (a packet of another state cannot even be decoded: ids are per state), enforces the
//! handshake and idle timeouts, and talks to the simulation only through [`Command`]s, tagged
//! with the player id the simulation gave it — so no packet can act for another player. Any
//! malformed input ends this session alone, with the reason logged and, where possible, sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tilegame_protocol::codec::{encode_any_state, CodecError, ServerCodec};
use tilegame_protocol::convert::input_from_wire;
use tilegame_protocol::frame::FrameRef;
use tilegame_protocol::v1::Packet;
use tilegame_protocol::v1::{
    self, handshake, login, map_transfer, marker, play, ChatRefusal, DisconnectReason,
    RejectReason, ServerPacket, StateMarker,
};
use tilegame_protocol::{DecodeError, Direction, EncodeError, PacketSet, State};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{timeout, Instant};
use tracing::{debug, info, warn};

use crate::admission::Pending;
use crate::drain::OpenConnection;
use crate::link::SessionLink;
use crate::metrics::{ConnectionGauge, Metrics, Way};
use crate::outbox::{self, Closed, Outbox};
use crate::reading::SentSnapshots;
use crate::recording::SessionRecorder;
use tilegame_game as game;
use tilegame_sim::{Command, Kick};

/// Settings a session needs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Server name for the welcome.
    pub server_name: String,
    /// Tick rate for the welcome.
    pub tps: u32,
    /// Player limit for the welcome.
    pub max_players: u32,
    /// Time allowed for handshake + login.
    pub handshake_timeout: Duration,
    /// Silence allowed in play.
    pub idle_timeout: Duration,
    /// Outgoing queue bound (bytes queued or being written).
    pub outbox_bytes: usize,
    /// Time a client has to take one batch of outgoing bytes.
    pub write_timeout: Duration,
    /// Time a playing client's Inputs may acknowledge no Snapshot sent since (see
    /// [`crate::reading`]).
    pub read_timeout: Duration,
    /// Write one replay file per connection into this folder.
    pub record_dir: Option<std::path::PathBuf>,
    /// The simulation's statistics (player count for the welcome).
    pub stats: Arc<std::sync::Mutex<tilegame_sim::TickStats>>,
    /// Turns true when the server stops: the session then kicks its client, whatever its state.
    pub stop: watch::Receiver<bool>,
    /// The message of the Kick sent when the server stops.
    pub shutdown_message: String,
    /// How long the final Kick may wait for the client to take it when the server stops.
    pub drain: Duration,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    /// The bans checked at login and the roster players enter (the admin API's state).
    pub admin: Arc<crate::admin::Admin>,
    /// Aggregates the warnings of dropped clients per reason and interval.
    pub warnings: Arc<crate::warnings::Warnings>,
}

/// Why a session ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(std::io::Error),
    /// The transport delivered something that is not frames (a WebSocket text message, an
    /// oversized or malformed message: see [`crate::web`]); its readers say so with
    /// [`std::io::ErrorKind::InvalidData`].
    #[error("bad message: {0}")]
    Transport(std::io::Error),
    /// The peer was silent too long.
    #[error("timed out during {0}")]
    Timeout(&'static str),
    /// The bytes received are not a packet of the current state.
    #[error("bad packet: {0}")]
    Codec(#[from] CodecError),
    /// The client sent a packet of a later state before the server moved it there (an Input
    /// before MapEnd); it is refused, never applied.
    #[error("{packet} received in state {state}: {allowed}")]
    Early {
        /// The packet, named as in the state it belongs to (or by its id).
        packet: String,
        /// The state the connection was in.
        state: State,
        /// What the client may send in that state.
        allowed: &'static str,
    },
    /// A packet could not be encoded.
    #[error("{0}")]
    Encode(#[from] EncodeError),
    /// The outgoing queue closed (the client did not read, or the socket failed).
    #[error("cannot send: {0}")]
    Outbox(#[from] Closed),
    /// The peer closed the connection.
    #[error("connection closed by peer during {0}")]
    Closed(&'static str),
    /// The handshake or login was refused.
    #[error("refused: {0}")]
    Refused(String),
    /// The simulation is gone (shutting down).
    #[error("server is shutting down")]
    Shutdown,
    /// The connection had not joined yet when every pending place was taken, and its place went
    /// to a newcomer from an address holding fewer (see [`crate::admission`]).
    #[error("evicted before joining: the server holds too many connections that have not joined; try again")]
    Evicted,
    /// The client keeps sending Inputs but does not read what the server sends: the tick it
    /// acknowledges is older than a Snapshot queued for it the read timeout
    /// ([`SessionConfig::read_timeout`]) ago or more.
    #[error("not reading: Inputs acknowledge tick {acked}, but the Snapshot of tick {sent} was sent {secs:.1} s ago")]
    NotReading {
        /// The Input's `ack_tick`.
        acked: u32,
        /// The newest Snapshot tick queued at least the read timeout ago.
        sent: u32,
        /// How long ago that Snapshot was queued.
        secs: f32,
    },
}

impl From<std::io::Error> for SessionError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::InvalidData {
            SessionError::Transport(e)
        } else {
            SessionError::Io(e)
        }
    }
}

impl SessionError {
    /// What kind of failure this is, for aggregating warnings ([`crate::warnings`]).
    fn reason(&self) -> &'static str {
        match self {
            SessionError::Io(_) => "socket error",
            SessionError::Transport(_) => "bad message",
            SessionError::Timeout(_) => "timeout",
            SessionError::Codec(_) => "bad packet",
            SessionError::Early { .. } => "packet before its state",
            SessionError::Encode(_) => "encode error",
            SessionError::Outbox(_) => "cannot send",
            SessionError::Closed(_) => "closed",
            SessionError::Refused(_) => "refused",
            SessionError::Shutdown => "shutdown",
            SessionError::Evicted => "evicted",
            SessionError::NotReading { .. } => "not reading",
        }
    }

    /// The reason a Kick gives the client for this error, if one should be sent.
    fn kick_reason(&self) -> Option<DisconnectReason> {
        match self {
            SessionError::Codec(_) | SessionError::Transport(_) | SessionError::Early { .. } => {
                Some(DisconnectReason::ProtocolError)
            }
            SessionError::Timeout(_) => Some(DisconnectReason::Timeout),
            SessionError::Evicted => Some(DisconnectReason::Busy),
            SessionError::NotReading { .. } => Some(DisconnectReason::TooSlow),
            SessionError::Shutdown => Some(DisconnectReason::ServerShutdown),
            SessionError::Outbox(Closed::Overflow { .. } | Closed::Stalled(_)) => {
                Some(DisconnectReason::TooSlow)
            }
            _ => None,
        }
    }
}

/// The socket side of a session: reading, writing and recording frames. The protocol state
/// lives in the typed codec each stage holds; this only remembers the last one for recordings.
struct Io {
    reader: Box<dyn AsyncRead + Send + Unpin>,
    /// The TCP socket's descriptor, for the admin API's ping (`None` for a WebSocket).
    tcp_fd: Option<std::os::fd::RawFd>,
    outbox: Outbox,
    out: Vec<u8>,
    read_buf: Vec<u8>,
    /// The protocol state last used, for the recording and a final Kick.
    state: State,
    recording: Option<SessionRecorder>,
    /// This connection in the connections-by-state gauge; the metrics it counts into.
    gauge: ConnectionGauge,
}

impl Io {
    /// The connection is now in `state`.
    fn set_state(&mut self, state: State) {
        self.state = state;
        self.gauge.set(state);
    }

    fn metrics(&self) -> &Metrics {
        self.gauge.metrics()
    }

    /// Counts and records a packet received.
    fn received(&mut self, state: State, name: &'static str, frame: FrameRef<'_>) {
        self.metrics().bytes(Way::In, name, frame.wire_len());
        if let Some(r) = &mut self.recording {
            r.frame(Direction::ToServer, state, frame);
        }
    }

    /// Reads until `codec` yields a packet of its state, or the deadline passes.
    async fn recv<S: StateMarker>(
        &mut self,
        codec: &mut ServerCodec<S>,
        stage: &'static str,
        deadline: Instant,
    ) -> Result<S::ToServer, SessionError> {
        self.set_state(S::STATE);
        loop {
            if let Some(got) = codec.next_packet()? {
                self.received(S::STATE, got.packet.name(), got.frame);
                return Ok(got.packet);
            }
            self.fill(codec, stage, deadline).await?;
        }
    }

    /// Reads once from the socket into `codec` (EOF is [`SessionError::Closed`]).
    async fn fill<S: StateMarker>(
        &mut self,
        codec: &mut ServerCodec<S>,
        stage: &'static str,
        deadline: Instant,
    ) -> Result<(), SessionError> {
        let n = tokio::time::timeout_at(deadline, self.reader.read_buf(&mut self.read_buf))
            .await
            .map_err(|_| SessionError::Timeout(stage))??;
        if n == 0 {
            return Err(SessionError::Closed(stage));
        }
        codec.feed(&self.read_buf);
        self.read_buf.clear();
        Ok(())
    }

    /// Sends a packet the server may send in state `S`.
    async fn send<S: StateMarker, P: ServerPacket<S>>(
        &mut self,
        codec: &mut ServerCodec<S>,
        packet: &P,
    ) -> Result<(), SessionError> {
        self.encode_out(codec, packet)?;
        self.outbox.send(&self.out).await?;
        Ok(())
    }

    /// Encodes a packet into `out`, counted in the metrics and recorded.
    fn encode_out<S: StateMarker, P: ServerPacket<S>>(
        &mut self,
        codec: &mut ServerCodec<S>,
        packet: &P,
    ) -> Result<(), SessionError> {
        self.set_state(S::STATE);
        self.out.clear();
        let frame = codec.encode(packet, &mut self.out)?;
        self.gauge
            .metrics()
            .bytes(Way::Out, P::NAME, frame.wire_len());
        if let Some(r) = &mut self.recording {
            r.frame(Direction::ToClient, S::STATE, frame);
        }
        Ok(())
    }

    /// Sends a map transfer packet (`bulk`: a chunk, see [`Outbox::send_bulk`]) while reading
    /// what the client sends meanwhile. Before MapEnd a client may send only Disconnect
    /// (`Some(Quit)`); any other packet is [`SessionError::Early`] and is never applied. Bytes
    /// already read are judged before the packet is queued, so none read before MapEnd is
    /// queued is left for Play.
    async fn send_transfer<P: ServerPacket<marker::MapTransfer>>(
        &mut self,
        codec: &mut ServerCodec<marker::MapTransfer>,
        packet: &P,
        bulk: bool,
    ) -> Result<Option<DisconnectReason>, SessionError> {
        if let Some(left) = self.judge_transfer(codec)? {
            return Ok(Some(left));
        }
        self.encode_out(codec, packet)?;
        loop {
            let Io {
                outbox,
                out,
                reader,
                read_buf,
                ..
            } = &mut *self;
            // Reads first: bytes the socket already holds are judged before the packet (MapEnd
            // above all) is queued. Both branches are cancel safe: a frame is queued whole or
            // not at all.
            let read = tokio::select! {
                biased;
                read = reader.read_buf(read_buf) => read?,
                sent = async {
                    if bulk {
                        outbox.send_bulk(out).await
                    } else {
                        outbox.send(out).await
                    }
                } => {
                    sent?;
                    return Ok(None);
                }
            };
            if read == 0 {
                return Err(SessionError::Closed("map transfer"));
            }
            codec.feed(&self.read_buf);
            self.read_buf.clear();
            if let Some(left) = self.judge_transfer(codec)? {
                return Ok(Some(left));
            }
        }
    }

    /// Decodes what the client sent in MapTransfer: `Some(Quit)` for a Disconnect, an error for
    /// anything else, `None` while no whole frame has come.
    fn judge_transfer(
        &mut self,
        codec: &mut ServerCodec<marker::MapTransfer>,
    ) -> Result<Option<DisconnectReason>, SessionError> {
        match codec.next_packet() {
            Ok(None) => Ok(None),
            Ok(Some(got)) => {
                self.received(State::MapTransfer, got.packet.name(), got.frame);
                match got.packet {
                    map_transfer::ToServer::Disconnect(_) => Ok(Some(DisconnectReason::Quit)),
                }
            }
            Err(CodecError::Decode(DecodeError::UnknownId { id, .. })) => {
                Err(SessionError::Early {
                    packet: play_packet_name(id)
                        .map_or_else(|| format!("packet id {id:#04x}"), str::to_owned),
                    state: State::MapTransfer,
                    allowed: "before MapEnd a client sends nothing but Disconnect",
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a Kick in whatever state the connection reached (it exists in every state).
    async fn kick(&mut self, reason: DisconnectReason, message: &str) -> Result<(), SessionError> {
        self.out.clear();
        let kick = v1::Kick {
            reason,
            message: one_line(message, 256),
        };
        let frame = encode_any_state(&kick, &mut self.out)?;
        let wire_len = frame.wire_len();
        if let Some(r) = &mut self.recording {
            r.frame(Direction::ToClient, self.state, frame);
        }
        self.outbox.send(&self.out).await?;
        self.metrics().kick(reason);
        self.metrics().bytes(Way::Out, v1::Kick::NAME, wire_len);
        Ok(())
    }
}

/// Serves one TCP connection to its end (see [`serve_split`]).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<SessionConfig>,
    sim: mpsc::Sender<Command>,
    pending: Pending,
    open: OpenConnection,
) {
    let _ = stream.set_nodelay(true);
    let tcp_fd = Some(std::os::fd::AsRawFd::as_raw_fd(&stream));
    let (reader, writer) = stream.into_split();
    serve_split(reader, writer, tcp_fd, peer, config, sim, pending, open).await;
}

/// Serves one connection given as a byte stream's two halves (a TCP socket's, or a WebSocket
/// adapted by [`crate::web`]) to its end; logs how it ended. Reads may split or join frames
/// anyhow; writes are whole frames (see [`outbox::spawn_writer`]). When the server stops (the
/// config's `stop` turns true) the connection is kicked with `ServerShutdown` in whatever state
/// it is in. `open` is held until the last byte has been handed to the socket and the recording
/// is sealed.
#[allow(clippy::too_many_arguments)]
pub async fn serve_split<R, W>(
    reader: R,
    writer: W,
    tcp_fd: Option<std::os::fd::RawFd>,
    peer: SocketAddr,
    config: Arc<SessionConfig>,
    sim: mpsc::Sender<Command>,
    mut pending: Pending,
    open: OpenConnection,
) where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let outbox = Outbox::new(config.outbox_bytes);
    let writer = outbox::spawn_writer(outbox.clone(), writer, config.write_timeout);
    let mut io = Io {
        reader: Box::new(reader),
        tcp_fd,
        outbox,
        out: Vec::with_capacity(4096),
        read_buf: Vec::with_capacity(8192),
        state: State::Handshake,
        recording: config
            .record_dir
            .as_deref()
            .map(|dir| SessionRecorder::new(dir, peer)),
        gauge: config.metrics.connection(),
    };
    let mut stop = config.stop.clone();
    // Fires only while the connection has not joined: its place went to a newcomer.
    let mut eviction = pending.eviction();
    let result = tokio::select! {
        result = run(&mut io, &config, &sim, pending, peer) => result,
        _ = eviction.wait() => Err(SessionError::Evicted),
        // A closed channel means the server is gone: stopping too.
        _ = stop.wait_for(|stopping| *stopping) => Err(SessionError::Shutdown),
    };
    let ending = match result {
        Ok(reason) => {
            info!(%peer, reason = reason.name(), "connection closed");
            "connection closed"
        }
        // A peer hanging up early is routine (scanners, floods): not worth a warning each.
        Err(e @ SessionError::Closed(_)) => {
            debug!(%peer, error = %e, "connection closed early");
            "connection closed"
        }
        Err(SessionError::Shutdown) => {
            debug!(%peer, state = %io.state, "server stopping: kicking");
            let message = one_line(&config.shutdown_message, 256);
            let kick = io.kick(DisconnectReason::ServerShutdown, &message);
            let _ = timeout(config.drain, kick).await;
            "server shutting down"
        }
        Err(e) => {
            let message = one_line(&e.to_string(), 256);
            // Under attack these come by the thousand: the first few of a reason per interval
            // are logged, the rest counted into one summary line.
            if config.warnings.offer(e.reason()) {
                warn!(%peer, state = %io.state, error = %message, "dropping client");
            } else {
                debug!(%peer, state = %io.state, error = %message, "dropping client");
            }
            if let Some(reason) = e.kick_reason() {
                let _ = timeout(Duration::from_millis(200), io.kick(reason, &message)).await;
            }
            "connection closed"
        }
    };
    io.outbox.finish();
    // The writer delivers what is queued (the Kick) within its grace period, then closes.
    let _ = writer.await;
    if let Some(r) = &mut io.recording {
        if let Some(bytes) = r.finish(ending) {
            io.metrics().recording_bytes("connection", bytes);
        }
    }
    drop(open);
}

/// `text` on one line, cut to at most `max` bytes on a char boundary (kick messages and log
/// fields never span lines).
fn one_line(text: &str, max: usize) -> String {
    let flat = crate::logging::one_line(text);
    let mut end = flat.len().min(max);
    while !flat.is_char_boundary(end) {
        end -= 1;
    }
    flat[..end].to_owned()
}

async fn run(
    io: &mut Io,
    config: &SessionConfig,
    sim: &mpsc::Sender<Command>,
    pending: Pending,
    peer: SocketAddr,
) -> Result<DisconnectReason, SessionError> {
    let deadline = Instant::now() + config.handshake_timeout;

    // Handshake.
    let mut codec = ServerCodec::<marker::Handshake>::new();
    let hello = match io.recv(&mut codec, "handshake", deadline).await {
        Ok(handshake::ToServer::ClientHello(hello)) => hello,
        Ok(handshake::ToServer::Disconnect(_)) => return Ok(DisconnectReason::Quit),
        Err(SessionError::Codec(CodecError::Decode(DecodeError::BadMagic { found, .. }))) => {
            io.metrics().refusal(RejectReason::BadMagic.name());
            let reject = handshake::Reject {
                reason: RejectReason::BadMagic,
                server_version: v1::PROTOCOL_VERSION,
                server_hash: v1::SPEC_HASH,
            };
            let _ = io.send(&mut codec, &reject).await;
            return Err(SessionError::Refused(format!(
                "wrong magic {found:02x?}: not a tilegame client"
            )));
        }
        Err(e) => return Err(e),
    };
    let refusal = if hello.protocol_version != v1::PROTOCOL_VERSION {
        Some(RejectReason::VersionMismatch)
    } else if hello.spec_hash != v1::SPEC_HASH {
        Some(RejectReason::SpecMismatch)
    } else {
        None
    };
    if let Some(reason) = refusal {
        io.metrics().refusal(reason.name());
        let reject = handshake::Reject {
            reason,
            server_version: v1::PROTOCOL_VERSION,
            server_hash: v1::SPEC_HASH,
        };
        io.send(&mut codec, &reject).await?;
        return Err(SessionError::Refused(format!(
            "client protocol v{} hash {:#018x}, server v{} hash {:#018x}",
            hello.protocol_version,
            hello.spec_hash,
            v1::PROTOCOL_VERSION,
            v1::SPEC_HASH
        )));
    }
    let players = config.stats.lock().map_or(0, |s| s.players as u32);
    let welcome = handshake::ServerWelcome {
        server_name: one_line(&config.server_name, 64),
        tick_rate: config.tps.min(255) as u8,
        players,
        max_players: config.max_players,
    };
    io.send(&mut codec, &welcome).await?;

    // Login.
    let mut codec = codec.advance::<marker::Login>();
    io.set_state(State::Login);
    let request = match io.recv(&mut codec, "login", deadline).await? {
        login::ToServer::JoinRequest(request) => request,
        login::ToServer::Disconnect(_) => return Ok(DisconnectReason::Quit),
    };
    if let Some(r) = &mut io.recording {
        r.start(&request.name);
    }
    if let Some(message) = config.admin.refusal(&request.name, peer.ip()) {
        io.metrics().refusal("Banned");
        let rejected = login::JoinRejected {
            reason: crate::admin::BAN_REASON,
            message: one_line(&message, 256),
        };
        io.send(&mut codec, &rejected).await?;
        return Err(SessionError::Refused(message));
    }
    let sent = SentSnapshots::new(config.read_timeout);
    let (link, reply_rx, mut kick_rx) =
        SessionLink::new(io.outbox.clone(), Arc::clone(&config.metrics), sent.clone());
    sim.send(Command::Join {
        name: request.name.clone(),
        color: request.profile.color & 0x00ff_ffff,
        link: Box::new(link),
    })
    .await
    .map_err(|_| SessionError::Shutdown)?;
    let joined = match reply_rx.await.map_err(|_| SessionError::Shutdown)? {
        Ok(joined) => joined,
        Err((reason, message)) => {
            io.metrics().refusal(reason.name());
            let rejected = login::JoinRejected {
                reason,
                message: one_line(&message, 256),
            };
            io.send(&mut codec, &rejected).await?;
            return Err(SessionError::Refused(message));
        }
    };
    // A player now: no longer counted against the limits on connections that have not joined.
    drop(pending);
    let id = joined.id;
    let seat = config.admin.roster.seat(id.0, &request.name, peer);
    let result = play_session(io, codec, config, sim, joined, &mut kick_rx, seat, &sent).await;
    let reason = match &result {
        Ok(reason) => *reason,
        Err(e) => e.kick_reason().unwrap_or(DisconnectReason::Quit),
    };
    let _ = sim.send(Command::Leave { id, reason }).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn play_session(
    io: &mut Io,
    mut codec: ServerCodec<marker::Login>,
    config: &SessionConfig,
    sim: &mpsc::Sender<Command>,
    joined: tilegame_sim::Joined,
    kick_rx: &mut oneshot::Receiver<Kick>,
    mut seat: crate::admin::roster::Seat,
    sent: &SentSnapshots,
) -> Result<DisconnectReason, SessionError> {
    let id = joined.id;
    let accepted = login::JoinAccepted {
        player_id: id.0,
        spawn: v1::Position {
            x: joined.spawn.0,
            y: joined.spawn.1,
        },
        tick: joined.tick,
    };
    io.send(&mut codec, &accepted).await?;

    // Map transfer.
    let mut codec = codec.advance::<marker::MapTransfer>();
    io.set_state(State::MapTransfer);
    let transfer = &joined.transfer;
    // What the client sent since its JoinRequest is judged in MapTransfer, where it may only
    // leave: bytes read before MapEnd is queued can never be decoded as Play.
    if let Some(left) = io.send_transfer(&mut codec, &transfer.begin, false).await? {
        return Ok(left);
    }
    for chunk in &transfer.chunks {
        if let Some(left) = io.send_transfer(&mut codec, chunk, true).await? {
            return Ok(left);
        }
    }
    let end = map_transfer::MapEnd {
        checksum: transfer.checksum,
        players: joined.players,
    };
    if let Some(left) = io.send_transfer(&mut codec, &end, false).await? {
        return Ok(left);
    }
    debug!(
        player = id.0,
        bytes = transfer.begin.total_bytes,
        "map sent"
    );

    // Play.
    let mut codec = codec.advance::<marker::Play>();
    io.set_state(State::Play);
    // The tap first: the play frames held until now are tapped as they are released.
    if io.recording.is_some() {
        io.outbox.start_tap();
    }
    io.outbox.open_play();
    let mut idle_deadline = Instant::now() + config.idle_timeout;
    let mut last_seq = 0u32;
    // The chat rate limit runs on the session's clock, in ms since play began.
    let play_start = Instant::now();
    let mut chat_limit = game::ChatLimiter::new(0);
    loop {
        while let Some(got) = codec.next_packet()? {
            io.received(State::Play, got.packet.name(), got.frame);
            let packet = got.packet;
            idle_deadline = Instant::now() + config.idle_timeout;
            match packet {
                play::ToServer::Input(input) => {
                    // An Input proves the client writes, not that it reads: its ack_tick must
                    // keep up with the Snapshots it was sent (the spec's Reading rule).
                    if let Some((tick, age)) = sent.unread(input.ack_tick, Instant::now()) {
                        return Err(SessionError::NotReading {
                            acked: input.ack_tick,
                            sent: tick,
                            secs: age.as_secs_f32(),
                        });
                    }
                    if input.seq <= last_seq {
                        continue; // stale or replayed: ignore
                    }
                    last_seq = input.seq;
                    sim.send(Command::Input {
                        id,
                        input: input_from_wire(&input),
                    })
                    .await
                    .map_err(|_| SessionError::Shutdown)?;
                }
                play::ToServer::Ping(ping) => {
                    io.send(&mut codec, &play::Pong { nonce: ping.nonce })
                        .await?;
                }
                play::ToServer::Say(say) => {
                    let now_ms = play_start.elapsed().as_millis() as u64;
                    let refused = match game::check_line(&say.text) {
                        Err(e) => Some(refusal(e)),
                        Ok(text) => match chat_limit.offer(now_ms) {
                            game::Verdict::Accept => {
                                sim.send(Command::Chat { id, text })
                                    .await
                                    .map_err(|_| SessionError::Shutdown)?;
                                None
                            }
                            game::Verdict::Limited => Some(ChatRefusal::RateLimited),
                            game::Verdict::Flood => {
                                let message = format!(
                                    "{} chat lines in a row over the rate limit",
                                    game::CHAT_FLOOD_LINES
                                );
                                let _ = timeout(
                                    Duration::from_secs(1),
                                    io.kick(DisconnectReason::ChatFlood, &message),
                                )
                                .await;
                                return Ok(DisconnectReason::ChatFlood);
                            }
                        },
                    };
                    if let Some(reason) = refused {
                        io.send(&mut codec, &play::ChatRefused { reason }).await?;
                    }
                }
                // The server decides reasons: a client can only say it quits.
                play::ToServer::Disconnect(_) => return Ok(DisconnectReason::Quit),
            }
        }
        seat.sample_rtt(io.tcp_fd);
        tokio::select! {
            read = io.reader.read_buf(&mut io.read_buf) => {
                if read? == 0 {
                    return Ok(DisconnectReason::Quit);
                }
                codec.feed(&io.read_buf);
                io.read_buf.clear();
            }
            closed = io.outbox.closed() => {
                if matches!(closed, Closed::Io(_)) {
                    // The peer is gone: what it sent before it went still decides whether it
                    // left or broke the protocol, whichever of the two the task saw first.
                    judge_last_bytes(io, &mut codec).await?;
                }
                return Err(closed.into());
            }
            frames = io.outbox.tapped() => {
                if let Some(r) = &mut io.recording {
                    r.frames(Direction::ToClient, State::Play, &frames);
                }
            }
            kick = &mut *kick_rx => {
                let (reason, message) = kick.map_err(|_| SessionError::Shutdown)?;
                let _ = timeout(Duration::from_secs(1), io.kick(reason, &message)).await;
                return Ok(reason);
            }
            (reason, message) = seat.kicked() => {
                let _ = timeout(Duration::from_secs(1), io.kick(reason, &message)).await;
                return Ok(reason);
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                return Err(SessionError::Timeout("play (idle)"));
            }
        }
    }
}

/// The name of the packet a client sends in Play under `id`: what a client that sends it before
/// MapEnd most likely meant.
fn play_packet_name(id: u8) -> Option<&'static str> {
    match id {
        play::Input::ID => Some(play::Input::NAME),
        play::Ping::ID => Some(play::Ping::NAME),
        play::Say::ID => Some(play::Say::NAME),
        _ => None,
    }
}

/// The wire's reason for a line that breaks the chat rules.
fn refusal(e: game::LineError) -> ChatRefusal {
    match e {
        game::LineError::Empty => ChatRefusal::Empty,
        game::LineError::TooLong { .. } => ChatRefusal::TooLong,
        game::LineError::ControlCharacter(_) => ChatRefusal::ControlCharacter,
    }
}

/// Bytes a vanished peer may still have in flight that are judged before its session ends.
const LAST_BYTES: usize = 64 * 1024;

/// Reads what a peer sent before its connection failed (at most [`LAST_BYTES`], within a short
/// grace) and decodes it: a malformed packet among it is the session's error.
async fn judge_last_bytes(
    io: &mut Io,
    codec: &mut ServerCodec<marker::Play>,
) -> Result<(), SessionError> {
    let grace = Instant::now() + Duration::from_millis(100);
    let mut judged = 0;
    while judged < LAST_BYTES {
        let read = tokio::time::timeout_at(grace, io.reader.read_buf(&mut io.read_buf)).await;
        let Ok(Ok(n)) = read else { break };
        if n == 0 {
            break;
        }
        judged += n;
        codec.feed(&io.read_buf);
        io.read_buf.clear();
        while let Some(got) = codec.next_packet()? {
            io.received(State::Play, got.packet.name(), got.frame);
        }
    }
    Ok(())
}
