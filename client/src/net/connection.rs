//! A client connection: handshake → login → map transfer → play, over a counted socket.
//!
//! [`Connection::connect`] runs the whole join (within the connect timeout, 60 s by default),
//! reporting player-visible states as it goes, and returns the connection with the received map.
//! In play, [`Connection::recv`] yields decoded server packets (with the play timeout, 10 s by
//! default) and [`Connection::send`] writes packets. Every frame in both directions can be
//! observed (the replay recorder hooks in here) and every byte is counted.

use std::time::Duration;

use tilegame_game as game;
use tilegame_protocol::frame::{FrameDecoder, FrameEncoder};
use tilegame_protocol::v1::{self, handshake, login, play, PlayerInfo, State};
use tilegame_protocol::{DecodeError, Direction, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::counters::{ByteCounters, CountingStream};
use super::join::{JoinAssembler, JoinStep};
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
        let mut join = JoinAssembler::new();
        let joined = loop {
            let (id, body) = conn.read_frame().await?;
            match join.feed(id, &body)? {
                JoinStep::Welcomed => {
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
                }
                JoinStep::Accepted => {
                    conn.state = State::MapTransfer;
                    progress(ConnectionState::GettingData(0.0));
                }
                JoinStep::Progress(p) => progress(ConnectionState::GettingData(p)),
                JoinStep::Done(joined) => break *joined,
            }
        };
        conn.state = State::Play;
        conn.tick = joined.tick;
        progress(ConnectionState::Success);
        Ok((conn, joined))
    }

    /// Reads one frame (packet id and body), showing it to the observer.
    async fn read_frame(&mut self) -> Result<(u8, Vec<u8>), ConnectError> {
        let (id, body) = self.read_raw().await?;
        Ok((id, body.to_vec()))
    }

    /// Reads one frame; the body borrows the connection's buffer.
    async fn read_raw(&mut self) -> Result<(u8, &[u8]), ConnectError> {
        loop {
            // Checked twice to keep the borrow of the decoder inside one branch.
            if self.decoder.next_frame_len().map_err(bad_server)?.is_some() {
                let frame = self
                    .decoder
                    .next_frame()
                    .map_err(bad_server)?
                    .ok_or_else(|| bad_server("frame vanished"))?;
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
                return Ok((frame.id, frame.body));
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

    /// Reads one frame and decodes it with `decode`.
    async fn read<T>(
        &mut self,
        decode: fn(u8, &[u8]) -> Result<T, DecodeError>,
    ) -> Result<T, ConnectError> {
        let (id, body) = self.read_raw().await?;
        decode(id, body).map_err(bad_server)
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
