//! A ready-made scene for demos, screenshots and smoke tests.
//!
//! Why: the examples, the integration tests and a `--render-demo` style command all want the
//! same recognisable picture (map, two players with name tags, a tile being broken, a full HUD)
//! without a server. Pure data; nothing here touches the GPU.

use tilegame_game::{generate, Map, MapError, MapSize, Theme};

use super::{DrawPlayer, Hud, Overlay, Scene};

/// The demo world: a small map from a fixed seed.
pub fn demo_map() -> Result<Map, MapError> {
    generate("seed", Theme::Default, MapSize::Small)
}

/// The local demo player's colour.
pub const LOCAL_COLOR: u32 = 0xE0_40_40;
/// The remote demo player's colour.
pub const REMOTE_COLOR: u32 = 0x30_70_FF;

/// A scene over `map` with two players (local at the centre), a crack and a full HUD.
/// `tick` drives the water and lava animation; `overlay` is drawn on top.
pub fn demo_scene(map: &Map, tick: u32, overlay: Option<Overlay>) -> Scene<'_> {
    let (cx, cy) = (map.width() / 2, map.height() / 2);
    Scene {
        map,
        camera: [0.0, 0.0],
        zoom: 1.0,
        players: vec![
            DrawPlayer {
                pos: [0.0, 0.0],
                name: "you".into(),
                color: LOCAL_COLOR,
                health: 86,
                local: true,
            },
            DrawPlayer {
                pos: [104.0, -72.0],
                name: "Alice".into(),
                color: REMOTE_COLOR,
                health: 45,
                local: false,
            },
        ],
        breaking: Some((cx + 1, cy, 4)),
        hud: Hud {
            health: 86,
            ping_ms: Some(23),
            kb_in_per_min: 41.7,
            kb_out_per_min: 9.6,
            mb_in: 0.214,
            mb_out: 0.049,
            players: 2,
            status: "Connected to 127.0.0.1:35000".into(),
            selected_item: 0,
            tick,
            bottom_inset: 0.0,
        },
        overlay,
    }
}
