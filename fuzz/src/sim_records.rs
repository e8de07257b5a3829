//! Server simulation records applied by the re-simulator (`Resim::new` / `Resim::apply`), as
//! `tilegame-replay verify`, `play` and `derive` apply a `--record` file's records.
//!
//! Input: a mode byte, then records, each `[length: u16 LE][Record body]`. Mode even: the
//! records follow the fixed start of the `sim_keyframe` target ([`crate::sim_keyframe::start`]);
//! odd: the first record is the `SimStart` itself (refused exactly as the server refuses its
//! configuration; maps over [`MAX_AREA`] tiles are skipped to keep the fuzzer fast). Every
//! record, in any order with any values, is applied or refused with an error, never a panic;
//! the re-simulation runs under a [`BUDGET`] and, whatever the records, holds at most that
//! (its own estimate, and the bytes live at once as the counting allocator measures them).

use tilegame_protocol::replay_format::{self as rf, Record};
use tilegame_protocol::wire::{decode_body, encode_body};
use tilegame_sim::resim::{Resim, ResimError, Step};

use crate::alloc_meter::peak_during;
use crate::sim_keyframe::start;

/// The re-simulation's memory budget in the target (the tool's is larger; the check is the same).
pub const BUDGET: usize = 4 << 20;

/// Most map tiles a start from the input may ask for (generating larger maps is slow, and
/// their sizes are checked before they are generated).
pub const MAX_AREA: u32 = 128 * 128;

/// Most records applied from one input.
pub const MAX_RECORDS: usize = 4096;

/// The records of an input after its mode byte (stopping at the first that does not decode).
pub fn records(mut input: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    while let [lo, hi, rest @ ..] = input {
        let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (body, tail) = rest.split_at(n);
        let Ok(record) = decode_body::<Record>("Record", body) else {
            break;
        };
        out.push(record);
        input = tail;
        if out.len() == MAX_RECORDS {
            break;
        }
    }
    out
}

/// `records` as an input of the given mode (for seeds).
pub fn input(mode: u8, records: &[Record]) -> Vec<u8> {
    let mut out = vec![mode];
    for r in records {
        let mut body = Vec::new();
        encode_body(r, "Record", &mut body).expect("a record the loop wrote encodes");
        let len = u16::try_from(body.len()).expect("a seed's record under 64 KiB");
        out.extend(len.to_le_bytes());
        out.extend(body);
    }
    out
}

/// Input: a mode byte and records (see the module's documentation).
pub fn fuzz_sim_records(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut records = records(rest);
    let start = if mode % 2 == 0 {
        start().clone()
    } else {
        if records.is_empty() {
            return;
        }
        match records.remove(0) {
            Record::SimStart(s) => s,
            _ => return,
        }
    };
    if u32::from(start.width) * u32::from(start.height) > MAX_AREA {
        return;
    }
    let mut resim = match Resim::new(&start) {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    resim.set_budget(BUDGET);
    // Watch a player the records name, so the stream is collected too.
    if let Some(Record::SimJoin(rf::SimJoin {
        result: rf::SimJoinResult::JoinedAs(a),
        ..
    })) = records.iter().find(|r| matches!(r, Record::SimJoin(_)))
    {
        resim.watch(tilegame_game::PlayerId(a.player));
    }
    let ((), peak) = peak_during(|| {
        for record in &records {
            match resim.apply(record) {
                Ok(Step::Applied | Step::Ticked { .. }) => {}
                Ok(Step::Diverged(d)) => assert!(!d.to_string().is_empty()),
                Err(e @ ResimError::Budget { .. }) => {
                    assert!(e.to_string().contains("over its budget"));
                    return;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    return;
                }
            }
            assert!(
                resim.memory() <= BUDGET,
                "{} B held after a {} record, over the budget of {BUDGET} B and not refused",
                resim.memory(),
                tilegame_sim::resim::record_name(record)
            );
        }
        let _ = resim.take_stream();
    });
    // The estimate is an upper bound of what the loop holds; what is live at once stays
    // within a small multiple of it (transient copies: keyframes compared, frames encoded).
    assert!(
        peak <= 3 * BUDGET,
        "{peak} B live at once while re-simulating, budget {BUDGET} B"
    );
}
