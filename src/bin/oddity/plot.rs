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
