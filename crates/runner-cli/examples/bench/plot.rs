//! The scale curve as an SVG (plotters, SVG backend): on the left the
//! first step (connection set-up and the step) and the second step (warm
//! masters) against the host count, log-log, with the goals at 500
//! hosts and Ansible's figures; on the right the runner's peak RSS. It is
//! drawn from the medians the curve measured, which are also saved as JSON
//! beside the SVG (`--replot` draws them again).

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

const COLD: RGBColor = RGBColor(200, 60, 40);
const WARM: RGBColor = RGBColor(40, 90, 190);
const FONT: &str = "sans-serif";

/// The medians of one host count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub hosts: usize,
    pub first_step_s: f64,
    pub second_step_s: f64,
    pub rss_mb: f64,
}

/// Everything the SVG shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figures {
    pub runner: Vec<Row>,
    /// Ansible's host count, first task (cold) and one more task (warm), s.
    pub ansible: Option<(usize, f64, f64)>,
}

pub fn draw(path: &Path, figures: &Figures) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    times(&left, figures)?;
    memory(&right, &figures.runner)?;
    root.present()?;
    Ok(())
}

/// A line: its label, colour, and which figure of a row it draws.
type Series = (&'static str, RGBColor, fn(&Row) -> f64);

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn times(area: &Area, f: &Figures) -> Result<(), Box<dyn Error>> {
    let slowest = f
        .runner
        .iter()
        .map(|r| r.first_step_s)
        .chain(f.ansible.iter().map(|a| a.1))
        .fold(10.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption("one no-op step on N sshd hosts (127.0.0.1)", (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (0.8f64..700f64).log_scale(),
            (0.002f64..slowest * 3.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("hosts")
        .y_desc("seconds (median)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    let series: [Series; 2] = [
        ("runner, first step (connect + step)", COLD, |r| {
            r.first_step_s
        }),
        ("runner, second step (warm masters)", WARM, |r| {
            r.second_step_s
        }),
    ];
    for (label, color, y) in series {
        let data: Vec<(f64, f64)> = f.runner.iter().map(|r| (r.hosts as f64, y(r))).collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(data.iter().map(|&xy| Circle::new(xy, 3, color.filled())))?;
    }
    if let Some((hosts, cold, warm)) = f.ansible {
        let x = hosts as f64;
        for (label, color, y) in [
            ("Ansible, first task (cold)", COLD, cold),
            ("Ansible, one more task (warm)", WARM, warm),
        ] {
            chart
                .draw_series(std::iter::once(TriangleMarker::new(
                    (x, y),
                    7,
                    color.filled(),
                )))?
                .label(label)
                .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, color.filled()));
        }
    }
    for (y, color) in [(10.0, COLD), (1.0, WARM)] {
        chart.draw_series(std::iter::once(Cross::new(
            (500.0, y),
            6,
            color.stroke_width(2),
        )))?;
    }
    chart.draw_series(std::iter::once(Text::new(
        "× goals at 500 hosts",
        (1.0, slowest * 1.5),
        (FONT, 13),
    )))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 12))
        .draw()?;
    Ok(())
}

fn memory(area: &Area, rows: &[Row]) -> Result<(), Box<dyn Error>> {
    let data: Vec<(f64, f64)> = rows.iter().map(|r| (r.hosts as f64, r.rss_mb)).collect();
    let top = data.iter().map(|&(_, y)| y).fold(300.0, f64::max) * 1.1;
    let most = data.iter().map(|&(x, _)| x).fold(1.0, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(area)
        .caption("runner peak RSS", (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..most, 0f64..top)?;
    chart
        .configure_mesh()
        .x_desc("hosts")
        .y_desc("MB")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .light_line_style(WHITE)
        .draw()?;
    chart.draw_series(LineSeries::new(data.clone(), COLD.stroke_width(2)))?;
    chart.draw_series(data.iter().map(|&xy| Circle::new(xy, 3, COLD.filled())))?;
    chart.draw_series(LineSeries::new(
        [(0.0, 300.0), (most, 300.0)],
        BLACK.mix(0.4),
    ))?;
    chart.draw_series(std::iter::once(Text::new(
        "goal 300 MB",
        (5.0, 300.0 * 1.02),
        (FONT, 12),
    )))?;
    Ok(())
}
