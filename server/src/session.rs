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

use tilegame_protocol::convert::input_from_wire;
use tilegame_protocol::frame::{FrameDecoder, FrameEncoder, FrameError};
use tilegame_protocol::v1::{
    self, handshake, login, map_transfer, play, DisconnectReason, RejectReason,
};
use tilegame_protocol::{DecodeError, Direction, EncodeError, Packet, State};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, Instant};
use tracing::{debug, info, warn};

use crate::admission::Pending;
use crate::outbox::{self, Closed, Outbox};
use crate::recording::SessionRecorder;
use crate::sim::{Command, Kick};

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
    /// Write one replay file per connection into this folder.
    pub record_dir: Option<std::path::PathBuf>,
    /// The simulation's statistics (player count for the welcome).
    pub stats: Arc<std::sync::Mutex<crate::sim::TickStats>>,
}

/// Why a session ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer was silent too long.
    #[error("timed out during {0}")]
    Timeout(&'static str),
    /// The byte stream is not valid framing.
    #[error("bad framing: {0}")]
    Frame(#[from] FrameError),
    /// A packet did not decode in the current state.
    #[error("bad packet: {0}")]
    Decode(#[from] DecodeError),
    /// A packet could not be encoded.
    #[error("{0}")]
    Encode(#[from] EncodeError),
    /// The peer closed the connection.
    #[error("connection closed by peer during {0}")]
    Closed(&'static str),
    /// The handshake or login was refused.
    #[error("refused: {0}")]
    Refused(String),
    /// The simulation is gone (shutting down).
    #[error("server is shutting down")]
    Shutdown,
    /// The outgoing queue closed (the client did not read, or the socket failed).
    #[error("cannot send: {0}")]
    Outbox(#[from] Closed),
}

struct Conn {
    reader: OwnedReadHalf,
    outbox: Outbox,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    out: Vec<u8>,
    read_buf: Vec<u8>,
    /// The protocol state, for the recording.
    state: State,
    recording: Option<SessionRecorder>,
}

impl Conn {
    /// Reads until one complete frame is buffered and decodes it with `decode`.
    async fn read_packet<T>(
        &mut self,
        stage: &'static str,
        deadline: Instant,
        decode: fn(u8, &[u8]) -> Result<T, DecodeError>,
    ) -> Result<T, SessionError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                if let Some(r) = &mut self.recording {
                    let wire = frame.wire_len;
                    r.frame(
                        Direction::ToServer,
                        self.state,
                        &[&[frame.id][..], frame.body].concat(),
                        wire,
                    );
                }
                return Ok(decode(frame.id, frame.body)?);
            }
            let n = tokio::time::timeout_at(deadline, self.reader.read_buf(&mut self.read_buf))
                .await
                .map_err(|_| SessionError::Timeout(stage))??;
            if n == 0 {
                return Err(SessionError::Closed(stage));
            }
            self.decoder.extend(&self.read_buf);
            self.read_buf.clear();
        }
    }

    async fn send<P: Packet>(&mut self, packet: &P) -> Result<(), SessionError> {
        self.out.clear();
        self.encoder.encode(packet, &mut self.out)?;
        if let Some(r) = &mut self.recording {
            r.frames(Direction::ToClient, self.state, &self.out);
        }
        self.outbox.send(&self.out).await?;
        Ok(())
    }
}

/// Serves one connection to its end; logs how it ended.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    config: Arc<SessionConfig>,
    sim: mpsc::Sender<Command>,
    pending: Pending,
) {
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let outbox = Outbox::new(config.outbox_bytes);
    outbox::spawn_writer(outbox.clone(), writer, config.write_timeout);
    let mut conn = Conn {
        reader,
        outbox,
        decoder: FrameDecoder::new(v1::MAX_FRAME),
        encoder: FrameEncoder::new(),
        out: Vec::with_capacity(4096),
        read_buf: Vec::with_capacity(8192),
        state: State::Handshake,
        recording: config
            .record_dir
            .as_deref()
            .map(|dir| SessionRecorder::new(dir, peer)),
    };
    match run(&mut conn, &config, &sim, pending).await {
        Ok(reason) => info!(%peer, ?reason, "connection closed"),
        // A peer hanging up early is routine (scanners, floods): not worth a warning each.
        Err(e @ SessionError::Closed(_)) => debug!(%peer, error = %e, "connection closed early"),
        Err(e) => {
            warn!(%peer, error = %crate::logging::one_line(&e.to_string()), "dropping client");
            let reason = match e {
                SessionError::Decode(_) | SessionError::Frame(_) => {
                    Some(DisconnectReason::ProtocolError)
                }
                SessionError::Timeout(_) => Some(DisconnectReason::Timeout),
                _ => None,
            };
            if let Some(reason) = reason {
                let kick = play::Kick {
                    reason,
                    message: truncate(&e.to_string(), 256),
                };
                let _ = timeout(Duration::from_millis(200), conn.send(&kick)).await;
            }
        }
    }
    conn.outbox.finish();
    if let Some(r) = &mut conn.recording {
        r.finish("connection closed");
    }
}

/// One line of at most `max` bytes (kick messages and log fields never span lines).
fn truncate(text: &str, max: usize) -> String {
    let text = crate::logging::one_line(text);
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

async fn run(
    conn: &mut Conn,
    config: &SessionConfig,
    sim: &mpsc::Sender<Command>,
    pending: Pending,
) -> Result<DisconnectReason, SessionError> {
    let deadline = Instant::now() + config.handshake_timeout;

    // Handshake.
    let hello = match conn
        .read_packet("handshake", deadline, handshake::ToServer::decode)
        .await
    {
        Ok(handshake::ToServer::ClientHello(hello)) => hello,
        Err(SessionError::Decode(DecodeError::Parse { message, .. }))
            if message.contains("magic") =>
        {
            let reject = handshake::Reject {
                reason: RejectReason::BadMagic,
                server_version: v1::PROTOCOL_VERSION,
                server_hash: v1::SPEC_HASH,
            };
            let _ = conn.send(&reject).await;
            return Err(SessionError::Refused(
                "wrong magic: not a tilegame client".into(),
            ));
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
        conn.send(&handshake::Reject {
            reason,
            server_version: v1::PROTOCOL_VERSION,
            server_hash: v1::SPEC_HASH,
        })
        .await?;
        return Err(SessionError::Refused(format!(
            "client protocol v{} hash {:#018x}, server v{} hash {:#018x}",
            hello.protocol_version,
            hello.spec_hash,
            v1::PROTOCOL_VERSION,
            v1::SPEC_HASH
        )));
    }
    let players = config.stats.lock().map_or(0, |s| s.players as u32);
    conn.send(&handshake::ServerWelcome {
        server_name: truncate(&config.server_name, 64),
        tick_rate: config.tps.min(255) as u8,
        players,
        max_players: config.max_players,
    })
    .await?;

    // Login.
    conn.state = State::Login;
    let login::ToServer::JoinRequest(request) = conn
        .read_packet("login", deadline, login::ToServer::decode)
        .await?;
    if let Some(r) = &mut conn.recording {
        r.start(&request.name);
    }
    let (kick_tx, mut kick_rx) = oneshot::channel::<Kick>();
    let (reply_tx, reply_rx) = oneshot::channel();
    sim.send(Command::Join {
        name: request.name.clone(),
        color: request.profile.color & 0x00ff_ffff,
        reply: reply_tx,
        outbox: conn.outbox.clone(),
        kick: kick_tx,
    })
    .await
    .map_err(|_| SessionError::Shutdown)?;
    let joined = match reply_rx.await.map_err(|_| SessionError::Shutdown)? {
        Ok(joined) => joined,
        Err((reason, message)) => {
            conn.send(&login::JoinRejected {
                reason,
                message: truncate(&message, 256),
            })
            .await?;
            return Err(SessionError::Refused(message));
        }
    };
    // A player now: no longer counted against the limits on connections that have not joined.
    drop(pending);
    let id = joined.id;
    let result = play_session(conn, config, sim, joined, &mut kick_rx).await;
    let reason = match &result {
        Ok(reason) => *reason,
        Err(SessionError::Timeout(_)) => DisconnectReason::Timeout,
        Err(SessionError::Outbox(Closed::Overflow { .. } | Closed::Stalled(_))) => {
            DisconnectReason::TooSlow
        }
        Err(SessionError::Decode(_) | SessionError::Frame(_)) => DisconnectReason::ProtocolError,
        Err(_) => DisconnectReason::Quit,
    };
    let _ = sim.send(Command::Leave { id, reason }).await;
    result
}

async fn play_session(
    conn: &mut Conn,
    config: &SessionConfig,
    sim: &mpsc::Sender<Command>,
    joined: crate::sim::Joined,
    kick_rx: &mut oneshot::Receiver<Kick>,
) -> Result<DisconnectReason, SessionError> {
    let id = joined.id;
    conn.send(&login::JoinAccepted {
        player_id: id.0,
        spawn: v1::Position {
            x: joined.spawn.0,
            y: joined.spawn.1,
        },
        tick: joined.tick,
    })
    .await?;

    // Map transfer.
    conn.state = State::MapTransfer;
    let transfer = &joined.transfer;
    conn.send(&transfer.begin).await?;
    for chunk in &transfer.chunks {
        conn.send(chunk).await?;
    }
    conn.send(&map_transfer::MapEnd {
        checksum: transfer.checksum,
        players: joined.players,
    })
    .await?;
    debug!(
        player = id.0,
        bytes = transfer.begin.total_bytes,
        "map sent"
    );

    // Play.
    conn.state = State::Play;
    conn.outbox.open_play();
    let mut idle_deadline = Instant::now() + config.idle_timeout;
    let mut last_seq = 0u32;
    if conn.recording.is_some() {
        conn.outbox.start_tap();
    }
    loop {
        while let Some(frame) = conn.decoder.next_frame()? {
            idle_deadline = Instant::now() + config.idle_timeout;
            if let Some(r) = &mut conn.recording {
                r.frame(
                    Direction::ToServer,
                    State::Play,
                    &[&[frame.id][..], frame.body].concat(),
                    frame.wire_len,
                );
            }
            match play::ToServer::decode(frame.id, frame.body)? {
                play::ToServer::Input(input) => {
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
                    conn.send(&play::Pong { nonce: ping.nonce }).await?;
                }
                // The server decides reasons: a client can only say it quits.
                play::ToServer::Disconnect(_) => return Ok(DisconnectReason::Quit),
            }
        }
        tokio::select! {
            read = conn.reader.read_buf(&mut conn.read_buf) => {
                if read? == 0 {
                    return Ok(DisconnectReason::Quit);
                }
                conn.decoder.extend(&conn.read_buf);
                conn.read_buf.clear();
            }
            closed = conn.outbox.closed() => return Err(closed.into()),
            frames = conn.outbox.tapped() => {
                if let Some(r) = &mut conn.recording {
                    r.frames(Direction::ToClient, State::Play, &frames);
                }
            }
            kick = &mut *kick_rx => {
                let (reason, message) = kick.map_err(|_| SessionError::Shutdown)?;
                let _ = timeout(Duration::from_secs(1), conn.send(&play::Kick { reason, message: truncate(&message, 256) })).await;
                return Ok(reason);
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                return Err(SessionError::Timeout("play (idle)"));
            }
        }
    }
}
