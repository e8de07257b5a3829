//! `stats --plot`: a picture of where the bytes went over the session.
//!
//! One line per packet kind and direction: wire bytes per recorded second (log scale, so a
//! ping's few bytes and a map transfer's kilobytes show on one chart), with the keyframes and
//! the joins marked as vertical lines. PNG or SVG by the output's extension. Drawn with
//! plotters' pure-Rust backends and a font compiled into the program, so it needs no system
//! library, and it reads only [`Stats`]: the same file always gives the same picture.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::stats::Stats;
use crate::tool::ToolError;

/// Picture size in pixels.
pub const SIZE: (u32, u32) = (1200, 600);

/// Most series drawn (the busiest; the rest are summed into "other").
pub const MAX_SERIES: usize = 12;

const FONT: &str = "sans-serif";

fn register_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::HACK_REGULAR)
            .map_err(|_| "the built-in font does not load".to_owned())
    })
    .clone()
}

/// One line of the chart.
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    total: u64,
}

fn series(stats: &Stats) -> Vec<Series> {
    let mut all: Vec<Series> = stats
        .series
        .iter()
        .map(|((dir, name), per_second)| Series {
            label: format!("{dir} {name}"),
            points: per_second
                .iter()
                .map(|(&s, &b)| (s as f64, b as f64))
                .collect(),
            total: per_second.values().sum(),
        })
        .collect();
    all.sort_by(|a, b| b.total.cmp(&a.total).then(a.label.cmp(&b.label)));
    if all.len() > MAX_SERIES {
        let rest = all.split_off(MAX_SERIES - 1);
        let mut other = std::collections::BTreeMap::<u64, f64>::new();
        for s in &rest {
            for &(t, b) in &s.points {
                *other.entry(t as u64).or_default() += b;
            }
        }
        all.push(Series {
            label: format!("{} other kinds", rest.len()),
            points: other.into_iter().map(|(t, b)| (t as f64, b)).collect(),
            total: rest.iter().map(|s| s.total).sum(),
        });
    }
    all
}

/// Draws `stats` of the recording `source` into `out` (`.png` or `.svg`).
pub fn draw(stats: &Stats, source: &Path, out: &Path) -> Result<(), ToolError> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let fail = |e: String| ToolError::Write {
        path: out.to_owned(),
        source: std::io::Error::other(e),
    };
    register_font().map_err(fail)?;
    let title = format!(
        "{}: wire bytes per second by packet kind",
        source
            .file_name()
            .map_or("recording".into(), |n| n.to_string_lossy())
    );
    match ext.as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(out, SIZE).into_drawing_area();
            chart(stats, &title, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        Some("svg") => {
            let root = SVGBackend::new(out, SIZE).into_drawing_area();
            chart(stats, &title, &root).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        _ => Err(ToolError::Usage(format!(
            "--plot {}: the file name must end in .png or .svg",
            out.display()
        ))),
    }
}

/// A byte count for people: `812 B`, `18.1 kB`, `2.40 MB`.
fn bytes(n: u64) -> String {
    match n {
        0..1000 => format!("{n} B"),
        1000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.2} MB", n as f64 / 1e6),
    }
}

/// Colour of series `i`.
fn colour(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

const KEYFRAME: RGBColor = RGBColor(40, 90, 220);
const JOIN: RGBColor = RGBColor(20, 160, 60);

fn chart<DB: DrawingBackend>(
    stats: &Stats,
    title: &str,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, (FONT, 20)).map_err(err)?;
    let (plot, legend) = root.split_horizontally(SIZE.0 - 260);
    let lines = series(stats);
    let seconds = (stats.micros as f64 / 1e6).ceil().max(1.0);
    let peak = lines
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(1.0f64, f64::max);
    let (low, high) = (1.0, peak * 2.0);
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..seconds, (low..high).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("recorded time (s)")
        .y_desc("wire bytes per second")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(err)?;
    // Keyframes (blue, dashed) and joins (green) behind the traffic.
    for &at in &stats.keyframes {
        let x = at as f64 / 1e6;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, low), (x, high)],
                6,
                4,
                KEYFRAME.stroke_width(1),
            ))
            .map_err(err)?;
    }
    for (at, _) in &stats.joins {
        let x = *at as f64 / 1e6;
        chart
            .draw_series(LineSeries::new(
                vec![(x, low), (x, high)],
                JOIN.stroke_width(2),
            ))
            .map_err(err)?;
    }
    for (i, s) in lines.iter().enumerate() {
        let width = if s.label.starts_with("out") { 1 } else { 2 };
        // Lines join consecutive seconds only; a second with traffic on its own is a dot.
        for run in s.points.chunk_by(|a, b| b.0 - a.0 == 1.0) {
            chart
                .draw_series(
                    LineSeries::new(run.iter().copied(), colour(i).stroke_width(width))
                        .point_size(if run.len() == 1 { 3 } else { 0 }),
                )
                .map_err(err)?;
        }
    }
    // The legend, beside the chart: markers, then each series with its total.
    let mut rows: Vec<(ShapeStyle, String, bool)> = vec![
        (
            KEYFRAME.stroke_width(1),
            format!("keyframe ({})", stats.keyframes.len()),
            true,
        ),
        (
            JOIN.stroke_width(2),
            format!("join ({})", stats.joins.len()),
            false,
        ),
    ];
    for (i, s) in lines.iter().enumerate() {
        let width = if s.label.starts_with("out") { 1 } else { 2 };
        rows.push((
            colour(i).stroke_width(width),
            format!("{} ({})", s.label, bytes(s.total)),
            false,
        ));
    }
    let text = TextStyle::from((FONT, 13).into_font()).color(&BLACK);
    legend
        .draw(&Text::new(
            "in: to the client; out: to the server",
            (4, 20),
            text.clone(),
        ))
        .map_err(err)?;
    for (i, (style, label, dashed)) in rows.into_iter().enumerate() {
        let y = 48 + i as i32 * 20;
        if dashed {
            for x in (6..30).step_by(8) {
                legend
                    .draw(&PathElement::new(vec![(x, y), (x + 4, y)], style))
                    .map_err(err)?;
            }
        } else {
            legend
                .draw(&PathElement::new(vec![(6, y), (30, y)], style))
                .map_err(err)?;
        }
        legend
            .draw(&Text::new(label, (38, y - 7), text.clone()))
            .map_err(err)?;
    }
    Ok(())
}
