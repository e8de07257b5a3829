//! The client replay engine (`tilegame_replay::Engine::feed`) over records, as
//! `tilegame-replay verify`, `play` and `diff` feed a connection recording's records to it.
//!
//! Input: a mode byte (even: a client's recording, odd: the server's recording of one
//! connection), then records in the `sim_records` target's form, `[length: u16 LE][Record
//! body]`. Frames out of sequence, in the wrong state, undecodable; tick hashes without their
//! snapshot; keyframes that do not restore; simulation records: each is an error or an
//! outcome, never a panic. The engine is deterministic: a second engine fed the same records
//! gives the same outcome for every one of them and the same counts.

use tilegame_protocol::replay_format::Recorder;
use tilegame_replay::Engine;

use crate::sim_records::records;

/// Input: a mode byte and records (see the module's documentation).
pub fn fuzz_engine_feed(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut header = crate::replay::header();
    if mode % 2 == 1 {
        header.recorder = Recorder::Server;
    }
    let records = records(rest);
    let mut a = Engine::new(&header);
    let mut b = Engine::new(&header);
    for record in &records {
        let first = a.feed(record);
        let second = b.feed(record);
        assert_eq!(first, second, "two engines fed the same record disagree");
        if let Err(e) = first {
            assert!(!e.to_string().is_empty());
            break;
        }
    }
    assert_eq!(a.counts(), b.counts());
    assert_eq!(a.last_tick(), b.last_tick());
}
