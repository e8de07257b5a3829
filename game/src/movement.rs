//! The movement step, shared by the server's tick and the client's prediction.
//!
//! One pure function, [`step_movement`], advances a [`MoveState`] by one tick in integer
//! arithmetic, so that a client replaying its unacknowledged inputs lands exactly where the
//! server does. Units: positions in sub-pixels (1/256 px), velocities in sub-pixels per tick.
//!
//! Rules: top speed 350 px/s (4480 subpx/tick), divided by the speed divisor of the tile under the
//! player's centre (water ½, lava ⅓); acceleration reaches top speed in 0.1 s (2 ticks),
//! deceleration stops from top speed in 0.25 s (5 ticks); a diagonal intent is scaled by
//! 181/256 (≈ 1/√2); the player's 32 px body stays inside the map (its centre is clamped and
//! the velocity towards a wall is zeroed). The numbers are the spec's constants and the law is
//! its rule "Movement" (docs/PROTOCOL.md), which a client in any language follows tick by tick.

use serde::{Deserialize, Serialize};

use crate::coords::{map_origin_px, SUBPX, TICK_RATE, TILE_SIZE};
use crate::map::Map;

/// Top speed in pixels per second.
pub const TOP_SPEED_PX_PER_S: i32 = crate::spec::TOP_SPEED_PX_PER_S;
/// Top speed in sub-pixels per tick (4480).
pub const TOP_SPEED: i32 = TOP_SPEED_PX_PER_S * SUBPX / TICK_RATE as i32;
/// Ticks to reach top speed from rest (0.1 s; the spec's `ACCEL_TICKS`).
pub const ACCEL_TICKS: i32 = crate::spec::ACCEL_TICKS;
/// Ticks to stop from top speed (0.25 s; the spec's `DECEL_TICKS`).
pub const DECEL_TICKS: i32 = crate::spec::DECEL_TICKS;
/// Velocity gained per tick while accelerating (sub-pixels per tick²).
pub const ACCEL: i32 = TOP_SPEED / ACCEL_TICKS;
/// Velocity lost per tick while decelerating (sub-pixels per tick²).
pub const DECEL: i32 = TOP_SPEED / DECEL_TICKS;
/// Diagonal scale numerator (over 256): 181/256 ≈ 1/√2 (the spec's `DIAGONAL_SCALE`).
pub const DIAGONAL_NUM: i32 = crate::spec::DIAGONAL_SCALE;
/// Half the side of a player's body, in pixels.
pub const PLAYER_HALF_SIZE_PX: i32 = TILE_SIZE / 2;

/// A body's position (its centre, sub-pixels) and velocity (sub-pixels per tick).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MoveState {
    /// X of the centre, in sub-pixels.
    pub x: i32,
    /// Y of the centre, in sub-pixels.
    pub y: i32,
    /// X velocity, in sub-pixels per tick.
    pub vx: i32,
    /// Y velocity, in sub-pixels per tick.
    pub vy: i32,
}

impl MoveState {
    /// A body at rest at (`x`, `y`) sub-pixels.
    pub const fn at(x: i32, y: i32) -> Self {
        Self { x, y, vx: 0, vy: 0 }
    }

    /// The speed in whole pixels per second (rounded down), for display and tests.
    pub fn speed_px_per_s(&self) -> i32 {
        let (vx, vy) = (i64::from(self.vx), i64::from(self.vy));
        let sq = (vx * vx + vy * vy) as u64;
        (sq.isqrt() as i64 * i64::from(TICK_RATE) / i64::from(SUBPX)) as i32
    }
}

/// Clamps a movement intent component to -1..=1.
pub const fn clamp_intent(v: i8) -> i32 {
    if v > 0 {
        1
    } else if v < 0 {
        -1
    } else {
        0
    }
}

/// The inclusive range of allowed centre positions, in sub-pixels: (min_x, min_y, max_x, max_y).
pub fn position_bounds(map: &Map) -> (i32, i32, i32, i32) {
    let (ox, oy) = map_origin_px(map.width(), map.height());
    let w = i32::from(map.width()) * TILE_SIZE;
    let h = i32::from(map.height()) * TILE_SIZE;
    let half = PLAYER_HALF_SIZE_PX;
    (
        (ox + half) * SUBPX,
        (oy + half) * SUBPX,
        (ox + w - half) * SUBPX,
        (oy + h - half) * SUBPX,
    )
}

/// The top speed (sub-pixels per tick) on the tile under (`x`, `y`).
pub fn top_speed_at(map: &Map, x: i32, y: i32) -> i32 {
    let div = map
        .tile_at_subpx(x, y)
        .map_or(1, |t| t.attrs().speed_divisor.max(1));
    TOP_SPEED / i32::from(div)
}

/// Moves velocity `v` towards `target` by one tick's acceleration or deceleration.
fn approach(v: i32, target: i32) -> i32 {
    let v = v.clamp(-TOP_SPEED, TOP_SPEED);
    let speeding_up = target != 0 && (v == 0 || (v > 0) == (target > 0)) && v.abs() < target.abs();
    let reversing = target != 0 && v != 0 && (v > 0) != (target > 0);
    let step = if speeding_up || reversing {
        ACCEL
    } else {
        DECEL
    };
    if v < target {
        (v + step).min(target)
    } else {
        (v - step).max(target)
    }
}

/// Advances `state` by one tick with intent (`move_x`, `move_y`) (each clamped to -1..=1).
pub fn step_movement(map: &Map, state: &MoveState, move_x: i8, move_y: i8) -> MoveState {
    let (mx, my) = (clamp_intent(move_x), clamp_intent(move_y));
    let top = top_speed_at(map, state.x, state.y);
    let axis = if mx != 0 && my != 0 {
        top * DIAGONAL_NUM / 256
    } else {
        top
    };
    let mut vx = approach(state.vx, mx * axis);
    let mut vy = approach(state.vy, my * axis);
    let (min_x, min_y, max_x, max_y) = position_bounds(map);
    let nx = (i64::from(state.x) + i64::from(vx)).clamp(i64::from(min_x), i64::from(max_x)) as i32;
    let ny = (i64::from(state.y) + i64::from(vy)).clamp(i64::from(min_y), i64::from(max_y)) as i32;
    if (nx == min_x && vx < 0) || (nx == max_x && vx > 0) {
        vx = 0;
    }
    if (ny == min_y && vy < 0) || (ny == max_y && vy > 0) {
        vy = 0;
    }
    MoveState {
        x: nx,
        y: ny,
        vx,
        vy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::Tile;
    use proptest::prelude::*;

    fn run(map: &Map, mut s: MoveState, mx: i8, my: i8, ticks: u32) -> MoveState {
        for _ in 0..ticks {
            s = step_movement(map, &s, mx, my);
        }
        s
    }

    #[test]
    fn constants() {
        assert_eq!(TOP_SPEED, 4480);
        assert_eq!(ACCEL, 2240);
        assert_eq!(DECEL, 896);
    }

    #[test]
    fn reaches_top_speed_in_a_tenth_of_a_second() {
        let map = Map::new(64, 64, Tile::Grass).unwrap();
        let s1 = run(&map, MoveState::default(), 1, 0, 1);
        assert_eq!(s1.vx, 2240);
        let s2 = run(&map, MoveState::default(), 1, 0, 2);
        assert_eq!(s2.vx, TOP_SPEED);
        assert_eq!(s2.speed_px_per_s(), 350);
        // Over one second from rest it covers a bit less than 350 px (acceleration).
        let s = run(&map, MoveState::default(), 1, 0, 20);
        assert_eq!(s.x, 2240 + 18 * 4480 + 4480);
        assert_eq!(s.speed_px_per_s(), 350);
        // Moving up and left works too.
        let s = run(&map, MoveState::default(), -1, -1, 3);
        assert_eq!((s.vx, s.vy), (-3167, -3167));
        assert_eq!(s.speed_px_per_s(), 349);
    }

    #[test]
    fn decelerates_to_a_stop_in_a_quarter_second() {
        let map = Map::new(64, 64, Tile::Grass).unwrap();
        let moving = run(&map, MoveState::default(), 0, 1, 5);
        let mut s = moving;
        for i in 1..=5 {
            s = step_movement(&map, &s, 0, 0);
            assert_eq!(s.vy, TOP_SPEED - i * DECEL);
        }
        assert_eq!(s.vy, 0);
        let after = step_movement(&map, &s, 0, 0);
        assert_eq!(after, s);
    }

    /// The sequences the spec's rule "Movement" states as examples.
    #[test]
    fn the_rule_s_examples_hold() {
        let map = Map::new(64, 64, Tile::Grass).unwrap();
        let mut s = MoveState::default();
        let mut xs = Vec::new();
        for _ in 0..3 {
            s = step_movement(&map, &s, 1, 0);
            xs.push(s.vx);
        }
        assert_eq!(xs, [2240, 4480, 4480]);
        xs.clear();
        for _ in 0..5 {
            s = step_movement(&map, &s, 0, 0);
            xs.push(s.vx);
        }
        assert_eq!(xs, [3584, 2688, 1792, 896, 0]);
        let mut d = run(&map, MoveState::default(), 1, 1, 3);
        assert_eq!((d.vx, d.vy), (3167, 3167));
        let mut stops = Vec::new();
        for _ in 0..4 {
            d = step_movement(&map, &d, 0, 0);
            assert_eq!(d.vx, d.vy);
            stops.push(d.vx);
        }
        assert_eq!(stops, [2271, 1375, 479, 0]);
        // Wire velocities: truncated towards zero.
        assert_eq!(-3167 * TICK_RATE as i32 / SUBPX, -247);
        assert_eq!(
            top_speed_at(&Map::new(4, 4, Tile::Lava).unwrap(), 0, 0),
            1493
        );
    }

    #[test]
    fn water_halves_and_lava_thirds_the_speed() {
        let water = Map::new(64, 64, Tile::Water).unwrap();
        let s = run(&water, MoveState::default(), 1, 0, 10);
        assert_eq!(s.vx, TOP_SPEED / 2);
        assert_eq!(s.speed_px_per_s(), 175);
        let lava = Map::new(64, 64, Tile::Lava).unwrap();
        let s = run(&lava, MoveState::default(), 0, -1, 10);
        assert_eq!(s.vy, -TOP_SPEED / 3);
        assert_eq!(s.speed_px_per_s(), 116);
        // Entering water at full speed slows down at the deceleration rate.
        let mut half = Map::new(64, 1, Tile::Grass).unwrap();
        for x in 32..64 {
            half.set(x, 0, Tile::Water).unwrap();
        }
        let s = run(&half, MoveState::at(-10 * 256, 0), 1, 0, 20);
        assert_eq!(s.vx, TOP_SPEED / 2);
    }

    #[test]
    fn edges_clamp() {
        let map = Map::new(4, 3, Tile::Grass).unwrap();
        let (min_x, min_y, max_x, max_y) = position_bounds(&map);
        assert_eq!(
            (min_x, min_y, max_x, max_y),
            (-48 * 256, -32 * 256, 48 * 256, 32 * 256)
        );
        let s = run(&map, MoveState::default(), 1, 1, 100);
        assert_eq!((s.x, s.y, s.vx, s.vy), (max_x, max_y, 0, 0));
        let s = run(&map, s, -1, -1, 100);
        assert_eq!((s.x, s.y, s.vx, s.vy), (min_x, min_y, 0, 0));
        let one = Map::new(1, 1, Tile::Grass).unwrap();
        assert_eq!(
            run(&one, MoveState::default(), 1, -1, 10),
            MoveState::default()
        );
    }

    #[test]
    fn hostile_intent_and_state_are_tamed() {
        let map = Map::new(64, 64, Tile::Grass).unwrap();
        let a = step_movement(&map, &MoveState::default(), 127, -128);
        let b = step_movement(&map, &MoveState::default(), 1, -1);
        assert_eq!(a, b);
        let wild = MoveState {
            x: i32::MAX,
            y: i32::MIN,
            vx: i32::MAX,
            vy: i32::MIN,
        };
        let s = step_movement(&map, &wild, 0, 0);
        let (min_x, min_y, max_x, max_y) = position_bounds(&map);
        assert!((min_x..=max_x).contains(&s.x) && (min_y..=max_y).contains(&s.y));
        assert!(s.vx.abs() <= TOP_SPEED && s.vy.abs() <= TOP_SPEED);
    }

    proptest! {
        #[test]
        fn movement_never_leaves_the_map(
            w in 1u16..20, h in 1u16..20,
            x in any::<i32>(), y in any::<i32>(), vx in any::<i32>(), vy in any::<i32>(),
            moves in prop::collection::vec((-2i8..=2, -2i8..=2), 1..80),
            tiles in prop::collection::vec(0u8..10, 16),
        ) {
            let mut map = Map::new(w, h, Tile::Grass).unwrap();
            for yy in 0..h {
                for xx in 0..w {
                    let t = Tile::from_u8(tiles[usize::from((xx + yy * 3) % 16)]).unwrap();
                    map.set(xx, yy, t).unwrap();
                }
            }
            let (min_x, min_y, max_x, max_y) = position_bounds(&map);
            let mut s = MoveState { x, y, vx, vy };
            for (mx, my) in moves {
                s = step_movement(&map, &s, mx, my);
                prop_assert!((min_x..=max_x).contains(&s.x));
                prop_assert!((min_y..=max_y).contains(&s.y));
                prop_assert!(map.tile_at_subpx(s.x, s.y).is_some());
                prop_assert!(s.vx.abs() <= TOP_SPEED && s.vy.abs() <= TOP_SPEED);
            }
        }
    }
}
