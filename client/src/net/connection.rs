//! A client connection: handshake → login → map transfer → play, over a counted socket.
//!
//! [`Connection::connect`] runs the whole join (within the connect timeout, 60 s by default),
//! reporting player-visible states as it goes, and returns the connection with the received map.
//! In play, [`Connection::recv`] yields decoded server packets (with the play timeout, the
//! spec's `IDLE_TIMEOUT_MS` by default) and [`Connection::send`] writes packets. Every frame in both directions can be
//! observed (the replay recorder hooks in here), stamped with the latest tick the server
//! announced (`tilegame_protocol::snapshot::announced_tick`, the one tick extraction every
//! recorder shares), and every byte is counted.
//!
//! Framing and decoding are the protocol's typed codec: each stage of the join holds a
//! `ClientCodec` of its state, so the client can only send what that state allows.

use std::time::Duration;

use super::counters::ByteCounters;
use super::join::{JoinAssembler, JoinStep};
use super::rt;
use super::state::{ConnectError, ConnectionState};
use super::transport::{PlatformTransport, Transport};
use tilegame_game as game;
use tilegame_protocol::codec::ClientCodec;
use tilegame_protocol::snapshot::announced_tick;
use tilegame_protocol::v1::{
    self, handshake, login, marker, play, ClientPacket, PlayerInfo, State,
};
use tilegame_protocol::Direction;

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
    /// Options with the default timeouts: 60 s connecting, and in play the spec's
    /// `IDLE_TIMEOUT_MS` (the server sends at least one Snapshot every `HEARTBEAT_TICKS`, so
    /// that much silence means it is gone, as it means to the server that a client is gone).
    pub fn new(address: impl Into<String>, name: impl Into<String>) -> Self {
        ConnectOptions {
            address: address.into(),
            name: name.into(),
            color: 0x2f80ed,
            connect_timeout: Duration::from_secs(60),
            play_timeout: Duration::from_millis(u64::from(v1::IDLE_TIMEOUT_MS)),
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
    /// The server's player limit.
    pub max_players: u32,
}

/// The socket side of a connection: counted transport, buffers, and the frame observer.
struct Link<T: Transport> {
    stream: T,
    out: Vec<u8>,
    buf: Vec<u8>,
    tick: u32,
    observer: Option<Box<dyn FrameObserver>>,
}

impl<T: Transport> Link<T> {
    /// Reads until `codec` yields a packet of its state, showing the frame to the observer.
    /// Cancel-safe: partial frames stay buffered in the codec.
    async fn recv<S: v1::StateMarker>(
        &mut self,
        codec: &mut ClientCodec<S>,
    ) -> Result<S::ToClient, ConnectError> {
        loop {
            if let Some(got) = codec.next_packet().map_err(bad_server)? {
                let bytes = got.frame.packet_bytes();
                if let Some(tick) = announced_tick(Direction::ToClient, S::STATE, bytes) {
                    self.tick = tick;
                }
                if let Some(o) = &mut self.observer {
                    o.frame(
                        Direction::ToClient,
                        S::STATE,
                        self.tick,
                        got.frame.packet_bytes(),
                        got.frame.wire_len(),
                    );
                }
                return Ok(got.packet);
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return Err(ConnectError::new(
                    ConnectionState::Disconnected,
                    "the server closed the connection",
                ));
            }
            codec.feed(&self.buf);
            self.buf.clear();
        }
    }

    /// Sends a packet the client may send in state `S`.
    async fn send<S: v1::StateMarker, P: ClientPacket<S>>(
        &mut self,
        codec: &mut ClientCodec<S>,
        packet: &P,
    ) -> Result<(), ConnectError> {
        self.out.clear();
        let frame = codec
            .encode(packet, &mut self.out)
            .map_err(|e| ConnectError::new(ConnectionState::Error, e.to_string()))?;
        if let Some(o) = &mut self.observer {
            o.frame(
                Direction::ToServer,
                S::STATE,
                self.tick,
                frame.packet_bytes(),
                frame.wire_len(),
            );
        }
        self.stream.write_frame(&self.out).await?;
        Ok(())
    }
}

/// An open connection in the play state, over this build's transport by default.
pub struct Connection<T: Transport = PlatformTransport> {
    link: Link<T>,
    codec: ClientCodec<marker::Play>,
    play_timeout: Duration,
}

impl Connection {
    /// Connects over this build's transport and joins; `progress` sees each state change.
    pub async fn connect(
        options: &ConnectOptions,
        counters: ByteCounters,
        observer: Option<Box<dyn FrameObserver>>,
        progress: &mut (dyn FnMut(ConnectionState) + Send),
    ) -> Result<(Connection, Joined), ConnectError> {
        Self::connect_over(options, counters, observer, progress).await
    }
}

impl<T: Transport> Connection<T> {
    /// Connects over transport `T` and joins; `progress` sees each state change.
    pub async fn connect_over(
        options: &ConnectOptions,
        counters: ByteCounters,
        observer: Option<Box<dyn FrameObserver>>,
        progress: &mut (dyn FnMut(ConnectionState) + Send),
    ) -> Result<(Connection<T>, Joined), ConnectError> {
        progress(ConnectionState::Pending);
        match rt::timeout(
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
    ) -> Result<(Connection<T>, Joined), ConnectError> {
        let stream = T::open(&options.address, counters).await?;
        let mut link = Link {
            stream,
            out: Vec::with_capacity(256),
            buf: Vec::with_capacity(64 * 1024),
            tick: 0,
            observer,
        };
        let mut join = JoinAssembler::new();

        // Handshake.
        let mut codec = ClientCodec::<marker::Handshake>::new();
        let hello = handshake::ClientHello {
            protocol_version: v1::PROTOCOL_VERSION,
            spec_hash: v1::SPEC_HASH,
        };
        link.send(&mut codec, &hello).await?;
        join.on_handshake(link.recv(&mut codec).await?)?;

        // Login.
        let mut codec = codec.advance::<marker::Login>();
        let request = login::JoinRequest {
            name: options.name.clone(),
            profile: v1::Profile {
                color: options.color & 0xff_ffff,
                locale: "en".into(),
            },
        };
        link.send(&mut codec, &request).await?;
        join.on_login(link.recv(&mut codec).await?)?;
        progress(ConnectionState::GettingData(0.0));

        // Map transfer.
        let mut codec = codec.advance::<marker::MapTransfer>();
        let joined = loop {
            match join.on_map(link.recv(&mut codec).await?)? {
                JoinStep::Progress(p) => progress(ConnectionState::GettingData(p)),
                JoinStep::Done(joined) => break *joined,
                JoinStep::Welcomed | JoinStep::Accepted => {}
            }
        };
        progress(ConnectionState::Success);
        let conn = Connection {
            link,
            codec: codec.advance::<marker::Play>(),
            play_timeout: options.play_timeout,
        };
        Ok((conn, joined))
    }

    /// The next packet from the server in play; times out after the play timeout of silence.
    /// Cancel-safe: partial frames stay buffered.
    pub async fn recv(&mut self) -> Result<play::ToClient, ConnectError> {
        let timeout = self.play_timeout;
        let packet = rt::timeout(timeout, self.link.recv(&mut self.codec))
            .await
            .map_err(|_| {
                ConnectError::new(
                    ConnectionState::Timeout,
                    format!("nothing from the server for {timeout:?}"),
                )
            })??;
        Ok(packet)
    }

    /// Sends one packet the client may send in play.
    pub async fn send<P: ClientPacket<marker::Play>>(
        &mut self,
        packet: &P,
    ) -> Result<(), ConnectError> {
        self.link.send(&mut self.codec, packet).await
    }

    /// Leaves politely: says so, closes our side, and reads (and counts) whatever the server
    /// still sends until it closes too (bounded to half a second).
    pub async fn disconnect(&mut self) {
        let _ = self.send(&v1::Disconnect {}).await;
        let _ = rt::timeout(Duration::from_millis(500), self.link.stream.close()).await;
        self.link.buf.clear();
    }

    /// The byte counters of this connection's socket.
    pub fn counters(&self) -> &ByteCounters {
        self.link.stream.counters()
    }

    /// The latest server tick seen.
    pub fn tick(&self) -> u32 {
        self.link.tick
    }
}

fn bad_server(e: impl std::fmt::Display) -> ConnectError {
    ConnectError::new(
        ConnectionState::ServerFailure,
        format!("the server sent bad data: {e}"),
    )
}
