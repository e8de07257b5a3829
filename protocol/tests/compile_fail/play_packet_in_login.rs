// A client connection in the Login state cannot send a Play packet: this must not compile.
use tilegame_protocol::codec::ClientCodec;
use tilegame_protocol::v1::{marker, play};

fn main() {
    let mut codec = ClientCodec::<marker::Login>::new();
    let mut out = Vec::new();
    let _ = codec.encode(&play::Ping { nonce: 1 }, &mut out);
}
