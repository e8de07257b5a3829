//! A client connection: handshake → login → map transfer → play, over a counted socket.
//!
//! [`Connection::connect`] runs the whole join (within the connect timeout, 60 s by default),
//! reporting player-visible states as it goes, and returns the connection with the received map.
//! In play, [`Connection::recv`] yields decoded server packets (with the play timeout, 10 s by
//! default) and [`Connection::send`] writes packets. Every frame in both directions can be
//! observed (the replay recorder hooks in here) and every byte is counted.

use std::time::Duration;

use tilegame_game as game;
use tilegame_protocol::convert::{theme_from_wire, MapAssembler};
use tilegame_protocol::frame::{FrameDecoder, FrameEncoder};
use tilegame_protocol::v1::{self, handshake, login, map_transfer, play, PlayerInfo, State};
use tilegame_protocol::{DecodeError, Direction, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::counters::{ByteCounters, CountingStream};
use super::state::{ConnectError, ConnectionState};

/// Sees every frame that crosses the socket (the replay recorder implements this).
pub trait FrameObserver: Send {
    /// One frame: `frame` is the packet id followed by the body; `wire_len` includes the length prefix.
    fn frame(
        &mut self,
        direction: Direction,
        state: State,
        tick: u32,
        frame: &[u8],
        wire_len: usize,
    );
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `host:port`.
    pub address: String,
    /// Player name.
    pub name: String,
    /// Body colour 0xRRGGBB.
    pub color: u32,
    /// Limit for the whole join (connect, handshake, login, map).
    pub connect_timeout: Duration,
    /// Silence allowed from the server in play.
    pub play_timeout: Duration,
}

impl ConnectOptions {
    /// Options with the default timeouts (60 s connecting, 10 s in play).
    pub fn new(address: impl Into<String>, name: impl Into<String>) -> Self {
        ConnectOptions {
            address: address.into(),
            name: name.into(),
            color: 0x2f80ed,
            connect_timeout: Duration::from_secs(60),
            play_timeout: Duration::from_secs(10),
        }
    }
}

/// What the server told us while joining.
#[derive(Debug, Clone)]
pub struct Joined {
    /// Our player id.
    pub player_id: u32,
    /// Where we appear, in pixels.
    pub spawn: (i32, i32),
    /// The server tick at join.
    pub tick: u32,
    /// The world map.
    pub map: game::Map,
    /// The world seed.
    pub seed: String,
    /// The world theme.
    pub theme: game::Theme,
    /// Players already present.
    pub players: Vec<PlayerInfo>,
    /// The server's name.
    pub server_name: String,
    /// The server's tick rate.
    pub tick_rate: u8,
}

/// An open connection in the play state.
pub struct Connection {
    stream: CountingStream<TcpStream>,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    out: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    tick: u32,
    play_timeout: Duration,
    observer: Option<Box<dyn FrameObserver>>,
}

impl Connection {
    /// Connects and joins; `progress` sees each state change.
    pub async fn connect(
        options: &ConnectOptions,
        counters: ByteCounters,
        observer: Option<Box<dyn FrameObserver>>,
        progress: &mut (dyn FnMut(ConnectionState) + Send),
    ) -> Result<(Connection, Joined), ConnectError> {
        progress(ConnectionState::Pending);
        match tokio::time::timeout(
            options.connect_timeout,
            Self::join(options, counters, observer, progress),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(ConnectError::new(
                ConnectionState::Timeout,
                format!("no answer within {:?}", options.connect_timeout),
            )),
        }
    }

    async fn join(
        options: &ConnectOptions,
        counters: ByteCounters,
        observer: Option<Box<dyn FrameObserver>>,
        progress: &mut (dyn FnMut(ConnectionState) + Send),
    ) -> Result<(Connection, Joined), ConnectError> {
        let addrs: Vec<_> = tokio::net::lookup_host(&options.address)
            .await
            .map_err(|e| {
                ConnectError::new(
                    ConnectionState::InvalidHost,
                    format!("{}: {e}", options.address),
                )
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ConnectError::new(
                ConnectionState::InvalidHost,
                format!("{} has no address", options.address),
            ));
        }
        let mut last_err = None;
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let stream = match (stream, last_err) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(e.into()),
            (None, None) => {
                return Err(ConnectError::new(
                    ConnectionState::Error,
                    "no address to connect to",
                ))
            }
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            stream: CountingStream::new(stream, counters),
            decoder: FrameDecoder::new(v1::MAX_FRAME),
            encoder: FrameEncoder::new(),
            out: Vec::with_capacity(256),
            buf: Vec::with_capacity(64 * 1024),
            state: State::Handshake,
            tick: 0,
            play_timeout: options.play_timeout,
            observer,
        };

        conn.send(&handshake::ClientHello {
            protocol_version: v1::PROTOCOL_VERSION,
            spec_hash: v1::SPEC_HASH,
        })
        .await?;
        let welcome = match conn.read(handshake::ToClient::decode).await? {
            handshake::ToClient::ServerWelcome(w) => w,
            handshake::ToClient::Reject(r) => {
                return Err(ConnectError::new(
                    ConnectionState::from_reject(r.reason),
                    format!(
                        "{}: server protocol v{} ({:#018x}), ours v{} ({:#018x})",
                        r.reason.name(),
                        r.server_version,
                        r.server_hash,
                        v1::PROTOCOL_VERSION,
                        v1::SPEC_HASH
                    ),
                ))
            }
        };

        conn.state = State::Login;
        let profile = v1::Profile {
            color: options.color & 0xff_ffff,
            locale: "en".into(),
        };
        conn.send(&login::JoinRequest {
            name: options.name.clone(),
            profile,
        })
        .await?;
        let accepted = match conn.read(login::ToClient::decode).await? {
            login::ToClient::JoinAccepted(a) => a,
            login::ToClient::JoinRejected(r) => {
                return Err(ConnectError::new(
                    ConnectionState::from_join_error(r.reason),
                    r.message,
                ))
            }
        };

        conn.state = State::MapTransfer;
        progress(ConnectionState::GettingData(0.0));
        let map_transfer::ToClient::MapBegin(begin) =
            conn.read(map_transfer::ToClient::decode).await?
        else {
            return Err(ConnectError::new(
                ConnectionState::ServerFailure,
                "expected the map to begin",
            ));
        };
        let (seed, theme) = (begin.seed.clone(), theme_from_wire(begin.theme));
        let mut assembler = MapAssembler::new(begin)
            .map_err(|e| ConnectError::new(ConnectionState::ServerFailure, e.to_string()))?;
        let (map, players) = loop {
            match conn.read(map_transfer::ToClient::decode).await? {
                map_transfer::ToClient::MapChunk(chunk) => {
                    assembler.push(chunk).map_err(|e| {
                        ConnectError::new(ConnectionState::ServerFailure, e.to_string())
                    })?;
                    progress(ConnectionState::GettingData(assembler.progress()));
                }
                map_transfer::ToClient::MapEnd(end) => {
                    let map = assembler.finish(end.checksum).map_err(|e| {
                        ConnectError::new(ConnectionState::ServerFailure, e.to_string())
                    })?;
                    break (map, end.players);
                }
                map_transfer::ToClient::MapBegin(_) => {
                    return Err(ConnectError::new(
                        ConnectionState::ServerFailure,
                        "the map began twice",
                    ))
                }
            }
        };
        conn.state = State::Play;
        conn.tick = accepted.tick;
        progress(ConnectionState::Success);
        let joined = Joined {
            player_id: accepted.player_id,
            spawn: (accepted.spawn.x, accepted.spawn.y),
            tick: accepted.tick,
            map,
            seed,
            theme,
            players,
            server_name: welcome.server_name,
            tick_rate: welcome.tick_rate,
        };
        Ok((conn, joined))
    }

    /// Reads one frame and decodes it with `decode` (no timeout: the join has one overall).
    async fn read<T>(
        &mut self,
        decode: fn(u8, &[u8]) -> Result<T, DecodeError>,
    ) -> Result<T, ConnectError> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(bad_server)? {
                if let Some(o) = &mut self.observer {
                    let mut bytes = Vec::with_capacity(frame.body.len() + 1);
                    bytes.push(frame.id);
                    bytes.extend_from_slice(frame.body);
                    o.frame(
                        Direction::ToClient,
                        self.state,
                        self.tick,
                        &bytes,
                        frame.wire_len,
                    );
                }
                return decode(frame.id, frame.body).map_err(bad_server);
            }
            let n = self.stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(ConnectError::new(
                    ConnectionState::Disconnected,
                    "the server closed the connection",
                ));
            }
            self.decoder.extend(&self.buf);
            self.buf.clear();
        }
    }

    /// The next packet from the server in play; times out after the play timeout of silence.
    /// Cancel-safe: partial frames stay buffered.
    pub async fn recv(&mut self) -> Result<play::ToClient, ConnectError> {
        let timeout = self.play_timeout;
        let packet = tokio::time::timeout(timeout, self.read(play::ToClient::decode))
            .await
            .map_err(|_| {
                ConnectError::new(
                    ConnectionState::Timeout,
                    format!("nothing from the server for {timeout:?}"),
                )
            })??;
        if let play::ToClient::Snapshot(s) = &packet {
            self.tick = s.tick;
        }
        Ok(packet)
    }

    /// Sends one packet.
    pub async fn send<P: Packet>(&mut self, packet: &P) -> Result<(), ConnectError> {
        self.out.clear();
        let wire_len = self
            .encoder
            .encode(packet, &mut self.out)
            .map_err(|e| ConnectError::new(ConnectionState::Error, e.to_string()))?;
        if let Some(o) = &mut self.observer {
            let payload_start = self.out.len() - encoded_payload_len(&self.out);
            o.frame(
                Direction::ToServer,
                self.state,
                self.tick,
                &self.out[payload_start..],
                wire_len,
            );
        }
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// Leaves politely: says why, closes our side, and reads (and counts) whatever the server
    /// still sends until it closes too (bounded to half a second).
    pub async fn disconnect(&mut self, reason: v1::DisconnectReason) {
        let _ = self.send(&play::Disconnect { reason }).await;
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            let _ = self.stream.shutdown().await;
            loop {
                self.buf.clear();
                match self.stream.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        self.buf.clear();
    }

    /// The byte counters of this connection's socket.
    pub fn counters(&self) -> &ByteCounters {
        self.stream.counters()
    }

    /// The latest server tick seen.
    pub fn tick(&self) -> u32 {
        self.tick
    }
}

/// Length of the id + body of a single encoded frame in `frame` (skipping its varint prefix).
fn encoded_payload_len(frame: &[u8]) -> usize {
    let prefix = frame
        .iter()
        .position(|b| b & 0x80 == 0)
        .map_or(frame.len(), |i| i + 1);
    frame.len() - prefix
}

fn bad_server(e: impl std::fmt::Display) -> ConnectError {
    ConnectError::new(
        ConnectionState::ServerFailure,
        format!("the server sent bad data: {e}"),
    )
}
