//! `oddity fit --series`: a detector on a time series' sliding windows. The scaling is fitted
//! on the training points only; the detector trains on their windows (labels unread), scores
//! the windows of the points evaluated, and each point gets the mean score of the windows that
//! cover it. With labels: AUROC, AP and the best F1 over the points (and over the windows,
//! a window anomalous when any of its points is).

use std::ops::Range;
use std::time::Instant;

use crate::fit::{SeriesArgs, shown};
use oddity::data::series::{Series, SeriesOptions, Windowing};
use oddity::metrics::{auroc, average_precision, best_f1_threshold};
use oddity::models::{DataShape, Detector, FitReport, Settings, registry};
use oddity::{Error, Gpu};

/// A series and which of its points train and which are scored.
pub struct SeriesTask {
    pub series: Series,
    pub train: Range<usize>,
    pub eval: Range<usize>,
    pub windowing: Windowing,
}

/// A detector's result on a series.
#[derive(serde::Serialize)]
pub struct SeriesResult {
    pub model: String,
    /// Each scored point's score (NaN where no window covers it).
    #[serde(skip)]
    pub points: Vec<f32>,
    pub auroc: Option<f64>,
    pub ap: Option<f64>,
    pub best_f1: Option<f64>,
    pub window_auroc: Option<f64>,
    pub window_ap: Option<f64>,
    pub train_windows: usize,
    pub scored_windows: usize,
    pub epochs: u32,
    pub seconds: f64,
}

impl SeriesTask {
    /// The task `s` describes (files read, ranges checked).
    pub fn from_args(
        s: &SeriesArgs,
        labels: &crate::fit::Labels,
        delimiter: Option<u8>,
    ) -> oddity::Result<SeriesTask> {
        let path = s.series.as_ref().ok_or_else(|| Error::Invalid {
            what: "series",
            detail: "no --series file".into(),
        })?;
        let opts = SeriesOptions {
            values: s.value_col.clone(),
            label: labels.label_col.clone(),
            anomaly_label: labels.anomaly_label.clone(),
            delimiter,
        };
        let mut series = Series::from_csv(path, &opts)?;
        if let Some(f) = &s.labels_file {
            series = series.with_labels(Series::labels_from_file(f)?)?;
        }
        let windowing = Windowing {
            size: s.window,
            stride: s.stride.unwrap_or(1),
        };
        match (&s.train_series, s.train_points) {
            (Some(t), _) => {
                let opts = SeriesOptions {
                    label: None,
                    ..opts
                };
                SeriesTask::after(Series::from_csv(t, &opts)?, &series, windowing)
            }
            (None, Some(n)) => SeriesTask::first(series, n, windowing),
            (None, None) => {
                let all = 0..series.points;
                Ok(SeriesTask {
                    series,
                    train: all.clone(),
                    eval: all,
                    windowing,
                })
            }
        }
    }

    /// `train` followed by `test` (the same columns): the first trains, the second is scored.
    pub fn after(train: Series, test: &Series, windowing: Windowing) -> oddity::Result<SeriesTask> {
        let n = train.points;
        let series = train.then(test)?;
        let end = series.points;
        Ok(SeriesTask {
            series,
            train: 0..n,
            eval: n..end,
            windowing,
        })
    }

    /// The first `n` points of `series` train, the rest are scored; refused unless both parts
    /// hold a point.
    pub fn first(series: Series, n: usize, windowing: Windowing) -> oddity::Result<SeriesTask> {
        if n == 0 || n >= series.points {
            return Err(Error::Invalid {
                what: "--train-points",
                detail: format!(
                    "{n} of a series of {} points: leave at least one point to train and one \
                     to score",
                    series.points
                ),
            });
        }
        let end = series.points;
        Ok(SeriesTask {
            series,
            train: 0..n,
            eval: n..end,
            windowing,
        })
    }

    /// Draws the scored points' first column, their `points` scores and true anomalies to
    /// `path` (SVG) under `title`.
    pub fn draw(&self, path: &std::path::Path, title: &str, points: &[f32]) -> oddity::Result<()> {
        let c = self.series.columns.len();
        let values: Vec<f32> = self
            .eval
            .clone()
            .map(|p| self.series.values[p * c])
            .collect();
        crate::plot::series_scores(
            path,
            title,
            self.eval.start,
            &values,
            points,
            self.eval_labels(),
        )
    }

    /// The labels of the scored points.
    pub fn eval_labels(&self) -> Option<&[u8]> {
        self.series.labels.as_ref().map(|l| &l[self.eval.clone()])
    }

    /// Trains registry detector `model` on the training points' windows with `settings` (the
    /// window added) and scores the evaluated points; the model too.
    pub fn run(
        &self,
        gpu: &Gpu,
        model: &str,
        settings: &Settings,
    ) -> oddity::Result<(SeriesResult, Box<dyn Detector>)> {
        let scaling = self.series.scaling(self.train.clone())?;
        let train = self
            .series
            .windows(self.train.clone(), self.windowing, &scaling)?;
        let eval = self
            .series
            .windows(self.eval.clone(), self.windowing, &scaling)?;
        let entry = registry::detector(model)?;
        let settings = Settings {
            window: Some(self.windowing.size as u32),
            ..settings.clone()
        };
        let t0 = Instant::now();
        let mut det =
            entry.build_with(gpu, entry.config(&DataShape::of(&train.data), &settings)?)?;
        // Labels are never shown to a detector (a supervised one would drop the anomalous
        // windows).
        let mut unlabelled = train.data.clone();
        unlabelled.anomaly = None;
        let fit: FitReport = det.fit(&unlabelled)?;
        let scores = det.score(&eval.data)?;
        let points = eval.point_scores(&scores)?;
        let seconds = t0.elapsed().as_secs_f64();
        let none = (None, None, None);
        let (auroc_, ap, best_f1) = match self.eval_labels() {
            Some(l) => point_metrics(&points, l)?,
            None => none,
        };
        let (window_auroc, window_ap, _) = match &eval.data.anomaly {
            Some(l) => metrics(&scores, l)?,
            None => none,
        };
        Ok((
            SeriesResult {
                model: model.to_string(),
                points,
                auroc: auroc_,
                ap,
                best_f1,
                window_auroc,
                window_ap,
                train_windows: train.data.rows,
                scored_windows: eval.data.rows,
                epochs: fit.epochs,
                seconds,
            },
            det,
        ))
    }
}

type Metrics = (Option<f64>, Option<f64>, Option<f64>);

/// AUROC, AP and the best F1 of `scores`; None without an anomaly or a normal row.
fn metrics(scores: &[f32], labels: &[u8]) -> oddity::Result<Metrics> {
    let anomalies = labels.iter().filter(|&&v| v == 1).count();
    if anomalies == 0 || anomalies == labels.len() {
        return Ok((None, None, None));
    }
    Ok((
        Some(auroc(scores, labels)?),
        Some(average_precision(scores, labels)?),
        Some(best_f1_threshold(scores, labels)?.f1),
    ))
}

/// [`metrics`] over the points a window covers (their score is not NaN).
fn point_metrics(points: &[f32], labels: &[u8]) -> oddity::Result<Metrics> {
    let (s, l): (Vec<f32>, Vec<u8>) = points
        .iter()
        .zip(labels)
        .filter(|(s, _)| !s.is_nan())
        .map(|(&s, &l)| (s, l))
        .unzip();
    metrics(&s, &l)
}

/// `oddity fit --series`.
pub fn run(a: &crate::fit::Args) -> oddity::Result<()> {
    let s = &a.series;
    registry::detector(&a.model)?;
    for (flag, path) in [
        ("--save", &a.save),
        ("--scores-out", &s.scores_out),
        ("--plot", &s.plot),
    ] {
        if let Some(p) = path {
            crate::checks::output_file(flag, p)?;
        }
    }
    let task = SeriesTask::from_args(s, &a.labels, a.format.delimiter)?;
    if let Some(note) = task.windowing.note() {
        eprintln!("note: {note}");
    }
    let gpu = Gpu::new()?;
    let adapter = gpu.adapter_name();
    eprintln!(
        "{}: {} points ({} train, {} scored), windows of {} every {}; {} on {adapter}",
        task.series.name,
        task.series.points,
        task.train.len(),
        task.eval.len(),
        task.windowing.size,
        task.windowing.stride,
        a.model
    );
    let (r, model) = task.run(&gpu, &a.model, &a.settings())?;
    outln!(
        "{}: points AUROC {} AP {} best F1 {}; windows AUROC {} AP {}; {} training windows, {} scored, {} epochs, {:.1} s",
        a.model,
        shown(r.auroc),
        shown(r.ap),
        shown(r.best_f1),
        shown(r.window_auroc),
        shown(r.window_ap),
        r.train_windows,
        r.scored_windows,
        r.epochs,
        r.seconds
    );
    if let Some(path) = &s.scores_out {
        write_scores(path, &task, &r.points)?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &s.plot {
        task.draw(
            path,
            &format!("{} ({})", task.series.name, a.model),
            &r.points,
        )?;
        eprintln!("drew {}", path.display());
    }
    if let Some(path) = &a.save {
        model.save(path)?;
        eprintln!("saved {}", path.display());
    }
    if a.json {
        let mut v = serde_json::to_value(&r).map_err(|e| Error::Invalid {
            what: "json",
            detail: e.to_string(),
        })?;
        v["series"] = task.series.name.clone().into();
        v["adapter"] = adapter.into();
        outln!("{v}");
    }
    Ok(())
}

/// Each scored point: its number, values, score (empty where no window covers it) and label.
pub fn write_scores(
    path: &std::path::Path,
    task: &SeriesTask,
    points: &[f32],
) -> oddity::Result<()> {
    let c = task.series.columns.len();
    let mut text = format!("point,{},score", task.series.columns.join(","));
    if task.series.labels.is_some() {
        text.push_str(",label");
    }
    text.push('\n');
    for (i, p) in task.eval.clone().enumerate() {
        let vals: Vec<String> = task.series.values[p * c..(p + 1) * c]
            .iter()
            .map(f32::to_string)
            .collect();
        let score = if points[i].is_nan() {
            String::new()
        } else {
            points[i].to_string()
        };
        text.push_str(&format!("{p},{},{score}", vals.join(",")));
        if let Some(l) = &task.series.labels {
            text.push_str(&format!(",{}", l[p]));
        }
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| Error::Invalid {
        what: "--scores-out",
        detail: format!("{}: {e}", path.display()),
    })
}
