//! `oddity fit --series` through the command line: seq2seq and PCA on a sine's windows with a
//! training part (the first points, or a training file), the per-point scores file, the
//! picture and the saved model; and each bad input refused with its line, column or flag.

#[path = "common/bin.rs"]
#[allow(dead_code)]
mod bin;

use bin::{fresh_dir, oddity};

/// A sine of period 25, a flat stretch at 420..440 and a spike at 520..526 (labelled), as the
/// lines of a `value,label` file after its header, from point `from` to `to`.
fn sine(from: usize, to: usize) -> String {
    let mut text = String::from("value,label\n");
    for i in from..to {
        let mut v = (2.0 * std::f64::consts::PI * i as f64 / 25.0).sin();
        v += 0.05 * ((i * 7919 % 101) as f64 / 50.0 - 1.0);
        let flat = (420..440).contains(&i);
        let spike = (520..526).contains(&i);
        if flat {
            v = 0.0;
        }
        if spike {
            v += 1.2;
        }
        text.push_str(&format!("{v:.5},{}\n", u8::from(flat || spike)));
    }
    text
}

#[test]
fn seq2seq_and_pca_on_a_series_write_scores_a_picture_and_a_model() {
    let dir = fresh_dir("series");
    let path = |f: &str| dir.join(f).display().to_string();
    std::fs::write(path("sine.csv"), sine(0, 600)).unwrap();
    let (scores, picture, model) = (path("scores.csv"), path("sine.svg"), path("m.safetensors"));
    let file = path("sine.csv");
    let fit = |model: &str, extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--model",
            model,
            "--series",
            &file,
            "--value-col",
            "value",
            "--label-col",
            "label",
        ];
        args.extend(extra);
        if !extra.contains(&"--window") {
            args.extend(["--window", "16"]);
        }
        oddity(&args)
    };
    let (ok, out, err) = fit(
        "seq2seq",
        &[
            "--train-points",
            "300",
            "--hidden",
            "8",
            "--batch",
            "16",
            "--lr",
            "0.01",
            "--max-epochs",
            "20",
            "--scores-out",
            &scores,
            "--plot",
            &picture,
            "--save",
            &model,
            "--json",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(v["auroc"].as_f64().unwrap() > 0.9, "{v}");
    assert_eq!(
        (v["train_windows"].as_u64(), v["scored_windows"].as_u64()),
        (Some(285), Some(285))
    );
    // One line a scored point (300..600), its value, score and label.
    let text = std::fs::read_to_string(&scores).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "point,value,score,label");
    assert_eq!(lines.len(), 301);
    assert!(lines[1].starts_with("300,") && lines[300].starts_with("599,"));
    assert!(
        lines[121].starts_with("420,") && lines[121].ends_with(",1"),
        "{}",
        lines[121]
    );
    let svg = std::fs::read_to_string(&picture).unwrap();
    assert!(svg.contains("<svg") && svg.contains("anomaly score per point"));
    assert!(std::fs::metadata(&model).unwrap().len() > 0);
    // PCA on the same windows, trained on a training file instead.
    std::fs::write(path("train.csv"), sine(0, 300)).unwrap();
    std::fs::write(path("test.csv"), sine(300, 600)).unwrap();
    let (train, test) = (path("train.csv"), path("test.csv"));
    let (ok, out, err) = oddity(&[
        "fit",
        "--model",
        "pca",
        "--series",
        &test,
        "--train-series",
        &train,
        "--value-col",
        "value",
        "--label-col",
        "label",
        "--window",
        "16",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(v["auroc"].as_f64().unwrap() > 0.8, "{v}");
    assert!(err.contains("600 points (300 train, 300 scored)"), "{err}");

    // Bad input: each refused by name.
    std::fs::write(path("bad.csv"), "value,label\n0.5,0\n0.7,0\nabc,0\n").unwrap();
    std::fs::write(path("labels.txt"), "0\n1\n").unwrap();
    let (bad, labels) = (path("bad.csv"), path("labels.txt"));
    for (model, extra, want) in [
        ("pca", &["--window", "0"][..], "a window of 0 points"),
        (
            "pca",
            &["--window", "700"][..],
            "(600 of them) are fewer than one window of 700",
        ),
        ("pca", &["--train-points", "600"][..], "--train-points"),
        ("abc-ae", &[][..], "learns from labels"),
    ] {
        let (ok, _, err) = fit(model, extra);
        assert!(!ok && err.contains(want), "{extra:?}: {err}");
    }
    let (ok, _, err) = oddity(&[
        "fit",
        "--model",
        "pca",
        "--series",
        &bad,
        "--value-col",
        "value",
        "--window",
        "2",
    ]);
    assert!(
        !ok && err.contains("line 4, column \"value\": \"abc\" is not a finite number"),
        "{err}"
    );
    let (ok, _, err) = oddity(&[
        "fit",
        "--model",
        "pca",
        "--series",
        &file,
        "--value-col",
        "value",
        "--labels-file",
        &labels,
        "--window",
        "16",
    ]);
    assert!(
        !ok && err.contains("2 labels for a series of 600 points"),
        "{err}"
    );
    // A stride past the window is allowed, and said.
    let (ok, _, err) = fit("pca", &["--stride", "20"]);
    assert!(
        ok && err.contains("4 points between windows get no score"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
