//! The connection codec: bytes in, packets of the current state out, and typed sending.
//!
//! Every consumer of the protocol (the server's sessions, the client's connection, the tests'
//! protocol client, replay and the fuzz targets) goes through this module; none of them frames,
//! slices or decodes bytes itself. It is sans-I/O: callers [`feed`](ServerCodec::feed) it the
//! bytes they read from their socket and write the bytes it appends to their buffer.
//!
//! Connections are typed by their state: a [`ServerCodec<S>`] decodes what a client may send in
//! state `S` into the generated `ToServer` enum of that state, and encodes only packets that
//! implement `ServerPacket<S>` — so sending a packet outside its state does not compile. Moving
//! to the next state is [`advance`](ServerCodec::advance), which keeps bytes already buffered.
//! [`ClientCodec<S>`] is the mirror image. [`Decoder`] decodes with a state chosen at run time,
//! for tools (replay, tests, fuzzing) that follow a recorded or observed connection.

use std::marker::PhantomData;

use crate::frame::{FrameDecoder, FrameEncoder, FrameError, FrameRef};
use crate::v1::{self, AnyPacket, AnyStatePacket, ClientPacket, ServerPacket, State, StateMarker};
use crate::wire::{DecodeError, Direction, EncodeError, PacketSet};

/// Why incoming bytes are not a packet of the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The byte stream is not valid framing.
    #[error("bad framing: {0}")]
    Frame(#[from] FrameError),
    /// A frame did not decode as a packet of the current state and direction.
    #[error("{0}")]
    Decode(#[from] DecodeError),
}

/// A decoded packet together with the frame it came in (for recorders and byte counts).
#[derive(Debug, Clone, Copy)]
pub struct Received<'a, T> {
    /// The packet.
    pub packet: T,
    /// Its frame, borrowed from the codec's buffer.
    pub frame: FrameRef<'a>,
}

/// The next packet in `frames`, decoded with `decode`.
fn decode_next<'a, T>(
    frames: &'a mut FrameDecoder,
    decode: impl FnOnce(u8, &[u8]) -> Result<T, DecodeError>,
) -> Result<Option<Received<'a, T>>, CodecError> {
    match frames.next_frame()? {
        None => Ok(None),
        Some(frame) => Ok(Some(Received {
            packet: decode(frame.id(), frame.payload())?,
            frame,
        })),
    }
}

macro_rules! side_codec {
    ($(#[$doc:meta])* $name:ident, $incoming:ident, $send:ident, $peer:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name<S> {
            frames: FrameDecoder,
            encoder: FrameEncoder,
            state: PhantomData<S>,
        }

        impl<S: StateMarker> Default for $name<S> {
            fn default() -> Self {
                Self {
                    frames: FrameDecoder::new(v1::MAX_FRAME),
                    encoder: FrameEncoder::new(),
                    state: PhantomData,
                }
            }
        }

        impl<S: StateMarker> $name<S> {
            /// A codec in state `S` with nothing buffered.
            pub fn new() -> Self {
                Self::default()
            }

            /// The state this codec is in.
            pub fn state(&self) -> State {
                S::STATE
            }

            /// Appends bytes read from the socket.
            pub fn feed(&mut self, bytes: &[u8]) {
                self.frames.extend(bytes);
            }

            /// Bytes buffered and not yet returned as packets.
            pub fn buffered(&self) -> usize {
                self.frames.buffered()
            }

            #[doc = concat!("The next complete packet from the ", $peer, ", decoded in this state; `Ok(None)` when more bytes are needed.")]
            pub fn next_packet(&mut self) -> Result<Option<Received<'_, S::$incoming>>, CodecError> {
                decode_next(&mut self.frames, <S::$incoming as PacketSet>::decode)
            }

            /// Appends the frame of `packet` to `out`; returns it (borrowed from `out`).
            pub fn encode<'o, P: $send<S>>(
                &mut self,
                packet: &P,
                out: &'o mut Vec<u8>,
            ) -> Result<FrameRef<'o>, EncodeError> {
                self.encoder.encode(packet, out)
            }

            /// Moves to state `T`, keeping any bytes already buffered.
            pub fn advance<T: StateMarker>(self) -> $name<T> {
                $name {
                    frames: self.frames,
                    encoder: self.encoder,
                    state: PhantomData,
                }
            }
        }
    };
}

side_codec!(
    /// The server's end of a connection in state `S`: decodes what the client sends, encodes
    /// only what the server may send in `S`.
    ServerCodec,
    ToServer,
    ServerPacket,
    "client"
);

side_codec!(
    /// The client's end of a connection in state `S`: decodes what the server sends, encodes
    /// only what the client may send in `S`.
    ///
    /// Sending a packet of another state does not compile:
    /// ```compile_fail
    /// use tilegame_protocol::codec::ClientCodec;
    /// use tilegame_protocol::v1::{marker, play};
    /// let mut codec = ClientCodec::<marker::Login>::new();
    /// let mut out = Vec::new();
    /// codec.encode(&play::Ping { nonce: 1 }, &mut out).unwrap();
    /// ```
    ClientCodec,
    ToClient,
    ClientPacket,
    "server"
);

/// Encodes a packet that exists in every state (such as `Kick`) whatever the state, for paths
/// that end a connection from code that does not know which state it reached.
pub fn encode_any_state<'o, P: AnyStatePacket>(
    packet: &P,
    out: &'o mut Vec<u8>,
) -> Result<FrameRef<'o>, EncodeError> {
    FrameEncoder::new().encode(packet, out)
}

/// Encodes frames of one side in a state fixed by type, with no decoder (e.g. the server's
/// simulation, which prepares play frames that sessions write).
#[derive(Debug, Default)]
pub struct PlayEncoder {
    encoder: FrameEncoder,
}

impl PlayEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the frame of a packet the server may send in play to `out`.
    pub fn encode<'o, P: ServerPacket<v1::marker::Play>>(
        &mut self,
        packet: &P,
        out: &'o mut Vec<u8>,
    ) -> Result<FrameRef<'o>, EncodeError> {
        self.encoder.encode(packet, out)
    }
}

/// Decodes a recorded frame's packet bytes (the packet id followed by the body, as replay files
/// store them) as sent in `state` travelling in `direction`.
pub fn decode_packet_bytes(
    state: State,
    direction: Direction,
    bytes: &[u8],
) -> Result<AnyPacket, CodecError> {
    let (&id, body) = bytes.split_first().ok_or(FrameError::Empty)?;
    Ok(v1::decode(state, direction, id, body)?)
}

/// Decodes one direction of a connection with a state chosen at run time (for tools that follow
/// a recorded or observed connection, and for tests that check what a peer sent).
#[derive(Debug)]
pub struct Decoder {
    frames: FrameDecoder,
    state: State,
    direction: Direction,
}

impl Decoder {
    /// Decodes packets travelling in `direction`, starting in `state`.
    pub fn new(state: State, direction: Direction) -> Self {
        Decoder {
            frames: FrameDecoder::new(v1::MAX_FRAME),
            state,
            direction,
        }
    }

    /// The state packets are decoded in.
    pub fn state(&self) -> State {
        self.state
    }

    /// Decodes the following packets in `state`.
    pub fn set_state(&mut self, state: State) {
        self.state = state;
    }

    /// Appends bytes read from the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.frames.extend(bytes);
    }

    /// Bytes buffered and not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.frames.buffered()
    }

    /// The next complete packet, decoded in the current state; `Ok(None)` when more bytes are
    /// needed.
    pub fn next_packet(&mut self) -> Result<Option<Received<'_, AnyPacket>>, CodecError> {
        let (state, direction) = (self.state, self.direction);
        decode_next(&mut self.frames, |id, body| {
            v1::decode(state, direction, id, body)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{handshake, marker, play, DisconnectReason, Kick};

    #[test]
    fn typed_codecs_talk_to_each_other_across_states() {
        let mut client = ClientCodec::<marker::Handshake>::new();
        let mut server = ServerCodec::<marker::Handshake>::new();
        let mut wire = Vec::new();
        let hello = handshake::ClientHello {
            protocol_version: v1::PROTOCOL_VERSION,
            spec_hash: v1::SPEC_HASH,
        };
        let frame = client.encode(&hello, &mut wire).unwrap();
        assert_eq!(frame.id(), 0x00);
        server.feed(&wire[..3]);
        assert!(
            server.next_packet().unwrap().is_none(),
            "a partial frame waits"
        );
        server.feed(&wire[3..]);
        let got = server.next_packet().unwrap().unwrap();
        assert_eq!(got.packet, handshake::ToServer::ClientHello(hello));
        assert_eq!(got.frame.wire_len(), wire.len());

        // Kick exists in every state and decodes in each.
        let mut server = server.advance::<marker::Login>();
        let mut out = Vec::new();
        let kick = Kick {
            reason: DisconnectReason::ProtocolError,
            message: "bad".into(),
        };
        server.encode(&kick, &mut out).unwrap();
        let mut client = client.advance::<marker::Login>();
        client.feed(&out);
        assert!(matches!(
            client.next_packet().unwrap().unwrap().packet,
            v1::login::ToClient::Kick(_)
        ));
    }

    #[test]
    fn a_packet_of_another_state_is_a_typed_error() {
        let mut out = Vec::new();
        PlayEncoder::new()
            .encode(&play::Pong { nonce: 7 }, &mut out)
            .unwrap();
        let mut client = ClientCodec::<marker::Login>::new();
        client.feed(&out);
        match client.next_packet() {
            Err(CodecError::Decode(DecodeError::UnknownId {
                state, direction, ..
            })) => {
                assert_eq!((state, direction), ("Login", Direction::ToClient));
            }
            other => panic!("expected an unknown id, got {other:?}"),
        }
        let mut tool = Decoder::new(State::Play, Direction::ToClient);
        tool.feed(&out);
        let got = tool.next_packet().unwrap().unwrap();
        assert_eq!(got.packet.name(), "Pong");
        assert_eq!(got.packet.state(), State::Play);
    }
}
