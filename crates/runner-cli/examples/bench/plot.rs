//! The scale curve as an SVG (plotters, SVG backend): on the left the
//! first step (connection set-up and the step) and the second step (warm
//! masters) against the host count, log-log, with the goals at 500
//! hosts and Ansible's 50-host figures; on the right the runner's peak RSS.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use crate::ansible::Measured;
use crate::curve::{Point, mb, median};

const COLD: RGBColor = RGBColor(200, 60, 40);
const WARM: RGBColor = RGBColor(40, 90, 190);
const FONT: &str = "sans-serif";

pub fn draw(
    path: &Path,
    points: &[Point],
    ansible: Option<&Measured>,
) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1000, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    times(&left, points, ansible)?;
    memory(&right, points)?;
    root.present()?;
    Ok(())
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn times(area: &Area, points: &[Point], ansible: Option<&Measured>) -> Result<(), Box<dyn Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption("one no-op step on N sshd hosts (127.0.0.1)", (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((0.8f64..700f64).log_scale(), (0.002f64..40f64).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("hosts")
        .y_desc("seconds (median)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    let series = [
        ("runner, first step (connect + step)", COLD, true),
        ("runner, second step (warm masters)", WARM, false),
    ];
    for (label, color, cold) in series {
        let data: Vec<(f64, f64)> = points
            .iter()
            .map(|p| {
                let (m, _, _) = p.median(|s| if cold { s.first_step } else { s.second_step });
                (p.hosts as f64, secs(m))
            })
            .collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(data.iter().map(|&xy| Circle::new(xy, 3, color.filled())))?;
    }
    if let Some(m) = ansible {
        let x = m.hosts as f64;
        for (label, color, v) in [
            ("Ansible, first task (cold)", COLD, &m.cold),
            ("Ansible, one more task (warm)", WARM, &m.warm),
        ] {
            let (y, _, _) = median(v.clone());
            chart
                .draw_series(std::iter::once(TriangleMarker::new(
                    (x, secs(y)),
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
        (120.0, 20.0),
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

fn memory(area: &Area, points: &[Point]) -> Result<(), Box<dyn Error>> {
    let data: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.hosts as f64, mb(p.median(|s| s.max_rss_kib).0)))
        .collect();
    let top = data.iter().map(|&(_, y)| y).fold(300.0, f64::max) * 1.1;
    let most = data.iter().map(|&(x, _)| x).fold(1.0, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(area)
        .caption("runner peak RSS", (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..most, 0f64..top)?;
    chart.configure_mesh().x_desc("hosts").y_desc("MB").draw()?;
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
