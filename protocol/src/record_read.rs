//! Reading a replay record by its tag byte.
//!
//! The derived reader of the generated `Record` enum (binrw, one `magic` byte per variant) tries
//! the variants in declaration order and, for every one that does not match, builds an error
//! (a boxed value for the magic it found) and keeps it: a `SimInput`, the most common record of
//! a simulation recording, costs six failed variants and about ten allocations before its own
//! few bytes are read. [`read_record`] reads the tag, then only that variant's body. Any
//! failure (an unknown tag, a body that does not decode) rewinds and defers to the derived
//! reader, so errors, and what they say, are exactly the derived reader's; so is any variant
//! this table does not list yet. [`read_compact`] does the same for format 4's compact records.

use std::io::Cursor;

use binrw::{BinRead, BinResult, Endian};

use crate::replay_format::{
    CompactFrame, CompactRecord, CompactTickHash, End, Frame, Keyframe, LegacyKeyframe, Record,
    SimChat, SimDrop, SimInput, SimJoin, SimKeyframe, SimKickAll, SimLeave, SimRosterCut, SimStart,
    SimTick, TickHash, TickHashLow,
};

/// One record from `cursor` (little-endian, as the container stores them).
pub fn read_record(cursor: &mut Cursor<&[u8]>) -> BinResult<Record> {
    let start = cursor.position();
    if let Some(record) = read_tagged(cursor) {
        return Ok(record);
    }
    cursor.set_position(start);
    <Record as BinRead>::read_options(cursor, Endian::Little, ())
}

/// One compact record (format 4's short forms, tags 16 and 17) from `cursor`, by its tag as
/// [`read_record`] reads a `Record`: the derived reader builds and drops an error for the
/// `CompactFrame` tag before it reads every `CompactTickHash` (one a tick). Any failure rewinds
/// and defers to the derived reader, whose errors are the ones reported.
pub fn read_compact(cursor: &mut Cursor<&[u8]>) -> BinResult<CompactRecord> {
    let start = cursor.position();
    let tagged = (|| {
        let tag = u8::read_options(cursor, Endian::Little, ()).ok()?;
        Some(match tag {
            0x10 => CompactRecord::CompactFrame(
                CompactFrame::read_options(cursor, Endian::Little, ()).ok()?,
            ),
            0x11 => CompactRecord::CompactTickHash(
                CompactTickHash::read_options(cursor, Endian::Little, ()).ok()?,
            ),
            _ => return None,
        })
    })();
    if let Some(record) = tagged {
        return Ok(record);
    }
    cursor.set_position(start);
    <CompactRecord as BinRead>::read_options(cursor, Endian::Little, ())
}

/// Whether a record with this tag is one of the per-tick kinds whose size its caller can count
/// (a frame, by its bytes; a tick hash; the end): every other may hold megabytes (keyframes).
pub fn is_small_tag(tag: u8) -> bool {
    matches!(tag, 0x0 | 0x1 | 0x3 | 0xf)
}

/// The record of the tag at the cursor, or `None` (an unknown tag or a bad body).
fn read_tagged(cursor: &mut Cursor<&[u8]>) -> Option<Record> {
    fn body<T: for<'a> BinRead<Args<'a> = ()>>(cursor: &mut Cursor<&[u8]>) -> Option<T> {
        T::read_options(cursor, Endian::Little, ()).ok()
    }
    let tag = u8::read_options(cursor, Endian::Little, ()).ok()?;
    Some(match tag {
        0x0 => Record::Frame(body::<Frame>(cursor)?),
        0x1 => Record::TickHash(body::<TickHash>(cursor)?),
        0x2 => Record::LegacyKeyframe(body::<LegacyKeyframe>(cursor)?),
        0x3 => Record::End(body::<End>(cursor)?),
        0x4 => Record::Keyframe(body::<Keyframe>(cursor)?),
        0x5 => Record::SimStart(body::<SimStart>(cursor)?),
        0x6 => Record::SimJoin(body::<SimJoin>(cursor)?),
        0x7 => Record::SimInput(body::<SimInput>(cursor)?),
        0x8 => Record::SimLeave(body::<SimLeave>(cursor)?),
        0x9 => Record::SimRosterCut(body::<SimRosterCut>(cursor)?),
        0xa => Record::SimDrop(body::<SimDrop>(cursor)?),
        0xb => Record::SimTick(body::<SimTick>(cursor)?),
        0xc => Record::SimKickAll(body::<SimKickAll>(cursor)?),
        0xd => Record::SimKeyframe(body::<SimKeyframe>(cursor)?),
        0xe => Record::SimChat(body::<SimChat>(cursor)?),
        0xf => Record::TickHashLow(body::<TickHashLow>(cursor)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use binrw::BinWrite;

    fn encode(r: &Record) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        r.write_options(&mut out, Endian::Little, ())
            .expect("encodes");
        out.into_inner()
    }

    /// Checks that `tagged` reads `bytes`, every cut of them and every change of their tag
    /// exactly as `derived` does (value or error, and where the cursor stops).
    fn reads_as_derived(
        bytes: &[u8],
        label: &str,
        tagged: impl Fn(&[u8]) -> (String, u64),
        derived: impl Fn(&[u8]) -> (String, u64),
    ) {
        assert_eq!(tagged(bytes), derived(bytes), "{label}");
        for cut in 0..bytes.len() {
            assert_eq!(
                tagged(&bytes[..cut]),
                derived(&bytes[..cut]),
                "{label} cut {cut}"
            );
        }
        for tag in 0..=255u8 {
            let mut changed = bytes.to_vec();
            changed[0] = tag;
            assert_eq!(tagged(&changed), derived(&changed), "{label} tag {tag}");
        }
    }

    fn derived(bytes: &[u8]) -> (String, u64) {
        let mut c = Cursor::new(bytes);
        let r = <Record as BinRead>::read_options(&mut c, Endian::Little, ());
        (format!("{r:?}"), c.position())
    }

    fn tagged(bytes: &[u8]) -> (String, u64) {
        let mut c = Cursor::new(bytes);
        let r = read_record(&mut c);
        (format!("{r:?}"), c.position())
    }

    #[test]
    fn compact_records_read_as_the_derived_reader_reads_them() {
        let records = [
            CompactRecord::CompactFrame(CompactFrame {
                direction: crate::replay_format::FrameDirection::ToServer,
                state: 3,
                seq_skip: 0,
                tick_delta: 1,
                millis_delta: 50,
                framing: 2,
                bytes: vec![0x01, 2, 3],
            }),
            CompactRecord::CompactTickHash(CompactTickHash {
                tick_delta: 1,
                world: 0xbeef,
                players: 7,
            }),
        ];
        let derived = |bytes: &[u8]| {
            let mut c = Cursor::new(bytes);
            let r = <CompactRecord as BinRead>::read_options(&mut c, Endian::Little, ());
            (format!("{r:?}"), c.position())
        };
        let tagged = |bytes: &[u8]| {
            let mut c = Cursor::new(bytes);
            let r = read_compact(&mut c);
            (format!("{r:?}"), c.position())
        };
        for r in &records {
            let mut out = Cursor::new(Vec::new());
            r.write_options(&mut out, Endian::Little, ())
                .expect("encodes");
            reads_as_derived(&out.into_inner(), &format!("{r:?}"), tagged, derived);
        }
    }

    #[test]
    fn small_tags_are_the_per_tick_records() {
        let small = [
            Record::Frame(Frame {
                seq: 0,
                direction: crate::replay_format::FrameDirection::ToClient,
                state: 0,
                tick: 0,
                micros: 0,
                wire_bytes: 1,
                payload_bytes: 0,
                packet_id: 0,
                bytes: vec![0],
            }),
            Record::TickHash(TickHash {
                tick: 1,
                world_hash: 2,
                players_hash: 3,
            }),
            Record::End(End {
                frames: 0,
                reason: String::new(),
            }),
            Record::TickHashLow(TickHashLow {
                tick: 1,
                world: 2,
                players: 3,
            }),
        ];
        for r in &small {
            assert!(is_small_tag(encode(r)[0]), "{r:?}");
        }
        let large = Record::LegacyKeyframe(LegacyKeyframe {
            tick: 1,
            frame_seq: 0,
            state: vec![0; 8],
        });
        assert!(!is_small_tag(encode(&large)[0]));
        let small_tags = (0..=255u8).filter(|&t| is_small_tag(t)).count();
        assert_eq!(small_tags, small.len());
    }

    #[test]
    fn every_tag_reads_as_the_derived_reader_reads_it() {
        let records = [
            Record::TickHash(TickHash {
                tick: 7,
                world_hash: 1,
                players_hash: 2,
            }),
            Record::End(End {
                frames: 3,
                reason: "done".into(),
            }),
            Record::SimInput(SimInput {
                player: 4,
                seq: 9,
                move_x: -1,
                move_y: 1,
                item: 0,
                action: crate::replay_format::SimAction::Respawn,
            }),
            Record::SimTick(SimTick {
                tick: 5,
                world_hash: 6,
                players: vec![crate::replay_format::SimPlayerHash { id: 1, hash: 2 }],
            }),
        ];
        for r in &records {
            let bytes = encode(r);
            let mut c = Cursor::new(bytes.as_slice());
            assert_eq!(&read_record(&mut c).expect("reads"), r);
            // Every cut and every changed tag reads (or fails) exactly as before.
            reads_as_derived(&bytes, &format!("{r:?}"), tagged, derived);
        }
    }
}
