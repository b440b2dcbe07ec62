//! Time series: reading value and label columns (bad values named by line and column), the
//! scaling fitted on the training points alone, windows and their labels, each point's mean
//! score over the windows covering it, the refusals (a window or stride of 0, a series
//! shorter than a window, labels of another length); then the seq2seq detector on a sine with
//! a flat stretch and a spike: it ranks the anomalous points first, the same seed gives the
//! same scores bit for bit and its file scores the same.

mod common;

use common::*;
use oddity::data::series::{Series, SeriesOptions, Windowing};
use oddity::models::{Detector, Seq2seq, Seq2seqConfig};

fn opts(values: &[&str], label: Option<&str>) -> SeriesOptions {
    SeriesOptions {
        values: values.iter().map(|s| s.to_string()).collect(),
        label: label.map(str::to_string),
        ..SeriesOptions::default()
    }
}

#[test]
fn windows_labels_scaling_and_point_scores() {
    // Ten points of two columns (b = 10 a), one anomalous point (7).
    let mut text = String::from("t,a,b,y\n");
    for i in 0..10 {
        text.push_str(&format!("{i},{},{},{}\n", i, 10 * i, u8::from(i == 7)));
    }
    let s = Series::from_bytes(text.as_bytes(), "ten.csv", &opts(&["a", "b"], Some("y"))).unwrap();
    assert_eq!((s.points, s.name.as_str()), (10, "ten"));
    // Scaling on points 0..5: a in [0, 4], b in [0, 40]; point 9 maps past 1.
    let scaling = s.scaling(0..5).unwrap();
    let w = s
        .windows(0..10, Windowing { size: 4, stride: 3 }, &scaling)
        .unwrap();
    assert_eq!(w.starts, vec![0, 3, 6]);
    assert_eq!((w.data.rows, w.data.cols), (3, 8));
    // The last window, step by step: (a, b) of points 6..10, each over its training range.
    let want: Vec<f32> = (6..10).flat_map(|i| [i as f32 / 4.0; 2]).collect();
    assert_eq!(w.data.row(2), &want[..]);
    assert_eq!(w.data.anomaly.as_deref(), Some(&[0, 0, 1][..]));
    // Point scores: the mean over the windows covering each point.
    let p = w.point_scores(&[1.0, 2.0, 4.0]).unwrap();
    assert_eq!(p, vec![1.0, 1.0, 1.0, 1.5, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0]);
    // A stride that does not reach the end gets a last window ending there.
    let w = s
        .windows(2..10, Windowing { size: 4, stride: 3 }, &scaling)
        .unwrap();
    assert_eq!(w.starts, vec![2, 5, 6]);
    // A stride past the window leaves points unscored, and says so.
    let gap = Windowing { size: 3, stride: 5 };
    assert!(
        gap.note()
            .unwrap()
            .contains("2 points between windows get no score")
    );
    let w = s.windows(0..10, gap, &scaling).unwrap();
    assert_eq!(w.starts, vec![0, 5]);
    let p = w.point_scores(&[1.0, 2.0]).unwrap();
    assert!(p[3].is_nan() && p[4].is_nan() && p[8].is_nan() && p[9].is_nan());
    assert_eq!(&p[..3], &[1.0; 3]);
    // A training series followed by a test series.
    let both = s.clone().then(&s).unwrap();
    assert_eq!(both.points, 20);
    assert_eq!(both.labels.as_ref().unwrap()[17], 1);
}

#[test]
fn bad_series_are_refused_by_name() {
    let read = |text: &str, o: &SeriesOptions| {
        Series::from_bytes(text.as_bytes(), "s.csv", o)
            .unwrap_err()
            .to_string()
    };
    let o = opts(&["v"], Some("y"));
    for (text, want) in [
        (
            "v,y\n1,0\nx,0\n",
            "line 3, column \"v\": \"x\" is not a finite number",
        ),
        (
            "v,y\n1,0\n,0\n",
            "line 3, column \"v\": the value is missing",
        ),
        ("v,y\n1,0\ninf,0\n", "\"inf\" is not a finite number"),
        (
            "v,y\n1,0\n2,2\n",
            "line 3, column \"y\": label \"2\" is neither 0 nor 1",
        ),
        ("w,y\n1,0\n", "no value column \"v\" (columns: w, y)"),
        ("v,y\n", "the file is empty"),
    ] {
        let e = read(text, &o);
        assert!(e.contains(want), "{text:?}: {e}");
    }
    let s = Series::from_bytes(b"v,y\n1,0\n2,0\n3,1\n", "s.csv", &o).unwrap();
    let scaling = s.scaling(0..3).unwrap();
    for (w, want) in [
        (Windowing { size: 0, stride: 1 }, "a window of 0 points"),
        (
            Windowing { size: 2, stride: 0 },
            "every 0 points: both must be at least 1",
        ),
        (
            Windowing { size: 4, stride: 1 },
            "(3 of them) are fewer than one window of 4",
        ),
    ] {
        let e = s.windows(0..3, w, &scaling).unwrap_err().to_string();
        assert!(e.contains(want), "{w:?}: {e}");
    }
    let e = s.clone().with_labels(vec![0; 4]).unwrap_err().to_string();
    assert!(e.contains("4 labels for a series of 3 points"), "{e}");
    let e = s.scaling(0..4).unwrap_err().to_string();
    assert!(e.contains("training points 0..4 of a series of 3"), "{e}");
}

/// A sine of period 25 with noise, a flat stretch at points 420..440 and a spike at 520..526
/// (the anomalies); the labels.
fn sine(rng: &mut rand::rngs::StdRng) -> Series {
    let noise = randn(rng, 600, 0.05);
    let mut text = String::from("value,label\n");
    for (i, e) in noise.iter().enumerate() {
        let mut v = (2.0 * std::f32::consts::PI * i as f32 / 25.0).sin() + e;
        let flat = (420..440).contains(&i);
        let spike = (520..526).contains(&i);
        if flat {
            v = 0.0;
        }
        if spike {
            v += 1.2;
        }
        text.push_str(&format!("{v},{}\n", u8::from(flat || spike)));
    }
    Series::from_bytes(
        text.as_bytes(),
        "sine.csv",
        &opts(&["value"], Some("label")),
    )
    .unwrap()
}

#[test]
fn seq2seq_ranks_a_sines_anomalies_first() {
    let gpu = gpu();
    let s = sine(&mut rng());
    let scaling = s.scaling(0..300).unwrap();
    let w = Windowing {
        size: 16,
        stride: 1,
    };
    let mut train = s.windows(0..300, w, &scaling).unwrap().data;
    train.anomaly = None;
    let test = s.windows(300..600, w, &scaling).unwrap();
    let config = Seq2seqConfig {
        inputs: 16,
        steps: 16,
        hidden: 8,
        batch: 16,
        lr: 1e-2,
        max_epochs: 20,
        patience: 20,
        seed: 0,
    };
    let mut det = Seq2seq::new(&gpu, config.clone()).unwrap();
    let report = det.fit(&train).unwrap();
    let scores = det.score(&test.data).unwrap();
    let points = test.point_scores(&scores).unwrap();
    let labels = &s.labels.as_ref().unwrap()[300..];
    let au = oddity::metrics::auroc(&points, labels).unwrap();
    let ap = oddity::metrics::average_precision(&points, labels).unwrap();
    eprintln!(
        "{} epochs (best {}): AUROC {au:.4} AP {ap:.4}",
        report.epochs, report.best_epoch
    );
    assert!(au > 0.95 && ap > 0.6, "AUROC {au}, AP {ap}");
    // The same seed, the same scores; the file scores the same.
    let mut again = Seq2seq::new(&gpu, config.clone()).unwrap();
    again.fit(&train).unwrap();
    assert!(same_bits(&again.score(&test.data).unwrap(), &scores));
    let back = reloaded(&gpu, &det);
    assert!(same_bits(&back.score(&test.data).unwrap(), &scores));
    // Rows that are not whole steps are refused.
    let e = Seq2seq::new(&gpu, Seq2seqConfig { steps: 5, ..config })
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("rows of 16 values are not 5 steps"), "{e}");
}
