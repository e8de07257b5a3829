//! Conversions between wire types and the game's types, and the map transfer.
//!
//! The server and the client both speak the protocol and both run the rules; these conversions
//! are written once, here, behind the `game` feature, so neither side can drift from the other.
//! Map transfer: the map is encoded as a [`MapPayload`] (both layers as runs, declared in the
//! spec and encoded by generated code), split into chunks of [`CHUNK_BYTES`], each compressed
//! on its own; the receiver checks the declared total, the order and number of chunks and the
//! checksum before decoding, and the game checks that the runs cover the map exactly.

use tilegame_game as game;

use crate::v1::{self, map_transfer, play, DynRun, MapPayload, TileRun};
use crate::wire::{decode_body, encode_body};

/// Raw bytes per map chunk before compression.
pub const CHUNK_BYTES: usize = v1::MAP_CHUNK_BYTES as usize;

/// Largest encoded map accepted (both layers of a 1024² map in the worst case, with headroom).
pub const MAX_MAP_BYTES: usize = v1::MAX_MAP_BYTES as usize;

/// Game tile → wire tile (both are generated from the spec's tile table, with the same ids).
pub fn tile_to_wire(t: game::Tile) -> v1::Tile {
    v1::Tile::from_tag(t.id()).unwrap_or(v1::Tile::Void)
}

/// Wire tile → game tile.
pub fn tile_from_wire(t: v1::Tile) -> game::Tile {
    game::Tile::from_u8(t.tag()).unwrap_or(game::Tile::Void)
}

/// Wire theme → game theme.
pub fn theme_from_wire(t: v1::Theme) -> game::Theme {
    match t {
        v1::Theme::Default => game::Theme::Default,
        v1::Theme::Hell => game::Theme::Hell,
        v1::Theme::Islands => game::Theme::Islands,
        v1::Theme::HellIslands => game::Theme::HellIslands,
    }
}

/// Game theme → wire theme.
pub fn theme_to_wire(t: game::Theme) -> v1::Theme {
    match t {
        game::Theme::Default => v1::Theme::Default,
        game::Theme::Hell => v1::Theme::Hell,
        game::Theme::Islands => v1::Theme::Islands,
        game::Theme::HellIslands => v1::Theme::HellIslands,
    }
}

/// Game item → wire item.
pub fn item_to_wire(i: game::Item) -> v1::Item {
    match i {
        game::Item::Shovel => v1::Item::Shovel,
        game::Item::Gun => v1::Item::Gun,
    }
}

/// Wire item → game item.
pub fn item_from_wire(i: v1::Item) -> game::Item {
    match i {
        v1::Item::Shovel => game::Item::Shovel,
        v1::Item::Gun => game::Item::Gun,
    }
}

/// A wire input → the game's input (movement keys become -1/0/1 intents).
pub fn input_from_wire(i: &play::Input) -> game::Input {
    let b = i.buttons;
    let axis = |neg: bool, pos: bool| i8::from(pos) - i8::from(neg);
    game::Input {
        seq: i.seq,
        move_x: axis(
            b.contains(v1::Buttons::LEFT),
            b.contains(v1::Buttons::RIGHT),
        ),
        move_y: axis(b.contains(v1::Buttons::UP), b.contains(v1::Buttons::DOWN)),
        item: item_from_wire(i.item),
        action: match &i.action {
            v1::Action::Idle => game::Action::None,
            v1::Action::Break(b) => game::Action::Break {
                x: b.tile.x,
                y: b.tile.y,
            },
            v1::Action::Respawn => game::Action::Respawn,
        },
    }
}

/// The game's input → a wire input.
pub fn input_to_wire(i: &game::Input, ack_tick: u32) -> play::Input {
    let mut buttons = v1::Buttons::empty();
    buttons.set(v1::Buttons::LEFT, i.move_x < 0);
    buttons.set(v1::Buttons::RIGHT, i.move_x > 0);
    buttons.set(v1::Buttons::UP, i.move_y < 0);
    buttons.set(v1::Buttons::DOWN, i.move_y > 0);
    play::Input {
        seq: i.seq,
        ack_tick,
        buttons,
        item: item_to_wire(i.item),
        action: match i.action {
            game::Action::None => v1::Action::Idle,
            game::Action::Break { x, y } => v1::Action::Break(v1::Break {
                tile: v1::TilePos { x, y },
            }),
            game::Action::Respawn => v1::Action::Respawn,
        },
    }
}

/// The packets that transfer a map: begin, chunks, end.
#[derive(Debug, Clone)]
pub struct MapTransfer {
    /// Announces the map.
    pub begin: map_transfer::MapBegin,
    /// The compressed pieces.
    pub chunks: Vec<map_transfer::MapChunk>,
    /// FNV-1a 64 of the encoded payload.
    pub checksum: u64,
}

/// Errors while building or receiving a map transfer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapTransferError {
    /// The encoded map is larger than [`MAX_MAP_BYTES`].
    #[error("encoded map of {0} bytes exceeds the limit of {MAX_MAP_BYTES}")]
    TooLarge(u64),
    /// Chunks came out of order.
    #[error("map chunk {got} arrived, expected chunk {expected}")]
    OutOfOrder {
        /// Expected index.
        expected: u32,
        /// Received index.
        got: u32,
    },
    /// More data than announced.
    #[error("map chunks exceed the announced {0} bytes")]
    Overflow(u32),
    /// Fewer chunks or bytes than announced.
    #[error("map transfer ended early: {got} of {expected} bytes")]
    Incomplete {
        /// Announced bytes.
        expected: u32,
        /// Received bytes.
        got: usize,
    },
    /// The checksum does not match.
    #[error("map checksum mismatch: announced {expected:#018x}, computed {actual:#018x}")]
    Checksum {
        /// Announced.
        expected: u64,
        /// Computed.
        actual: u64,
    },
    /// The payload or a layer does not decode.
    #[error("map data is invalid: {0}")]
    Invalid(String),
}

/// The map as the spec's [`MapPayload`].
pub fn map_payload(map: &game::Map) -> MapPayload {
    MapPayload {
        tiles: map
            .tile_runs()
            .map(|(tile, count)| TileRun {
                tile: tile_to_wire(tile),
                count,
            })
            .collect(),
        dynatiles: map
            .dyn_runs()
            .map(|(changed, count)| DynRun { changed, count })
            .collect(),
    }
}

/// Rebuilds a map of `width` × `height` from a decoded [`MapPayload`] (untrusted: every run
/// is checked).
pub fn map_from_payload(
    width: u16,
    height: u16,
    payload: &MapPayload,
) -> Result<game::Map, game::MapError> {
    game::Map::from_runs(
        width,
        height,
        payload
            .tiles
            .iter()
            .map(|r| (tile_from_wire(r.tile), r.count)),
        payload.dynatiles.iter().map(|r| (r.changed, r.count)),
    )
}

/// Encodes a map into transfer packets.
///
/// Cannot fail: a [`game::Map`] has at most `MAX_MAP_CELLS` tiles, so each layer has at most
/// that many runs (the spec's bound for both lists), and a run takes at most 4 bytes, so the
/// encoding stays under `MAX_MAP_BYTES` (checked by `the_largest_map_fits_its_bounds`).
pub fn map_to_transfer(map: &game::Map, seed: &str, theme: game::Theme) -> MapTransfer {
    let payload = map_payload(map);
    let mut bytes = Vec::new();
    #[allow(clippy::expect_used)]
    encode_body(&payload, "MapPayload", &mut bytes)
        .expect("a map's runs are within the spec's bounds (at most MAX_MAP_CELLS each)");
    let chunks: Vec<map_transfer::MapChunk> = bytes
        .chunks(CHUNK_BYTES)
        .enumerate()
        .map(|(index, data)| map_transfer::MapChunk {
            index: index as u32,
            data: data.to_vec(),
        })
        .collect();
    let checksum = game::fnv1a64(&bytes);
    let seed = if seed.len() > 64 {
        seed[..64].to_owned()
    } else {
        seed.to_owned()
    };
    MapTransfer {
        begin: map_transfer::MapBegin {
            width: map.width(),
            height: map.height(),
            seed,
            theme: theme_to_wire(theme),
            total_bytes: bytes.len() as u32,
            chunks: chunks.len() as u32,
        },
        chunks,
        checksum,
    }
}

/// Reassembles a map from transfer packets, checking every bound.
#[derive(Debug)]
pub struct MapAssembler {
    begin: map_transfer::MapBegin,
    bytes: Vec<u8>,
    next: u32,
}

impl MapAssembler {
    /// Starts a transfer from its announcement.
    pub fn new(begin: map_transfer::MapBegin) -> Result<MapAssembler, MapTransferError> {
        if begin.total_bytes as usize > MAX_MAP_BYTES {
            return Err(MapTransferError::TooLarge(u64::from(begin.total_bytes)));
        }
        if !(1..=game::MAX_SIDE).contains(&begin.width)
            || !(1..=game::MAX_SIDE).contains(&begin.height)
        {
            return Err(MapTransferError::Invalid(format!(
                "map size {}x{} is out of range",
                begin.width, begin.height
            )));
        }
        Ok(MapAssembler {
            bytes: Vec::with_capacity((begin.total_bytes as usize).min(1 << 20)),
            begin,
            next: 0,
        })
    }

    /// Adds the next chunk.
    pub fn push(&mut self, chunk: map_transfer::MapChunk) -> Result<(), MapTransferError> {
        if self.next >= self.begin.chunks {
            return Err(MapTransferError::Overflow(self.begin.total_bytes));
        }
        if chunk.index != self.next {
            return Err(MapTransferError::OutOfOrder {
                expected: self.next,
                got: chunk.index,
            });
        }
        if self.bytes.len() + chunk.data.len() > self.begin.total_bytes as usize {
            return Err(MapTransferError::Overflow(self.begin.total_bytes));
        }
        self.next += 1;
        self.bytes.extend_from_slice(&chunk.data);
        Ok(())
    }

    /// Progress in `0.0..=1.0`.
    pub fn progress(&self) -> f32 {
        if self.begin.total_bytes == 0 {
            1.0
        } else {
            self.bytes.len() as f32 / self.begin.total_bytes as f32
        }
    }

    /// The announcement.
    pub fn begin(&self) -> &map_transfer::MapBegin {
        &self.begin
    }

    /// Checks the checksum and decodes the map.
    pub fn finish(self, checksum: u64) -> Result<game::Map, MapTransferError> {
        if self.bytes.len() != self.begin.total_bytes as usize || self.next != self.begin.chunks {
            return Err(MapTransferError::Incomplete {
                expected: self.begin.total_bytes,
                got: self.bytes.len(),
            });
        }
        let actual = game::fnv1a64(&self.bytes);
        if actual != checksum {
            return Err(MapTransferError::Checksum {
                expected: checksum,
                actual,
            });
        }
        let payload: MapPayload = decode_body("MapPayload", &self.bytes)
            .map_err(|e| MapTransferError::Invalid(e.to_string()))?;
        map_from_payload(self.begin.width, self.begin.height, &payload)
            .map_err(|e| MapTransferError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_round_trips_through_transfer() {
        let mut map = game::generate("abc", game::Theme::Default, game::MapSize::Small).unwrap();
        map.change(3, 4, game::Tile::Dirt).unwrap();
        let t = map_to_transfer(&map, "abc", game::Theme::Default);
        let mut a = MapAssembler::new(t.begin.clone()).unwrap();
        for c in t.chunks {
            a.push(c).unwrap();
        }
        let back = a.finish(t.checksum).unwrap();
        assert_eq!(back.hash(), map.hash());
    }

    #[test]
    fn wrong_checksum_and_order_are_errors() {
        let map = game::generate("abc", game::Theme::Hell, game::MapSize::Medium).unwrap();
        let t = map_to_transfer(&map, "abc", game::Theme::Hell);
        let mut a = MapAssembler::new(t.begin.clone()).unwrap();
        if t.chunks.len() > 1 {
            assert!(matches!(
                a.push(t.chunks[1].clone()),
                Err(MapTransferError::OutOfOrder { .. })
            ));
        }
        for c in t.chunks {
            a.push(c).unwrap();
        }
        assert!(matches!(
            a.finish(t.checksum ^ 1),
            Err(MapTransferError::Checksum { .. })
        ));
    }

    #[test]
    fn tiles_convert_both_ways_by_id() {
        for t in game::ALL_TILES {
            assert_eq!(tile_to_wire(t).tag(), t.id());
            assert_eq!(tile_from_wire(tile_to_wire(t)), t);
        }
        assert_eq!(v1::Tile::ALL.len(), game::ALL_TILES.len());
    }

    #[test]
    fn the_largest_map_fits_its_bounds() {
        // A 1024² checkerboard: one run per tile, the worst case for the tile layer.
        let n = 1024 * 1024;
        let tiles = (0..n)
            .map(|i| {
                if (i + i / 1024) % 2 == 0 {
                    game::Tile::Grass
                } else {
                    game::Tile::Sand
                }
            })
            .collect();
        let mut map = game::Map::from_tiles(1024, 1024, tiles).unwrap();
        for x in (0..1024).step_by(2) {
            map.change(x, 7, game::Tile::Dirt).unwrap();
        }
        let t = map_to_transfer(&map, "x", game::Theme::Default);
        assert!(t.begin.total_bytes as usize <= MAX_MAP_BYTES);
        let mut a = MapAssembler::new(t.begin.clone()).unwrap();
        for c in t.chunks {
            a.push(c).unwrap();
        }
        assert_eq!(a.finish(t.checksum).unwrap().hash(), map.hash());
    }

    #[test]
    fn inputs_convert_both_ways() {
        let i = game::Input {
            seq: 7,
            move_x: -1,
            move_y: 1,
            item: game::Item::Gun,
            action: game::Action::Break { x: 3, y: 9 },
        };
        assert_eq!(input_from_wire(&input_to_wire(&i, 5)), i);
    }
}
