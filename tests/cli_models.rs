//! Models through the command line: `oddity active --out` keeps every row's final score, the
//! rows asked with their answers and the trained model, which `oddity score` reads to rank the
//! same rows exactly as the run did; the VAE trains with `oddity fit` on the built-in digits
//! and on a CSV file, is saved with a threshold, and `oddity score` flags rows by it.

#[path = "common/bin.rs"]
mod bin;

use bin::{SMALL, oddity};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("oddity-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
    let dir = temp_dir("active-out");
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
    let dir = temp_dir("vae-cli");
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
    std::fs::remove_dir_all(&dir).unwrap();
}
