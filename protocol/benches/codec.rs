//! Generated codec vs a hand-written reference codec producing the same bytes.
//!
//! Two packets: a 10-player `play::Snapshot` (typical tick: moving players, one with a new
//! velocity and health, two tile changes) and a 16 KiB `map_transfer::MapChunk` of run-length
//! encoded map bytes (zlib inside). The hand-written codec below (slice + index, reused output
//! `Vec`, same varint / zigzag / presence-mask layout and the same bound checks) is asserted at
//! startup to produce exactly the generated code's bytes and to decode to equal values.
//!
//! `cargo bench -p tilegame-protocol --bench codec` runs the criterion groups, then prints a
//! table (packet, op, generated ns, hand-written ns, ratio) measured with a plain timed loop: many
//! short runs of each side, interleaved, the ratio being the median of adjacent runs' ratios
//! (robust to other work on the machine), in several child processes whose median is printed
//! with the range (robust to where each process's memory lands).
//! `cargo bench -p tilegame-protocol --bench codec -- table` skips the criterion groups (the
//! filter matches none of them) and prints only the table.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use tilegame_protocol::v1::{
    map_transfer, play, Packet as _, PlayerDelta, Position, Tile, TileChange, TilePos,
};
use tilegame_protocol::wire;

// ---------------------------------------------------------------------------------------------
// Sample packets
// ---------------------------------------------------------------------------------------------

/// A typical snapshot: 10 moving players (id, dx, dy), one of them with a new velocity and
/// health, 2 tile changes, nobody leaving the view radius.
fn sample_snapshot() -> play::Snapshot {
    let players = (0..10u32)
        .map(|i| {
            let dx = [3, -3, 0, 2, -1, 4, -4, 1, 0, -2][i as usize];
            let dy = [0, 1, -3, 2, 3, -1, 0, -4, 2, 1][i as usize];
            let changed = i == 6;
            PlayerDelta {
                id: i + 1,
                name: None,
                position: None,
                dx: Some(dx),
                dy: Some(dy),
                velocity: changed.then_some(Position { x: -120, y: 60 }),
                health: changed.then_some(73),
                color: None,
            }
        })
        .collect();
    play::Snapshot {
        tick: 123_456,
        ack_seq: 4_021,
        players,
        tiles: vec![
            TileChange {
                pos: TilePos { x: 317, y: 92 },
                tile: Tile::Dirt,
            },
            TileChange {
                pos: TilePos { x: 318, y: 92 },
                tile: Tile::Dirt,
            },
        ],
        gone: Vec::new(),
    }
}

/// 16 KiB of run-length encoded map: `(tile id: u8, run: varint)` pairs as the game crate's
/// `rle::encode_tiles` writes them; a few common tiles, runs of mostly 1..=40 with some long ones.
fn sample_map_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(len + 8);
    let mut tile = 2u8;
    while out.len() < len {
        let r = next();
        // Neighbouring tiles are often the same few kinds (water 1, sand 2, grass 3, stone 4...).
        tile = match r % 10 {
            0..=3 => tile,
            4..=5 => 3,
            6 => 1,
            7 => 2,
            8 => 4,
            _ => (r >> 8) as u8 % 12,
        };
        let run = match (r >> 16) % 16 {
            0..=9 => 1 + (r >> 24) % 8,
            10..=13 => 8 + (r >> 24) % 32,
            _ => 40 + (r >> 24) % 600,
        } as u32;
        out.push(tile);
        hand::put_var(&mut out, run);
    }
    out.truncate(len);
    out
}

fn sample_map_chunk() -> map_transfer::MapChunk {
    map_transfer::MapChunk {
        index: 7,
        data: sample_map_bytes(16 * 1024),
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-written reference codec
// ---------------------------------------------------------------------------------------------

mod hand {
    use std::io::{Read, Write};

    use tilegame_protocol::v1::{
        map_transfer, play, PlayerDelta, Position, Tile, TileChange, TilePos,
    };

    /// Why a hand-written decode or encode failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Error {
        Eof,
        Varint,
        TooLong,
        Utf8,
        Corrupt,
        Leftover,
    }

    pub type Result<T> = std::result::Result<T, Error>;

    pub const PLAYERS_MAX: usize = 1024;
    pub const TILES_MAX: usize = 4096;
    pub const GONE_MAX: usize = 1024;
    pub const NAME_MAX: usize = 16;
    pub const CHUNK_DATA_MAX: usize = 65536;
    pub const CHUNK_PLAIN_MAX: usize = 65540;
    /// `wire::compressed_limit(65540)`.
    pub const CHUNK_PACKED_MAX: usize = CHUNK_PLAIN_MAX + CHUNK_PLAIN_MAX / 64 + 64;

    // --- writing ---

    #[inline]
    pub fn put_var(out: &mut Vec<u8>, mut v: u32) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    #[inline]
    fn put_zigzag(out: &mut Vec<u8>, v: i32) {
        put_var(out, ((v << 1) ^ (v >> 31)) as u32);
    }

    #[inline]
    fn put_position(out: &mut Vec<u8>, p: &Position) {
        put_zigzag(out, p.x);
        put_zigzag(out, p.y);
    }

    #[inline]
    fn put_delta(out: &mut Vec<u8>, d: &PlayerDelta) -> Result<()> {
        let mask = u8::from(d.name.is_some())
            | u8::from(d.position.is_some()) << 1
            | u8::from(d.dx.is_some()) << 2
            | u8::from(d.dy.is_some()) << 3
            | u8::from(d.velocity.is_some()) << 4
            | u8::from(d.health.is_some()) << 5
            | u8::from(d.color.is_some()) << 6;
        out.push(mask);
        put_var(out, d.id);
        if let Some(name) = &d.name {
            if name.len() > NAME_MAX {
                return Err(Error::TooLong);
            }
            out.push(name.len() as u8);
            out.extend_from_slice(name.as_bytes());
        }
        if let Some(p) = &d.position {
            put_position(out, p);
        }
        if let Some(dx) = d.dx {
            put_zigzag(out, dx);
        }
        if let Some(dy) = d.dy {
            put_zigzag(out, dy);
        }
        if let Some(v) = &d.velocity {
            put_position(out, v);
        }
        if let Some(h) = d.health {
            out.push(h);
        }
        if let Some(c) = d.color {
            out.extend_from_slice(&c.to_be_bytes());
        }
        Ok(())
    }

    /// Appends a snapshot body to `out`.
    pub fn encode_snapshot(s: &play::Snapshot, out: &mut Vec<u8>) -> Result<()> {
        put_var(out, s.tick);
        put_var(out, s.ack_seq);
        if s.players.len() > PLAYERS_MAX {
            return Err(Error::TooLong);
        }
        put_var(out, s.players.len() as u32);
        for d in &s.players {
            put_delta(out, d)?;
        }
        if s.tiles.len() > TILES_MAX {
            return Err(Error::TooLong);
        }
        put_var(out, s.tiles.len() as u32);
        for t in &s.tiles {
            out.extend_from_slice(&t.pos.x.to_be_bytes());
            out.extend_from_slice(&t.pos.y.to_be_bytes());
            out.push(t.tile.tag());
        }
        if s.gone.len() > GONE_MAX {
            return Err(Error::TooLong);
        }
        put_var(out, s.gone.len() as u32);
        for &id in &s.gone {
            put_var(out, id);
        }
        Ok(())
    }

    /// Appends a map chunk body to `out`, compressing through `packed` (a reused buffer).
    pub fn encode_map_chunk(
        c: &map_transfer::MapChunk,
        out: &mut Vec<u8>,
        packed: &mut Vec<u8>,
    ) -> Result<()> {
        put_var(out, c.index);
        if c.data.len() > CHUNK_DATA_MAX {
            return Err(Error::TooLong);
        }
        let mut len = [0u8; 5];
        let n = {
            let mut v = c.data.len() as u32;
            let mut i = 0;
            while v >= 0x80 {
                len[i] = v as u8 | 0x80;
                v >>= 7;
                i += 1;
            }
            len[i] = v as u8;
            i + 1
        };
        if n + c.data.len() > CHUNK_PLAIN_MAX {
            return Err(Error::TooLong);
        }
        packed.clear();
        let mut encoder =
            flate2::write::ZlibEncoder::new(&mut *packed, flate2::Compression::default());
        encoder.write_all(&len[..n]).map_err(|_| Error::Corrupt)?;
        encoder.write_all(&c.data).map_err(|_| Error::Corrupt)?;
        encoder.finish().map_err(|_| Error::Corrupt)?;
        if packed.len() > CHUNK_PACKED_MAX {
            return Err(Error::TooLong);
        }
        put_var(out, packed.len() as u32);
        out.extend_from_slice(packed);
        Ok(())
    }

    // --- reading ---

    struct Reader<'a> {
        b: &'a [u8],
        p: usize,
    }

    impl<'a> Reader<'a> {
        #[inline]
        fn u8(&mut self) -> Result<u8> {
            let v = *self.b.get(self.p).ok_or(Error::Eof)?;
            self.p += 1;
            Ok(v)
        }

        #[inline]
        fn take(&mut self, n: usize) -> Result<&'a [u8]> {
            let end = self.p.checked_add(n).ok_or(Error::Eof)?;
            let s = self.b.get(self.p..end).ok_or(Error::Eof)?;
            self.p = end;
            Ok(s)
        }

        #[inline]
        fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
            Ok(self.take(N)?.try_into().unwrap())
        }

        /// LEB128 that must fit in 32 bits (at most 5 bytes, the 5th at most 0x0f).
        #[inline]
        fn var(&mut self) -> Result<u32> {
            let mut value = 0u32;
            let mut shift = 0u32;
            loop {
                let byte = self.u8()?;
                let part = u32::from(byte & 0x7f);
                if shift == 28 && part > 0x0f {
                    return Err(Error::Varint);
                }
                value |= part << shift;
                if byte & 0x80 == 0 {
                    return Ok(value);
                }
                shift += 7;
                if shift > 28 {
                    return Err(Error::Varint);
                }
            }
        }

        #[inline]
        fn zigzag(&mut self) -> Result<i32> {
            let v = self.var()?;
            Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
        }

        #[inline]
        fn len(&mut self, max: usize) -> Result<usize> {
            let n = self.var()? as usize;
            if n > max {
                return Err(Error::TooLong);
            }
            Ok(n)
        }

        #[inline]
        fn position(&mut self) -> Result<Position> {
            Ok(Position {
                x: self.zigzag()?,
                y: self.zigzag()?,
            })
        }

        #[inline]
        fn delta(&mut self) -> Result<PlayerDelta> {
            let mask = self.u8()?;
            // The spec defines bits 0..=6; an unknown bit is an error, as in generated code.
            if mask & 0x80 != 0 {
                return Err(Error::Corrupt);
            }
            let id = self.var()?;
            let name = if mask & 1 != 0 {
                let n = usize::from(self.u8()?);
                if n > NAME_MAX {
                    return Err(Error::TooLong);
                }
                let bytes = self.take(n)?;
                Some(String::from_utf8(bytes.to_vec()).map_err(|_| Error::Utf8)?)
            } else {
                None
            };
            let position = if mask & 2 != 0 {
                Some(self.position()?)
            } else {
                None
            };
            let dx = if mask & 4 != 0 {
                Some(self.zigzag()?)
            } else {
                None
            };
            let dy = if mask & 8 != 0 {
                Some(self.zigzag()?)
            } else {
                None
            };
            let velocity = if mask & 16 != 0 {
                Some(self.position()?)
            } else {
                None
            };
            let health = if mask & 32 != 0 {
                Some(self.u8()?)
            } else {
                None
            };
            let color = if mask & 64 != 0 {
                Some(u32::from_be_bytes(self.array()?))
            } else {
                None
            };
            Ok(PlayerDelta {
                id,
                name,
                position,
                dx,
                dy,
                velocity,
                health,
                color,
            })
        }

        #[inline]
        fn finish(&self) -> Result<()> {
            if self.p == self.b.len() {
                Ok(())
            } else {
                Err(Error::Leftover)
            }
        }
    }

    /// Decodes a snapshot body; the whole body must be consumed.
    pub fn decode_snapshot(body: &[u8]) -> Result<play::Snapshot> {
        let mut r = Reader { b: body, p: 0 };
        let tick = r.var()?;
        let ack_seq = r.var()?;
        let n = r.len(PLAYERS_MAX)?;
        let mut players = Vec::with_capacity(n);
        for _ in 0..n {
            players.push(r.delta()?);
        }
        let n = r.len(TILES_MAX)?;
        let mut tiles = Vec::with_capacity(n);
        for _ in 0..n {
            let [x0, x1, y0, y1, tile] = r.array::<5>()?;
            let tile = Tile::from_tag(tile).ok_or(Error::Corrupt)?;
            tiles.push(TileChange {
                pos: TilePos {
                    x: u16::from_be_bytes([x0, x1]),
                    y: u16::from_be_bytes([y0, y1]),
                },
                tile,
            });
        }
        let n = r.len(GONE_MAX)?;
        let mut gone = Vec::with_capacity(n);
        for _ in 0..n {
            gone.push(r.var()?);
        }
        r.finish()?;
        Ok(play::Snapshot {
            tick,
            ack_seq,
            players,
            tiles,
            gone,
        })
    }

    /// Decodes a map chunk body, inflating through `plain` (a reused buffer).
    pub fn decode_map_chunk(body: &[u8], plain: &mut Vec<u8>) -> Result<map_transfer::MapChunk> {
        let mut r = Reader { b: body, p: 0 };
        let index = r.var()?;
        let n = r.len(CHUNK_PACKED_MAX)?;
        let packed = r.take(n)?;
        r.finish()?;
        plain.clear();
        flate2::bufread::ZlibDecoder::new(packed)
            .take(CHUNK_PLAIN_MAX as u64 + 1)
            .read_to_end(plain)
            .map_err(|_| Error::Corrupt)?;
        if plain.len() > CHUNK_PLAIN_MAX {
            return Err(Error::TooLong);
        }
        let mut inner = Reader { b: plain, p: 0 };
        let n = inner.len(CHUNK_DATA_MAX)?;
        let data = inner.take(n)?.to_vec();
        inner.finish()?;
        Ok(map_transfer::MapChunk { index, data })
    }
}

// ---------------------------------------------------------------------------------------------
// The operations compared
// ---------------------------------------------------------------------------------------------

fn gen_encode<T: for<'a> binrw::BinWrite<Args<'a> = ()>>(
    v: &T,
    name: &'static str,
    out: &mut Vec<u8>,
) {
    out.clear();
    wire::encode_body(v, name, out).unwrap();
}

fn gen_decode<T: for<'a> binrw::BinRead<Args<'a> = ()>>(name: &'static str, body: &[u8]) -> T {
    wire::decode_body::<T>(name, body).unwrap()
}

/// Asserts that both codecs agree byte for byte and value for value; returns the bodies.
fn check_agreement() -> (Vec<u8>, Vec<u8>) {
    let snap = sample_snapshot();
    let mut gen = Vec::new();
    gen_encode(&snap, "Snapshot", &mut gen);
    let mut hand_bytes = Vec::new();
    hand::encode_snapshot(&snap, &mut hand_bytes).unwrap();
    assert_eq!(
        gen, hand_bytes,
        "snapshot: generated and hand-written encoders disagree"
    );
    let from_gen: play::Snapshot = gen_decode("Snapshot", &gen);
    let from_hand = hand::decode_snapshot(&gen).unwrap();
    assert_eq!(from_gen, from_hand, "snapshot: decoders disagree");
    assert_eq!(from_gen, snap);
    assert_eq!(
        play::ToClient::decode(play::Snapshot::ID, &gen).unwrap(),
        play::ToClient::Snapshot(snap.clone())
    );
    // Every truncation and a trailing byte are errors for both.
    for cut in 0..gen.len() {
        assert!(wire::decode_body::<play::Snapshot>("Snapshot", &gen[..cut]).is_err());
        assert!(hand::decode_snapshot(&gen[..cut]).is_err());
    }
    let mut longer = gen.clone();
    longer.push(0);
    assert!(wire::decode_body::<play::Snapshot>("Snapshot", &longer).is_err());
    assert!(hand::decode_snapshot(&longer).is_err());
    // A richer snapshot (names, positions, colours) round-trips identically too.
    let mut rich = snap.clone();
    rich.players[0].name = Some("Alice_01".into());
    rich.players[0].position = Some(Position {
        x: i32::MIN,
        y: i32::MAX,
    });
    rich.players[0].color = Some(0x00ff_8800);
    rich.tick = u32::MAX;
    rich.gone = vec![12, 300, u32::MAX];
    let (mut a, mut b) = (Vec::new(), Vec::new());
    gen_encode(&rich, "Snapshot", &mut a);
    hand::encode_snapshot(&rich, &mut b).unwrap();
    assert_eq!(a, b, "rich snapshot: encoders disagree");
    assert_eq!(hand::decode_snapshot(&a).unwrap(), rich);
    assert_eq!(gen_decode::<play::Snapshot>("Snapshot", &a), rich);

    let chunk = sample_map_chunk();
    let mut cgen = Vec::new();
    gen_encode(&chunk, "MapChunk", &mut cgen);
    let (mut chand, mut packed, mut plain) = (Vec::new(), Vec::new(), Vec::new());
    hand::encode_map_chunk(&chunk, &mut chand, &mut packed).unwrap();
    assert_eq!(
        cgen, chand,
        "map chunk: generated and hand-written encoders disagree"
    );
    let from_gen: map_transfer::MapChunk = gen_decode("MapChunk", &cgen);
    let from_hand = hand::decode_map_chunk(&cgen, &mut plain).unwrap();
    assert_eq!(from_gen, from_hand, "map chunk: decoders disagree");
    assert_eq!(from_gen, chunk);
    assert_eq!(
        map_transfer::ToClient::decode(map_transfer::MapChunk::ID, &cgen).unwrap(),
        map_transfer::ToClient::MapChunk(chunk)
    );
    (gen, cgen)
}

// ---------------------------------------------------------------------------------------------
// Criterion groups
// ---------------------------------------------------------------------------------------------

fn bench_snapshot(c: &mut Criterion, body: &[u8]) {
    let snap = sample_snapshot();
    let mut g = c.benchmark_group("snapshot");
    let mut out = Vec::with_capacity(256);
    g.bench_function("encode/generated", |b| {
        b.iter(|| {
            gen_encode(black_box(&snap), "Snapshot", &mut out);
            black_box(out.len())
        })
    });
    g.bench_function("encode/hand-written", |b| {
        b.iter(|| {
            out.clear();
            hand::encode_snapshot(black_box(&snap), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("decode/generated", |b| {
        b.iter(|| gen_decode::<play::Snapshot>("Snapshot", black_box(body)))
    });
    g.bench_function("decode/generated-ToClient", |b| {
        b.iter(|| play::ToClient::decode(play::Snapshot::ID, black_box(body)).unwrap())
    });
    g.bench_function("decode/hand-written", |b| {
        b.iter(|| hand::decode_snapshot(black_box(body)).unwrap())
    });
    g.finish();
}

fn bench_map_chunk(c: &mut Criterion, body: &[u8]) {
    let chunk = sample_map_chunk();
    let mut g = c.benchmark_group("map_chunk_16k");
    g.throughput(criterion::Throughput::Bytes(chunk.data.len() as u64));
    let mut out = Vec::with_capacity(32 * 1024);
    let mut scratch = Vec::with_capacity(80 * 1024);
    g.bench_function("encode/generated", |b| {
        b.iter(|| {
            gen_encode(black_box(&chunk), "MapChunk", &mut out);
            black_box(out.len())
        })
    });
    g.bench_function("encode/hand-written", |b| {
        b.iter(|| {
            out.clear();
            hand::encode_map_chunk(black_box(&chunk), &mut out, &mut scratch).unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("decode/generated", |b| {
        b.iter(|| gen_decode::<map_transfer::MapChunk>("MapChunk", black_box(body)))
    });
    g.bench_function("decode/hand-written", |b| {
        b.iter(|| hand::decode_map_chunk(black_box(body), &mut scratch).unwrap())
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// The summary table: plain timed loops, generated and hand-written interleaved
// ---------------------------------------------------------------------------------------------

/// One row of the table: median ns per call of each side, and the median of the per-run ratios.
struct Pair {
    gen: f64,
    hand: f64,
    ratio: f64,
}

/// Times `gen` and `hand` over `runs` short interleaved runs of `iters` calls each.
///
/// Each run of `gen` is followed at once by a run of `hand`, so both see the same machine; the
/// ratio is the median of those adjacent pairs' ratios, which a busy machine (other builds on
/// the same cores) shifts far less than it shifts either side's own time.
fn measure_pair(iters: u32, runs: usize, mut gen: impl FnMut(), mut hand: impl FnMut()) -> Pair {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        start.elapsed().as_nanos() as f64 / f64::from(iters)
    };
    // Warm-up.
    for _ in 0..3 {
        time(&mut gen);
        time(&mut hand);
    }
    let (mut g, mut h, mut r) = (
        Vec::with_capacity(runs),
        Vec::with_capacity(runs),
        Vec::with_capacity(runs),
    );
    for i in 0..runs {
        // Alternate which side goes first, so neither always runs on a warmer cache.
        let (a, b) = if i % 2 == 0 {
            let a = time(&mut gen);
            (a, time(&mut hand))
        } else {
            let b = time(&mut hand);
            (time(&mut gen), b)
        };
        g.push(a);
        h.push(b);
        r.push(a / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Pair {
        gen: median(&mut g),
        hand: median(&mut h),
        ratio: median(&mut r),
    }
}

/// Measures every row in this process.
fn measure_table(snap_body: &[u8], chunk_body: &[u8]) -> Vec<(String, &'static str, Pair)> {
    let snap = sample_snapshot();
    let chunk = sample_map_chunk();
    let mut out = Vec::with_capacity(32 * 1024);
    let mut out2 = Vec::with_capacity(32 * 1024);
    let mut scratch = Vec::with_capacity(80 * 1024);
    let mut rows = Vec::new();
    const RUNS: usize = 101;

    let pair = measure_pair(
        20_000,
        RUNS,
        || {
            gen_encode(black_box(&snap), "Snapshot", &mut out);
            black_box(out.len());
        },
        || {
            out2.clear();
            hand::encode_snapshot(black_box(&snap), &mut out2).unwrap();
            black_box(out2.len());
        },
    );
    rows.push((format!("Snapshot ({} B)", snap_body.len()), "encode", pair));
    let pair = measure_pair(
        20_000,
        RUNS,
        || {
            black_box(gen_decode::<play::Snapshot>(
                "Snapshot",
                black_box(snap_body),
            ));
        },
        || {
            black_box(hand::decode_snapshot(black_box(snap_body)).unwrap());
        },
    );
    rows.push((format!("Snapshot ({} B)", snap_body.len()), "decode", pair));
    let pair = measure_pair(
        4,
        RUNS,
        || {
            gen_encode(black_box(&chunk), "MapChunk", &mut out);
            black_box(out.len());
        },
        || {
            out2.clear();
            hand::encode_map_chunk(black_box(&chunk), &mut out2, &mut scratch).unwrap();
            black_box(out2.len());
        },
    );
    rows.push((
        format!("MapChunk 16 KiB ({} B)", chunk_body.len()),
        "encode",
        pair,
    ));
    let pair = measure_pair(
        40,
        RUNS,
        || {
            black_box(gen_decode::<map_transfer::MapChunk>(
                "MapChunk",
                black_box(chunk_body),
            ));
        },
        || {
            black_box(hand::decode_map_chunk(black_box(chunk_body), &mut scratch).unwrap());
        },
    );
    rows.push((
        format!("MapChunk 16 KiB ({} B)", chunk_body.len()),
        "decode",
        pair,
    ));

    rows
}

/// Processes the table is measured in, each with its own address-space layout.
const PROCESSES: usize = 7;

/// Environment variable marking a measuring child process.
const CHILD: &str = "TILEGAME_CODEC_TABLE_CHILD";

/// Runs the table in [`PROCESSES`] child processes and prints, per row, the median across them
/// and the range.
///
/// Where a process's stack and heap land (address-space randomisation) moves a decoder whose
/// reader lives on the stack by up to 20% from one process to the next. One process is still one sample of that layout, so the table takes the median of
/// several.
fn print_table_over_processes() {
    let exe = std::env::current_exe().expect("own executable");
    let mut samples: Vec<(String, String, Vec<Pair>)> = Vec::new();
    for _ in 0..PROCESSES {
        let out = std::process::Command::new(&exe)
            .args(["--bench", "zzz-table-only"])
            .env(CHILD, "1")
            .output()
            .expect("run the table in a child process");
        assert!(out.status.success(), "table child failed");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(row) = line.strip_prefix("ROW\t") else {
                continue;
            };
            let f: Vec<&str> = row.split('\t').collect();
            let num = |i: usize| f[i].parse::<f64>().expect("a number");
            let pair = Pair {
                gen: num(2),
                hand: num(3),
                ratio: num(4),
            };
            match samples.iter_mut().find(|(p, o, _)| p == f[0] && o == f[1]) {
                Some((_, _, v)) => v.push(pair),
                None => samples.push((f[0].to_owned(), f[1].to_owned(), vec![pair])),
            }
        }
    }
    println!();
    println!(
        "generated vs hand-written, ns per packet (each process: median of 101 short interleaved \
         runs per side; ratio: median of adjacent runs' ratios). Median over {PROCESSES} processes, \
         range in brackets. Targets: decode <= 1.10x, encode <= 1.00x"
    );
    println!(
        "| {:<24} | {:<6} | {:>13} | {:>16} | {:>6} | {:>13} |",
        "packet", "op", "generated ns", "hand-written ns", "ratio", "ratio range"
    );
    println!(
        "|{:-<26}|{:-<8}|{:->15}|{:->18}|{:->8}|{:->15}|",
        "", "", "", "", "", ""
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (packet, op, pairs) in samples {
        let ratios: Vec<f64> = pairs.iter().map(|p| p.ratio).collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        println!(
            "| {packet:<24} | {op:<6} | {:>13.1} | {:>16.1} | {:>5.2}x | {:>13} |",
            median(pairs.iter().map(|p| p.gen).collect()),
            median(pairs.iter().map(|p| p.hand).collect()),
            median(ratios),
            format!("{lo:.2}-{hi:.2}x"),
        );
    }
}

fn main() {
    let (snap_body, chunk_body) = check_agreement();
    let mut c = Criterion::default().configure_from_args();
    bench_snapshot(&mut c, &snap_body);
    bench_map_chunk(&mut c, &chunk_body);
    c.final_summary();
    // `cargo test --benches` runs this binary without `--bench`: check agreement only.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::var_os(CHILD).is_some() {
        for (packet, op, p) in measure_table(&snap_body, &chunk_body) {
            println!("ROW\t{packet}\t{op}\t{}\t{}\t{}", p.gen, p.hand, p.ratio);
        }
    } else {
        print_table_over_processes();
    }
}
