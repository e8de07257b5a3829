//! Re-encodes a recording as format 4's recorder would write it (ms times, 16-bit tick hashes,
//! a chunk per 0.5 s of recorded time) and prints its size against the wire bytes.
use tilegame_protocol::replay_file::{ReplayReader, ReplayWriter};
use tilegame_protocol::replay_format::{Record, TickHashLow};

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let out = std::env::args().nth(2).unwrap();
    let interval: u64 = std::env::args()
        .nth(3)
        .map_or(500_000, |s| s.parse().unwrap());
    let data = std::fs::read(&path).unwrap();
    let mut r = ReplayReader::from_slice(&data).unwrap();
    let header = r.header().clone();
    let mut w = ReplayWriter::new(Vec::new(), &header).unwrap();
    let (mut wire, mut chunk_start) = (0u64, None);
    for rec in r.by_ref() {
        let rec = match rec {
            Record::Frame(mut f) => {
                wire += u64::from(f.wire_bytes);
                f.micros = f.micros / 1000 * 1000;
                let s = *chunk_start.get_or_insert(f.micros);
                if f.micros - s >= interval {
                    w.flush().unwrap();
                    chunk_start = Some(f.micros);
                }
                Record::Frame(f)
            }
            Record::TickHash(h) => Record::TickHashLow(TickHashLow {
                tick: h.tick,
                world: h.world_hash as u16,
                players: h.players_hash as u16,
            }),
            other => other,
        };
        w.push(&rec).unwrap();
    }
    assert!(r.stopped_early().is_none());
    let bytes = w.finish().unwrap();
    println!(
        "{path}: {} B -> format 4 {} B for {wire} wire B = {:.3}x",
        data.len(),
        bytes.len(),
        bytes.len() as f64 / wire as f64
    );
    std::fs::write(out, &bytes).unwrap();
}
