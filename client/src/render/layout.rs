//! Scene → instance lists, on the CPU.
//!
//! Why a separate step: everything that decides *what* goes where on screen (which tiles are
//! visible, where a name tag sits, how the HUD is laid out) is plain arithmetic that can be
//! tested without a GPU. [`build_frame`] produces two lists, one per draw call: map tiles
//! ([`TileInstance`], positioned by the shader from the camera uniform) and sprites
//! ([`SpriteInstance`], already in screen pixels, drawn in list order). It reads only the scene
//! and the viewport size: no clock, no global state.

use bytemuck::{Pod, Zeroable};
use tilegame_game::{map_origin_px, Tile, TILE_SIZE};

use super::atlas::{self, crack_cell, tile_cell, CELL, ICON_GUN, ICON_SHOVEL};
use super::font::{self, ADVANCE, GLYPH_H, GLYPH_W};
use super::{rgb_u32, DrawPlayer, Hud, Overlay, Scene};

/// Tile flag: the texture scrolls horizontally with the tick (water).
pub const TILE_FLAG_SCROLL: u8 = 1;
/// Tile flag: the texture scrolls slowly and glows with the tick (lava).
pub const TILE_FLAG_GLOW: u8 = 2;

/// Clear colour outside the map (RGB bytes).
pub const BACKGROUND: [u8; 3] = [14, 15, 22];
/// Side of a player's body in world pixels.
pub const PLAYER_SIZE: f32 = 24.0;
/// Text scale (screen pixels per font pixel) of the HUD and name tags.
pub const TEXT_SCALE: f32 = 2.0;

/// One map tile: its tile coordinates and atlas cell. 8 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct TileInstance {
    /// Tile column and row in the map.
    pub tile: [u16; 2],
    /// Atlas cell column, row, flags ([`TILE_FLAG_SCROLL`], [`TILE_FLAG_GLOW`]), and an
    /// animation phase ((x + y) mod 256) so glowing tiles pulse in travelling waves.
    pub cell: [u8; 4],
}

/// One screen-space quad: a solid rectangle or a piece of the sheet, tinted. 36 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct SpriteInstance {
    /// Screen rectangle: x, y (top-left), width, height, in pixels.
    pub rect: [f32; 4],
    /// Sheet texel rectangle x, y, w, h; w = 0 means a solid colour.
    pub uv: [f32; 4],
    /// RGBA colour (multiplies the texel), not premultiplied.
    pub color: [u8; 4],
}

/// One player's body, drawn as one quad whose fragment stage paints the soft shadow, the
/// outline, the body with its lighter top and darker bottom, and the eyes (what seven solid
/// rectangles drew before). 32 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct BodyInstance {
    /// The body square's top-left corner and side in screen pixels, and the outline's
    /// thickness: x, y, side, t.
    pub rect: [f32; 4],
    /// Body colour (RGBA).
    pub body: [u8; 4],
    /// The lighter top band's colour.
    pub top: [u8; 4],
    /// The darker bottom band's colour.
    pub bottom: [u8; 4],
    /// The outline's colour (light for the local player).
    pub outline: [u8; 4],
}

/// Most characters of a name tag (names are cut to this many characters).
pub const TAG_CHARS: usize = 24;
/// A name tag's glyph slot that draws nothing (a space, or past the name's end).
pub const TAG_NO_GLYPH: u8 = 0xff;

/// One name tag, drawn as one quad: the translucent box with the name in the bitmap font, and
/// the health bar under it (what a box, a quad per character and four bar rectangles drew
/// before). 84 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct TagInstance {
    /// The name's box: x, y, width, height in screen pixels.
    pub tag_box: [f32; 4],
    /// The health bar's inside (the outline is one pixel around it): x, y, width, height.
    pub bar: [f32; 4],
    /// The text's top-left corner, the bar's filled width, and the number of glyph slots.
    pub text: [f32; 4],
    /// Glyph indices into the font grid, four per word, low byte first; [`TAG_NO_GLYPH`] for
    /// none.
    pub glyphs: [u32; 6],
    /// Text colour.
    pub color: [u8; 4],
    /// The bar's fill colour.
    pub fill: [u8; 4],
    /// The fill's lighter top line.
    pub highlight: [u8; 4],
}

/// The uniform block shared by both pipelines (see the WGSL `Globals`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct Globals {
    /// camera x, camera y, zoom, animation tick.
    pub view: [f32; 4],
    /// viewport width, height, map origin x, map origin y (world px).
    pub screen: [f32; 4],
    /// x: 1.0 when the target is an sRGB format (the shader then linearises its output).
    pub flags: [f32; 4],
}

/// Everything one frame draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Uniforms (flags.x left 0; the pipeline sets it for its target).
    pub globals: Globals,
    /// Visible, non-void map tiles, row-major: one instanced draw.
    pub tiles: Vec<TileInstance>,
    /// Sprites in painting order: one instanced draw before the players (the first
    /// [`Frame::under`]) and one after them.
    pub sprites: Vec<SpriteInstance>,
    /// How many of [`Frame::sprites`] are drawn under the players (the breaking tile's cracks).
    pub under: usize,
    /// Player bodies, drawn after the first [`Frame::under`] sprites, in order.
    pub bodies: Vec<BodyInstance>,
    /// Name tags with their health bars, drawn after every body (they never overlap).
    pub tags: Vec<TagInstance>,
}

/// Camera values made safe: finite camera, positive finite zoom.
pub fn sanitize_view(camera: [f32; 2], zoom: f32) -> ([f32; 2], f32) {
    let cam = camera.map(|c| if c.is_finite() { c } else { 0.0 });
    let zoom = if zoom.is_finite() && zoom > 0.0 {
        zoom.clamp(1.0 / 64.0, 64.0)
    } else {
        1.0
    };
    (cam, zoom)
}

/// Converts a world pixel position to a screen pixel position.
pub fn world_to_screen(p: [f32; 2], camera: [f32; 2], zoom: f32, size: [f32; 2]) -> [f32; 2] {
    let (camera, zoom) = sanitize_view(camera, zoom);
    [
        (p[0] - camera[0]) * zoom + size[0] * 0.5,
        (p[1] - camera[1]) * zoom + size[1] * 0.5,
    ]
}

/// Converts a screen pixel position to a world pixel position (mouse picking).
pub fn screen_to_world(p: [f32; 2], camera: [f32; 2], zoom: f32, size: [f32; 2]) -> [f32; 2] {
    let (camera, zoom) = sanitize_view(camera, zoom);
    [
        (p[0] - size[0] * 0.5) / zoom + camera[0],
        (p[1] - size[1] * 0.5) / zoom + camera[1],
    ]
}

/// The range of tile columns and rows (half-open) that intersect the viewport.
pub fn visible_tiles(
    map_w: u16,
    map_h: u16,
    camera: [f32; 2],
    zoom: f32,
    size: [f32; 2],
) -> (std::ops::Range<u16>, std::ops::Range<u16>) {
    let (camera, zoom) = sanitize_view(camera, zoom);
    let (ox, oy) = map_origin_px(map_w, map_h);
    let ts = TILE_SIZE as f32;
    let range = |cam: f32, half: f32, origin: i32, n: u16| {
        let lo = ((cam - half - origin as f32) / ts).floor();
        let hi = ((cam + half - origin as f32) / ts).ceil();
        let lo = lo.clamp(0.0, f32::from(n)) as u16;
        let hi = hi.clamp(0.0, f32::from(n)) as u16;
        lo..hi.max(lo)
    };
    (
        range(camera[0], size[0] * 0.5 / zoom, ox, map_w),
        range(camera[1], size[1] * 0.5 / zoom, oy, map_h),
    )
}

/// The camera and zoom a frame of `scene` on a `size` viewport really uses: the scene's,
/// sanitised, with the camera moved down by half the bottom inset (the replay viewer's bars) so
/// that the scene's centre shows in the middle of the free area above them, and a player's body
/// within the view's lower half is not drawn under the bars.
pub fn world_view(scene: &Scene, size: [f32; 2]) -> ([f32; 2], f32) {
    let (mut camera, zoom) = sanitize_view(scene.camera, scene.zoom);
    let inset = if scene.hud.bottom_inset.is_finite() {
        scene.hud.bottom_inset.clamp(0.0, size[1] / 2.0)
    } else {
        0.0
    };
    camera[1] += inset / 2.0 / zoom;
    (camera, zoom)
}

/// Builds the frame for `scene` on a `width` × `height` viewport.
pub fn build_frame(scene: &Scene, width: u32, height: u32) -> Frame {
    let size = [width.max(1) as f32, height.max(1) as f32];
    let (camera, zoom) = world_view(scene, size);
    let map = scene.map;
    let (ox, oy) = map_origin_px(map.width(), map.height());

    let (xs, ys) = visible_tiles(map.width(), map.height(), camera, zoom, size);
    let mut tiles = Vec::with_capacity(xs.len() * ys.len());
    for y in ys {
        for x in xs.clone() {
            let tile = map.get(x, y).unwrap_or(Tile::Void);
            if tile == Tile::Void {
                continue;
            }
            let (cx, cy) = tile_cell(tile);
            let flags = match tile {
                Tile::Water => TILE_FLAG_SCROLL,
                Tile::Lava => TILE_FLAG_GLOW,
                _ => 0,
            };
            tiles.push(TileInstance {
                tile: [x, y],
                cell: [cx, cy, flags, (x.wrapping_add(y) & 0xff) as u8],
            });
        }
    }

    let mut b = Batch::default();
    let view = View {
        camera,
        zoom,
        size,
        origin: [ox as f32, oy as f32],
    };
    if let Some((x, y, stage)) = scene.breaking {
        draw_breaking(&mut b, &view, x, y, stage);
    }
    let under = b.sprites.len();
    let ui_layer = scene.overlay == Some(Overlay::UiLayer);
    draw_players(
        &mut b,
        &view,
        &scene.players,
        &hud_areas(&scene.hud, ui_layer, size),
    );
    // With the UI layer on top, the HUD and menus are its job: draw the world only.
    if scene.overlay != Some(Overlay::UiLayer) {
        draw_hud(&mut b, &scene.hud, size);
    }
    if let Some(overlay) = &scene.overlay {
        draw_overlay(&mut b, overlay, size);
    }

    Frame {
        globals: Globals {
            view: [camera[0], camera[1], zoom, (scene.hud.tick % 7680) as f32],
            screen: [size[0], size[1], ox as f32, oy as f32],
            flags: [0.0; 4],
        },
        tiles,
        sprites: b.sprites,
        under,
        bodies: b.bodies,
        tags: b.tags,
    }
}

struct View {
    camera: [f32; 2],
    zoom: f32,
    size: [f32; 2],
    origin: [f32; 2],
}

impl View {
    fn to_screen(&self, p: [f32; 2]) -> [f32; 2] {
        world_to_screen(p, self.camera, self.zoom, self.size)
    }
}

// ---------------------------------------------------------------------------------------------
// Sprite batch

const WHITE: [u8; 4] = [240, 240, 240, 255];
const SHADOW: [u8; 4] = [0, 0, 0, 170];
const PANEL: [u8; 4] = [8, 10, 16, 185];
const ACCENT: [u8; 4] = [250, 210, 70, 255];

/// Sprites in painting order, with drawing helpers.
#[derive(Default)]
struct Batch {
    sprites: Vec<SpriteInstance>,
    /// Player bodies (their own draw).
    bodies: Vec<BodyInstance>,
    /// Name tags (their own draw).
    tags: Vec<TagInstance>,
    /// Name tag texts left to the UI layer (see [`TagLabel`]).
    labels: Vec<TagLabel>,
}

/// A name tag's text that the bitmap font cannot draw (a name with any character outside
/// printable ASCII: "Zoë", "Дмитрий", "さくら"): the tag's box and health bar are sprites, and
/// the UI layer paints the text with the shipped fonts (see [`super::tag_text`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TagLabel {
    /// The text's box in screen pixels: x, y (top-left), width, height.
    pub rect: [f32; 4],
    /// The name.
    pub text: String,
    /// RGBA colour.
    pub color: [u8; 4],
}

/// Whether the bitmap font draws every character of `text`.
fn bitmap_drawable(text: &str) -> bool {
    text.chars().all(|c| c == ' ' || c.is_ascii_graphic())
}

/// Width in screen pixels of a name tag's text: the bitmap font's for ASCII, else an estimate
/// for the UI font at height `th` (half an em per column, wide characters two columns).
fn tag_text_width(text: &str, th: f32) -> f32 {
    if bitmap_drawable(text) {
        font::text_width(text, TEXT_SCALE)
    } else {
        use unicode_width::UnicodeWidthStr;
        (text.width() as f32 * th * 0.55).ceil()
    }
}

/// The name tag texts of `scene` at `width` × `height` that the UI layer must paint (those
/// [`build_frame`] leaves out: see [`TagLabel`]), placed exactly as the frame places the tags.
pub fn tag_labels(scene: &Scene, width: u32, height: u32) -> Vec<TagLabel> {
    let size = [width.max(1) as f32, height.max(1) as f32];
    let (camera, zoom) = world_view(scene, size);
    let (ox, oy) = map_origin_px(scene.map.width(), scene.map.height());
    let view = View {
        camera,
        zoom,
        size,
        origin: [ox as f32, oy as f32],
    };
    let mut b = Batch::default();
    let ui_layer = scene.overlay == Some(Overlay::UiLayer);
    draw_players(
        &mut b,
        &view,
        &scene.players,
        &hud_areas(&scene.hud, ui_layer, size),
    );
    b.labels
}

impl Batch {
    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: [u8; 4]) {
        if w > 0.0 && h > 0.0 && color[3] > 0 {
            self.sprites.push(SpriteInstance {
                rect: [x, y, w, h],
                uv: [0.0; 4],
                color,
            });
        }
    }

    fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, t: f32, color: [u8; 4]) {
        self.rect(x, y, w, t, color);
        self.rect(x, y + h - t, w, t, color);
        self.rect(x, y + t, t, h - 2.0 * t, color);
        self.rect(x + w - t, y + t, t, h - 2.0 * t, color);
    }

    fn image(&mut self, rect: [f32; 4], uv: [u32; 4], tint: [u8; 4]) {
        self.sprites.push(SpriteInstance {
            rect,
            uv: uv.map(|v| v as f32),
            color: tint,
        });
    }

    /// Draws `text` with its top-left corner at (x, y); returns the width drawn.
    fn text(&mut self, x: f32, y: f32, text: &str, scale: f32, color: [u8; 4]) -> f32 {
        let (x, y) = (x.round(), y.round());
        for (i, c) in text.chars().enumerate() {
            if c == ' ' {
                continue;
            }
            let (gx, gy) = font::glyph_origin(c);
            let px = x + i as f32 * ADVANCE as f32 * scale;
            self.image(
                [px, y, GLYPH_W as f32 * scale, GLYPH_H as f32 * scale],
                [gx, gy, GLYPH_W, GLYPH_H],
                color,
            );
        }
        font::text_width(text, scale)
    }

    /// Text with a one-font-pixel drop shadow, for legibility on any background.
    fn text_shadowed(&mut self, x: f32, y: f32, text: &str, scale: f32, color: [u8; 4]) -> f32 {
        let d = scale.clamp(1.0, 2.0);
        self.text(x + d, y + d, text, scale, SHADOW);
        self.text(x, y, text, scale, color)
    }

    /// A horizontal bar filled to `fraction`, with a dark background and outline.
    fn bar(&mut self, x: f32, y: f32, w: f32, h: f32, fraction: f32, fill: [u8; 4]) {
        self.rect(x - 1.0, y - 1.0, w + 2.0, h + 2.0, [0, 0, 0, 200]);
        self.rect(x, y, w, h, [50, 50, 56, 230]);
        let f = fraction.clamp(0.0, 1.0);
        self.rect(x, y, (w * f).round(), h, fill);
        // A lighter top line gives the fill some volume.
        self.rect(
            x,
            y,
            (w * f).round(),
            (h / 4.0).max(1.0).floor(),
            lighter(fill),
        );
    }
}

/// Health bar colour: green, yellow, red.
pub fn health_color(health: u8) -> [u8; 4] {
    match health {
        61.. => [76, 200, 80, 255],
        31..=60 => [232, 196, 56, 255],
        _ => [220, 60, 50, 255],
    }
}

/// A bar fill's lighter top line.
fn lighter(fill: [u8; 4]) -> [u8; 4] {
    [
        fill[0].saturating_add(40),
        fill[1].saturating_add(40),
        fill[2].saturating_add(40),
        fill[3],
    ]
}

fn shade(c: [u8; 4], f: f32) -> [u8; 4] {
    [
        (f32::from(c[0]) * f).clamp(0.0, 255.0) as u8,
        (f32::from(c[1]) * f).clamp(0.0, 255.0) as u8,
        (f32::from(c[2]) * f).clamp(0.0, 255.0) as u8,
        c[3],
    ]
}

// ---------------------------------------------------------------------------------------------
// World-space things

fn draw_breaking(b: &mut Batch, v: &View, x: u16, y: u16, stage: u8) {
    let ts = TILE_SIZE as f32;
    let world = [
        v.origin[0] + f32::from(x) * ts,
        v.origin[1] + f32::from(y) * ts,
    ];
    let [sx, sy] = v.to_screen(world);
    let side = ts * v.zoom;
    let (cx, cy) = crack_cell(stage);
    b.image(
        [sx, sy, side, side],
        [u32::from(cx) * CELL, u32::from(cy) * CELL, CELL, CELL],
        [255, 255, 255, 255],
    );
    b.frame(
        sx,
        sy,
        side,
        side,
        1.0_f32.max(v.zoom),
        [255, 255, 255, 140],
    );
}

/// Side of an egui hotbar slot, the gap between slots and the margin under them (the window
/// client's HUD, [`crate::ui::view`]).
pub const UI_HOTBAR: (f32, f32, f32) = (58.0, 6.0, 14.0);
/// Slots in the egui hotbar.
pub const UI_HOTBAR_SLOTS: usize = 6;

/// Screen rectangles `[x, y, w, h]` the HUD covers, where name tags must not go: the top-left
/// panel and the top-right count, the hotbar and the bottom inset (the replay viewer's timeline
/// bar). `ui_layer`: the HUD is egui's (window client), otherwise the sprite HUD (replay).
pub fn hud_areas(hud: &Hud, ui_layer: bool, size: [f32; 2]) -> Vec<[f32; 4]> {
    let inset = if hud.bottom_inset.is_finite() {
        hud.bottom_inset.clamp(0.0, size[1] / 2.0)
    } else {
        0.0
    };
    let mut areas = vec![[0.0, size[1] - inset, size[0], inset]];
    if ui_layer {
        let (slot, gap, margin) = UI_HOTBAR;
        let n = UI_HOTBAR_SLOTS as f32;
        let w = n * slot + (n - 1.0) * gap;
        let top = size[1] - inset - slot - margin;
        areas.push([
            (size[0] - w) / 2.0 - 4.0,
            top - 4.0,
            w + 8.0,
            slot + margin + 4.0,
        ]);
        // Health, FPS and (when shown) debug lines; the ONLINE box.
        areas.push([0.0, 0.0, 240.0, 190.0]);
        areas.push([size[0] - 220.0, 0.0, 220.0, 60.0]);
    } else {
        let (slot, gap) = (52.0, 8.0);
        let w = 2.0 * slot + gap;
        let top = size[1] - inset - slot - 30.0;
        areas.push([
            (size[0] - w) / 2.0 - 4.0,
            top - 4.0,
            w + 8.0,
            slot + 30.0 + 4.0,
        ]);
        let line = font::LINE_HEIGHT as f32 * TEXT_SCALE;
        let lines = hud_lines(hud);
        let widest = lines
            .iter()
            .map(|l| font::text_width(l, TEXT_SCALE))
            .fold(400.0, f32::max);
        areas.push([
            0.0,
            0.0,
            widest + 36.0,
            line * (lines.len() as f32 + 1.0) + 36.0,
        ]);
    }
    areas.retain(|a| a[2] > 0.0 && a[3] > 0.0);
    areas
}

fn overlaps(a: [f32; 4], b: [f32; 4]) -> bool {
    a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]
}

/// Places name tags (`[x, y, w, h]` where each would sit, in drawing priority order): a tag
/// that overlaps one placed before it moves up above that one (tags of players on the same
/// spot stack); a tag that would then cover a HUD area in `keep_clear` moves above it when
/// the area is in the lower half of the screen, otherwise it is not drawn (`None`).
pub fn place_tags(
    tags: &[[f32; 4]],
    keep_clear: &[[f32; 4]],
    height: f32,
) -> Vec<Option<[f32; 2]>> {
    const GAP: f32 = 2.0;
    let mut placed: Vec<[f32; 4]> = Vec::with_capacity(tags.len());
    let mut out = Vec::with_capacity(tags.len());
    for &tag in tags {
        let mut r = tag;
        let mut shown = true;
        // Each step moves the tag up past one obstacle; a bounded number of steps.
        for _ in 0..(placed.len() + keep_clear.len() + 1) {
            if let Some(p) = placed.iter().find(|p| overlaps(r, **p)) {
                r[1] = p[1] - r[3] - GAP;
            } else if let Some(k) = keep_clear.iter().find(|k| overlaps(r, **k)) {
                if k[1] + k[3] / 2.0 > height / 2.0 {
                    r[1] = k[1] - r[3] - GAP;
                } else {
                    shown = false;
                    break;
                }
            } else {
                break;
            }
        }
        let clear =
            !placed.iter().any(|p| overlaps(r, *p)) && !keep_clear.iter().any(|k| overlaps(r, *k));
        if shown && clear && r[1] + r[3] > 0.0 {
            placed.push(r);
            out.push(Some([r[0], r[1]]));
        } else {
            out.push(None);
        }
    }
    out
}

fn draw_players(b: &mut Batch, v: &View, players: &[DrawPlayer], keep_clear: &[[f32; 4]]) {
    // Remote players first, the local one on top.
    let order = players
        .iter()
        .filter(|p| !p.local)
        .chain(players.iter().filter(|p| p.local));
    let mut tags = Vec::new();
    for p in order {
        if !(p.pos[0].is_finite() && p.pos[1].is_finite()) {
            continue;
        }
        let [sx, sy] = v.to_screen(p.pos);
        let side = (PLAYER_SIZE * v.zoom).max(6.0);
        let (x, y) = (sx - side / 2.0, sy - side / 2.0);
        if x > v.size[0] + 200.0 || y > v.size[1] + 60.0 || x + side < -200.0 || y + side < -60.0 {
            continue;
        }
        let t = (2.0 * v.zoom).clamp(1.0, 4.0).round();
        let body = rgb_u32(p.color, 255);
        // Soft shadow, outline, body, lighter top, darker bottom, eyes: one quad.
        let outline = if p.local {
            [250, 250, 250, 255]
        } else {
            [16, 16, 20, 255]
        };
        b.bodies.push(BodyInstance {
            rect: [x, y, side, t],
            body,
            top: shade(body, 1.25),
            bottom: shade(body, 0.75),
            outline,
        });
        tags.push((sx, y - t, p));
    }
    // Name tags and health bars after every body, so that no body covers a tag. The local
    // player's tag is placed first (it stays over its body); the others stack above it.
    tags.reverse();
    let bar_w = (PLAYER_SIZE * v.zoom).clamp(28.0, 48.0);
    let (bar_h, pad, th) = (4.0, 3.0, GLYPH_H as f32 * TEXT_SCALE);
    let boxes: Vec<[f32; 4]> = tags
        .iter()
        .map(|(sx, top, p)| {
            let name: String = p.name.chars().take(TAG_CHARS).collect();
            let w = tag_text_width(&name, th).max(bar_w) + 2.0 * pad;
            // Name box, 6 px, health bar, 4 px, then the body.
            let h = th + 2.0 * pad + 6.0 + bar_h;
            [sx - w / 2.0, top - 4.0 - h, w, h]
        })
        .collect();
    let places = place_tags(&boxes, keep_clear, v.size[1]);
    for (((sx, _, p), place), bx) in tags.iter().zip(places).zip(&boxes) {
        let Some([_, y]) = place else { continue };
        let bar_y = y + bx[3] - bar_h;
        let fill = health_color(p.health);
        let bar_width = bar_w.round();
        let fraction = f32::from(p.health.min(100)) / 100.0;
        let name: String = p.name.chars().take(TAG_CHARS).collect();
        let tw = tag_text_width(&name, th);
        let tx = (sx - tw / 2.0).round();
        let ty = (y + pad).round();
        let color = if p.local { ACCENT } else { WHITE };
        let mut glyphs = [TAG_NO_GLYPH; TAG_CHARS];
        let mut count = 0;
        if bitmap_drawable(&name) {
            for (slot, c) in glyphs.iter_mut().zip(name.chars()) {
                if c != ' ' {
                    *slot = font::glyph_index(c);
                }
            }
            count = name.chars().count();
        } else {
            b.labels.push(TagLabel {
                rect: [tx, ty, tw, th],
                text: name,
                color,
            });
        }
        let mut words = [0u32; TAG_CHARS / 4];
        for (w, chunk) in words.iter_mut().zip(glyphs.chunks_exact(4)) {
            *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        b.tags.push(TagInstance {
            tag_box: [tx - pad, ty - pad, tw + 2.0 * pad, th + 2.0 * pad - 2.0],
            bar: [(sx - bar_w / 2.0).round(), bar_y.round(), bar_width, bar_h],
            text: [tx, ty, (bar_width * fraction).round(), count as f32],
            glyphs: words,
            color,
            fill,
            highlight: lighter(fill),
        });
    }
}

// ---------------------------------------------------------------------------------------------
// HUD

/// The HUD's text lines (also used by tests and headless front-ends).
pub fn hud_lines(hud: &Hud) -> Vec<String> {
    let ping = match hud.ping_ms {
        Some(ms) => format!("Ping {ms} ms"),
        None => "Ping -- ms".to_string(),
    };
    vec![
        ping,
        format!(
            "In {:.1} kB/min  Out {:.1} kB/min",
            hud.kb_in_per_min, hud.kb_out_per_min
        ),
        format!("Total {:.3} MB in  {:.3} MB out", hud.mb_in, hud.mb_out),
        format!("Players {}", hud.players),
        hud.status.clone(),
    ]
}

fn draw_hud(b: &mut Batch, hud: &Hud, size: [f32; 2]) {
    let s = TEXT_SCALE;
    let line = font::LINE_HEIGHT as f32 * s;
    let pad = 10.0;
    let lines = hud_lines(hud);
    let bar_w = 180.0;
    let label_w = font::text_width("HP", s) + 8.0;
    let hp_text = format!("{}", hud.health.min(100));
    let widest = lines
        .iter()
        .map(|l| font::text_width(l, s))
        .fold(label_w + bar_w + 8.0 + font::text_width("100", s), f32::max);
    let (x0, y0) = (8.0, 8.0);
    let panel_h = pad * 2.0 + line * (lines.len() as f32 + 1.0) - (line - GLYPH_H as f32 * s);
    b.rect(x0, y0, widest + pad * 2.0, panel_h, PANEL);
    b.frame(
        x0,
        y0,
        widest + pad * 2.0,
        panel_h,
        1.0,
        [255, 255, 255, 40],
    );

    let (x, mut y) = (x0 + pad, y0 + pad);
    b.text_shadowed(x, y, "HP", s, [255, 120, 110, 255]);
    b.bar(
        x + label_w,
        y + 1.0,
        bar_w,
        GLYPH_H as f32 * s - 3.0,
        f32::from(hud.health.min(100)) / 100.0,
        health_color(hud.health),
    );
    b.text_shadowed(x + label_w + bar_w + 8.0, y, &hp_text, s, WHITE);
    y += line;
    for (i, l) in lines.iter().enumerate() {
        let color = if i + 1 == lines.len() {
            [150, 220, 255, 255]
        } else {
            WHITE
        };
        b.text_shadowed(x, y, l, s, color);
        y += line;
    }

    // Hotbar, bottom centre.
    let slot = 52.0;
    let gap = 8.0;
    let items: [(&str, [u32; 4]); 2] = [("Shovel", ICON_SHOVEL), ("Gun", ICON_GUN)];
    let total = items.len() as f32 * slot + (items.len() as f32 - 1.0) * gap;
    let hx = ((size[0] - total) / 2.0).round();
    let inset = if hud.bottom_inset.is_finite() {
        hud.bottom_inset.clamp(0.0, size[1] / 2.0)
    } else {
        0.0
    };
    let hy = (size[1] - inset - slot - 30.0).round();
    for (i, (name, icon)) in items.iter().enumerate() {
        let sx = hx + i as f32 * (slot + gap);
        let selected = usize::from(hud.selected_item) == i;
        b.rect(sx, hy, slot, slot, [10, 12, 18, 190]);
        let border = if selected {
            ACCENT
        } else {
            [110, 110, 118, 220]
        };
        b.frame(sx, hy, slot, slot, if selected { 3.0 } else { 2.0 }, border);
        let icon_side = 32.0;
        b.image(
            [
                sx + (slot - icon_side) / 2.0,
                hy + (slot - icon_side) / 2.0,
                icon_side,
                icon_side,
            ],
            *icon,
            [255, 255, 255, 255],
        );
        b.text_shadowed(sx + 5.0, hy + 5.0, &format!("{}", i + 1), 1.0, WHITE);
        if selected {
            let tw = font::text_width(name, s);
            b.text_shadowed(sx + (slot - tw) / 2.0, hy + slot + 6.0, name, s, ACCENT);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Overlays

fn centered_panel(b: &mut Batch, size: [f32; 2], w: f32, h: f32, border: [u8; 4]) -> (f32, f32) {
    let x = ((size[0] - w) / 2.0).round();
    let y = ((size[1] - h) / 2.0).round();
    b.rect(x, y, w, h, [12, 14, 22, 245]);
    b.frame(x, y, w, h, 2.0, border);
    (x, y)
}

fn centered_text(b: &mut Batch, size: [f32; 2], y: f32, text: &str, scale: f32, color: [u8; 4]) {
    let w = font::text_width(text, scale);
    b.text_shadowed(((size[0] - w) / 2.0).round(), y, text, scale, color);
}

fn draw_overlay(b: &mut Batch, overlay: &Overlay, size: [f32; 2]) {
    let s = TEXT_SCALE;
    let line = font::LINE_HEIGHT as f32 * s;
    let max_chars = ((size[0] * 0.8) / (ADVANCE as f32 * s)).max(8.0) as usize;
    match overlay {
        Overlay::Connecting { message, progress } => {
            b.rect(0.0, 0.0, size[0], size[1], [0, 0, 0, 150]);
            let lines = font::wrap(message, max_chars.min(48));
            let w = lines
                .iter()
                .map(|l| font::text_width(l, s))
                .fold(font::text_width("Connecting", s * 2.0), f32::max)
                .max(320.0)
                + 48.0;
            let h = 20.0 + line * 2.0 + line * lines.len() as f32 + 36.0;
            let (_, y) = centered_panel(b, size, w, h, [120, 170, 255, 255]);
            centered_text(b, size, y + 20.0, "Connecting", s * 2.0, WHITE);
            let mut ty = y + 20.0 + line * 2.0;
            for l in &lines {
                centered_text(b, size, ty, l, s, [200, 210, 230, 255]);
                ty += line;
            }
            let bw = w - 48.0;
            let bx = ((size[0] - bw) / 2.0).round();
            match progress {
                Some(p) => {
                    let p = if p.is_finite() {
                        p.clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    b.bar(bx, ty + 6.0, bw, 12.0, p, [90, 150, 255, 255]);
                }
                None => b.rect(bx, ty + 11.0, bw, 2.0, [90, 150, 255, 120]),
            }
        }
        Overlay::Dead => {
            b.rect(0.0, 0.0, size[0], size[1], [90, 0, 0, 140]);
            let y = (size[1] / 2.0 - 50.0).round();
            b.rect(0.0, y - 24.0, size[0], 120.0, [0, 0, 0, 150]);
            centered_text(b, size, y, "You died", s * 3.0, [255, 90, 80, 255]);
            centered_text(b, size, y + 62.0, "Press R to respawn", s, WHITE);
        }
        Overlay::Paused => {
            b.rect(0.0, 0.0, size[0], size[1], [0, 0, 0, 150]);
            let y = (size[1] / 2.0 - 40.0).round();
            b.rect(0.0, y - 24.0, size[0], 120.0, [0, 0, 0, 130]);
            centered_text(b, size, y, "Paused", s * 3.0, WHITE);
            centered_text(
                b,
                size,
                y + 62.0,
                "Press Esc to resume",
                s,
                [200, 210, 230, 255],
            );
        }
        Overlay::PlayerList(names) => {
            let title = format!("Players ({})", names.len());
            let w = names
                .iter()
                .map(|n| font::text_width(n, s))
                .fold(font::text_width(&title, s), f32::max)
                + 64.0;
            let w = w.max(260.0);
            let shown = names
                .len()
                .min(((size[1] - 120.0) / line).max(1.0) as usize);
            let h = 24.0 + line * 1.6 + line * shown as f32 + 16.0;
            let (x, y) = centered_panel(b, size, w, h, [200, 200, 210, 200]);
            centered_text(b, size, y + 14.0, &title, s, ACCENT);
            b.rect(
                x + 12.0,
                y + 14.0 + line + 2.0,
                w - 24.0,
                1.0,
                [255, 255, 255, 60],
            );
            let mut ty = y + 24.0 + line * 1.6 - 4.0;
            // When not all fit, the last line says how many are left out.
            let listed = if shown < names.len() {
                shown - 1
            } else {
                shown
            };
            for n in names.iter().take(listed) {
                b.text_shadowed(x + 24.0, ty, n, s, WHITE);
                ty += line;
            }
            if listed < names.len() {
                let more = format!("... and {} more", names.len() - listed);
                b.text_shadowed(x + 24.0, ty, &more, s, ACCENT);
            }
        }
        Overlay::UiLayer => {}
        Overlay::Error(message) => {
            b.rect(0.0, 0.0, size[0], size[1], [0, 0, 0, 170]);
            let lines = font::wrap(message, max_chars.min(56));
            let w = lines
                .iter()
                .map(|l| font::text_width(l, s))
                .fold(font::text_width("Error", s * 2.0), f32::max)
                .max(300.0)
                + 48.0;
            let h = 20.0 + line * 2.0 + line * lines.len() as f32 + 16.0;
            let (_, y) = centered_panel(b, size, w, h, [240, 80, 70, 255]);
            centered_text(b, size, y + 16.0, "Error", s * 2.0, [255, 110, 100, 255]);
            let mut ty = y + 16.0 + line * 2.0;
            for l in &lines {
                centered_text(b, size, ty, l, s, WHITE);
                ty += line;
            }
        }
    }
}

/// The atlas's average colour of `tile` (re-exported for tests that check rendered pixels).
pub fn tile_color(tile: Tile) -> [u8; 3] {
    atlas::tile_average_color(tile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_game::Map;

    fn scene(map: &Map) -> Scene<'_> {
        Scene {
            map,
            camera: [0.0, 0.0],
            zoom: 1.0,
            players: vec![DrawPlayer {
                pos: [0.0, 0.0],
                name: "alice".into(),
                color: 0xff0000,
                health: 80,
                local: true,
            }],
            breaking: Some((1, 1, 3)),
            hud: Hud {
                health: 80,
                status: "Connected".into(),
                ..Hud::default()
            },
            overlay: None,
        }
    }

    #[test]
    fn instance_sizes_match_vertex_layouts() {
        assert_eq!(std::mem::size_of::<TileInstance>(), 8);
        assert_eq!(std::mem::size_of::<SpriteInstance>(), 36);
        assert_eq!(std::mem::size_of::<BodyInstance>(), 32);
        assert_eq!(std::mem::size_of::<TagInstance>(), 84);
        assert_eq!(std::mem::size_of::<Globals>(), 48);
    }

    #[test]
    fn whole_small_map_fits_when_zoomed_out() {
        let map = Map::new(8, 4, Tile::Grass).unwrap();
        let f = build_frame(&scene(&map), 800, 600);
        assert_eq!(f.tiles.len(), 32);
        assert_eq!(f.tiles[0].tile, [0, 0]);
        assert_eq!(f.tiles[31].tile, [7, 3]);
        let (cx, cy) = tile_cell(Tile::Grass);
        assert!(f.tiles.iter().all(|t| t.cell[..2] == [cx, cy]));
    }

    #[test]
    fn only_visible_tiles_are_instanced() {
        let map = Map::new(192, 192, Tile::Water).unwrap();
        let f = build_frame(&scene(&map), 320, 320);
        // 320 px at zoom 1 spans 10 tiles, centred on a tile boundary: exactly 10×10.
        assert_eq!(f.tiles.len(), 100);
        assert!(f.tiles.iter().all(|t| t.cell[2] == TILE_FLAG_SCROLL));
        let mut s = scene(&map);
        s.zoom = 2.0;
        let f = build_frame(&s, 320, 320);
        // 5 tiles wide, from the middle of a tile to the middle of another: 6 per side.
        assert_eq!(f.tiles.len(), 36);
        s.camera = [16.0, 16.0];
        // Shifted by half a tile: edges fall on tile boundaries, exactly 5 per side.
        assert_eq!(build_frame(&s, 320, 320).tiles.len(), 25);
        // Far outside the map: nothing.
        s.camera = [1.0e6, 0.0];
        assert!(build_frame(&s, 320, 320).tiles.is_empty());
    }

    #[test]
    fn void_tiles_are_skipped() {
        let mut map = Map::new(4, 4, Tile::Void).unwrap();
        map.set(2, 1, Tile::Lava).unwrap();
        let f = build_frame(&scene(&map), 640, 480);
        assert_eq!(f.tiles.len(), 1);
        assert_eq!(f.tiles[0].cell[2], TILE_FLAG_GLOW);
    }

    #[test]
    fn bad_camera_values_are_sanitised() {
        let map = Map::new(4, 4, Tile::Grass).unwrap();
        let mut s = scene(&map);
        s.zoom = f32::NAN;
        s.camera = [f32::INFINITY, 0.0];
        let f = build_frame(&s, 640, 480);
        assert_eq!(f.globals.view[..3], [0.0, 0.0, 1.0]);
        assert_eq!(f.tiles.len(), 16);
    }

    #[test]
    fn world_screen_round_trip() {
        let size = [800.0, 600.0];
        let p = [123.0, -45.0];
        let s = world_to_screen(p, [10.0, 20.0], 1.5, size);
        let back = screen_to_world(s, [10.0, 20.0], 1.5, size);
        assert!((back[0] - p[0]).abs() < 1e-3 && (back[1] - p[1]).abs() < 1e-3);
        assert_eq!(
            world_to_screen([10.0, 20.0], [10.0, 20.0], 3.0, size),
            [400.0, 300.0]
        );
    }

    #[test]
    fn player_body_is_centred_on_its_position() {
        let map = Map::new(4, 4, Tile::Grass).unwrap();
        let s = scene(&map);
        let f = build_frame(&s, 400, 300);
        let body = f
            .bodies
            .iter()
            .find(|b| b.body == [255, 0, 0, 255])
            .expect("body instance");
        assert_eq!(body.rect, [200.0 - 12.0, 150.0 - 12.0, 24.0, 2.0]);
        assert_eq!(
            body.outline,
            [250, 250, 250, 255],
            "the local player's light outline"
        );
    }

    #[test]
    fn a_name_tag_carries_its_glyphs_and_bar() {
        let map = Map::new(4, 4, Tile::Grass).unwrap();
        let mut s = scene(&map);
        s.players[0].name = "Bo b".into();
        s.players.push(DrawPlayer {
            pos: [100.0, 0.0],
            name: "Zoë".into(),
            color: 0x00ff00,
            health: 20,
            local: false,
        });
        let f = build_frame(&s, 640, 480);
        assert_eq!(f.bodies.len(), 2);
        assert_eq!(f.tags.len(), 2);
        // The local player's tag is placed first.
        let bob = f.tags[0];
        let index = |c| u32::from(font::glyph_index(c));
        let none = u32::from(TAG_NO_GLYPH);
        assert_eq!(
            bob.glyphs[0],
            index('B') | index('o') << 8 | none << 16 | index('b') << 24
        );
        assert!(bob.glyphs[1..].iter().all(|w| *w == u32::MAX));
        assert_eq!(bob.text[3], 4.0, "four glyph slots");
        assert_eq!(bob.text[2], (bob.bar[2] * 0.8).round(), "80 % filled");
        assert_eq!(bob.color, ACCENT);
        // A name the bitmap font cannot draw: the box and bar here, the text for the UI layer.
        let zoe = f.tags[1];
        assert_eq!(zoe.text[3], 0.0);
        assert_eq!(zoe.fill, health_color(20));
        assert_eq!(tag_labels(&s, 640, 480).len(), 1);
    }

    #[test]
    fn tags_on_one_spot_stack_and_keep_off_the_hud() {
        let tag = |x: f32, y: f32| [x, y, 80.0, 30.0];
        // Three players on the same spot, one beside them.
        let tags = [
            tag(300.0, 200.0),
            tag(300.0, 200.0),
            tag(310.0, 205.0),
            tag(500.0, 200.0),
        ];
        let places = place_tags(&tags, &[], 720.0);
        let rects: Vec<[f32; 4]> = places
            .iter()
            .zip(&tags)
            .map(|(p, t)| {
                let [x, y] = p.expect("every tag is shown");
                [x, y, t[2], t[3]]
            })
            .collect();
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                assert!(!overlaps(*a, *b), "{a:?} overlaps {b:?}");
            }
        }
        assert_eq!(rects[0], tags[0], "the first tag stays where it was");
        assert_eq!(rects[3], tags[3], "a tag apart from the others stays");
        assert!(
            rects[1][1] < rects[0][1] && rects[2][1] < rects[1][1],
            "stacked upwards"
        );
        // The hotbar (bottom) pushes a tag above it; the top-left panel hides one under it.
        let hotbar = [200.0, 640.0, 400.0, 80.0];
        let panel = [0.0, 0.0, 240.0, 190.0];
        let places = place_tags(
            &[tag(300.0, 660.0), tag(50.0, 100.0)],
            &[hotbar, panel],
            720.0,
        );
        let [_, y] = places[0].expect("moved, not hidden");
        assert!(y + 30.0 <= 640.0, "above the hotbar: {y}");
        assert_eq!(places[1], None);
    }

    #[test]
    fn name_tags_in_a_frame_do_not_overlap_or_cover_the_hotbar() {
        let map = Map::new(64, 64, Tile::Dirt).unwrap();
        let player = |name: &str, x: f32, y: f32| DrawPlayer {
            pos: [x, y],
            name: name.into(),
            color: 0x3366cc,
            health: 100,
            local: false,
        };
        let scene = Scene {
            map: &map,
            camera: [0.0, 0.0],
            zoom: 1.0,
            // Alice and Bob on the spawn point; Carol where the hotbar is.
            players: vec![
                player("Alice_1", 0.0, 0.0),
                player("Bob", 0.0, 0.0),
                player("Carol", 0.0, 330.0),
            ],
            breaking: None,
            hud: Hud::default(),
            overlay: Some(Overlay::UiLayer),
        };
        let size = [1280.0, 720.0];
        let frame = build_frame(&scene, 1280, 720);
        // Tag backgrounds: the translucent black boxes behind names.
        let tag_boxes: Vec<[f32; 4]> = frame.tags.iter().map(|t| t.tag_box).collect();
        assert_eq!(tag_boxes.len(), 3, "{tag_boxes:?}");
        assert!(!overlaps(tag_boxes[0], tag_boxes[1]) && !overlaps(tag_boxes[1], tag_boxes[2]));
        assert!(!overlaps(tag_boxes[0], tag_boxes[2]));
        for area in hud_areas(&scene.hud, true, size) {
            for t in &tag_boxes {
                assert!(!overlaps(*t, area), "tag {t:?} over the HUD at {area:?}");
            }
        }
    }

    /// The replay viewer's timeline bar (the bottom inset) takes the bottom of the window: the
    /// world is centred in the free area above it, so a player in the lower half of the view
    /// (here 250 px below the camera, with a 160 px bar in a 720 px window) is drawn above the
    /// bar instead of under it, and the one at the camera sits in the middle of the free area.
    #[test]
    fn bodies_in_the_view_are_not_under_the_viewers_bar() {
        let map = Map::new(64, 64, Tile::Dirt).unwrap();
        let body = 0x3366cc;
        let scene = Scene {
            map: &map,
            camera: [0.0, 0.0],
            zoom: 1.0,
            players: vec![
                DrawPlayer {
                    pos: [300.0, 250.0],
                    name: "Bob".into(),
                    color: body,
                    health: 100,
                    local: false,
                },
                DrawPlayer {
                    pos: [0.0, 0.0],
                    name: "you".into(),
                    color: 0xcc6633,
                    health: 100,
                    local: true,
                },
            ],
            breaking: None,
            hud: Hud {
                bottom_inset: 160.0,
                ..Hud::default()
            },
            overlay: Some(Overlay::UiLayer),
        };
        let (w, h) = (1280.0, 720.0);
        let frame = build_frame(&scene, w as u32, h as u32);
        let bar = [0.0, h - 160.0, w, 160.0];
        let bodies: Vec<[f32; 4]> = frame
            .bodies
            .iter()
            .filter(|b| b.body == rgb_u32(body, 255) || b.body == rgb_u32(0xcc6633, 255))
            .map(|b| [b.rect[0], b.rect[1], b.rect[2], b.rect[2]])
            .collect();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        for b in &bodies {
            assert!(!overlaps(*b, bar), "a body {b:?} under the bar {bar:?}");
        }
        // The local player at the centre of the free area; the mouse maps back to it.
        let you = bodies[1];
        let centre = [you[0] + you[2] / 2.0, you[1] + you[3] / 2.0];
        assert_eq!(centre, [w / 2.0, (h - 160.0) / 2.0]);
        let (camera, zoom) = world_view(&scene, [w, h]);
        assert_eq!(world_to_screen([0.0, 0.0], camera, zoom, [w, h]), centre);
        // Without a bar nothing moves.
        let plain = Scene {
            hud: Hud::default(),
            ..scene.clone()
        };
        assert_eq!(world_view(&plain, [w, h]), ([0.0, 0.0], 1.0));
    }

    #[test]
    fn hud_lines_show_the_figures() {
        let hud = Hud {
            ping_ms: Some(42),
            kb_in_per_min: 12.34,
            kb_out_per_min: 5.0,
            mb_in: 0.5,
            mb_out: 0.25,
            players: 3,
            status: "Connected".into(),
            ..Hud::default()
        };
        let l = hud_lines(&hud);
        assert_eq!(l[0], "Ping 42 ms");
        assert_eq!(l[1], "In 12.3 kB/min  Out 5.0 kB/min");
        assert_eq!(l[2], "Total 0.500 MB in  0.250 MB out");
        assert_eq!(l[3], "Players 3");
        assert_eq!(hud_lines(&Hud::default())[0], "Ping -- ms");
    }

    #[test]
    fn overlays_add_sprites_and_are_deterministic() {
        let map = Map::new(4, 4, Tile::Grass).unwrap();
        let base = build_frame(&scene(&map), 640, 480).sprites.len();
        for o in [
            Overlay::Connecting {
                message: "Downloading map".into(),
                progress: Some(0.4),
            },
            Overlay::Dead,
            Overlay::Paused,
            Overlay::PlayerList(vec!["a".into(), "b".into()]),
            Overlay::Error("Connection refused by 127.0.0.1:35000".into()),
        ] {
            let mut s = scene(&map);
            s.overlay = Some(o.clone());
            let f = build_frame(&s, 640, 480);
            assert!(f.sprites.len() > base, "{o:?} drew nothing");
            assert_eq!(f, build_frame(&s, 640, 480));
        }
    }
}
