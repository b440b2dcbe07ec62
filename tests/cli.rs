//! The `oddity active` command: its JSON line, its files, resuming from a journal, and clear
//! errors (never a panic) for bad arguments.

#[path = "common/bin.rs"]
mod bin;

use bin::{SMALL, fresh_dir, oddity};

#[test]
fn active_json_files_and_journal_resume() {
    let dir = fresh_dir("cli");
    let journal = dir.join("labels.jsonl");
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = SMALL.to_vec();
    let (j, o) = (
        journal.to_str().unwrap().to_string(),
        dir.to_str().unwrap().to_string(),
    );
    args.extend([
        "--model",
        "class-uai",
        "--json",
        "--journal",
        &j,
        "--out",
        &o,
    ]);
    let (ok, stdout, stderr) = oddity(&args);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for k in [
        "model",
        "dataset",
        "n",
        "anomalies_total",
        "budget",
        "k",
        "found",
        "curve",
        "seconds",
        "adapter",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(
        (
            v["model"].as_str(),
            v["dataset"].as_str(),
            v["n"].as_u64(),
            v["budget"].as_u64()
        ),
        (Some("class-uai"), Some("digits0"), Some(1637), Some(12))
    );
    assert_eq!(v["curve"].as_array().unwrap().len(), 2);
    assert!(dir.join("digits0-curve.csv").exists() && dir.join("digits0-curve.svg").exists());
    // Resuming a finished run replays the journal and asks nothing new: the same result.
    let (ok, again, stderr) = oddity(&args);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("rounds (12 answers) are replayed before anything new is asked"),
        "a resumed run says so: {stderr}"
    );
    let w: serde_json::Value = serde_json::from_str(again.lines().last().unwrap()).unwrap();
    assert_eq!(v["curve"], w["curve"]);
    // The same journal with another model is refused.
    let mut other = SMALL.to_vec();
    other.extend(["--model", "dae-uai", "--journal", &j]);
    let (ok, _, stderr) = oddity(&other);
    assert!(
        !ok && stderr.contains("was written for another run"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_arguments_are_clear_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["active", "--dataset", "nope"], "unknown dataset \"nope\""),
        (
            &["active", "--dataset", "digits0", "--model", "svm"],
            "unknown active-learning model \"svm\"; one of dae-uai, dae, class-uai, class",
        ),
        (
            &["active", "--dataset", "digits0", "--oracle", "psychic"],
            "use truth, interactive or file:PATH",
        ),
        (
            &["active", "--dataset", "digits0", "--budget", "5000"],
            "more than the 1637 rows",
        ),
        (
            &["active", "--data", "/no/such.csv", "--label-col", "y"],
            "/no/such.csv",
        ),
        (&["active"], "give --dataset NAME or --data FILE.csv"),
        (
            &["active", "--dataset", "digits0", "--pretrain-epochs", "0"],
            "invalid value '0' for '--pretrain-epochs",
        ),
        (
            &["active", "--dataset", "digitsx0"],
            "unknown dataset \"digitsx0\"",
        ),
        // Issue 20: refused up front, before any training.
        (
            &["active", "--dataset", "digits0", "--batch", "100000"],
            "100000 rows per minibatch is more than the 1637 rows of digits0",
        ),
        (
            &[
                "active",
                "--dataset",
                "digits0",
                "--hidden",
                "100000,100000,8",
            ],
            "its largest layer is 100001 x 100000",
        ),
        (
            &[
                "active",
                "--dataset",
                "digits0",
                "--model",
                "dae-uai,dae,dae-uai",
            ],
            "dae-uai is named twice",
        ),
        (
            &[
                "active",
                "--dataset",
                "digits0",
                "--out",
                "/proc/oddity-no/where",
            ],
            "--out /proc/oddity-no/where: cannot write there",
        ),
        (
            &[
                "active",
                "--dataset",
                "digits0",
                "--lr",
                "1e30",
                "--budget",
                "10",
                "--pretrain-steps",
                "20",
                "--active-steps",
                "5",
                "--hidden",
                "16,4",
            ],
            "training diverged: after training steps 1..=25 (round 1)",
        ),
    ];
    for (args, want) in cases {
        let (ok, _, stderr) = oddity(args);
        assert!(!ok, "{args:?} should fail");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let dir = fresh_dir("cli-csv");
    let csv = dir.join("d.csv");
    std::fs::write(&csv, "a,b,y\n1,2,0\n3,x,1\n").unwrap();
    let (ok, _, stderr) = oddity(&[
        "active",
        "--data",
        csv.to_str().unwrap(),
        "--label-col",
        "y",
    ]);
    assert!(!ok && stderr.contains("line 3, column \"b\""), "{stderr}");
    let (ok, _, stderr) = oddity(&[
        "active",
        "--data",
        csv.to_str().unwrap(),
        "--label-col",
        "y",
        "--model",
        "class",
    ]);
    assert!(!ok && stderr.contains("line 3"), "{stderr}");
    std::fs::write(&csv, "a,b,y\n1,2,0\n3,4,1\n").unwrap();
    let (ok, _, stderr) = oddity(&[
        "active",
        "--data",
        csv.to_str().unwrap(),
        "--label-col",
        "y",
        "--model",
        "class",
    ]);
    assert!(!ok && stderr.contains("--class-col"), "{stderr}");
    // No label column and the default oracle: said before any training, not after it.
    let (ok, _, stderr) = oddity(&["active", "--data", csv.to_str().unwrap(), "--budget", "1"]);
    assert!(
        !ok && stderr.contains("the default oracle (truth) answers from the data's labels"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `oddity repro uai`: every seed is the `oddity active` run with that seed (same data, same
/// models, same found count); the JSON carries per-seed results, their summary and the checks.
#[test]
fn repro_uai_is_the_active_runs_summarised() {
    let settings = [
        "--k",
        "6",
        "--pretrain-steps",
        "20",
        "--active-steps",
        "5",
        "--hidden",
        "16,4",
        "--batch",
        "32",
    ];
    let mut args = vec![
        "repro",
        "uai",
        "--datasets",
        "digits0",
        "--seeds",
        "2",
        "--first-seed",
        "3",
        "--models",
        "dae,dae-uai,iforest",
        "--json",
    ];
    args.extend(settings);
    let (ok, stdout, stderr) = oddity(&args);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let r = &v["results"][0];
    assert_eq!(r["dataset"], "digits0");
    assert_eq!(r["budget"], serde_json::json!([36, 36]), "{v}");
    for (i, seed) in ["3", "4"].iter().enumerate() {
        let mut one = vec![
            "active",
            "--dataset",
            "digits0",
            "--model",
            "dae,dae-uai,iforest",
            "--seed",
            seed,
            "--json",
        ];
        one.extend(settings);
        let (ok, out, stderr) = oddity(&one);
        assert!(ok, "{stderr}");
        for line in out.lines().filter(|l| l.starts_with('{')) {
            let a: serde_json::Value = serde_json::from_str(line).unwrap();
            let m = a["model"].as_str().unwrap();
            assert_eq!(
                r["models"][m]["found"][i], a["found"],
                "{m} seed {seed}: {v}"
            );
        }
    }
    let found = |m: &str| -> Vec<f64> {
        r["models"][m]["found"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_f64().unwrap())
            .collect()
    };
    for m in ["dae", "dae-uai", "iforest"] {
        let s = &r["models"][m];
        let found = found(m);
        assert_eq!(s["mean"].as_f64().unwrap(), (found[0] + found[1]) / 2.0);
        assert_eq!(s["min"].as_f64().unwrap(), found[0].min(found[1]));
        assert_eq!(s["max"].as_f64().unwrap(), found[0].max(found[1]));
    }
    // Per seed (within 10% of the 18 anomalies), on the mean, against the forest, and
    // digits0's 70% for DAE_uai: each as the found counts say.
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4, "{v}");
    let (u, b) = (found("dae-uai"), found("dae"));
    let every_seed = u.iter().zip(&b).all(|(u, b)| *u >= b - 1.8);
    assert!(
        checks[0]["check"]
            .as_str()
            .unwrap()
            .contains("on every seed"),
        "{v}"
    );
    assert_eq!(checks[0]["holds"], every_seed, "{v}");
    assert_eq!(checks[1]["holds"], u[0] + u[1] >= b[0] + b[1], "{v}");
    let f = found("iforest");
    assert!(
        checks[2]["check"].as_str().unwrap().contains("iforest"),
        "{v}"
    );
    assert_eq!(checks[2]["holds"], u[0] + u[1] >= f[0] + f[1], "{v}");
    assert_eq!(checks[3]["holds"], (u[0] + u[1]) / 2.0 >= 0.7 * 18.0, "{v}");
    assert!(stdout.contains("checks:"));

    for (args, want) in [
        (
            &["repro", "uai", "--seeds", "0"][..],
            "seeds: must be at least 1",
        ),
        (
            &["repro", "uai", "--datasets", "nope"][..],
            "unknown dataset \"nope\"",
        ),
        (
            &["repro", "uai", "--datasets", "digits0", "--models", "svm"][..],
            "one of dae-uai, dae, class-uai, class",
        ),
    ] {
        let (ok, _, stderr) = oddity(args);
        assert!(!ok && stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn fit_prints_json_and_names_bad_arguments() {
    let (ok, out, err) = oddity(&[
        "fit",
        "--model",
        "abc-ae",
        "--dataset",
        "toy2d",
        "--toy-rows",
        "60",
        "--max-epochs",
        "2",
        "--seed",
        "4",
        "--json",
    ]);
    assert!(ok, "{err}");
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    for key in [
        "model",
        "dataset",
        "known_auroc",
        "unknown_auroc",
        "known_ap",
        "unknown_ap",
        "seconds",
        "adapter",
    ] {
        assert!(last.get(key).is_some(), "{key} missing: {last}");
    }
    // Each epoch is said as it ends (not a terminal here: one line each).
    assert!(err.contains("epoch 1/2: validation loss"), "{err}");
    let auroc = last["known_auroc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auroc), "{auroc}");
    for (args, want) in [
        (
            &["fit", "--model", "svm", "--dataset", "toy2d"][..],
            "unknown detector \"svm\"; one of abc-ae, abc-dae, lrc, ae, dae, dnn",
        ),
        (
            &["fit", "--model", "dnn", "--dataset", "mnist9"][..],
            "unknown dataset \"mnist9\"",
        ),
        (
            &[
                "fit",
                "--model",
                "dnn",
                "--dataset",
                "toy2d",
                "--setting",
                "4",
            ][..],
            "setting",
        ),
        (
            &[
                "fit",
                "--model",
                "dnn",
                "--dataset",
                "toy2d",
                "--toy-rows",
                "3",
            ][..],
            "toy rows",
        ),
        (
            &[
                "fit",
                "--model",
                "dnn",
                "--dataset",
                "toy2d",
                "--max-epochs",
                "0",
            ][..],
            "invalid value '0' for '--max-epochs",
        ),
        (
            &[
                "fit",
                "--model",
                "dnn",
                "--dataset",
                "toy2d",
                "--save",
                "/proc/oddity-no/m.safetensors",
            ][..],
            "--save /proc/oddity-no/m.safetensors: cannot write there",
        ),
    ] {
        let (ok, _, err) = oddity(args);
        assert!(!ok && err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        // Refused before training: no epoch ran.
        assert!(!err.contains("epoch 1/"), "{err}");
    }
}

#[test]
fn fit_on_csv_saves_a_model_that_score_reads_back() {
    let dir = fresh_dir("cli-score");
    let file = |name: &str, rows: std::ops::Range<u32>| {
        let mut t = String::from("x,proto,y,label\n");
        for i in rows {
            let bad = i % 4 == 0;
            let proto = ["tcp", "udp"][(i % 3 % 2) as usize];
            let (x, y) = if bad { (5 + i % 3, 9) } else { (i % 5, i % 7) };
            t += &format!(
                "{x},{proto},{y},{}\n",
                if bad { "attack" } else { "normal" }
            );
        }
        let p = dir.join(name);
        std::fs::write(&p, t).unwrap();
        p.display().to_string()
    };
    let (train, test) = (file("train.csv", 0..80), file("test.csv", 80..120));
    let model = dir.join("m.safetensors").display().to_string();
    let scores = dir.join("s.csv").display().to_string();
    let csv = ["--label-col", "label", "--anomaly-label", "attack"];
    let mut args = vec![
        "fit", "--model", "abc-ae", "--train", &train, "--test", &test,
    ];
    args.extend(csv);
    args.extend(["--max-epochs", "2", "--save", &model, "--json"]);
    let (ok, out, err) = oddity(&args);
    assert!(ok, "{err}");
    let fit: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(
        fit["unknown_auroc"].is_null(),
        "a CSV split has no unknown anomalies: {fit}"
    );
    let mut args = vec!["score", "--model-file", &model, "--data", &test];
    args.extend(csv);
    args.extend(["--out", &scores, "--json"]);
    let (ok, out, err) = oddity(&args);
    assert!(ok, "{err}");
    let score: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    // Scoring the test file with the saved model reproduces fit's evaluation exactly.
    assert_eq!(score["auroc"], fit["known_auroc"], "{score} vs {fit}");
    assert_eq!(score["ap"], fit["known_ap"], "{score} vs {fit}");
    let written = std::fs::read_to_string(&scores).unwrap();
    assert_eq!(written.lines().count(), 41, "a header and 40 rows");
    assert!(written.starts_with("row,score\n0,"), "{written}");
    // Without --out the scores go to standard output.
    let (ok, out, err) = oddity(&["score", "--model-file", &model, "--data", &train]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 81);
    // Bad input: named, never a panic.
    let missing = file("missing.csv", 0..3).replace("missing.csv", "gone.csv");
    let no_col = dir.join("nocol.csv");
    std::fs::write(&no_col, "x,y\n1,2\n").unwrap();
    let no_col = no_col.display().to_string();
    let lrc = |extra: &[&str]| -> Vec<String> {
        ["fit", "--model", "lrc", "--train", &train]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect()
    };
    let score = |model: &str, data: &str| -> Vec<String> {
        ["score", "--model-file", model, "--data", data]
            .map(String::from)
            .to_vec()
    };
    for (args, want) in [
        (score(&model, &no_col), "\"proto\""),
        (score(&model, &missing), "gone.csv"),
        (score(&train, &test), "train.csv"),
        (lrc(&["--label-col", "kind"]), "no label column \"kind\""),
        (lrc(&["--label-col", "label"]), "--anomaly-label"),
        (lrc(&[]), "--label-col"),
        (
            lrc(&[
                "--label-col",
                "label",
                "--anomaly-label",
                "attack",
                "--setting",
                "2",
            ]),
            "built-in",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = oddity(&args);
        assert!(!ok && err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn repro_abc_prints_the_table_the_figure5_curves_and_the_checks() {
    let (ok, out, err) = oddity(&[
        "repro",
        "abc",
        "--datasets",
        "toy2d",
        "--models",
        "abc-ae,dnn",
        "--seeds",
        "2",
        "--toy-rows",
        "40",
        "--max-epochs",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("AUROC on known anomalies") && out.contains("AUROC on unknown anomalies"));
    let j: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let abc = &j["results"][0]["models"]["abc-ae"];
    let per_seed = abc["unknown_auroc"]["per_seed"].as_array().unwrap();
    assert_eq!(per_seed.len(), 2);
    let mean = per_seed.iter().map(|v| v.as_f64().unwrap()).sum::<f64>() / 2.0;
    assert!((abc["unknown_auroc"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
    // Figure 5: one curve pair per seed, a point per epoch; the DNN has none.
    let fig = abc["figure5"].as_array().unwrap();
    assert_eq!(fig.len(), 2);
    let epochs = abc["epochs"][0].as_u64().unwrap() as usize;
    assert_eq!(fig[0]["normal_error"].as_array().unwrap().len(), epochs);
    assert_eq!(fig[0]["anomaly_error"].as_array().unwrap().len(), epochs);
    assert!(
        j["results"][0]["models"]["dnn"]["figure5"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // At 40 rows the checks are run and say the scale is not the paper's.
    let checks = j["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 3, "{j}");
    assert!(
        checks[0]["check"]
            .as_str()
            .unwrap()
            .contains("the paper has 10000")
    );
}

/// `oddity active ... | head`: a reader that has gone away ends nothing but the printing. The
/// run used to panic ("failed printing to stdout: Broken pipe"); it now finishes its work
/// (here `--out`) quietly and exits as it would have.
#[test]
fn a_closed_stdout_ends_only_the_printing() {
    use std::process::{Command, Stdio};
    let dir = fresh_dir("pipe");
    let mut args = SMALL.to_vec();
    let o = dir.to_str().unwrap().to_string();
    args.extend(["--model", "dae", "--json", "--out", &o]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_oddity"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reading end closed before the first line: every write finds the pipe broken.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(dir.join("digits0-curve.csv").exists(), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// With `--max-rows`, every row number a user sees is the file's: the file oracle's answers are
/// looked up by it, the journal records it, and `--out`'s query and score files list it. Here
/// the answers file holds each file row's truth, so the run must find what the ground truth
/// finds; read by the subsample's numbering it would answer other rows.
#[test]
fn max_rows_shows_the_files_row_numbers() {
    use rand::{RngExt, SeedableRng};
    let dir = fresh_dir("maxrows");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (mut csv, mut answers, mut truth) = (
        String::from("a,b,c,y\n"),
        String::from("row,answer\n"),
        Vec::new(),
    );
    for r in 0..400 {
        let anomalous = r % 9 == 4;
        let shift = if anomalous { 3.0 } else { 0.0 };
        let v: Vec<f32> = (0..3).map(|_| rng.random::<f32>() + shift).collect();
        csv.push_str(&format!(
            "{},{},{},{}\n",
            v[0],
            v[1],
            v[2],
            u8::from(anomalous)
        ));
        answers.push_str(&format!("{r},{}\n", u8::from(anomalous)));
        truth.push(anomalous);
    }
    let (data, ans) = (dir.join("d.csv"), dir.join("answers.csv"));
    std::fs::write(&data, csv).unwrap();
    std::fs::write(&ans, answers).unwrap();
    let run = |oracle: &str, out: &str, journal: &str| {
        let d = data.to_str().unwrap();
        let args = [
            "active",
            "--data",
            d,
            "--label-col",
            "y",
            "--max-rows",
            "150",
            "--model",
            "dae",
            "--k",
            "5",
            "--budget",
            "20",
            "--pretrain-steps",
            "20",
            "--active-steps",
            "5",
            "--hidden",
            "8,2",
            "--batch",
            "32",
            "--seed",
            "3",
            "--json",
            "--oracle",
            oracle,
            "--out",
            out,
            "--journal",
            journal,
        ];
        let (ok, stdout, stderr) = oddity(&args);
        assert!(ok, "{stderr}");
        let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        v["curve"].clone()
    };
    let at = |p: &str| dir.join(p).to_str().unwrap().to_string();
    let file_oracle = format!("file:{}", ans.display());
    let by_file = run(&file_oracle, &at("file"), &at("file.jsonl"));
    let by_truth = run("truth", &at("truth"), &at("truth.jsonl"));
    assert_eq!(by_file, by_truth);
    // Every row the query file lists is a file row whose answer is that row's truth, and some
    // lie past the subsample's 150 rows.
    let queries = std::fs::read_to_string(dir.join("file/d-dae-queries.csv")).unwrap();
    let mut rows = Vec::new();
    for line in queries.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let row: usize = f[2].parse().unwrap();
        assert_eq!(f[4] == "anomaly", truth[row], "{line}");
        rows.push(row);
    }
    assert!(
        rows.len() == 20 && rows.iter().any(|&r| r >= 150),
        "{rows:?}"
    );
    // The journal records the same numbers, and resuming from it replays every round.
    let journal = std::fs::read_to_string(dir.join("file.jsonl")).unwrap();
    for r in &rows {
        assert!(journal.contains(&format!("[{r},")), "{r} in {journal}");
    }
    assert_eq!(run(&file_oracle, &at("again"), &at("file.jsonl")), by_file);
    let scores = std::fs::read_to_string(dir.join("file/d-dae-scores.csv")).unwrap();
    assert_eq!(scores.lines().count(), 151);
    std::fs::remove_dir_all(&dir).ok();
}

/// A run killed anywhere resumes from its journal to the curve of an uninterrupted run, with
/// every label journalled exactly once: killed after the oracle answered but before the
/// journal write, halfway through the write (a torn line), and during training (before the
/// first query, and later). `ODDITY_KILL_AT` aborts the child process at that place, as a
/// kill would.
#[test]
fn a_run_killed_anywhere_resumes_to_the_same_curve() {
    let dir = fresh_dir("kill");
    let run = |journal: &std::path::Path, kill: Option<&str>| {
        // SMALL with a budget of four rounds.
        let mut args: Vec<&str> = SMALL.to_vec();
        let b = args.iter().position(|a| *a == "--budget").unwrap();
        args[b + 1] = "24";
        let j = journal.to_str().unwrap();
        args.extend(["--model", "dae", "--json", "--journal", j]);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oddity"));
        cmd.args(&args);
        if let Some(k) = kill {
            cmd.env("ODDITY_KILL_AT", k);
        }
        cmd.output().unwrap()
    };
    let whole = dir.join("whole.jsonl");
    let out = run(&whole, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let curve = |out: &std::process::Output| -> serde_json::Value {
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str::<serde_json::Value>(text.lines().last().unwrap()).unwrap()["curve"]
            .clone()
    };
    let want = curve(&out);
    assert_eq!(want.as_array().unwrap().len(), 4);
    let journal = std::fs::read_to_string(&whole).unwrap();
    for kill in ["answered:1", "journal:2", "training:0", "training:3"] {
        let path = dir.join(format!("{}.jsonl", kill.replace(':', "-")));
        let killed = run(&path, Some(kill));
        assert!(!killed.status.success(), "{kill}: the child was not killed");
        let resumed = run(&path, None);
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        assert!(resumed.status.success(), "{kill}: {stderr}");
        assert_eq!(curve(&resumed), want, "{kill}: {stderr}");
        // Every label once, as the uninterrupted run journalled them.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), journal, "{kill}");
        if kill.starts_with("journal") {
            assert!(stderr.contains("was cut short"), "{kill}: {stderr}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Same seed, same adapter, same flags: the same bytes. `oddity active --out` twice gives
/// identical scores, queries, curves and model files; `oddity fit --save` twice identical
/// model files.
#[test]
fn the_same_run_twice_gives_the_same_bytes() {
    let dir = fresh_dir("determinism");
    let outs: Vec<std::path::PathBuf> = (0..2).map(|i| dir.join(format!("run{i}"))).collect();
    for o in &outs {
        let mut args = SMALL.to_vec();
        let o = o.to_str().unwrap();
        args.extend(["--model", "dae-uai,class-uai", "--out", o]);
        let (ok, _, stderr) = oddity(&args);
        assert!(ok, "{stderr}");
    }
    let mut names: Vec<_> = std::fs::read_dir(&outs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for n in &names {
        let (a, b) = (outs[0].join(n), outs[1].join(n));
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{} differs between two identical runs",
            n.to_string_lossy()
        );
    }
    let models: Vec<std::path::PathBuf> = (0..2)
        .map(|i| dir.join(format!("ae{i}.safetensors")))
        .collect();
    for m in &models {
        let (ok, _, stderr) = oddity(&[
            "fit",
            "--model",
            "abc-ae",
            "--dataset",
            "toy2d",
            "--toy-rows",
            "60",
            "--max-epochs",
            "2",
            "--seed",
            "4",
            "--save",
            m.to_str().unwrap(),
        ]);
        assert!(ok, "{stderr}");
    }
    assert!(std::fs::read(&models[0]).unwrap() == std::fs::read(&models[1]).unwrap());
    std::fs::remove_dir_all(&dir).ok();
}
