// The server cannot send a Snapshot while the connection is still in Handshake.
use tilegame_protocol::codec::ServerCodec;
use tilegame_protocol::v1::{marker, play};

fn main() {
    let mut codec = ServerCodec::<marker::Handshake>::new();
    let mut out = Vec::new();
    let snapshot = play::Snapshot {
        tick: 0,
        ack_seq: 0,
        players: Vec::new(),
        tiles: Vec::new(),
        gone: Vec::new(),
    };
    let _ = codec.encode(&snapshot, &mut out);
}
