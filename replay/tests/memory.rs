//! Reading a crafted file costs a bounded amount of memory, whatever it claims: the reader
//! streams records and holds one chunk at a time. A counting allocator measures the peak.
//!
//! This file holds one test so that no other test allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use tilegame_protocol::replay_file::{ReplayWriter, READ_BUDGET};
use tilegame_protocol::replay_format::{
    FileHeader, Frame, FrameDirection, LegacyKeyframe, Record, Recorder,
};
use tilegame_replay::{cmd, ReplayFile};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                - layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn header() -> FileHeader {
    FileHeader {
        format_version: 2,
        protocol_version: tilegame_protocol::v1::PROTOCOL_VERSION,
        protocol_hash: tilegame_protocol::v1::SPEC_HASH,
        recorder: Recorder::Client,
        software: "attack".into(),
        player_name: "x".into(),
        start_unix_ms: 0,
        keyframe_interval: 1,
    }
}

/// Peak bytes allocated above the starting level while `f` runs.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - base
}

/// A properly checksummed file of about 1 MiB: a chunk packed with keyframes, each an inflate
/// bomb of (nearly) the largest size a keyframe may inflate to (read all at once, they would
/// take 6 × 16 MB), then frames of the largest size to fill the megabyte.
fn crafted() -> Vec<u8> {
    // Format 1's keyframes hold plain bytes: the cheapest bomb to build.
    let bomb = Record::LegacyKeyframe(LegacyKeyframe {
        tick: 1,
        frame_seq: 0,
        state: vec![0u8; 15_900_000],
    });
    let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
    for _ in 0..6 {
        w.push(&bomb).unwrap();
    }
    w.flush().unwrap();
    let mut seq = 0;
    while w.bytes_written() < 1 << 20 {
        w.push(&Record::Frame(Frame {
            seq,
            direction: FrameDirection::ToClient,
            state: tilegame_protocol::State::Play.tag(),
            tick: 0,
            micros: 0,
            wire_bytes: 1,
            payload_bytes: 1,
            packet_id: 0x7f,
            bytes: vec![0x7f; 200_000],
        }))
        .unwrap();
        w.flush().unwrap();
        seq += 1;
    }
    w.finish().unwrap()
}

#[test]
fn info_on_crafted_files_stays_within_the_read_budget() {
    let bombs = crafted();
    assert!(bombs.len() <= (1 << 20) + (1 << 18), "{}", bombs.len());
    // A last chunk that declares far more than is there.
    let short = bombs[..(1 << 20) - 1000].to_vec();
    for (name, data) in [("bombs.tgr", bombs), ("short.tgr", short)] {
        let dir = std::env::temp_dir().join(format!("tgr-memory-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, &data).unwrap();
        drop(data);
        let file = ReplayFile::open(&path).unwrap();
        let mut out = Vec::with_capacity(1 << 16);
        let peak = peak_of(|| {
            let r = cmd::info::run(&file, &mut out);
            assert!(r.is_ok(), "{name}: {r:?}");
        });
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("keyframes:"), "{text}");
        eprintln!("{name}: peak {peak} bytes (budget {READ_BUDGET})");
        assert!(
            peak <= READ_BUDGET,
            "{name}: info allocated {peak} bytes at its peak, more than the budget of {READ_BUDGET}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
