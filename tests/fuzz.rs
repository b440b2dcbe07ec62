//! A fuzzing harness for every loader a user's files reach: CSV (with and without a schema,
//! delimiters and missing-value markers), IDX, the label journal, the file oracle's answers and
//! model files. Each starts from the seed files of `tests/corpus/` and feeds mutated copies
//! (bytes flipped, inserted, deleted, duplicated, lines spliced between seeds, numbers replaced
//! by extreme ones) to the loader, a bounded number of times per run (`ODDITY_FUZZ_CASES`
//! scales them; the seed is printed, `ODDITY_TEST_SEED` replays it). Every input must end in a
//! value or an error: a panic fails the test, and so does an error that does not say where
//! (the file, and the line where the loader reads lines).

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use common::*;
use oddity::active::{Audit, FileOracle, Journal, JournalHeader, Oracle, Query};
use oddity::data::{CsvOptions, DataError, Dataset, parse_idx};
use rand::RngExt;
use rand::rngs::StdRng;

/// Cases per loader, times `ODDITY_FUZZ_CASES` (default 1).
fn cases(base: usize) -> usize {
    let scale: f64 = std::env::var("ODDITY_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((base as f64) * scale).max(1.0) as usize
}

fn corpus(kind: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// Bytes that matter to the loaders' grammars.
const INTERESTING: &[&[u8]] = &[
    b",",
    b"\n",
    b"\r\n",
    b"\"",
    b";",
    b"\t",
    b"?",
    b"-",
    b"e",
    b"9",
    b"\0",
    b"\xff",
    b"nan",
    b"inf",
    b"1e39",
    b"-1e400",
    b"99999999999999999999",
    b"0",
    b"",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"normal\"",
    b"anomaly",
    b"4294967295",
    b"-1",
];

/// One to four random edits of `seed`, sometimes with a piece of `other` spliced in.
fn mutate(rng: &mut StdRng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = rng.random_range(0..=b.len());
        match rng.random_range(0..8) {
            0 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let piece = INTERESTING[rng.random_range(0..INTERESTING.len())];
                b.splice(at..at, piece.iter().copied());
            }
            2 if !b.is_empty() => {
                let end = (at + rng.random_range(1..16)).min(b.len());
                b.drain(at.min(end)..end);
            }
            3 if !b.is_empty() => {
                let start = rng.random_range(0..b.len());
                let end = (start + rng.random_range(1..32)).min(b.len());
                let piece = b[start..end].to_vec();
                b.splice(at..at, piece);
            }
            4 => b.truncate(at),
            5 if !other.is_empty() => {
                let start = rng.random_range(0..other.len());
                let end = (start + rng.random_range(1..64)).min(other.len());
                b.splice(at..at, other[start..end].iter().copied());
            }
            6 => {
                // A run of digits replaced by an extreme number.
                if let Some(i) = (at..b.len()).find(|&i| b[i].is_ascii_digit()) {
                    let end = (i..b.len())
                        .find(|&j| !b[j].is_ascii_digit())
                        .unwrap_or(b.len());
                    let big: &[u8] = [&b"1e39"[..], b"4294967296", b"-0", b"1e-46", b"65536"]
                        [rng.random_range(0..5)];
                    b.splice(i..end, big.iter().copied());
                }
            }
            _ => {
                let i = rng.random_range(0..=b.len());
                b.insert(i, rng.random());
            }
        }
    }
    b
}

/// Runs `f` on `input`; a panic fails the test, naming the input.
fn no_panic<T>(what: &str, input: &[u8], f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "{what} panicked ({msg}) on {:?}",
                String::from_utf8_lossy(input)
            )
        }
    }
}

/// A CSV error says where: the file, and for a value or a parse error a line within the file.
fn check_csv_error(e: &DataError, path: &str, input: &[u8]) {
    let lines = input.split(|&b| b == b'\n').count() as u64 + 1;
    let text = e.to_string();
    assert!(text.contains(path), "no file in {text:?}");
    match e {
        DataError::Parse { line, .. } | DataError::Value { line, .. } => {
            assert!((1..=lines).contains(line), "line {line} of {lines}: {text}");
        }
        DataError::Format { .. } | DataError::Empty { .. } => {}
        other => panic!("a CSV in memory gave {other:?}"),
    }
}

struct Tally {
    tried: usize,
    refused: usize,
}

impl Drop for Tally {
    fn drop(&mut self) {
        eprintln!(
            "{} inputs tried, {} refused with an error, {} accepted",
            self.tried,
            self.refused,
            self.tried - self.refused
        );
    }
}

#[test]
fn csv_loader_never_panics_and_says_where() {
    let seeds = corpus("csv");
    let mut rng = rng();
    let mut tally = Tally {
        tried: 0,
        refused: 0,
    };
    let options = [
        CsvOptions::default(),
        CsvOptions::default().label("label").anomaly_label("attack"),
        CsvOptions::default().label("y"),
        CsvOptions::default().missing(&["?", "NA"]),
        CsvOptions::default().delimiter(b';').label("y"),
        CsvOptions::default().class("kind").missing(&["?"]),
    ];
    // A schema to read new files by.
    let mixed = seeds.iter().find(|s| s.0.ends_with("mixed.csv")).unwrap();
    let schema = Dataset::from_csv_bytes(&mixed.1, "s.csv", "s", &options[1])
        .unwrap()
        .schema;
    for _ in 0..cases(3000) {
        let (_, seed) = &seeds[rng.random_range(0..seeds.len())];
        let (_, other) = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed, other);
        let opts = &options[rng.random_range(0..options.len())];
        tally.tried += 1;
        let r = no_panic("from_csv_bytes", &input, || {
            Dataset::from_csv_bytes(&input, "f.csv", "f", opts)
        });
        match r {
            Ok(d) => {
                assert_eq!(d.x.len(), d.rows * d.cols);
                assert!(d.x.iter().all(|v| v.is_finite()), "non-finite feature");
            }
            Err(e) => {
                tally.refused += 1;
                check_csv_error(&e, "f.csv", &input);
            }
        }
        let r = no_panic("from_csv_bytes_with_schema", &input, || {
            Dataset::from_csv_bytes_with_schema(&input, "g.csv", "g", &schema, opts)
        });
        if let Err(e) = r {
            check_csv_error(&e, "g.csv", &input);
        }
    }
}

#[test]
fn idx_loader_never_panics() {
    let seeds = corpus("idx");
    let mut rng = rng();
    let dir = std::env::temp_dir().join(format!("oddity-fuzz-idx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut tally = Tally {
        tried: 0,
        refused: 0,
    };
    for i in 0..cases(2000) {
        let (path, seed) = &seeds[rng.random_range(0..seeds.len())];
        let (_, other) = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed, other);
        tally.tried += 1;
        // In memory; and every tenth through a file (gzip seeds stay gzip-framed there).
        if let Err(e) = no_panic("parse_idx", &input, || parse_idx(&input, "m.idx")) {
            tally.refused += 1;
            assert!(e.to_string().contains("m.idx"), "{e}");
        }
        if i % 10 == 0 {
            let p = dir.join(path.file_name().unwrap());
            std::fs::write(&p, &input).unwrap();
            if let Err(e) = no_panic("read_idx", &input, || oddity::data::read_idx(&p)) {
                assert!(e.to_string().contains(&*p.to_string_lossy()), "{e}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn journal_loader_never_panics_and_names_lines() {
    let seeds = corpus("journal");
    let mut rng = rng();
    let dir = std::env::temp_dir().join(format!("oddity-fuzz-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut tally = Tally {
        tried: 0,
        refused: 0,
    };
    for i in 0..cases(600) {
        let (_, seed) = &seeds[rng.random_range(0..seeds.len())];
        let text = String::from_utf8_lossy(seed);
        let header_line = text.lines().next().unwrap();
        let header: JournalHeader = serde_json::from_str(header_line).unwrap();
        // Mostly the rounds are mutated (the header must match for them to be read); now and
        // then the whole file.
        let input = if rng.random_range(0..4) == 0 {
            mutate(&mut rng, seed, seed)
        } else {
            let body = &seed[header_line.len() + 1..];
            let mut b = format!("{header_line}\n").into_bytes();
            b.extend(mutate(&mut rng, body, body));
            b
        };
        let path = dir.join(format!("j{i}.jsonl"));
        std::fs::write(&path, &input).unwrap();
        tally.tried += 1;
        let r = no_panic("Journal::open", &input, || Journal::open(&path, &header));
        match r {
            Ok(j) => {
                // What it kept is whole rounds, and the file now ends at a line's end.
                let kept = std::fs::read(&path).unwrap();
                assert!(
                    kept.ends_with(b"\n"),
                    "{:?}",
                    String::from_utf8_lossy(&kept)
                );
                drop(j);
            }
            Err(e) => {
                tally.refused += 1;
                let e = e.to_string();
                assert!(e.contains(&*path.to_string_lossy()), "{e}");
                // A damaged round names its line; a damaged file is left as it was.
                if e.contains("is not a round") {
                    assert!(e.contains(": line "), "{e}");
                    assert_eq!(std::fs::read(&path).unwrap(), input);
                }
            }
        }
        std::fs::remove_file(&path).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn answers_file_never_panics_and_names_lines() {
    let seeds = corpus("answers");
    let mut rng = rng();
    let dir = std::env::temp_dir().join(format!("oddity-fuzz-answers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = oddity::data::digits().unwrap();
    let query = Query {
        round: 0,
        rows: (0..6).map(|r| (r, 0.0)).collect(),
    };
    let mut tally = Tally {
        tried: 0,
        refused: 0,
    };
    for i in 0..cases(1000) {
        let (_, seed) = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed, seed);
        let path = dir.join(format!("a{i}.csv"));
        std::fs::write(&path, &input).unwrap();
        tally.tried += 1;
        let mut oracle = FileOracle { path: path.clone() };
        let r: oddity::Result<Audit> =
            no_panic("FileOracle", &input, || oracle.audit(&data, &query));
        match r {
            Ok(a) => assert_eq!(a.answers.len(), 6),
            Err(e) => {
                tally.refused += 1;
                let e = e.to_string();
                assert!(e.contains(&*path.to_string_lossy()), "{e}");
                assert!(
                    e.contains("line ") || e.contains("no answer for rows"),
                    "{e}"
                );
            }
        }
        std::fs::remove_file(&path).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn model_files_never_panic() {
    let seeds = corpus("model");
    let gpu = gpu();
    let mut rng = rng();
    let dir = std::env::temp_dir().join(format!("oddity-fuzz-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut tally = Tally {
        tried: 0,
        refused: 0,
    };
    for (path, seed) in &seeds {
        oddity::models::registry::load(&gpu, path)
            .unwrap_or_else(|e| panic!("the seed {} does not load: {e}", path.display()));
        assert!(!seed.is_empty());
    }
    for i in 0..cases(300) {
        let (_, seed) = &seeds[rng.random_range(0..seeds.len())];
        // Half the time only digits of the JSON header change (its length stays, so the file
        // stays readable and the metadata's numbers reach the models); else any edit.
        let input = if rng.random_range(0..2) == 0 {
            let head = 8 + u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
            let mut b = seed.clone();
            for _ in 0..rng.random_range(1..4) {
                let digits: Vec<usize> = (8..head.min(b.len()))
                    .filter(|&j| b[j].is_ascii_digit())
                    .collect();
                if let Some(&j) = digits.get(rng.random_range(0..digits.len().max(1))) {
                    b[j] = b'0' + rng.random_range(0..10u8);
                }
            }
            b
        } else {
            mutate(&mut rng, seed, seed)
        };
        let path = dir.join(format!("m{i}.safetensors"));
        std::fs::write(&path, &input).unwrap();
        tally.tried += 1;
        let r = no_panic("registry::load", &input, || {
            oddity::models::registry::load(&gpu, &path)
        });
        if let Err(e) = r {
            tally.refused += 1;
            let e = e.to_string();
            assert!(e.contains(&*path.to_string_lossy()), "{e}");
        }
        std::fs::remove_file(&path).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}
