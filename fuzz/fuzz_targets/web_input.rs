//! What the web listener parses itself (`tilegame_server::web`): first byte even, the rest is a
//! request path for `path::resolve`, whose answer must be a relative path of plain names (no
//! `.`/`..`, separators, drive colons, control characters or hidden names; at most
//! `MAX_SEGMENTS` + the index) that stays inside any folder it is joined to; odd, the rest is a
//! client's binary WebSocket message for `ws::message_frame`, which must accept it exactly when
//! the frame decoder finds one whole frame filling the message, and otherwise say why.
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use tilegame_fuzz::tilegame_protocol::frame::{decode_frame, FrameDecoder};
use tilegame_fuzz::tilegame_protocol::v1;
use tilegame_server::web::path::{resolve, MAX_SEGMENTS};
use tilegame_server::web::ws::{message_frame, MessageError};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    if pick % 2 == 0 {
        let text = String::from_utf8_lossy(rest);
        let Ok(path) = resolve(&text) else { return };
        let components: Vec<_> = path.components().collect();
        assert!(!components.is_empty() && components.len() <= MAX_SEGMENTS + 1);
        for c in components {
            let Component::Normal(name) = c else {
                panic!("{text:?} resolved to {path:?}, with {c:?}");
            };
            let name = name.to_str().expect("UTF-8 names");
            assert!(
                !name.starts_with('.'),
                "{text:?}: hidden or dot name {name:?}"
            );
            assert!(
                !name.contains(['/', '\\', ':']) && !name.chars().any(char::is_control),
                "{text:?}: {name:?}"
            );
        }
        let root = Path::new("/srv/bundle");
        assert!(root.join(&path).starts_with(root));
    } else {
        let verdict = message_frame(rest);
        let whole = matches!(
            decode_frame(rest, v1::MAX_FRAME),
            Ok(Some(f)) if f.wire_len() == rest.len()
        );
        assert_eq!(verdict.is_ok(), whole, "{verdict:?}");
        if let Ok(len) = verdict {
            assert_eq!(len, rest.len());
            let mut frames = FrameDecoder::new(v1::MAX_FRAME);
            frames.extend(rest);
            assert!(matches!(frames.next_frame(), Ok(Some(f)) if f.wire() == rest));
        } else if let Err(MessageError::Partial { got, frame }) = verdict {
            assert!(got < frame || frame == rest.len(), "{got} {frame}");
        }
    }
});
