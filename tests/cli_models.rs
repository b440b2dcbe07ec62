//! Models through the command line: `oddity active --out` keeps every row's final score, the
//! rows asked with their answers and the trained model, which `oddity score` reads to rank the
//! same rows exactly as the run did; the VAE trains with `oddity fit` on the built-in digits
//! and on a CSV file, is saved with a threshold, and `oddity score` flags rows by it.

#[path = "common/bin.rs"]
mod bin;

use bin::{SMALL, fresh_dir, oddity};

/// `data`'s rows as the raw CSV they were scaled from (the digits are whole numbers, so the
/// raw values come back exactly), with the class column.
fn raw_csv(data: &oddity::data::Dataset) -> String {
    let s = &data.schema;
    let class = s.class.as_ref().expect("the digits have a class column");
    let mut t = s.names().join(",") + "," + &class.column + "\n";
    for i in 0..data.rows {
        let row: Vec<String> = data
            .row(i)
            .iter()
            .zip(&s.features)
            .map(|(&x, f)| format!("{}", (f.lo + x * (f.hi - f.lo)).round()))
            .collect();
        let c = data.class.as_ref().unwrap()[i] as usize;
        t += &format!("{},{}\n", row.join(","), class.values[c]);
    }
    t
}

#[test]
fn active_out_keeps_scores_queries_and_a_model_that_score_reads() {
    let dir = fresh_dir("active-out");
    let o = dir.display().to_string();
    let mut args = SMALL.to_vec();
    args.extend(["--model", "dae-uai,class-uai", "--out", &o, "--json"]);
    let (ok, stdout, stderr) = oddity(&args);
    assert!(ok, "{stderr}");
    let runs: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    // The same rows digits0 is made of (seed 0), written as the raw CSV a user would have.
    let data = oddity::data::named("digits0", 0).unwrap();
    let csv = dir.join("digits0-raw.csv");
    std::fs::write(&csv, raw_csv(&data)).unwrap();
    for run in &runs {
        let model = run["model"].as_str().unwrap();
        let path = |what: &str| dir.join(format!("digits0-{model}{what}"));
        // Every row's final score, with the ground truth.
        let scores = std::fs::read_to_string(path("-scores.csv")).unwrap();
        let lines: Vec<&str> = scores.lines().collect();
        assert_eq!(lines[0], "row,score,anomaly");
        assert_eq!(lines.len(), 1 + data.rows, "{model}");
        // The rows asked, in order, with their answers: as many anomalies as the run found.
        let queries = std::fs::read_to_string(path("-queries.csv")).unwrap();
        let asked: Vec<Vec<&str>> = queries
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        assert_eq!(queries.lines().next(), Some("round,rank,row,score,answer"));
        assert_eq!(asked.len(), 12, "{model}: the budget's rows");
        let anomalies = asked.iter().filter(|r| r[4] == "anomaly").count();
        assert_eq!(anomalies as u64, run["found"].as_u64().unwrap(), "{model}");
        for r in &asked {
            let row: usize = r[2].parse().unwrap();
            let truth = data.anomaly.as_ref().unwrap()[row];
            assert_eq!(
                r[4] == "anomaly",
                truth == 1,
                "{model}: row {row} answered {}",
                r[4]
            );
        }
        // The saved model ranks the same rows exactly as the run's last round did.
        let model_file = path(".safetensors").display().to_string();
        let out = dir
            .join(format!("{model}-rescored.csv"))
            .display()
            .to_string();
        let (ok, _, stderr) = oddity(&[
            "score",
            "--model-file",
            &model_file,
            "--data",
            csv.to_str().unwrap(),
            "--out",
            &out,
        ]);
        assert!(ok, "{model}: {stderr}");
        let rescored = std::fs::read_to_string(&out).unwrap();
        let scores_of = |text: &str| -> Vec<String> {
            text.lines()
                .skip(1)
                .map(|l| l.split(',').nth(1).unwrap().to_string())
                .collect()
        };
        assert_eq!(scores_of(&rescored), scores_of(&scores), "{model}");
    }
    // Class_uai needs each row's class: a file without the class column is refused, by name.
    let no_class = dir.join("no-class.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let cut: String = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    std::fs::write(&no_class, cut).unwrap();
    let model_file = dir.join("digits0-class-uai.safetensors");
    let (ok, _, stderr) = oddity(&[
        "score",
        "--model-file",
        model_file.to_str().unwrap(),
        "--data",
        no_class.to_str().unwrap(),
    ]);
    assert!(
        !ok && stderr.contains("class-uai predicts each row's class"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_vae_fits_saves_and_scores_from_the_command_line() {
    let dir = fresh_dir("vae-cli");
    let built_in = dir.join("digits.safetensors").display().to_string();
    let (ok, out, err) = oddity(&[
        "fit",
        "--model",
        "vae",
        "--dataset",
        "digits-abc",
        "--max-epochs",
        "3",
        "--seed",
        "2",
        "--save",
        &built_in,
        "--json",
    ]);
    assert!(ok, "{err}");
    let fit: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(fit["model"], "vae");
    assert_eq!(fit["epochs"], 3);
    let auroc = fit["unknown_auroc"].as_f64().unwrap();
    assert!(auroc > 0.5, "unknown AUROC {auroc}: {fit}");
    // From a CSV file, with a threshold flagging 10% of the training rows.
    let mut t = String::from("a,b,c,d,label\n");
    for i in 0..200u32 {
        let bad = i % 10 == 0;
        let u = (i as f32 * 0.37).sin();
        let row = if bad {
            [(i % 7) as f32, 9.0 - (i % 5) as f32, (i % 3) as f32, 5.0]
        } else {
            [u, 2.0 * u, 1.0 - u, 0.5 * u]
        };
        let row: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        t += &format!("{},{}\n", row.join(","), if bad { "odd" } else { "ok" });
    }
    let csv = dir.join("rows.csv");
    std::fs::write(&csv, t).unwrap();
    let csv = csv.display().to_string();
    let model = dir.join("csv.safetensors").display().to_string();
    let labels = ["--label-col", "label", "--anomaly-label", "odd"];
    let mut args = vec!["fit", "--model", "vae", "--train", &csv];
    args.extend(labels);
    args.extend([
        "--max-epochs",
        "5",
        "--contamination",
        "0.1",
        "--save",
        &model,
        "--json",
    ]);
    let (ok, out, err) = oddity(&args);
    assert!(ok, "{err}");
    let fit: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let threshold = fit["threshold"].as_f64().expect("a threshold");
    assert!(
        out.contains("contamination 0.1 of the training rows"),
        "{out}"
    );
    let scores = dir.join("scores.csv").display().to_string();
    let mut args = vec!["score", "--model-file", &model, "--data", &csv];
    args.extend(labels);
    args.extend(["--out", &scores, "--json"]);
    let (ok, out, err) = oddity(&args);
    assert!(ok, "{err}");
    let score: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(score["model"], "vae");
    let written = std::fs::read_to_string(&scores).unwrap();
    assert!(written.starts_with("row,score,flagged\n"), "{written}");
    let flagged: Vec<(f64, bool)> = written
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[2] == "1")
        })
        .collect();
    assert_eq!(flagged.len(), 200);
    for (s, f) in &flagged {
        assert_eq!(
            *f,
            *s >= threshold,
            "score {s} against threshold {threshold}"
        );
    }
    assert_eq!(
        score["flagged"].as_u64().unwrap() as usize,
        flagged.iter().filter(|(_, f)| *f).count()
    );
    // --standardise reaches the model: the same fit with and without it differs, and with it
    // the saved model scores the file as the fit did.
    let threshold_of = |standardise: bool| {
        let saved = dir.join(format!("std-{standardise}.safetensors"));
        let saved = saved.display().to_string();
        let mut args = vec!["fit", "--model", "ae", "--data", &csv, "--max-epochs", "3"];
        args.extend(labels);
        args.extend(["--save", &saved, "--json"]);
        if standardise {
            args.push("--standardise");
        }
        let (ok, out, err) = oddity(&args);
        assert!(ok, "{err}");
        let fit: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        let (ok, out, err) = oddity(&["score", "--model-file", &saved, "--data", &csv, "--json"]);
        assert!(ok, "{err}");
        let score: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        assert_eq!(
            score["flagged"], fit["flagged"],
            "standardise {standardise}"
        );
        fit["threshold"].as_f64().unwrap()
    };
    assert_ne!(threshold_of(true), threshold_of(false));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `oddity fit --data`: an unsupervised detector on a CSV file, labels only for evaluation,
/// with each threshold rule; the metrics, the histogram, the saved threshold that `oddity
/// score` flags by; and the clear errors.
#[test]
fn fit_on_data_without_labels_sets_thresholds_and_reports_metrics() {
    use rand::{RngExt, SeedableRng};
    let dir = fresh_dir("fit-data");
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut csv = String::from("a,b,c,label\n");
    for r in 0..400 {
        let bad = r % 20 == 7;
        let v: Vec<f32> = (0..3)
            .map(|_| rng.random::<f32>() + if bad { 2.5 } else { 0.0 })
            .collect();
        csv.push_str(&format!("{},{},{},{}\n", v[0], v[1], v[2], u8::from(bad)));
    }
    let data = dir.join("d.csv");
    std::fs::write(&data, csv).unwrap();
    let d = data.to_str().unwrap();
    let model = dir.join("m.safetensors");
    let m = model.to_str().unwrap();
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--model",
            "iforest",
            "--data",
            d,
            "--label-col",
            "label",
        ];
        args.extend(extra);
        oddity(&args)
    };
    // PyOD's default: contamination 0.1 of every row.
    let (ok, out, err) = fit(&["--json", "--save", m]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(v["flagged"], 40, "{v}");
    assert!(v["auroc"].as_f64().unwrap() > 0.95, "{v}");
    assert_eq!(v["n"], 20);
    let p = v["precision_at_n"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&p), "{v}");
    assert!(v["at_threshold"]["recall"].as_f64().unwrap() > 0.9, "{v}");
    assert!(
        out.contains("<- threshold") && out.contains("+ anomaly"),
        "{out}"
    );
    // The saved threshold is the one `oddity score` flags by.
    let (ok, out, err) = oddity(&[
        "score",
        "--model-file",
        m,
        "--data",
        d,
        "--label-col",
        "label",
        "--json",
    ]);
    assert!(ok, "{err}");
    let s: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(s["flagged"], 40, "{s}");
    // A percentile of the held-out normal rows, and a given value.
    let (ok, out, err) = fit(&["--threshold-percentile", "99", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let flagged = v["flagged"].as_u64().unwrap();
    assert!((15..=60).contains(&flagged), "{v}");
    let (ok, out, err) = fit(&["--threshold", "2", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (v["threshold"].as_f64(), v["flagged"].as_u64()),
        (Some(2.0), Some(0))
    );
    // Without labels: no metrics, the histogram all the same.
    let (ok, out, err) = oddity(&["fit", "--model", "iforest", "--data", d, "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(v["auroc"].is_null() && out.contains("(# rows)"), "{out}");
    for (extra, want) in [
        (&["--contamination", "0"][..], "outside (0, 0.5]"),
        (&["--contamination", "0.6"][..], "outside (0, 0.5]"),
        (
            &["--contamination", "0.1", "--threshold", "1"][..],
            "give one of",
        ),
        (&["--threshold-percentile", "101"][..], "outside [0, 100]"),
    ] {
        let (ok, _, err) = fit(extra);
        assert!(!ok && err.contains(want), "{extra:?}: {err}");
    }
    // The one-class SVM's nu and gamma from the command line: nu bounds the share of training
    // rows outside the support (about a tenth at 0.1: 40 of 400); a value out of range
    // reaches the model and is refused by name.
    let ocsvm = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--model",
            "ocsvm",
            "--data",
            d,
            "--label-col",
            "label",
        ];
        args.extend(extra);
        oddity(&args)
    };
    let (ok, out, err) = ocsvm(&[
        "--nu",
        "0.1",
        "--gamma",
        "0.5",
        "--threshold",
        "0",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let outside = v["flagged"].as_u64().unwrap();
    assert!(
        (30..=50).contains(&outside),
        "{outside} rows outside at nu 0.1: {v}"
    );
    for (extra, want) in [
        (&["--nu", "1.5"][..], "nu must be in (0, 1]"),
        (&["--gamma", "0"][..], "gamma must be positive"),
        (&["--solver", "smo"][..], "one of auto, exact, fourier"),
    ] {
        let (ok, _, err) = ocsvm(extra);
        assert!(!ok && err.contains(want), "{extra:?}: {err}");
    }
    // --solver fourier takes the approximation on a set the exact solver would take: it
    // trains at least OCSVM_MIN_STEPS steps, where the exact solver reports its iterations.
    let steps = |extra: &[&str]| {
        let mut all = vec!["--json"];
        all.extend(extra);
        let (ok, out, err) = ocsvm(&all);
        assert!(ok, "{extra:?}: {err}");
        let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
        v["steps"]
            .as_u64()
            .unwrap_or_else(|| panic!("no steps in {v}"))
    };
    let (exact, fourier) = (
        steps(&["--solver", "exact"]),
        steps(&["--solver", "fourier"]),
    );
    assert!(
        exact < u64::from(oddity::models::OCSVM_MIN_STEPS)
            && fourier >= u64::from(oddity::models::OCSVM_MIN_STEPS),
        "exact {exact} SMO iterations, fourier {fourier} steps"
    );
    // DAGMM's components from the command line, out of range refused by name.
    let (ok, _, err) = oddity(&[
        "fit",
        "--model",
        "dagmm",
        "--data",
        d,
        "--label-col",
        "label",
        "--components",
        "17",
    ]);
    assert!(!ok && err.contains("17 components"), "{err}");
    let (ok, _, err) = oddity(&[
        "fit",
        "--model",
        "abc-ae",
        "--data",
        d,
        "--label-col",
        "label",
    ]);
    assert!(!ok && err.contains("abc-ae learns from labels"), "{err}");
    let (ok, _, err) = oddity(&[
        "fit",
        "--model",
        "ae",
        "--dataset",
        "toy2d",
        "--threshold",
        "1",
    ]);
    assert!(!ok && err.contains("go with --data"), "{err}");
    // The iterative detector's options reach its saved configuration; a bad one is refused
    // by name.
    let saved = dir.join("iterative.safetensors").display().to_string();
    let iterative = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--model",
            "iterative-ae",
            "--data",
            d,
            "--label-col",
            "label",
            "--components",
            "3",
            "--max-epochs",
            "2",
        ];
        args.extend(extra);
        oddity(&args)
    };
    let (ok, _, err) = iterative(&[
        "--clustering",
        "gmm",
        "--p0",
        "20",
        "--p",
        "5",
        "--rounds",
        "2",
        "--error",
        "squared",
        "--save",
        &saved,
    ]);
    assert!(ok, "{err}");
    let file = oddity::models::ModelFile::read(std::path::Path::new(&saved)).unwrap();
    let c = &file.config;
    assert_eq!(
        (
            &c["clustering"],
            &c["p0"],
            &c["p"],
            &c["rounds"],
            &c["error"]
        ),
        (
            &serde_json::json!("gmm"),
            &serde_json::json!(20.0),
            &serde_json::json!(5.0),
            &serde_json::json!(2),
            &serde_json::json!("squared")
        ),
        "{c}"
    );
    for (extra, want) in [
        (&["--clustering", "dbscan"][..], "one of kmeans, gmm"),
        (&["--error", "l1"][..], "one of angle, squared"),
        (&["--p", "100"][..], "p0 and p are the percent"),
        (&["--rounds", "0"][..], "--rounds"),
    ] {
        let (ok, _, err) = iterative(extra);
        assert!(!ok && err.contains(want), "{extra:?}: {err}");
    }
    // DA3D's image shape: a shape that is not the rows' width, or not numbers, is refused by
    // name; rows of three values as 1 x 1 x 3 images train a conv A3.
    let da3d = |extra: &[&str]| {
        let mut args = vec!["fit", "--model", "a3", "--data", d, "--label-col", "label"];
        args.extend(extra);
        oddity(&args)
    };
    let (ok, _, err) = da3d(&["--image", "2x2"]);
    assert!(
        !ok && err.contains("1x2x2 images have 4 values a row") && err.contains("3 columns"),
        "{err}"
    );
    let (ok, _, err) = da3d(&["--image", "1,0,3"]);
    assert!(!ok && err.contains("C,H,W or HxW"), "{err}");
    let (ok, out, err) = da3d(&[
        "--image",
        "1,1,3",
        "--hidden",
        "4,2",
        "--max-epochs",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    let fit: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(fit["auroc"].as_f64().is_some(), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}
