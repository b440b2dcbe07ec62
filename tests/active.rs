//! Algorithm 1: the journal makes an interrupted run resume exactly; a foreign or torn journal
//! is handled; bad answers and settings are errors; the oracles read files and terminals.

mod common;

use common::*;
use oddity::active::*;
use oddity::data::Dataset;
use oddity::models::{AutoencoderConfig, UaiConfig, UaiModel};
use oddity::nn::Optimizer;

fn dataset() -> Dataset {
    let (x, y) = oddity::data::synthetic_mnist(400, 16, 0.04, 11);
    Dataset {
        name: "synthetic".into(),
        rows: 400,
        cols: 16,
        x,
        anomaly: Some(y),
        class: None,
        schema: oddity::data::Schema::numeric((0..16).map(|i| format!("f{i}")), &[(0.0, 1.0); 16]),
        origin: None,
    }
}

fn model(gpu: &oddity::Gpu) -> UaiModel {
    let ae = AutoencoderConfig {
        batch: 32,
        seed: 5,
        optimizer: Optimizer::rmsprop(0.01),
        ..AutoencoderConfig::dae(16, &[8, 4])
    };
    UaiModel::new(gpu, UaiConfig::new(ae)).unwrap()
}

const CONFIG: ActiveConfig = ActiveConfig {
    k: 4,
    budget: 20,
    pretrain_steps: 40,
    active_steps: 10,
};

fn header() -> JournalHeader {
    JournalHeader {
        oddity_journal: 1,
        dataset: "synthetic".into(),
        rows: 400,
        model: "dae-uai".into(),
        seed: 5,
        k: 4,
        budget: 20,
        pretrain_steps: 40,
        active_steps: 10,
        training: "hidden 8,4, batch 32, lr 0.01".into(),
        data: "0123456789abcdef".into(),
    }
}

/// Runs to the end, or stops after `stop_after` rounds; returns (labels, curve).
fn run(
    gpu: &oddity::Gpu,
    data: &Dataset,
    journal: Option<&std::path::Path>,
    stop_after: Option<usize>,
) -> (Vec<(u32, u8)>, Vec<u32>) {
    let x = data.upload(gpu).unwrap();
    let mut m = model(gpu);
    let j = journal.map(|p| Journal::open(p, &header()).unwrap());
    let mut run = ActiveRun::new(gpu, &mut m, data, &x, CONFIG, j).unwrap();
    let mut oracle = GroundTruth;
    let mut rounds = 0;
    while let Some(q) = run.next_query().unwrap() {
        if stop_after == Some(rounds) {
            break;
        }
        let audit = oracle.audit(data, &q).unwrap();
        run.record(&audit.answers).unwrap();
        rounds += 1;
    }
    (run.labels().given().to_vec(), run.curve().to_vec())
}

fn temp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("oddity-{}-{name}", std::process::id()));
    std::fs::remove_file(&p).ok();
    p
}

#[test]
fn an_interrupted_run_resumes_exactly_from_its_journal() {
    let gpu = gpu();
    let data = dataset();
    let (labels, curve) = run(&gpu, &data, None, None);
    assert_eq!(labels.len(), 20);
    assert_eq!(curve.len(), 5);
    let path = temp("resume.jsonl");
    let (part, _) = run(&gpu, &data, Some(&path), Some(2));
    assert_eq!(part.len(), 8, "two rounds were journalled before the stop");
    let (resumed, resumed_curve) = run(&gpu, &data, Some(&path), None);
    assert_eq!(resumed, labels, "same labels as the uninterrupted run");
    assert_eq!(resumed_curve, curve, "same curve as the uninterrupted run");
    let lines = std::fs::read_to_string(&path).unwrap().lines().count();
    assert_eq!(lines, 1 + 5, "header and one line per round");
    // A torn last line (a crash mid-write: no newline) is cut off, said, and that round asked
    // again.
    let whole = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{whole}{{\"round\":5,\"answ")).unwrap();
    let j = Journal::open(&path, &header()).unwrap();
    assert_eq!(
        (j.torn_line(), j.rounds.len(), j.answered()),
        (Some(7), 5, 20)
    );
    drop(j);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
    let (again, _) = run(&gpu, &data, Some(&path), None);
    assert_eq!(again, labels);
    // A whole line that is not a round (appended by hand, or damaged) is an error naming it,
    // and the journal is left as it was.
    let garbage = format!("{whole}garbage\n");
    std::fs::write(&path, &garbage).unwrap();
    let e = refused(&path, &header());
    assert!(e.contains("line 7 is not a round of answers"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), garbage);
    std::fs::remove_file(&path).ok();
}

/// Two runs on one journal: the second is refused while the first holds it, and may open it
/// once the first is done.
#[test]
fn a_journal_in_use_is_refused() {
    let path = temp("locked.jsonl");
    let first = Journal::open(&path, &header()).unwrap();
    let e = refused(&path, &header());
    assert!(e.contains("is in use by another run"), "{e}");
    drop(first);
    let again = Journal::open(&path, &header()).unwrap();
    assert!(again.rounds.is_empty() && again.torn_line().is_none());
    drop(again);
    std::fs::remove_file(&path).ok();
}

/// Why `Journal::open` refused `path` under `header`.
fn refused(path: &std::path::Path, header: &JournalHeader) -> String {
    Journal::open(path, header)
        .err()
        .expect("refused")
        .to_string()
}

#[test]
fn a_journal_from_another_run_is_refused() {
    let path = temp("foreign.jsonl");
    Journal::open(&path, &header()).unwrap();
    let other = JournalHeader {
        dataset: "digits0".into(),
        rows: 1637,
        ..header()
    };
    let e = refused(&path, &other);
    assert!(
        e.contains("was written for another run")
            && e.contains("dataset synthetic in the journal, digits0 now")
            && e.contains("rows 400 in the journal, 1637 now")
            && !e.contains("seed"),
        "{e}"
    );
    // The same run under another training set-up would ask other rows: refused too.
    let other = JournalHeader {
        training: "hidden 8,4, batch 32, lr 0.001".into(),
        ..header()
    };
    let e = refused(&path, &other);
    assert!(
        e.contains("training hidden 8,4, batch 32, lr 0.01 in the journal, hidden 8,4, batch 32, lr 0.001 now"),
        "{e}"
    );
    // Another file under the same name (here: the same rows shuffled) has another digest.
    let data = dataset();
    let mut shuffled = data.clone();
    shuffled.x = data.x.chunks(data.cols).rev().flatten().copied().collect();
    assert_ne!(data_digest(&data), data_digest(&shuffled));
    assert_eq!(data_digest(&data), data_digest(&data.clone()));
    let other = JournalHeader {
        data: data_digest(&shuffled),
        ..header()
    };
    let e = refused(&path, &other);
    assert!(
        e.contains("the data differ (digest 0123456789abcdef in the journal"),
        "{e}"
    );
    std::fs::write(&path, "not json\n").unwrap();
    let e = refused(&path, &header());
    assert!(e.contains("line 1 is not an oddity journal header"), "{e}");
    std::fs::remove_file(&path).ok();
}

#[test]
fn bad_settings_and_answers_are_errors() {
    let gpu = gpu();
    let data = dataset();
    let x = data.upload(&gpu).unwrap();
    let mut m = model(&gpu);
    for (cfg, want) in [
        (
            ActiveConfig {
                budget: 401,
                ..CONFIG
            },
            "more than the 400 rows",
        ),
        (ActiveConfig { k: 0, ..CONFIG }, "at least 1"),
        (
            ActiveConfig {
                budget: 398,
                ..CONFIG
            },
            "budget + k <= 401",
        ),
    ] {
        let e = ActiveRun::new(&gpu, &mut m, &data, &x, cfg, None)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(want), "{e}");
    }
    let mut run = ActiveRun::new(&gpu, &mut m, &data, &x, CONFIG, None).unwrap();
    assert!(
        run.record(&[(1, Answer::Normal)])
            .unwrap_err()
            .to_string()
            .contains("no query is waiting")
    );
    let q = run.next_query().unwrap().unwrap();
    assert!(
        run.next_query()
            .unwrap_err()
            .to_string()
            .contains("still waiting")
    );
    let outsider = (0..400)
        .find(|r| !q.rows.iter().any(|x| x.0 == *r))
        .unwrap();
    assert!(
        run.record(&[(outsider, Answer::Normal)])
            .unwrap_err()
            .to_string()
            .contains("was not in round 1")
    );
    let r0 = q.rows[0].0;
    assert!(
        run.record(&[(r0, Answer::Normal), (r0, Answer::Anomaly)])
            .unwrap_err()
            .to_string()
            .contains("answered twice")
    );
    assert_eq!(run.spent(), 0, "nothing was recorded by the refused calls");
    run.record(&[(r0, Answer::Skip), (q.rows[1].0, Answer::Anomaly)])
        .unwrap();
    assert_eq!((run.spent(), run.found()), (2, 1));
    assert!(
        run.labels().contains(r0),
        "a skipped row is not shown again"
    );
}

#[test]
fn file_and_terminal_oracles() {
    let data = dataset();
    let q = Query {
        round: 0,
        rows: vec![(3, 0.9), (7, 0.5)],
    };
    let path = temp("answers.csv");
    std::fs::write(&path, "row,answer\n3,anomaly\n").unwrap();
    let mut f = FileOracle { path: path.clone() };
    let e = f.audit(&data, &q).unwrap_err().to_string();
    assert!(e.contains("no answer for rows 7"), "{e}");
    std::fs::write(&path, "row,answer\n3,anomaly\n7,0\n").unwrap();
    assert_eq!(
        f.audit(&data, &q).unwrap().answers,
        vec![(3, Answer::Anomaly), (7, Answer::Normal)]
    );
    std::fs::write(&path, "row,answer\n3,maybe\n").unwrap();
    assert!(
        f.audit(&data, &q)
            .unwrap_err()
            .to_string()
            .contains("line 2")
    );
    std::fs::remove_file(&path).ok();

    let mut shown = Vec::new();
    let mut t = Interactive {
        input: std::io::Cursor::new(b"what\na\nq\n".to_vec()),
        output: &mut shown,
    };
    let audit = t.audit(&data, &q).unwrap();
    assert_eq!(
        audit,
        Audit {
            answers: vec![(3, Answer::Anomaly)],
            stop: true
        },
        "answers before quitting are kept"
    );
    let text = String::from_utf8(shown).unwrap();
    assert!(
        text.contains("row 3, score 0.9000")
            && text.contains("anomaly (a), normal (n), skip (s), quit (q)?"),
        "{text}"
    );
    assert!(render(&[0.0, 1.0, 0.5, 0.25]).unwrap().lines().count() == 2);
    assert!(render(&[0.0; 5]).is_none());
}

/// Until the first label a UAI model is its base network: DAE_uai pretrains with the plain
/// DAE's own step (the same draws), so its first query is the DAE's, row for row and score for
/// score (the head starts as the identity on the score); the second, after labels, is not.
#[test]
fn dae_uai_asks_first_what_its_base_network_asks() {
    let gpu = gpu();
    let data = dataset();
    let x = data.upload(&gpu).unwrap();
    let first_two = |uai: bool| {
        let mut m = model(&gpu);
        if !uai {
            m = UaiModel::new(&gpu, m.config.clone().without_head()).unwrap();
        }
        let mut run = ActiveRun::new(&gpu, &mut m, &data, &x, CONFIG, None).unwrap();
        let q1 = run.next_query().unwrap().unwrap();
        let audit = GroundTruth.audit(&data, &q1).unwrap();
        run.record(&audit.answers).unwrap();
        let q2 = run.next_query().unwrap().unwrap();
        let bits = |q: &Query| {
            q.rows
                .iter()
                .map(|(r, s)| (*r, s.to_bits()))
                .collect::<Vec<_>>()
        };
        (bits(&q1), bits(&q2))
    };
    let (uai1, uai2) = first_two(true);
    let (dae1, dae2) = first_two(false);
    assert_eq!(uai1, dae1, "the first query");
    assert_ne!(uai2, dae2, "the head acts once labels exist");
}

#[test]
fn pretraining_is_sized_by_epochs_within_its_bounds() {
    use oddity::active::{PRETRAIN_MAX_STEPS, PRETRAIN_MIN_STEPS, pretrain_steps};
    // 15 epochs of 5,000 rows in batches of 64: ceil(75000 / 64).
    assert_eq!(pretrain_steps(5000, 64, 15), 1172);
    // The digits (1,637 rows of X_0) and an empty table get the floor; Fashion-MNIST the cap
    // at batch 64; at the paper's batch of 256, 15 epochs are 3516 steps.
    assert_eq!(pretrain_steps(1637, 64, 15), PRETRAIN_MIN_STEPS);
    assert_eq!(pretrain_steps(0, 64, 15), PRETRAIN_MIN_STEPS);
    assert_eq!(pretrain_steps(60000, 64, 15), PRETRAIN_MAX_STEPS);
    assert_eq!(pretrain_steps(60000, 256, 15), 3516);
    // A batch of 0 is read as 1 (the model refuses it later), never a division by zero.
    assert_eq!(pretrain_steps(5000, 0, 15), PRETRAIN_MAX_STEPS);
}

/// While the labels hold one class, a UAI query alternates the head's best rows with the base
/// network's own (its score s(x) alone), the head's first, each row once, every row shown with
/// its head logit; once both classes are labelled the head ranks alone.
#[test]
fn one_class_labels_hedge_the_query_with_the_base_ranking() {
    use oddity::models::{ActiveDetector, Detector, LabelCounts, LabelSet};
    use oddity_kernels::reference::top_k;
    // Its own device: the test reads the runtime's counters.
    let gpu = own_gpu();
    let data = dataset();
    let x = data.upload(&gpu).unwrap();
    let mut m = model(&gpu);
    let mut labels = LabelSet::new(&gpu, 400).unwrap();
    let k = 6;
    m.prepare(&data, &x, &labels, k).unwrap();
    m.train(40, labels.counts()).unwrap();
    let first = m.query(labels.counts()).unwrap();
    // All normal, whatever the truth: the head learns "unlike these rows".
    let normal: Vec<(u32, u8)> = first.iter().map(|&(r, _)| (r, 0)).collect();
    labels.add(&gpu, &normal).unwrap();
    let one = labels.counts();
    assert_eq!(
        one,
        LabelCounts {
            normal: k,
            anomalous: 0
        }
    );
    m.train(60, one).unwrap();
    gpu.wait().unwrap();
    let before = gpu.counters();
    let hedged = m.query(one).unwrap();
    // One submit of the plan, one readback of both top k and the base picks' logits, and
    // that readback's wait: no host wait but the top-k readback (issue 19).
    let c = gpu.counters() - before;
    assert_eq!((c.submits, c.host_waits), (2, 1), "{c:?}");
    let head = m.last_scores().unwrap();
    // The base network as the head sees it now: the same weights, without the head.
    let base_model = UaiModel::new(&gpu, m.config.clone().without_head()).unwrap();
    let weights = m.core().arena().read(&gpu).unwrap();
    let base_len = base_model.core().arena().len() as usize;
    base_model
        .core()
        .arena()
        .write(&gpu, &weights[..base_len])
        .unwrap();
    let base = base_model.score(&data).unwrap();
    let mask: Vec<u32> = (0..400).map(|r| u32::from(labels.contains(r))).collect();
    let head_top = top_k(&head, Some(&mask), k as usize);
    let base_top = top_k(&base, Some(&mask), k as usize);
    let mut want: Vec<u32> = Vec::new();
    let (mut h, mut b) = (head_top.iter(), base_top.iter());
    while want.len() < k as usize {
        let pick = match want.len() % 2 {
            0 => h.by_ref().map(|p| p.0).find(|r| !want.contains(r)),
            _ => b.by_ref().map(|p| p.0).find(|r| !want.contains(r)),
        };
        want.extend(pick);
    }
    let got: Vec<u32> = hedged.iter().map(|p| p.0).collect();
    assert_eq!(got, want, "head {head_top:?}, base {base_top:?}");
    let head_only: Vec<u32> = head_top.iter().map(|p| p.0).collect();
    assert_ne!(
        got, head_only,
        "the two rankings differ here, so the hedge is seen"
    );
    for &(r, s) in &hedged {
        assert_eq!(
            s.to_bits(),
            head[r as usize].to_bits(),
            "row {r} shows its head logit"
        );
    }
    // Both classes: the head's top k alone, best first.
    labels.add(&gpu, &[(hedged[0].0, 1)]).unwrap();
    let both = labels.counts();
    assert!(both.both_classes());
    m.train(10, both).unwrap();
    gpu.wait().unwrap();
    let before = gpu.counters();
    let plain = m.query(both).unwrap();
    let c = gpu.counters() - before;
    assert_eq!((c.submits, c.host_waits), (2, 1), "{c:?}");
    let mask: Vec<u32> = (0..400).map(|r| u32::from(labels.contains(r))).collect();
    let want = top_k(&m.last_scores().unwrap(), Some(&mask), k as usize);
    assert_eq!(plain, want);
}
