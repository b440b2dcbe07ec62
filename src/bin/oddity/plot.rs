//! The plot `oddity active --out` writes: anomalies found against labels spent, one line per
//! model (SVG).

use std::path::Path;

use oddity::Error;
use plotters::prelude::*;

/// One model's curve: (labels spent, anomalies found) points.
pub struct Curve {
    pub label: String,
    pub points: Vec<(u32, u32)>,
}

/// Writes the curves of `dataset` (with `anomalies` in all) to `path`.
pub fn found_vs_spent(
    path: &Path,
    dataset: &str,
    anomalies: u32,
    curves: &[Curve],
) -> oddity::Result<()> {
    let plot_err = |e: String| Error::Invalid {
        what: "plot",
        detail: e,
    };
    let max_x = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let max_y = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .max()
        .unwrap_or(1)
        .max(anomalies)
        .max(1);
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{dataset}: anomalies found vs labels spent"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0u32..max_x, 0u32..max_y)
        .map_err(|e| plot_err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("labels spent")
        .y_desc("anomalies found")
        .draw()
        .map_err(|e| plot_err(e.to_string()))?;
    for (i, c) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))
            .map_err(|e| plot_err(e.to_string()))?
            .label(c.label.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(|e| plot_err(e.to_string()))?;
    root.present().map_err(|e| plot_err(e.to_string()))
}

/// Writes a series (values from point `first` on), each point's score below it and its true
/// anomalies (red, when labels are given) to `path` (SVG). Points without a score are left out
/// of the score line.
pub fn series_scores(
    path: &Path,
    title: &str,
    first: usize,
    values: &[f32],
    scores: &[f32],
    labels: Option<&[u8]>,
) -> oddity::Result<()> {
    let plot_err = |e: String| Error::Invalid {
        what: "plot",
        detail: e,
    };
    let range = |v: &mut dyn Iterator<Item = f32>| {
        let (lo, hi) = v
            .filter(|x| x.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
        if lo.is_finite() && hi > lo {
            lo..hi
        } else if lo.is_finite() {
            lo - 1.0..lo + 1.0
        } else {
            0.0..1.0
        }
    };
    let x = first as f32..(first + values.len().max(2) - 1) as f32;
    let root = SVGBackend::new(path, (1200, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
    let (top, bottom) = root.split_vertically(300);
    let panels = [
        (top, values, "value", range(&mut values.iter().copied())),
        (bottom, scores, "score", range(&mut scores.iter().copied())),
    ];
    for (i, (area, ys, what, yr)) in panels.into_iter().enumerate() {
        let mut chart = ChartBuilder::on(&area)
            .caption(
                if i == 0 {
                    format!("{title}: series and true anomalies")
                } else {
                    "anomaly score per point".to_string()
                },
                ("sans-serif", 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(x.clone(), yr)
            .map_err(|e| plot_err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("point")
            .y_desc(what)
            .draw()
            .map_err(|e| plot_err(e.to_string()))?;
        let line: Vec<(f32, f32)> = ys
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(p, &y)| ((first + p) as f32, y))
            .collect();
        chart
            .draw_series(LineSeries::new(line, BLUE.stroke_width(1)))
            .map_err(|e| plot_err(e.to_string()))?;
        if let Some(l) = labels {
            let marks = ys
                .iter()
                .zip(l)
                .enumerate()
                .filter(|(_, (y, l))| **l == 1 && y.is_finite())
                .map(|(p, (&y, _))| Circle::new(((first + p) as f32, y), 2, RED.filled()));
            chart
                .draw_series(marks)
                .map_err(|e| plot_err(e.to_string()))?;
        }
    }
    root.present().map_err(|e| plot_err(e.to_string()))
}
