//! Draws the screens and the in-game HUD with egui, and turns clicks into [`UiEvent`]s.
//!
//! Why it exists: the state machine ([`super::screens`]) decides, this module only shows and
//! reports. Every string comes from the [`Localizer`]; fields are validated as they are typed
//! with the server's rules; Enter submits a form. Nothing here touches the network or the world.

use egui::{Align2, Color32, RichText};

use super::i18n::{codes, Localizer};
use super::messages::failure_text;
use super::screens::{can_retry, FieldError, Screen, Ui, UiEvent};
use super::settings::FPS_LIMITS;

/// Width of the menu panels' widgets, in points.
const WIDTH: f32 = 360.0;
/// Panel background.
const PANEL: Color32 = Color32::from_rgba_premultiplied(16, 18, 24, 230);
/// Error text.
const ERROR: Color32 = Color32::from_rgb(255, 120, 110);
/// Secondary text.
const DIM: Color32 = Color32::from_rgb(170, 176, 190);

/// Sizes and spacing for a game UI (larger than egui's defaults).
pub fn apply_style(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        use egui::{FontId, TextStyle};
        style.text_styles = [
            (TextStyle::Heading, FontId::proportional(30.0)),
            (TextStyle::Body, FontId::proportional(18.0)),
            (TextStyle::Button, FontId::proportional(20.0)),
            (TextStyle::Small, FontId::proportional(14.0)),
            (TextStyle::Monospace, FontId::monospace(16.0)),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(10.0, 10.0);
        style.spacing.button_padding = egui::vec2(14.0, 8.0);
        style.spacing.interact_size.y = 34.0;
        // Solid scroll bars: a panel cut short by a small window shows that it scrolls.
        style.spacing.scroll = egui::style::ScrollStyle::solid();
    });
}

/// A centred panel with a title.
fn panel(ctx: &egui::Context, id: &str, title: &str, body: impl FnOnce(&mut egui::Ui)) {
    panel_with_footer(ctx, id, title, body, None);
}

/// A centred panel whose body sizes itself to the window (the player list, the map): the body
/// is not wrapped in a scroll area of the panel's.
fn fitted_panel(ctx: &egui::Context, id: &str, title: &str, body: impl FnOnce(&mut egui::Ui)) {
    panel_inner(ctx, id, title, body, None, false);
}

/// Height kept for a panel's footer (one row of buttons).
const FOOTER_H: f32 = 52.0;

/// A centred panel that fits any window: the title on top and the footer (Back, Start, …) at
/// the bottom always show; the body between them scrolls when the window is too short.
fn panel_with_footer(
    ctx: &egui::Context,
    id: &str,
    title: &str,
    body: impl FnOnce(&mut egui::Ui),
    footer: Option<&mut dyn FnMut(&mut egui::Ui)>,
) {
    panel_inner(ctx, id, title, body, footer, true);
}

fn panel_inner(
    ctx: &egui::Context,
    id: &str,
    title: &str,
    body: impl FnOnce(&mut egui::Ui),
    footer: Option<&mut dyn FnMut(&mut egui::Ui)>,
    scroll: bool,
) {
    let screen = ctx.content_rect();
    let small = screen.height() < 560.0 || screen.width() < 560.0;
    let margin: i8 = if small { 12 } else { 28 };
    let footer_h = if footer.is_some() { FOOTER_H } else { 0.0 };
    egui::Area::new(egui::Id::unique(id))
        .anchor(Align2::CENTER_CENTER, [0.0, 0.0])
        .constrain(true)
        .show(ctx, |ui| {
            egui::Frame::new()
                .fill(PANEL)
                .corner_radius(10)
                .inner_margin(egui::Margin::same(margin))
                .show(ui, |ui| {
                    ui.set_max_width(WIDTH + 40.0);
                    ui.vertical_centered(|ui| {
                        let title = cjk(ui, title, egui::TextStyle::Heading, 0.0);
                        ui.label(RichText::new(title).heading().strong());
                        ui.add_space(if small { 4.0 } else { 8.0 });
                    });
                    if scroll {
                        // What the title took (it may wrap) is measured, not guessed.
                        let title_h = ui.min_rect().height() + ui.spacing().item_spacing.y;
                        let body_h =
                            (screen.height() - 16.0 - 2.0 * f32::from(margin) - title_h - footer_h)
                                .max(40.0);
                        egui::ScrollArea::vertical()
                            .id_salt((id, "body"))
                            .max_height(body_h)
                            .show(ui, body);
                    } else {
                        body(ui);
                    }
                    if let Some(footer) = footer {
                        ui.add_space(8.0);
                        footer(ui);
                    }
                });
        });
}

fn wide_button(ui: &mut egui::Ui, text: &str) -> bool {
    ui.add_sized([WIDTH, 40.0], egui::Button::new(text))
        .clicked()
}

/// A form's footer: Back, and the button (`submit`, a message key) that submits the form.
/// Back and the submit button; while `blocked` names a field problem the submit button is
/// disabled and the problem is shown beside it (and on hover).
fn back_and_submit(
    ui: &mut egui::Ui,
    i18n: &Localizer,
    submit: &str,
    blocked: Option<FieldError>,
    events: &mut Vec<UiEvent>,
) {
    ui.horizontal_wrapped(|ui| {
        if ui.button(i18n.text("button-back")).clicked() {
            events.push(UiEvent::Back);
        }
        let reason = blocked.map(|e| field_error_text(i18n, e));
        let button = ui.add_enabled(reason.is_none(), egui::Button::new(i18n.text(submit)));
        if let Some(reason) = &reason {
            button.on_disabled_hover_text(reason.as_str());
            ui.label(RichText::new(reason.as_str()).color(ERROR).small());
        } else if button.clicked() {
            events.push(UiEvent::Submit);
        }
    });
}

/// A field problem in the player's language (naming the character at fault, if any).
pub fn field_error_text(i18n: &Localizer, e: FieldError) -> String {
    match e.character() {
        Some((c, code)) => i18n.text_with(e.key(), &[("char", c.into()), ("code", code.into())]),
        None => i18n.text(e.key()),
    }
}

fn field_error(ui: &mut egui::Ui, i18n: &Localizer, error: Option<FieldError>, shown: bool) {
    if let (Some(e), true) = (error, shown) {
        ui.label(
            RichText::new(cjk(
                ui,
                field_error_text(i18n, e),
                egui::TextStyle::Body,
                0.0,
            ))
            .color(ERROR)
            .small(),
        );
    }
}

fn text_field(ui: &mut egui::Ui, label: &str, value: &mut String, max_chars: usize) -> bool {
    ui.label(cjk(ui, label, egui::TextStyle::Body, 0.0));
    let r = ui.add(
        egui::TextEdit::singleline(value)
            .desired_width(WIDTH)
            .char_limit(max_chars),
    );
    r.changed()
}

/// A row of selectable choices that wraps into balanced rows: when they do not fit on one line
/// they are spread evenly (5 as 3 + 2, not 4 + 1), so that no choice ("144", "Hell islands")
/// is left alone on a line. Returns the index clicked, if any.
fn balanced_choices(ui: &mut egui::Ui, choices: &[(String, bool)]) -> Option<usize> {
    let pad = ui.spacing().button_padding.x * 2.0;
    let gap = ui.spacing().item_spacing.x;
    let font = egui::TextStyle::Button.resolve(ui.style());
    let widths: Vec<f32> = choices
        .iter()
        .map(|(label, _)| {
            ui.fonts_mut(|f| f.layout_no_wrap(label.clone(), font.clone(), Color32::WHITE))
                .size()
                .x
                + pad
        })
        .collect();
    let available = ui.available_width().max(1.0);
    // Rows a plain left-to-right wrap needs; then as many per row as that evenly allows.
    let mut rows = 1;
    let mut x = 0.0;
    for w in &widths {
        if x > 0.0 && x + gap + w > available {
            rows += 1;
            x = *w;
        } else {
            x += if x > 0.0 { gap + w } else { *w };
        }
    }
    let per_row = choices.len().div_ceil(rows).max(1);
    let mut clicked = None;
    for (row, chunk) in choices.chunks(per_row).enumerate() {
        ui.horizontal(|ui| {
            for (i, (label, selected)) in chunk.iter().enumerate() {
                if ui.selectable_label(*selected, label.as_str()).clicked() {
                    clicked = Some(row * per_row + i);
                }
            }
        });
    }
    clicked
}

/// `text` with newlines where Japanese or Chinese text must break to fit the width left in
/// `ui` less `reserve` (see [`super::line_break`]: no line starts with "ー", katakana words stay
/// whole); other text unchanged (egui breaks it at spaces). Measured at `style`'s size.
fn cjk(ui: &egui::Ui, text: impl Into<String>, style: egui::TextStyle, reserve: f32) -> String {
    let text = text.into();
    if !super::line_break::has_cjk(&text) {
        return text;
    }
    let font = style.resolve(ui.style());
    let max = (ui.available_width() - reserve - 2.0).max(40.0);
    super::line_break::wrap(&text, max, |line| {
        ui.fonts_mut(|f| f.layout_no_wrap(line.to_owned(), font.clone(), Color32::WHITE))
            .size()
            .x
    })
}

/// A checkbox whose label breaks like [`cjk`] text.
fn checkbox(ui: &mut egui::Ui, value: &mut bool, text: String) {
    let reserve = ui.spacing().icon_width + ui.spacing().icon_spacing;
    let text = cjk(ui, text, egui::TextStyle::Button, reserve);
    ui.checkbox(value, text);
}

fn enter_pressed(ctx: &egui::Context) -> bool {
    ctx.input(|i| i.key_pressed(egui::Key::Enter))
}

/// A form on a [`panel_with_footer`]: `body` draws the fields and returns what blocks the
/// submit button (`submit`, a message key), if anything; Back, the submit button and Enter
/// become [`UiEvent`]s.
fn form_panel(
    ctx: &egui::Context,
    i18n: &Localizer,
    id: &str,
    title: &str,
    submit: &str,
    events: &mut Vec<UiEvent>,
    body: impl FnOnce(&mut egui::Ui) -> Option<FieldError>,
) {
    // What blocks the submit button, as the body leaves the form this pass (read by the footer).
    let blocked = std::cell::Cell::new(None);
    panel_with_footer(
        ctx,
        id,
        &i18n.text(title),
        |ui| blocked.set(body(ui)),
        Some(&mut |ui: &mut egui::Ui| back_and_submit(ui, i18n, submit, blocked.get(), events)),
    );
    if enter_pressed(ctx) {
        events.push(UiEvent::Submit);
    }
}

/// A label (a message key) over a row of choices whose texts are the keys `{prefix}-{option}`;
/// clicking one stores that option in `value`.
fn labelled_choices(
    ui: &mut egui::Ui,
    i18n: &Localizer,
    label: &str,
    prefix: &str,
    options: &[&str],
    value: &mut String,
) {
    ui.label(i18n.text(label));
    let choices: Vec<(String, bool)> = options
        .iter()
        .map(|option| (i18n.text(&format!("{prefix}-{option}")), value == option))
        .collect();
    if let Some(i) = balanced_choices(ui, &choices) {
        *value = options[i].to_owned();
    }
}

/// Draws the current screen (nothing while playing) and collects the player's events.
pub fn screens(
    ctx: &egui::Context,
    state: &mut Ui,
    i18n: &Localizer,
    version: &str,
    events: &mut Vec<UiEvent>,
) {
    let show_errors = state.show_errors;
    if let Screen::Options(_) = state.screen() {
        options(ctx, state, i18n, events);
        return;
    }
    match state.screen_mut() {
        Screen::MainMenu => {
            let mut quit = false;
            panel_with_footer(
                ctx,
                "main-menu",
                "tilegame",
                |ui| {
                    ui.vertical_centered(|ui| {
                        ui.label(RichText::new(i18n.text("menu-subtitle")).color(DIM));
                        ui.add_space(10.0);
                        for (key, event) in [
                            ("menu-host", UiEvent::OpenHost),
                            ("menu-join", UiEvent::OpenJoin),
                            ("menu-options", UiEvent::OpenOptions),
                            ("menu-credits", UiEvent::OpenCredits),
                        ]
                        .into_iter()
                        // Without an embedded server (the web page), hosting is not offered.
                        .filter(|(_, e)| cfg!(feature = "host") || *e != UiEvent::OpenHost)
                        {
                            if wide_button(ui, &i18n.text(key)) {
                                events.push(event);
                            }
                        }
                        ui.add_space(6.0);
                        ui.label(
                            RichText::new(
                                i18n.text_with("menu-version", &[("version", version.into())]),
                            )
                            .small()
                            .color(DIM),
                        );
                    });
                },
                // Quit stays on screen however short the window.
                Some(&mut |ui: &mut egui::Ui| {
                    ui.vertical_centered(|ui| {
                        quit |= wide_button(ui, &i18n.text("menu-quit"));
                    });
                }),
            );
            if quit {
                events.push(UiEvent::Quit);
            }
        }
        Screen::Join(form) => {
            form_panel(
                ctx,
                i18n,
                "join",
                "join-title",
                "button-join",
                events,
                |ui| {
                    text_field(ui, &i18n.text("field-address"), &mut form.address, 261);
                    ui.label(
                        RichText::new(cjk(
                            ui,
                            i18n.text("field-address-hint"),
                            egui::TextStyle::Body,
                            0.0,
                        ))
                        .small()
                        .color(DIM),
                    );
                    field_error(
                        ui,
                        i18n,
                        form.address_error(),
                        show_errors || !form.address.is_empty(),
                    );
                    text_field(ui, &i18n.text("field-name"), &mut form.name, 32);
                    field_error(
                        ui,
                        i18n,
                        form.name_error(),
                        show_errors || !form.name.is_empty(),
                    );
                    form.blocker()
                },
            );
        }
        Screen::Host(form) => {
            form_panel(
                ctx,
                i18n,
                "host",
                "host-title",
                "button-start",
                events,
                |ui| {
                    text_field(ui, &i18n.text("field-name"), &mut form.name, 32);
                    field_error(
                        ui,
                        i18n,
                        form.name_error(),
                        show_errors || !form.name.is_empty(),
                    );
                    text_field(ui, &i18n.text("field-seed"), &mut form.seed, 64);
                    labelled_choices(
                        ui,
                        i18n,
                        "field-size",
                        "size",
                        &["small", "medium", "large"],
                        &mut form.size,
                    );
                    labelled_choices(
                        ui,
                        i18n,
                        "field-theme",
                        "theme",
                        &["default", "hell", "islands", "hell_islands"],
                        &mut form.theme,
                    );
                    form.name_error()
                },
            );
        }
        Screen::Connecting { attempt, progress } => {
            let title = if attempt.host.is_some() && attempt.address.is_empty() {
                i18n.text("connecting-hosting")
            } else {
                i18n.text_with(
                    "connecting-title",
                    &[("address", attempt.address.as_str().into())],
                )
            };
            let progress = *progress;
            panel(ctx, "connecting", &title, |ui| {
                ui.vertical_centered(|ui| {
                    match progress {
                        Some(p) => {
                            let percent = (p * 100.0).round() as u32;
                            ui.label(
                                i18n.text_with("connecting-map", &[("percent", percent.into())]),
                            );
                            ui.add(egui::ProgressBar::new(p).desired_width(WIDTH));
                        }
                        None => {
                            ui.add(egui::Spinner::new().size(28.0));
                        }
                    }
                    if wide_button(ui, &i18n.text("button-cancel")) {
                        events.push(UiEvent::Cancel);
                    }
                });
            });
        }
        Screen::Failed {
            attempt,
            failure,
            in_play,
        } => {
            let address = if attempt.address.is_empty() {
                "127.0.0.1"
            } else {
                attempt.address.as_str()
            };
            let (main, detail) = failure_text(i18n, address, attempt, failure);
            let retry = can_retry(&failure.state);
            let title = if *in_play {
                "error-lost-title"
            } else {
                "error-title"
            };
            panel_with_footer(
                ctx,
                "failed",
                &i18n.text(title),
                |ui| {
                    ui.vertical_centered(|ui| {
                        let main = cjk(ui, main, egui::TextStyle::Body, 0.0);
                        ui.label(RichText::new(main).color(ERROR));
                        if let Some(d) = detail {
                            let d = cjk(ui, d, egui::TextStyle::Body, 0.0);
                            ui.label(RichText::new(d).small().color(DIM));
                        }
                    });
                },
                Some(&mut |ui: &mut egui::Ui| {
                    ui.horizontal(|ui| {
                        if ui.button(i18n.text("button-back")).clicked() {
                            events.push(UiEvent::Back);
                        }
                        if retry && ui.button(i18n.text("button-retry")).clicked() {
                            events.push(UiEvent::Retry);
                        }
                    });
                }),
            );
            if enter_pressed(ctx) {
                events.push(if retry { UiEvent::Retry } else { UiEvent::Back });
            }
        }
        Screen::Paused => {
            panel(ctx, "paused", &i18n.text("pause-title"), |ui| {
                ui.vertical_centered(|ui| {
                    for (key, event) in [
                        ("pause-resume", UiEvent::Resume),
                        ("menu-options", UiEvent::OpenOptions),
                        ("pause-disconnect", UiEvent::Disconnect),
                        ("menu-quit", UiEvent::Quit),
                    ] {
                        if wide_button(ui, &i18n.text(key)) {
                            events.push(event);
                        }
                    }
                });
            });
        }
        Screen::Credits => credits(ctx, i18n, events),
        Screen::Options(_) | Screen::Playing | Screen::Quit => {}
    }
}

fn options(ctx: &egui::Context, state: &mut Ui, i18n: &Localizer, events: &mut Vec<UiEvent>) {
    let s = &mut state.settings;
    let mut back = false;
    panel_with_footer(
        ctx,
        "options",
        &i18n.text("options-title"),
        |ui| {
            ui.label(i18n.text("options-language"));
            let current = s
                .language
                .as_deref()
                .and_then(|c| super::i18n::Localizer::new(c).ok())
                .map_or_else(
                    || i18n.text("options-language-system"),
                    |l| l.text("language-name"),
                );
            egui::ComboBox::from_id_salt("language")
                .width(WIDTH)
                .height(480.0)
                .selected_text(current)
                .show_ui(ui, |ui| {
                    // The menu style's tall buttons would push the last language ("中文") off a
                    // small window: the list is compact so that all eight entries fit in 360 px.
                    ui.spacing_mut().item_spacing.y = 1.0;
                    ui.spacing_mut().button_padding.y = 3.0;
                    ui.selectable_value(
                        &mut s.language,
                        None,
                        i18n.text("options-language-system"),
                    );
                    for code in codes() {
                        let name = Localizer::new(code)
                            .map(|l| l.text("language-name"))
                            .unwrap_or_else(|_| code.to_owned());
                        ui.selectable_value(&mut s.language, Some(code.to_owned()), name);
                    }
                });
            ui.label(i18n.text("options-fps-limit"));
            let choices: Vec<(String, bool)> = FPS_LIMITS
                .iter()
                .map(|&limit| {
                    let label = if limit == 0 {
                        i18n.text("options-fps-unlimited")
                    } else {
                        limit.to_string()
                    };
                    (label, s.fps_limit == limit)
                })
                .collect();
            if let Some(i) = balanced_choices(ui, &choices) {
                s.fps_limit = FPS_LIMITS[i];
            }
            checkbox(ui, &mut s.show_fps, i18n.text("options-show-fps"));
            checkbox(ui, &mut s.vsync, i18n.text("options-vsync"));
            checkbox(ui, &mut s.fullscreen, i18n.text("options-fullscreen"));
            checkbox(ui, &mut s.debug_info, i18n.text("options-debug"));
        },
        Some(&mut |ui: &mut egui::Ui| {
            ui.vertical_centered(|ui| {
                back |= wide_button(ui, &i18n.text("button-back"));
            });
        }),
    );
    if back {
        events.push(UiEvent::Back);
    }
}

/// The Credits screen: the fonts with their licence text, then every crate in the binary
/// (from the dependency tree at build time) with its version, licence and authors.
fn credits(ctx: &egui::Context, i18n: &Localizer, events: &mut Vec<UiEvent>) {
    use super::credits::{crates, FONTS, FONT_LICENCE};
    let list = crates();
    let mut back = false;
    panel_with_footer(
        ctx,
        "credits",
        &i18n.text("credits-title"),
        |ui| {
            let fonts = cjk(ui, i18n.text("credits-fonts"), egui::TextStyle::Body, 0.0);
            ui.label(RichText::new(fonts).strong());
            for (family, licence) in FONTS {
                ui.label(format!("{family} — {licence}"));
            }
            egui::CollapsingHeader::new("SIL Open Font License 1.1")
                .id_salt("ofl")
                .show(ui, |ui| {
                    ui.label(RichText::new(FONT_LICENCE).small().color(DIM));
                });
            ui.add_space(6.0);
            match &list {
                Ok(list) => {
                    let title = i18n.text_with("credits-crates", &[("n", list.len().into())]);
                    let title = cjk(ui, title, egui::TextStyle::Body, 0.0);
                    ui.label(RichText::new(title).strong());
                    for c in list {
                        ui.label(format!("{} {} — {}", c.name, c.version, c.licence));
                        let authors = crate::ui::font::drawable(c.authors);
                        if !authors.is_empty() {
                            ui.label(RichText::new(authors).small().color(DIM));
                        }
                    }
                }
                Err(reason) => {
                    ui.label(RichText::new(*reason).color(ERROR));
                }
            }
        },
        Some(&mut |ui: &mut egui::Ui| {
            ui.vertical_centered(|ui| {
                back |= wide_button(ui, &i18n.text("button-back"));
            });
        }),
    );
    if back {
        events.push(UiEvent::Back);
    }
}

/// What the in-game HUD shows.
#[derive(Debug, Clone, Default)]
pub struct HudView {
    /// Local health 0..=100.
    pub health: u8,
    /// Players on the server.
    pub online: usize,
    /// The server's player limit, when known.
    pub max_players: Option<u32>,
    /// Names in natural order (shown with Tab).
    pub player_list: Option<Vec<String>>,
    /// Tile coordinates of the local player.
    pub tile: (i32, i32),
    /// Server tick.
    pub tick: u32,
    /// Last round trip.
    pub ping_ms: Option<u32>,
    /// kB per minute in and out.
    pub kb_per_min: (f64, f64),
    /// Frames per second (smoothed), when shown.
    pub fps: Option<f32>,
    /// Coordinates, tick, ping and rates shown.
    pub debug: bool,
    /// Selected hotbar slot 0..6.
    pub hotbar_slot: usize,
    /// Dead: the death screen's cause key.
    pub dead: Option<&'static str>,
    /// Red flash strength 0..=1 (just hurt).
    pub flash: f32,
    /// Floating damage numbers: (amount, age 0..=1).
    pub damage_numbers: Vec<(u8, f32)>,
    /// The map screen, when open.
    pub map: Option<MapView>,
}

/// The map screen's content.
#[derive(Debug, Clone)]
pub struct MapView {
    /// The map image, one pixel per tile.
    pub texture: egui::TextureId,
    /// Its size in tiles.
    pub size: [usize; 2],
    /// Players: position in 0..1 of the map, colour 0xRRGGBB, whether local.
    pub players: Vec<([f32; 2], u32, bool)>,
}

/// "ONLINE n/max", or "ONLINE n" when the server's limit is not known.
pub fn online_text(i18n: &Localizer, n: usize, max: Option<u32>) -> String {
    match max {
        Some(max) => i18n.text_with("hud-online", &[("n", n.into()), ("max", max.into())]),
        None => i18n.text_with("hud-online-count", &[("n", n.into())]),
    }
}

/// The number of hotbar slots.
pub const HOTBAR_SLOTS: usize = crate::render::layout::UI_HOTBAR_SLOTS;

/// Draws the HUD; returns true when Respawn was clicked.
pub fn hud(ctx: &egui::Context, view: &HudView, i18n: &Localizer) -> bool {
    let screen = ctx.content_rect();
    if view.flash > 0.0 {
        // A red tint and a thick red frame: visible on any ground, lava included.
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Background,
            egui::Id::unique("damage-flash"),
        ));
        let f = view.flash.clamp(0.0, 1.0);
        painter.rect_filled(
            screen,
            0.0,
            Color32::from_rgba_unmultiplied(200, 0, 0, (f * 70.0) as u8),
        );
        let edge = Color32::from_rgba_unmultiplied(230, 20, 20, (f * 200.0) as u8);
        painter.rect_stroke(
            screen,
            0.0,
            egui::Stroke::new(24.0, edge),
            egui::StrokeKind::Inside,
        );
    }
    if !view.damage_numbers.is_empty() {
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("damage-numbers"),
        ));
        for (i, (amount, age)) in view.damage_numbers.iter().enumerate() {
            let pos = screen.center() + egui::vec2(20.0 + 10.0 * i as f32, -28.0 - 60.0 * age);
            let alpha = ((1.0 - age).clamp(0.0, 1.0) * 255.0) as u8;
            let font = egui::FontId::proportional(28.0);
            let text = format!("-{amount}");
            // A dark outline under a white number reads on lava, water and grass alike.
            for d in [[-2.0, 0.0], [2.0, 0.0], [0.0, -2.0], [0.0, 2.0]] {
                painter.text(
                    pos + egui::vec2(d[0], d[1]),
                    Align2::LEFT_BOTTOM,
                    &text,
                    font.clone(),
                    Color32::from_rgba_unmultiplied(60, 0, 0, alpha),
                );
            }
            painter.text(
                pos,
                Align2::LEFT_BOTTOM,
                text,
                font,
                Color32::from_rgba_unmultiplied(255, 236, 120, alpha),
            );
        }
    }
    // Top left: health and debug lines.
    egui::Area::new(egui::Id::unique("hud-left"))
        .anchor(Align2::LEFT_TOP, [10.0, 10.0])
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::new()
                .fill(Color32::from_black_alpha(150))
                .corner_radius(6)
                .inner_margin(egui::Margin::same(8))
                .show(ui, |ui| {
                    let h = f32::from(view.health.min(100)) / 100.0;
                    let color = if h > 0.5 {
                        Color32::from_rgb(70, 200, 80)
                    } else if h > 0.25 {
                        Color32::from_rgb(230, 190, 50)
                    } else {
                        Color32::from_rgb(230, 60, 50)
                    };
                    health_bar(
                        ui,
                        h,
                        color,
                        i18n.text_with("hud-health", &[("n", u32::from(view.health).into())]),
                    );
                    if view.debug {
                        let small = |ui: &egui::Ui, s: String| {
                            let s = cjk(ui, s, egui::TextStyle::Small, 0.0);
                            RichText::new(s).small().color(Color32::WHITE)
                        };
                        let lines = [
                            Some(i18n.text_with(
                                "hud-coords",
                                &[
                                    ("x", view.tile.0.to_string().into()),
                                    ("y", view.tile.1.to_string().into()),
                                ],
                            )),
                            Some(i18n.text_with("hud-tick", &[("tick", view.tick.into())])),
                            view.ping_ms
                                .map(|p| i18n.text_with("hud-ping", &[("ping", p.into())])),
                            Some(unbroken_items(&i18n.text_with(
                                "hud-rates",
                                &[
                                    ("kbin", format!("{:.1}", view.kb_per_min.0).into()),
                                    ("kbout", format!("{:.1}", view.kb_per_min.1).into()),
                                ],
                            ))),
                        ];
                        for line in lines.into_iter().flatten() {
                            let text = small(ui, line);
                            ui.label(text);
                        }
                    }
                    if let Some(fps) = view.fps {
                        let text =
                            i18n.text_with("hud-fps", &[("fps", (fps.round() as u32).into())]);
                        let text = cjk(ui, text, egui::TextStyle::Small, 0.0);
                        ui.label(RichText::new(text).small().color(Color32::WHITE));
                    }
                });
        });
    // Top right: ONLINE n/max.
    egui::Area::new(egui::Id::unique("hud-right"))
        .anchor(Align2::RIGHT_TOP, [-10.0, 10.0])
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::new()
                .fill(Color32::from_black_alpha(150))
                .corner_radius(6)
                .inner_margin(egui::Margin::same(8))
                .show(ui, |ui| {
                    let text = online_text(i18n, view.online, view.max_players);
                    let text = cjk(ui, text, egui::TextStyle::Body, 0.0);
                    ui.label(RichText::new(text).color(Color32::WHITE));
                });
        });
    // Bottom: the hotbar (slot 1 the shovel; the unfinished gun is kept out).
    {
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Background,
            egui::Id::unique("hotbar"),
        ));
        // The same geometry the renderer keeps name tags away from.
        let (slot_size, gap, margin) = crate::render::layout::UI_HOTBAR;
        let total = HOTBAR_SLOTS as f32 * slot_size + (HOTBAR_SLOTS as f32 - 1.0) * gap;
        let left = screen.center().x - total / 2.0;
        let top = screen.bottom() - slot_size - margin;
        for slot in 0..HOTBAR_SLOTS {
            let selected = slot == view.hotbar_slot;
            let min = egui::pos2(left + slot as f32 * (slot_size + gap), top);
            let rect = egui::Rect::from_min_size(min, egui::vec2(slot_size, slot_size));
            painter.rect_filled(
                rect,
                6.0,
                Color32::from_black_alpha(if selected { 210 } else { 150 }),
            );
            painter.rect_stroke(
                rect,
                6.0,
                egui::Stroke::new(
                    if selected { 3.0 } else { 1.0 },
                    if selected {
                        Color32::from_rgb(255, 220, 90)
                    } else {
                        Color32::GRAY
                    },
                ),
                egui::StrokeKind::Inside,
            );
            painter.text(
                rect.left_top() + egui::vec2(6.0, 3.0),
                Align2::LEFT_TOP,
                (slot + 1).to_string(),
                egui::FontId::proportional(13.0),
                DIM,
            );
            if slot == 0 {
                // A shovel: a wooden handle and a steel blade.
                let c = rect.center();
                painter.line_segment(
                    [c + egui::vec2(-12.0, 12.0), c + egui::vec2(6.0, -6.0)],
                    egui::Stroke::new(4.0, Color32::from_rgb(150, 100, 50)),
                );
                painter.add(egui::Shape::convex_polygon(
                    vec![
                        c + egui::vec2(4.0, -12.0),
                        c + egui::vec2(12.0, -4.0),
                        c + egui::vec2(18.0, -16.0),
                        c + egui::vec2(16.0, -18.0),
                    ],
                    Color32::from_rgb(200, 205, 215),
                    egui::Stroke::NONE,
                ));
                painter.text(
                    rect.center_bottom() - egui::vec2(0.0, 2.0),
                    Align2::CENTER_BOTTOM,
                    i18n.text("hotbar-shovel"),
                    egui::FontId::proportional(12.0),
                    Color32::WHITE,
                );
            }
        }
    }
    if let Some(names) = &view.player_list {
        player_list(ctx, names, view.max_players, i18n);
    }
    if let Some(MapView {
        texture,
        size: [w, h],
        players,
    }) = &view.map
    {
        fitted_panel(ctx, "map", &i18n.text("map-title"), |ui| {
            let avail = (screen.height() - 160.0).clamp(120.0, 560.0);
            let scale = avail / (*w.max(h) as f32).max(1.0);
            let size = egui::vec2(*w as f32 * scale, *h as f32 * scale);
            let r = ui.add(egui::Image::new((*texture, size)));
            let painter = ui.painter_at(r.rect);
            for ([x, y], color, local) in players {
                let p = r.rect.min + egui::vec2(x * size.x, y * size.y);
                let [red, g, b, _] = crate::render::rgb_u32(*color, 255);
                painter.circle_filled(
                    p,
                    if *local { 5.0 } else { 3.5 },
                    Color32::from_rgb(red, g, b),
                );
                if *local {
                    painter.circle_stroke(p, 7.0, egui::Stroke::new(2.0, Color32::WHITE));
                }
            }
        });
    }
    let mut respawn = false;
    if let Some(cause) = view.dead {
        panel(ctx, "dead", &i18n.text("dead-title"), |ui| {
            ui.vertical_centered(|ui| {
                let why = cjk(ui, i18n.text(cause), egui::TextStyle::Body, 0.0);
                ui.label(RichText::new(why).color(ERROR));
                let hint = cjk(ui, i18n.text("dead-respawn"), egui::TextStyle::Body, 0.0);
                ui.label(RichText::new(hint).color(DIM));
                respawn = wide_button(ui, &i18n.text("button-respawn"));
            });
        });
    }
    respawn
}

/// The health bar: a dark track, a fill as long as the health (none at 0 — egui's progress bar
/// draws a rounded blob even then) and the text over it.
fn health_bar(ui: &mut egui::Ui, fraction: f32, fill: Color32, text: String) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(200.0, 22.0), egui::Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 4.0, Color32::from_gray(50));
    let fraction = fraction.clamp(0.0, 1.0);
    if fraction > 0.0 {
        let mut fill_rect = rect;
        fill_rect.set_width(rect.width() * fraction);
        painter.rect_filled(fill_rect, 4.0, fill);
    }
    painter.text(
        rect.left_center() + egui::vec2(8.0, 0.0),
        Align2::LEFT_CENTER,
        text,
        egui::FontId::proportional(15.0),
        Color32::WHITE,
    );
}

/// Names per row of the player list once it is longer than this.
const LIST_ONE_COLUMN_MAX: usize = 12;

/// The player list (Tab): every name, in rows of one or two columns in a scroll area with a
/// visible bar, and "and N more (scroll)" under it while names are below the visible part.
fn player_list(ctx: &egui::Context, names: &[String], max_players: Option<u32>, i18n: &Localizer) {
    let screen = ctx.content_rect();
    fitted_panel(ctx, "player-list", &i18n.text("players-title"), |ui| {
        let title = online_text(i18n, names.len(), max_players);
        ui.label(RichText::new(title).color(DIM));
        let cols = if names.len() > LIST_ONE_COLUMN_MAX {
            2
        } else {
            1
        };
        let rows = names.len().div_ceil(cols);
        let row_h = ui.text_style_height(&egui::TextStyle::Body);
        let gap = ui.spacing().item_spacing.y;
        let col_w = (WIDTH - 24.0) / cols as f32;
        let out = egui::ScrollArea::vertical()
            .max_height((screen.height() - 220.0).max(row_h * 2.0 + gap))
            .auto_shrink([false, true])
            .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
            .show_rows(ui, row_h, rows, |ui, range| {
                for row in range {
                    ui.horizontal(|ui| {
                        for name in names.iter().skip(row * cols).take(cols) {
                            ui.add_sized(
                                [col_w, row_h],
                                egui::Label::new(RichText::new(name).color(Color32::WHITE))
                                    .truncate(),
                            );
                        }
                    });
                }
            });
        let seen_rows = ((out.state.clamped_offset().y + out.inner_rect.height() + gap)
            / (row_h + gap))
            .floor()
            .max(0.0) as usize;
        let below = names.len().saturating_sub(seen_rows.min(rows) * cols);
        if below > 0 {
            ui.label(
                RichText::new(i18n.text_with("players-more", &[("n", below.into())]))
                    .small()
                    .color(DIM),
            );
        }
    });
}

/// Keeps each item of a " · " list on one line: its spaces become no-break spaces, so a line
/// breaks only between items ("1.3 kB/min" and "Esc: pause" are never split).
pub fn unbroken_items(text: &str) -> String {
    text.split(" · ")
        .map(|item| item.replace(' ', "\u{a0}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Windows shorter than this show no controls line under the main menu (it would cover it).
const HINT_MIN_HEIGHT: f32 = 520.0;

/// The controls line under the main menu.
pub fn controls_hint(ctx: &egui::Context, i18n: &Localizer) {
    if ctx.content_rect().height() < HINT_MIN_HEIGHT {
        return;
    }
    egui::Area::new(egui::Id::unique("controls"))
        .anchor(Align2::CENTER_BOTTOM, [0.0, -10.0])
        .interactable(false)
        .show(ctx, |ui| {
            egui::Frame::new()
                .fill(Color32::from_black_alpha(170))
                .corner_radius(6)
                .inner_margin(egui::Margin::same(6))
                .show(ui, |ui| {
                    ui.label(
                        RichText::new(unbroken_items(&i18n.text("help-controls")))
                            .small()
                            .color(Color32::WHITE),
                    );
                });
        });
}

/// One received chat entry as the HUD shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatLineView {
    /// The sender's name (empty for the server's notices).
    pub name: String,
    /// The text (a notice's already translated).
    pub text: String,
    /// Opacity 0..=1 (fading).
    pub alpha: f32,
}

/// Points between the chat and the window's bottom in play (above the hotbar).
pub const CHAT_BOTTOM: f32 = 84.0;

/// Draws the last chat lines bottom left, `bottom` points above the window's bottom, fading,
/// and the chat line being typed when it is open (it holds the keyboard); returns the key the player pressed in the
/// text field (Enter or Esc).
pub fn chat(
    ctx: &egui::Context,
    lines: &[ChatLineView],
    input: &mut crate::ui::chat::ChatInput,
    bottom: f32,
    i18n: &Localizer,
) -> Option<crate::ui::chat::ChatKey> {
    use crate::ui::chat::ChatKey;
    let visible = lines.iter().any(|l| l.alpha > 0.0);
    if !visible && !input.is_open() {
        return None;
    }
    let screen = ctx.content_rect();
    // Above the hotbar, at most 45% of the window wide.
    let width = (screen.width() * 0.45).clamp(200.0, 560.0);
    let mut key = None;
    egui::Area::new(egui::Id::unique("chat"))
        .anchor(Align2::LEFT_BOTTOM, [10.0, -bottom])
        .interactable(input.is_open())
        .show(ctx, |ui| {
            ui.set_max_width(width);
            for line in lines.iter().filter(|l| l.alpha > 0.0) {
                let a = (line.alpha.clamp(0.0, 1.0) * 255.0) as u8;
                egui::Frame::new()
                    .fill(Color32::from_black_alpha((f32::from(a) * 0.6) as u8))
                    .inner_margin(egui::Margin::symmetric(6, 2))
                    .show(ui, |ui| {
                        let mut job = egui::text::LayoutJob::default();
                        let font = egui::FontId::proportional(15.0);
                        if !line.name.is_empty() {
                            job.append(
                                &format!("{}: ", line.name),
                                0.0,
                                egui::TextFormat::simple(
                                    font.clone(),
                                    Color32::from_rgba_unmultiplied(255, 220, 120, a),
                                ),
                            );
                        }
                        let color = if line.name.is_empty() {
                            Color32::from_rgba_unmultiplied(255, 150, 150, a)
                        } else {
                            Color32::from_rgba_unmultiplied(255, 255, 255, a)
                        };
                        job.append(&line.text, 0.0, egui::TextFormat::simple(font, color));
                        job.wrap.max_width = width - 12.0;
                        ui.label(job);
                    });
            }
            if input.is_open() {
                egui::Frame::new()
                    .fill(Color32::from_black_alpha(200))
                    .inner_margin(egui::Margin::same(6))
                    .show(ui, |ui| {
                        let field = egui::TextEdit::singleline(&mut input.text)
                            .hint_text(i18n.text("chat-hint"))
                            .char_limit(tilegame_game::CHAT_MAX_CHARS)
                            .desired_width(width - 12.0);
                        let response = ui.add(field);
                        // The open line keeps the keyboard (a new area's first pass only
                        // measures it, so focus is asked for on every pass).
                        if !response.has_focus() && !response.lost_focus() {
                            response.request_focus();
                        }
                        if response.changed() {
                            input.edited();
                        }
                        let (enter, escape) = ui.input(|i| {
                            (
                                i.key_pressed(egui::Key::Enter),
                                i.key_pressed(egui::Key::Escape),
                            )
                        });
                        if escape {
                            key = Some(ChatKey::Cancel);
                        } else if enter && (response.lost_focus() || response.has_focus()) {
                            key = Some(ChatKey::Submit);
                        }
                        if let Some(error) = input.error() {
                            ui.label(
                                RichText::new(i18n.text(error))
                                    .small()
                                    .color(Color32::from_rgb(255, 150, 150)),
                            );
                        }
                    });
            }
        });
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// egui without a window: passes at a given screen size, and what they drew. A character
    /// the shipped fonts cannot draw panics (egui has no fonts of its own behind ours), so every
    /// screen these tests draw checks the fonts' coverage.
    pub(crate) struct Harness {
        ctx: egui::Context,
        size: egui::Vec2,
        time: f64,
    }

    impl Harness {
        pub(crate) fn new(w: f32, h: f32) -> Harness {
            let ctx = egui::Context::default();
            crate::ui::font::install(&ctx);
            ctx.set_missing_glyph_policy(egui::MissingGlyphPolicy::Panic);
            apply_style(&ctx);
            Harness {
                ctx,
                size: egui::vec2(w, h),
                time: 0.0,
            }
        }

        /// Draws characters the fonts lack as boxes instead of panicking (for a test that shows
        /// what a player typed, which may be anything).
        pub(crate) fn allowing_tofu(self) -> Harness {
            self.ctx
                .set_missing_glyph_policy(egui::MissingGlyphPolicy::Tofu);
            self
        }

        /// Runs one pass with `events`; returns every text drawn and visible: (text, rect).
        pub(crate) fn pass(
            &mut self,
            events: Vec<egui::Event>,
            mut f: impl FnMut(&egui::Context),
        ) -> Drawn {
            self.time += 0.25;
            let raw = egui::RawInput {
                screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, self.size)),
                time: Some(self.time),
                predicted_dt: 0.25,
                events,
                ..Default::default()
            };
            let mut out = self.ctx.run_pass(raw, |ctx| f(ctx));
            out.textures_delta.clear();
            let mut drawn = Drawn::default();
            for c in out.shapes {
                collect(&c.shape, c.clip_rect, &mut drawn);
            }
            drawn
        }

        /// Runs `n` passes without input (egui sizes new areas on their first pass).
        pub(crate) fn settle(&mut self, n: usize, mut f: impl FnMut(&egui::Context)) -> Drawn {
            let mut last = Drawn::default();
            for _ in 0..n {
                last = self.pass(Vec::new(), &mut f);
            }
            last
        }
    }

    /// What a pass drew.
    #[derive(Default, Debug)]
    pub(crate) struct Drawn {
        /// Texts and their rectangles (clipped to what is visible).
        pub texts: Vec<(String, egui::Rect)>,
        /// Per text, its whole rectangle when nothing of it is clipped, else `Rect::NOTHING`.
        pub whole: Vec<egui::Rect>,
        /// Filled rectangles: (rect, fill colour).
        pub rects: Vec<(egui::Rect, Color32)>,
        /// Where egui itself broke a text's lines (not at a newline of the text): the
        /// characters before and after each such break, with the whole text.
        pub soft_breaks: Vec<(char, char, String)>,
    }

    impl Drawn {
        /// The visible rectangle of the first text equal to `text`.
        pub(crate) fn find(&self, text: &str) -> Option<egui::Rect> {
            self.texts.iter().find(|(t, _)| t == text).map(|(_, r)| *r)
        }
    }

    fn collect(shape: &egui::Shape, clip: egui::Rect, drawn: &mut Drawn) {
        match shape {
            egui::Shape::Vec(v) => v.iter().for_each(|s| collect(s, clip, drawn)),
            egui::Shape::Text(t) => {
                for pair in t.galley.rows.windows(2) {
                    if pair[0].ends_with_newline {
                        continue;
                    }
                    let (a, b) = (&pair[0].row, &pair[1].row);
                    if let (Some(x), Some(y)) = (a.text().chars().last(), b.text().chars().next()) {
                        drawn.soft_breaks.push((x, y, t.galley.text().to_owned()));
                    }
                }
                let full = t.galley.rect.translate(t.pos.to_vec2());
                let rect = full.intersect(clip);
                if rect.is_positive() {
                    drawn.texts.push((t.galley.text().to_owned(), rect));
                    if rect == full {
                        drawn.whole.push(full);
                    } else {
                        drawn.whole.push(egui::Rect::NOTHING);
                    }
                }
            }
            egui::Shape::Rect(r) if r.fill != Color32::TRANSPARENT => {
                let rect = r.rect.intersect(clip);
                if rect.is_positive() {
                    drawn.rects.push((rect, r.fill));
                }
            }
            _ => {}
        }
    }

    fn en() -> Localizer {
        Localizer::english()
    }

    #[test]
    fn a_list_of_200_players_says_how_many_more_and_scrolls_to_the_last() {
        let names: Vec<String> = (1..=200).map(|i| format!("player{i}")).collect();
        let view = HudView {
            health: 100,
            online: 200,
            max_players: Some(256),
            player_list: Some(names),
            ..HudView::default()
        };
        let i18n = en();
        for (w, h) in [(1280.0, 720.0), (640.0, 360.0)] {
            let mut harness = Harness::new(w, h);
            let drawn = harness.settle(3, |ctx| {
                hud(ctx, &view, &i18n);
            });
            let first = drawn.find("player1").expect("the first name is shown");
            assert!(
                egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(w, h)).contains_rect(first)
            );
            let shown = drawn
                .texts
                .iter()
                .filter(|(t, _)| t.starts_with("player"))
                .count();
            assert!(shown >= 4, "{w}x{h}: {shown} names shown");
            let more = drawn
                .texts
                .iter()
                .find(|(t, _)| t.starts_with("and "))
                .unwrap_or_else(|| panic!("{w}x{h}: no \"and N more\" under {shown} names"));
            let n: usize = more
                .0
                .split(' ')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .expect("a count");
            assert!(
                n > 0 && n + shown >= 200,
                "{w}x{h}: {} with {shown} shown",
                more.0
            );
            assert!(drawn.find("player200").is_none());
            // The wheel over the list scrolls to the end.
            let centre = egui::pos2(w / 2.0, h / 2.0);
            for _ in 0..40 {
                let wheel = egui::Event::MouseWheel {
                    unit: egui::MouseWheelUnit::Line,
                    delta: egui::vec2(0.0, -10.0),
                    phase: egui::TouchPhase::Move,
                    source: egui::MouseWheelSource::Unknown,
                    modifiers: egui::Modifiers::NONE,
                };
                harness.pass(vec![egui::Event::PointerMoved(centre), wheel], |ctx| {
                    hud(ctx, &view, &i18n);
                });
            }
            let last = harness.settle(8, |ctx| {
                hud(ctx, &view, &i18n);
            });
            assert!(
                last.find("player200").is_some(),
                "{w}x{h}: scrolled, the last name shows"
            );
            assert!(
                !last.texts.iter().any(|(t, _)| t.starts_with("and ")),
                "nothing more below"
            );
        }
    }

    /// Whether `text` is drawn whole (not clipped) inside a `w` × `h` window.
    fn fully_shown(drawn: &Drawn, text: &str, w: f32, h: f32) -> bool {
        let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(w, h));
        drawn.texts.iter().zip(&drawn.whole).any(|((t, _), whole)| {
            // Japanese and Chinese text may carry the newlines `cjk` put in.
            (t == text || t.replace('\n', "") == text)
                && whole.is_positive()
                && screen.contains_rect(*whole)
        })
    }

    #[test]
    fn every_screen_at_640x360_and_1280x800_shows_its_title_and_its_way_back() {
        use super::super::screens::{Attempt, Failure, HostForm, JoinForm, OptionsFrom};
        use crate::net::ConnectionState;
        let attempt = Attempt {
            address: "127.0.0.1:35000".into(),
            name: "alice".into(),
            host: None,
        };
        // (screen, title key, the button that leaves it)
        let screens = [
            (Screen::MainMenu, None, "menu-quit"),
            (
                Screen::Host(HostForm {
                    name: "alice".into(),
                    seed: String::new(),
                    size: "medium".into(),
                    theme: "default".into(),
                }),
                Some("host-title"),
                "button-back",
            ),
            (
                Screen::Join(JoinForm {
                    address: "127.0.0.1".into(),
                    name: "alice".into(),
                }),
                Some("join-title"),
                "button-back",
            ),
            (
                Screen::Options(OptionsFrom::Menu),
                Some("options-title"),
                "button-back",
            ),
            (
                Screen::Connecting {
                    attempt: attempt.clone(),
                    progress: Some(0.5),
                },
                None,
                "button-cancel",
            ),
            (
                Screen::Failed {
                    attempt: attempt.clone(),
                    failure: Failure {
                        state: ConnectionState::Refused,
                        detail: "Connection refused (os error 111)".into(),
                    },
                    in_play: false,
                },
                Some("error-title"),
                "button-back",
            ),
            (Screen::Paused, Some("pause-title"), "pause-resume"),
            (Screen::Credits, Some("credits-title"), "button-back"),
        ];
        let mut problems = Vec::new();
        for (code, (w, h)) in crate::ui::i18n::LANGUAGES
            .iter()
            .flat_map(|(code, _)| [(*code, (640.0, 360.0)), (*code, (1280.0, 800.0))])
        {
            let i18n = Localizer::new(code).unwrap();
            for (screen, title, back) in &screens {
                let mut ui = Ui::new(crate::ui::settings::Settings::default());
                ui.open(screen.clone());
                let mut harness = Harness::new(w, h);
                let drawn = harness.settle(3, |ctx| {
                    screens_fn(ctx, &mut ui, &i18n);
                });
                let title = match (screen, title) {
                    (Screen::Connecting { attempt, .. }, _) => i18n.text_with(
                        "connecting-title",
                        &[("address", attempt.address.as_str().into())],
                    ),
                    (_, Some(k)) => i18n.text(k),
                    (_, None) => "tilegame".to_owned(),
                };
                for text in [title, i18n.text(back)] {
                    if !fully_shown(&drawn, &text, w, h) {
                        problems.push(format!(
                            "{code} {w}x{h} {screen:?}: {text:?} not fully shown"
                        ));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn the_player_list_draws_names_in_every_script() {
        let names: Vec<String> = ["Zoë", "Łukasz", "Дмитрий", "さくら", "王小明"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        let view = HudView {
            online: names.len(),
            player_list: Some(names.clone()),
            ..HudView::default()
        };
        let i18n = en();
        let mut harness = Harness::new(1280.0, 800.0);
        let drawn = harness.settle(3, |ctx| {
            hud(ctx, &view, &i18n);
        });
        let font = egui::FontId::proportional(14.0);
        for name in &names {
            assert!(drawn.find(name).is_some(), "{name} is not listed");
            assert!(
                harness.ctx.fonts_mut(|f| f.has_glyphs(&font, name)),
                "{name} has characters the UI fonts cannot draw"
            );
        }
    }

    #[test]
    fn the_language_drop_down_shows_every_language_whole() {
        use super::super::screens::OptionsFrom;
        for (w, h) in [(640.0, 360.0), (1280.0, 800.0)] {
            for (code, _) in crate::ui::i18n::LANGUAGES {
                let i18n = Localizer::new(code).unwrap();
                let mut ui = Ui::new(crate::ui::settings::Settings::default());
                ui.open(Screen::Options(OptionsFrom::Menu));
                let mut harness = Harness::new(w, h);
                let drawn = harness.settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                let combo = drawn
                    .find(&i18n.text("options-language-system"))
                    .unwrap_or_else(|| panic!("{code} {w}x{h}: no language drop-down"));
                click(&mut harness, combo, &mut ui, &i18n);
                let open = harness.settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                for (other, _) in crate::ui::i18n::LANGUAGES {
                    let name = Localizer::new(other).unwrap().text("language-name");
                    assert!(
                        fully_shown(&open, &name, w, h),
                        "{code} {w}x{h}: {name:?} is cut in the open drop-down: {:?}",
                        open.texts
                            .iter()
                            .zip(&open.whole)
                            .filter(|((t, _), _)| *t == name)
                            .collect::<Vec<_>>()
                    );
                }
            }
        }
    }

    /// No choice of a wrapped row of choices is alone on its line (item 7: "144" in Russian
    /// Options, "Hell islands" on the Host screen, at 640x360), in any language.
    #[test]
    fn wrapped_choices_leave_no_choice_alone_on_a_line() {
        use super::super::screens::{HostForm, OptionsFrom};
        let mut problems = Vec::new();
        for (code, _) in crate::ui::i18n::LANGUAGES {
            let i18n = Localizer::new(code).unwrap();
            let fps: Vec<String> = FPS_LIMITS
                .iter()
                .map(|&l| {
                    if l == 0 {
                        i18n.text("options-fps-unlimited")
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            let themes: Vec<String> = ["default", "hell", "islands", "hell_islands"]
                .iter()
                .map(|t| i18n.text(&format!("theme-{t}")))
                .collect();
            let host = Screen::Host(HostForm {
                name: "alice".into(),
                seed: String::new(),
                size: "medium".into(),
                theme: "default".into(),
            });
            for (screen, choices) in [(Screen::Options(OptionsFrom::Menu), fps), (host, themes)] {
                let mut ui = Ui::new(crate::ui::settings::Settings::default());
                ui.open(screen.clone());
                let drawn =
                    Harness::new(640.0, 360.0).settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                let rows: Vec<f32> = choices
                    .iter()
                    .filter_map(|c| drawn.find(c).map(|r| r.center().y.round()))
                    .collect();
                for (c, y) in choices.iter().zip(&rows) {
                    if rows.len() > 1 && rows.iter().filter(|r| (*r - y).abs() < 3.0).count() == 1 {
                        problems.push(format!(
                            "{code} {screen:?}: {c:?} alone on its line ({rows:?})"
                        ));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// Japanese and Chinese labels break only where a line may (item 7: not "サーバ/ー", not
    /// "バイ/ト数"): every line break egui makes itself in the forms, errors and options, at the
    /// smallest window, is one `line_break::break_allowed` accepts.
    #[test]
    fn cjk_labels_break_only_between_words() {
        use super::super::screens::{Attempt, Failure, JoinForm, OptionsFrom};
        use crate::net::ConnectionState;
        let mut problems = Vec::new();
        for code in ["ja", "zh"] {
            let i18n = Localizer::new(code).unwrap();
            let screens = [
                Screen::Options(OptionsFrom::Menu),
                Screen::Join(JoinForm {
                    address: String::new(),
                    name: "王小明😀".into(),
                }),
                Screen::Failed {
                    attempt: Attempt {
                        address: "127.0.0.1:35000".into(),
                        name: "alice".into(),
                        host: None,
                    },
                    failure: Failure {
                        state: ConnectionState::Refused,
                        detail: String::new(),
                    },
                    in_play: false,
                },
            ];
            for screen in screens {
                for (w, h) in [(640.0, 360.0), (560.0, 360.0)] {
                    let mut ui = Ui::new(crate::ui::settings::Settings::default());
                    ui.open(screen.clone());
                    ui.show_errors = true;
                    // The name field holds an emoji the form refuses: it shows as a box.
                    let drawn = Harness::new(w, h)
                        .allowing_tofu()
                        .settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                    for (a, b, text) in &drawn.soft_breaks {
                        if crate::ui::line_break::has_cjk(text)
                            && !crate::ui::line_break::break_allowed(*a, *b)
                        {
                            problems.push(format!("{code} {w}x{h}: {a}/{b} in {text:?}"));
                        }
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// Clicks the centre of `rect` (press and release in two passes); returns the events.
    fn click(
        harness: &mut Harness,
        rect: egui::Rect,
        ui: &mut Ui,
        i18n: &Localizer,
    ) -> Vec<UiEvent> {
        let at = rect.center();
        let mut events = Vec::new();
        let button = |pressed| egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        };
        for e in [
            vec![egui::Event::PointerMoved(at), button(true)],
            vec![button(false)],
        ] {
            harness.pass(e, |ctx| screens(ctx, ui, i18n, "0.1.0", &mut events));
        }
        events
    }

    #[test]
    fn join_is_disabled_with_the_reason_while_the_name_is_refused_in_every_language() {
        for (code, _) in crate::ui::i18n::LANGUAGES {
            let i18n = Localizer::new(code).unwrap();
            for (name, refused) in [
                ("Ab😀", Some(FieldError::NameBadChar('😀'))),
                ("سلام", Some(FieldError::NameBadChar('س'))),
                ("鬱", Some(FieldError::NameNoGlyph('鬱'))),
                ("Zoë", None),
                ("さくら", None),
                ("Дмитрий", None),
            ] {
                let mut ui = Ui::new(crate::ui::settings::Settings::default());
                ui.open(Screen::Join(crate::ui::screens::JoinForm {
                    address: "127.0.0.1:35000".into(),
                    name: name.into(),
                }));
                // The field shows what was typed, boxes for what no font draws.
                let mut harness = Harness::new(1280.0, 800.0).allowing_tofu();
                let drawn = harness.settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                let join = drawn
                    .find(&i18n.text("button-join"))
                    .unwrap_or_else(|| panic!("{code} {name}: no Join button"));
                let events = click(&mut harness, join, &mut ui, &i18n);
                match refused {
                    Some(e) => {
                        let reason = field_error_text(&i18n, e);
                        assert!(
                            reason.contains(&format!(
                                "U+{:04X}",
                                u32::from(match e {
                                    FieldError::NameBadChar(c) | FieldError::NameNoGlyph(c) => c,
                                    _ => unreachable!(),
                                })
                            )),
                            "{code}: {reason}"
                        );
                        let shown = drawn.texts.iter().filter(|(t, _)| *t == reason).count();
                        assert!(
                            shown >= 1,
                            "{code} {name}: the reason {reason:?} is not shown"
                        );
                        assert!(
                            !events.contains(&UiEvent::Submit),
                            "{code} {name}: Join was clickable"
                        );
                    }
                    None => assert!(
                        events.contains(&UiEvent::Submit),
                        "{code} {name}: Join did not submit ({events:?})"
                    ),
                }
            }
        }
    }

    /// The Credits screen shows the fonts' licence and every crate's: at the smallest window and
    /// a common one, in a Latin and a CJK language, its title and Back are whole on screen, the
    /// fonts and the OFL are listed, and the wheel scrolls the last crate's licence into view
    /// while Back stays reachable.
    #[test]
    fn credits_show_every_licence_and_keep_title_and_back_reachable() {
        let list = crate::ui::credits::crates().expect("build.rs listed the crates");
        let last = list.last().expect("crates in the binary");
        let last_line = format!("{} {} — {}", last.name, last.version, last.licence);
        let (family, licence) = crate::ui::credits::FONTS[0];
        let font_line = format!("{family} — {licence}");
        for code in ["en", "ja"] {
            let i18n = Localizer::new(code).unwrap();
            for (w, h) in [(640.0, 360.0), (1280.0, 800.0)] {
                let mut ui = Ui::new(crate::ui::settings::Settings::default());
                ui.open(Screen::Credits);
                let mut harness = Harness::new(w, h);
                let drawn = harness.settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                let title = i18n.text("credits-title");
                let back = i18n.text("button-back");
                for text in [title.as_str(), back.as_str(), font_line.as_str()] {
                    assert!(
                        fully_shown(&drawn, text, w, h),
                        "{code} {w}x{h}: {text:?} not fully shown"
                    );
                }
                assert!(
                    drawn.find("SIL Open Font License 1.1").is_some(),
                    "{code} {w}x{h}: the OFL is not offered"
                );
                assert!(
                    drawn.find(&last_line).is_none(),
                    "{code} {w}x{h}: all fits?"
                );
                let centre = egui::pos2(w / 2.0, h / 2.0);
                let mut seen = false;
                for _ in 0..400 {
                    let wheel = egui::Event::MouseWheel {
                        unit: egui::MouseWheelUnit::Line,
                        delta: egui::vec2(0.0, -10.0),
                        phase: egui::TouchPhase::Move,
                        source: egui::MouseWheelSource::Unknown,
                        modifiers: egui::Modifiers::NONE,
                    };
                    let drawn = harness
                        .pass(vec![egui::Event::PointerMoved(centre), wheel], |ctx| {
                            screens_fn(ctx, &mut ui, &i18n)
                        });
                    if drawn.find(&last_line).is_some() {
                        seen = true;
                        break;
                    }
                }
                assert!(
                    seen,
                    "{code} {w}x{h}: {last_line:?} never scrolled into view"
                );
                let drawn = harness.settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                assert!(
                    fully_shown(&drawn, &back, w, h),
                    "{code} {w}x{h}: Back is gone after scrolling"
                );
            }
        }
    }

    /// Problems with how `drawn` broke Japanese or Chinese text: a break egui made itself where
    /// a line may not break, a line (after a newline `cjk` put in) starting with a character
    /// that may not start one, or a word of the list cut in two.
    fn cjk_line_problems(drawn: &Drawn, context: &str) -> Vec<String> {
        const WORDS: [&str; 7] = [
            "サーバー",
            "バイト",
            "スペース",
            "ティック",
            "コンピューター",
            "クレジット",
            "プレイヤー",
        ];
        let mut problems = Vec::new();
        for (a, b, text) in &drawn.soft_breaks {
            if crate::ui::line_break::has_cjk(text) && !crate::ui::line_break::break_allowed(*a, *b)
            {
                problems.push(format!("{context}: egui broke {a}/{b} in {text:?}"));
            }
        }
        for (text, _) in &drawn.texts {
            if !crate::ui::line_break::has_cjk(text) {
                continue;
            }
            for line in text.lines().skip(1) {
                if line.starts_with(['ー', 'ッ', 'ャ', 'ュ', 'ョ', '、', '。', '）']) {
                    problems.push(format!(
                        "{context}: a line starts with {line:?} in {text:?}"
                    ));
                }
            }
            let joined = text.replace('\n', "");
            for word in WORDS {
                if joined.contains(word) && !text.contains(word) {
                    problems.push(format!("{context}: {word} split in {text:?}"));
                }
            }
        }
        problems
    }

    /// Item 7 beyond the forms: titles, the HUD, the death screen, the map and player list
    /// titles and the Credits break Japanese and Chinese only between words, down to a window
    /// so narrow that the titles must wrap.
    #[test]
    fn cjk_titles_hud_and_credits_break_only_between_words() {
        use super::super::screens::{HostForm, JoinForm, OptionsFrom};
        let mut problems = Vec::new();
        let mut wrapped = 0;
        for code in ["ja", "zh"] {
            let i18n = Localizer::new(code).unwrap();
            for (w, h) in [(640.0, 360.0), (320.0, 360.0), (240.0, 480.0)] {
                let screens = [
                    Screen::MainMenu,
                    Screen::Host(HostForm {
                        name: "alice".into(),
                        seed: String::new(),
                        size: "medium".into(),
                        theme: "default".into(),
                    }),
                    Screen::Join(JoinForm {
                        address: String::new(),
                        name: "alice".into(),
                    }),
                    Screen::Options(OptionsFrom::Menu),
                    Screen::Paused,
                    Screen::Credits,
                ];
                for screen in screens {
                    let mut ui = Ui::new(crate::ui::settings::Settings::default());
                    ui.open(screen.clone());
                    let drawn = Harness::new(w, h).settle(3, |ctx| screens_fn(ctx, &mut ui, &i18n));
                    wrapped += drawn.texts.iter().filter(|(t, _)| t.contains('\n')).count();
                    problems.extend(cjk_line_problems(
                        &drawn,
                        &format!("{code} {w}x{h} {screen:?}"),
                    ));
                }
                let names: Vec<String> = (0..30).map(|i| format!("player{i}")).collect();
                let views = [
                    HudView {
                        health: 50,
                        online: 30,
                        max_players: Some(64),
                        player_list: Some(names),
                        tick: 123_456,
                        ping_ms: Some(42),
                        kb_per_min: (1.3, 20.5),
                        fps: Some(60.0),
                        debug: true,
                        ..HudView::default()
                    },
                    HudView {
                        health: 0,
                        dead: Some("dead-cause-lava"),
                        ..HudView::default()
                    },
                    HudView {
                        map: Some(MapView {
                            texture: egui::TextureId::default(),
                            size: [64, 64],
                            players: vec![],
                        }),
                        ..HudView::default()
                    },
                ];
                for view in views {
                    let drawn = Harness::new(w, h).settle(3, |ctx| {
                        hud(ctx, &view, &i18n);
                    });
                    wrapped += drawn.texts.iter().filter(|(t, _)| t.contains('\n')).count();
                    problems.extend(cjk_line_problems(&drawn, &format!("{code} {w}x{h} HUD")));
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(wrapped > 0, "no text had to wrap: the test checks nothing");
    }

    fn screens_fn(ctx: &egui::Context, ui: &mut Ui, i18n: &Localizer) {
        screens(ctx, ui, i18n, "0.1.0", &mut Vec::new());
    }

    #[test]
    fn list_items_break_only_between_items_and_the_hint_leaves_small_menus_alone() {
        assert_eq!(
            unbroken_items("In 1.3 kB/min · Out 2.0 kB/min"),
            "In\u{a0}1.3\u{a0}kB/min · Out\u{a0}2.0\u{a0}kB/min"
        );
        // Laid out narrower than the line: every row ends at an item's end, whole.
        let i18n = en();
        let text = unbroken_items(&i18n.text("help-controls"));
        let mut harness = Harness::new(640.0, 360.0);
        let drawn = harness.settle(2, |ctx| {
            egui::Area::new(egui::Id::unique("t")).show(ctx, |ui| {
                ui.set_max_width(300.0);
                ui.label(&text);
            });
        });
        assert!(drawn.find(&text).is_some());
        let hint = harness.settle(3, |ctx| controls_hint(ctx, &i18n));
        assert!(hint.texts.is_empty(), "no controls line at 640x360");
        let hint = Harness::new(1280.0, 720.0).settle(3, |ctx| controls_hint(ctx, &i18n));
        assert!(hint.find(&text).is_some(), "the controls line at 1280x720");
    }

    #[test]
    fn an_empty_health_bar_draws_no_fill() {
        let i18n = en();
        let red = Color32::from_rgb(230, 60, 50);
        for (health, fill_expected) in [(0u8, false), (10, true)] {
            let view = HudView {
                health,
                ..HudView::default()
            };
            let drawn = Harness::new(640.0, 360.0).settle(3, |ctx| {
                hud(ctx, &view, &i18n);
            });
            let fills = drawn.rects.iter().filter(|(_, c)| *c == red).count();
            assert_eq!(
                fills > 0,
                fill_expected,
                "health {health}: {fills} red fills"
            );
            assert!(drawn.find(&format!("HP {health}")).is_some());
        }
    }
}
