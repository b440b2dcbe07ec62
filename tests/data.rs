//! Data loading: CSV parsing, one-hot encoding, scaling, labels, and every bad input named in
//! the UAI issue getting its own clear error; IDX files; the built-in digits and X_0 / X_0-2.

use oddity::data::{CsvOptions, DataError, Dataset, construct_anomalies, digits};

fn load(text: &str, opts: &CsvOptions) -> Result<Dataset, DataError> {
    Dataset::from_csv_bytes(text.as_bytes(), "t.csv", "t", opts)
}

fn err(text: &str, opts: &CsvOptions) -> String {
    load(text, opts).expect_err("expected an error").to_string()
}

#[test]
fn numeric_and_categorical_columns_scaled_and_one_hot() {
    let text = "a,kind,b,label\n1,x,10,normal\n3,y,10,attack\n2,x,30,normal\n";
    let d = load(
        text,
        &CsvOptions::default().label("label").anomaly_label("attack"),
    )
    .unwrap();
    assert_eq!((d.rows, d.cols), (3, 4));
    assert_eq!(d.feature_names(), vec!["a", "kind=x", "kind=y", "b"]);
    assert_eq!(d.row(0), &[0.0, 1.0, 0.0, 0.0]);
    assert_eq!(d.row(1), &[1.0, 0.0, 1.0, 0.0]);
    assert_eq!(d.row(2), &[0.5, 1.0, 0.0, 1.0]);
    assert_eq!(d.anomaly, Some(vec![0, 1, 0]));
    let d = load("f,y\n0.5,0\n1.5,1\n", &CsvOptions::default().label("y")).unwrap();
    assert_eq!(
        d.anomaly,
        Some(vec![0, 1]),
        "0/1 labels need no --anomaly-label"
    );
}

#[test]
fn every_bad_input_names_its_place() {
    let o = CsvOptions::default();
    assert!(err("", &o).contains("t.csv: the file is empty"));
    assert!(err("a,b\n", &o).contains("the file is empty"));
    let e = err("a,b\n1,2\n3\n", &o);
    assert!(
        e.contains("line 3") && e.contains("1 fields, the header has 2"),
        "{e}"
    );
    let e = err("a,b\n1,2\n3,oops\n", &o);
    assert!(
        e.contains("line 3")
            && e.contains("column \"b\"")
            && e.contains("\"oops\" is not a number"),
        "{e}"
    );
    let e = err("a,b\n1,2\nNaN,4\n", &o);
    assert!(
        e.contains("line 3") && e.contains("column \"a\"") && e.contains("not finite"),
        "{e}"
    );
    let e = err("a,b\n1,inf\n", &o);
    assert!(
        e.contains("line 2") && e.contains("column \"b\"") && e.contains("not finite"),
        "{e}"
    );
    let e = err("a,b\n1,2\n,4\n", &o);
    assert!(e.contains("line 3") && e.contains("missing value"), "{e}");
    let e = err(
        "a,y\n1,p\n2,q\n3,r\n",
        &CsvOptions::default().label("y").anomaly_label("p"),
    );
    assert!(e.contains("exactly two classes, found 3"), "{e}");
    let e = err(
        "a,y\n1,p\n2,p\n",
        &CsvOptions::default().label("y").anomaly_label("p"),
    );
    assert!(e.contains("exactly two classes, found 1"), "{e}");
    let e = err("a,y\n1,p\n2,q\n", &CsvOptions::default().label("y"));
    assert!(e.contains("--anomaly-label"), "{e}");
    let e = err(
        "a,y\n1,p\n2,q\n",
        &CsvOptions::default().label("y").anomaly_label("z"),
    );
    assert!(e.contains("\"z\" does not occur"), "{e}");
    let e = err("a,y\n1,p\n", &CsvOptions::default().label("nope"));
    assert!(e.contains("no label column \"nope\""), "{e}");
    let e = Dataset::from_csv("/no/such/file.csv", &o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/no/such/file.csv"), "{e}");
}

#[test]
fn idx_files_plain_gzipped_and_broken() {
    let dir = std::env::temp_dir().join(format!("oddity-idx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut bytes = vec![0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3];
    bytes.extend(0u8..12);
    let plain = dir.join("a.idx");
    std::fs::write(&plain, &bytes).unwrap();
    let a = oddity::data::read_idx(&plain).unwrap();
    assert_eq!(a.dims, vec![2, 2, 3]);
    assert_eq!(a.data[11], 11.0);
    let gz = dir.join("a.idx.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, &bytes).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    assert_eq!(oddity::data::read_idx(&gz).unwrap().data, a.data);
    std::fs::write(&plain, &bytes[..20]).unwrap();
    let e = oddity::data::read_idx(&plain).unwrap_err().to_string();
    assert!(e.contains("need 28 bytes, the file has 20"), "{e}");
    std::fs::write(&plain, b"PK\x03\x04junk").unwrap();
    assert!(
        oddity::data::read_idx(&plain)
            .unwrap_err()
            .to_string()
            .contains("not an IDX file")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn built_in_digits_and_the_papers_constructions() {
    let d = digits().unwrap();
    assert_eq!((d.rows, d.cols), (1797, 64));
    assert!(d.x.iter().all(|v| (0.0..=1.0).contains(v)));
    let class = d.class.as_ref().unwrap();
    let zeros = class.iter().filter(|&&c| c == 0).count();
    assert_eq!(zeros, 178);
    let d0 = construct_anomalies(&d, &[0], 0.1, 1).unwrap();
    assert_eq!(d0.anomalies(), 18);
    assert_eq!(d0.rows, 1797 - 178 + 18);
    let c0 = d0.class.as_ref().unwrap();
    assert!(
        c0.iter().all(|&c| c != 0),
        "anomalies were relabelled with other classes"
    );
    let rate = d0.anomalies() as f64 / d0.rows as f64;
    assert!(
        (0.009..0.013).contains(&rate),
        "X_0 has about 1.1% anomalies: {rate}"
    );
    let d02 = construct_anomalies(&d, &[0, 1, 2], 0.1, 1).unwrap();
    let rate = d02.anomalies() as f64 / d02.rows as f64;
    assert!(
        (0.03..0.045).contains(&rate),
        "X_0-2 has about 4% anomalies: {rate}"
    );
    assert!(
        construct_anomalies(&d, &[11], 0.1, 1)
            .unwrap_err()
            .to_string()
            .contains("class 11 does not occur")
    );
}

#[test]
fn x_hard_marks_a_weak_classifiers_mistakes() {
    let gpu = oddity::Gpu::new().expect("an adapter");
    eprintln!("adapter: {}", gpu.adapter_name());
    let d = digits().unwrap();
    let hard = oddity::models::construct_hard(&gpu, &d, 3).unwrap();
    let again = oddity::models::construct_hard(&gpu, &d, 3).unwrap();
    assert_eq!(
        hard.anomaly, again.anomaly,
        "same seed, same adapter: the same rows"
    );
    assert_eq!(
        (hard.rows, hard.x.len()),
        (d.rows, d.x.len()),
        "X_hard keeps every row"
    );
    let rate = hard.anomalies() as f64 / hard.rows as f64;
    eprintln!("X_hard anomaly rate {rate:.3}");
    assert!(
        (0.03..0.3).contains(&rate),
        "a weak but trained classifier errs on some rows, not most: {rate}"
    );
    let e = oddity::models::construct_hard(&gpu, &Dataset { class: None, ..d }, 3)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no classes"), "{e}");
}

#[test]
fn subsample_keeps_rows_whole_and_in_order() {
    let d = oddity::data::named("digits0", 1).unwrap();
    let s = d.subsample(300, 7);
    assert_eq!((s.rows, s.cols, s.x.len()), (300, d.cols, 300 * d.cols));
    assert_eq!(s.x, d.subsample(300, 7).x, "same seed, same rows");
    assert_ne!(s.x, d.subsample(300, 8).x, "another seed, other rows");
    // Every kept row is an original row with its own label and class, in the original order.
    let mut from = 0;
    for i in 0..s.rows {
        let j = (from..d.rows)
            .find(|&j| {
                d.row(j) == s.row(i)
                    && d.anomaly.as_ref().unwrap()[j] == s.anomaly.as_ref().unwrap()[i]
                    && d.class.as_ref().unwrap()[j] == s.class.as_ref().unwrap()[i]
            })
            .expect("a kept row is an original row, in order");
        from = j + 1;
    }
    assert_eq!(
        d.subsample(5000, 1).rows,
        d.rows,
        "asking for more keeps all"
    );
}

#[test]
fn new_data_is_encoded_and_scaled_by_the_training_schema() {
    let opts = CsvOptions::default().label("label").anomaly_label("attack");
    let train = "a,kind,b,label\n1,x,10,normal\n3,y,10,attack\n2,x,30,normal\n";
    let d = load(train, &opts).unwrap();
    let schema = &d.schema;
    let read = |text: &str, opts: &CsvOptions| {
        Dataset::from_csv_bytes_with_schema(text.as_bytes(), "new.csv", "new", schema, opts)
    };
    // The training file read back through its own schema gives the same bits.
    let same = read(train, &opts).unwrap();
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&same.x), bits(&d.x));
    assert_eq!(same.anomaly, d.anomaly);
    // Columns in another order, an extra column, no label; values outside the training range
    // scale outside [0, 1] (a's range was 1..3, b's 10..30); an unseen category is 0 in every
    // one-hot feature.
    let new = read(
        "extra,b,kind,a\nq,50,z,5\nr,10,y,0\n",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!((new.rows, new.cols, new.anomaly.clone()), (2, 4, None));
    assert_eq!(new.row(0), &[2.0, 0.0, 0.0, 2.0]);
    assert_eq!(new.row(1), &[-0.5, 0.0, 1.0, 0.0]);
    // A missing column, a bad number, a non-finite one: each named with its place.
    let e = read("a,b\n1,2\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("new.csv") && e.contains("\"kind\""), "{e}");
    let e = read("a,kind,b\n1,x,10\n2,x,ten\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 3") && e.contains("\"b\"") && e.contains("ten"),
        "{e}"
    );
    let e = read("a,kind,b\ninf,x,10\n", &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("\"a\"") && e.contains("not finite"),
        "{e}"
    );
    // A schema and its JSON form (as saved in model files) round-trip.
    let json = serde_json::to_string(schema).unwrap();
    let back: oddity::data::Schema = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, schema);
}

#[test]
fn the_abc_digit_split_and_its_settings() {
    use oddity::data::abc::{RowKind, Setting, named_split};
    let d = digits().unwrap();
    let class = d.class.as_ref().unwrap();
    let count = |f: &dyn Fn(u32) -> bool| class.iter().filter(|&&c| f(c)).count();
    let normal = count(&|c| c % 2 == 1);
    let known = count(&|c| [0, 2, 6, 8].contains(&c));
    let unknown = count(&|c| c == 4);
    let kinds = |s: &oddity::data::abc::AbcSplit, k: RowKind| {
        s.test_kind.iter().filter(|&&t| t == k).count()
    };
    let one = named_split("digits-abc", Setting::One, 3, None).unwrap();
    assert_eq!(one.cols, 64);
    // Half of the normal rows and of the known anomalies train; every 4 is an unknown test row.
    assert_eq!(one.train_y.iter().filter(|&&y| y == 1).count(), normal / 2);
    assert_eq!(one.train_y.iter().filter(|&&y| y == 0).count(), known / 2);
    assert_eq!(kinds(&one, RowKind::Normal), normal - normal / 2);
    assert_eq!(kinds(&one, RowKind::Known), known - known / 2);
    assert_eq!(kinds(&one, RowKind::Unknown), unknown);
    // Setting 2: 100 unknown anomalies join the training rows labelled normal, out of the test
    // set; at most half of them, so the test set keeps some (the digits have 181 4s: 90).
    let mixed = 100.min(unknown / 2);
    assert_eq!(mixed, 90);
    let two = named_split("digits-abc", Setting::Two, 3, None).unwrap();
    assert_eq!(
        two.train_y.iter().filter(|&&y| y == 1).count(),
        normal / 2 + mixed
    );
    assert_eq!(kinds(&two, RowKind::Unknown), unknown - mixed);
    // Setting 3: a tenth of the known anomalies.
    let three = named_split("digits-abc", Setting::Three, 3, None).unwrap();
    assert_eq!(
        three.train_y.iter().filter(|&&y| y == 0).count(),
        (known / 2).div_ceil(10)
    );
    // Another seed splits other rows; --max-rows subsamples first.
    assert_ne!(
        named_split("digits-abc", Setting::One, 4, None)
            .unwrap()
            .train_x,
        one.train_x
    );
    let small = named_split("digits-abc", Setting::One, 3, Some(500)).unwrap();
    assert_eq!(small.train_rows() + small.test_rows(), 500);
    let e = named_split("mnist-abc", Setting::One, 3, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown dataset \"mnist-abc\""), "{e}");
}

/// Issue 20: inputs that used to change a result silently.
#[test]
fn values_past_f32_are_refused_with_their_place() {
    let o = CsvOptions::default();
    for v in ["1e39", "-3.5e38", "1e400"] {
        let e = err(&format!("a,b\n1,2\n3,{v}\n"), &o);
        assert!(
            e.contains("line 3") && e.contains("column \"b\"") && e.contains("f32 range"),
            "{v}: {e}"
        );
    }
    // The largest f32 is taken, and a column spanning the whole range scales into [0, 1].
    let d = load("a\n-3.4e38\n0\n3.4e38\n", &o).unwrap();
    assert_eq!(d.x, vec![0.0, 0.5, 1.0]);
}

#[test]
fn column_types_come_from_the_whole_file() {
    let o = CsvOptions::default();
    // A marker on the first row (once one-hot features, silently), on a later row, or many.
    let e = err("a,b\n?,1\n2,2\n3,3\n", &o);
    assert!(
        e.contains("line 2") && e.contains("column \"a\"") && e.contains("--missing ?"),
        "{e}"
    );
    let e = err("a,b\n1,x\n?,1\n3,1\nNA,2\n5,2\n?,3\n", &o);
    assert!(
        e.contains("column \"a\" holds numbers but for 3 text values")
            && e.contains("\"?\" (line 3), \"NA\" (line 5), \"?\" (line 7)")
            && e.contains("--missing ?,NA"),
        "{e}"
    );
    // Mostly text: categories, numbers among them included.
    let d = load("c,b\nx,1\ny,2\n3,3\n", &o).unwrap();
    assert_eq!(d.feature_names(), vec!["c=3", "c=x", "c=y", "b"]);
    assert_eq!(
        d.schema.encoding(),
        vec!["encoded as categories (one-hot): \"c\" (3 values)"]
    );
}

#[test]
fn missing_value_markers_fill_with_the_training_mean() {
    let o = CsvOptions::default().missing(&["?", "NA"]);
    let d = load("a,c,b\n?,x,0\n2,NA,10\n4,y,\n", &o).unwrap();
    assert_eq!(d.feature_names(), vec!["a", "c=x", "c=y", "b"]);
    // a: (2 + 4) / 2 = 3 fills row 1, scaled over [2, 4]; b: (0 + 10) / 2 = 5; c: none.
    assert_eq!(d.row(0), &[0.5, 1.0, 0.0, 0.0]);
    assert_eq!(d.row(1), &[0.0, 0.0, 0.0, 1.0]);
    assert_eq!(d.row(2), &[1.0, 0.0, 1.0, 0.5]);
    assert_eq!(d.schema.features[0].fill, Some(3.0));
    assert_eq!(d.schema.features[3].fill, Some(5.0));
    assert_eq!(
        d.schema.encoding()[1],
        "missing values filled with the column's mean: \"a\" (3), \"b\" (5)"
    );
    // New data read by the schema fills the same way; a column that had none cannot.
    let new = Dataset::from_csv_bytes_with_schema(b"a,c,b\nNA,y,?\n", "n.csv", "n", &d.schema, &o)
        .unwrap();
    assert_eq!(new.row(0), &[0.5, 0.0, 1.0, 0.5]);
    let full = load("a,b\n1,2\n3,4\n", &o).unwrap();
    let e = Dataset::from_csv_bytes_with_schema(b"a,b\n?,1\n", "n.csv", "n", &full.schema, &o)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("nothing to fill it with"),
        "{e}"
    );
    let e = err("a,b\n?,1\nNA,2\n", &o);
    assert!(e.contains("column \"a\" holds no value"), "{e}");
}

#[test]
fn duplicate_columns_and_other_delimiters() {
    let o = CsvOptions::default();
    let e = err("a,b,a\n1,2,3\n", &o);
    assert!(
        e.contains("column \"a\" appears twice") && e.contains("fields 1 and 3"),
        "{e}"
    );
    let e = err("a;b;c\n1;2;3\n", &o);
    assert!(e.contains("--delimiter ';'"), "{e}");
    let e = err("a\tb\n1\t2\n", &o);
    assert!(e.contains("--delimiter '\\t'"), "{e}");
    let d = load(
        "a;b;c\n1;2;3\n4;5;6\n",
        &CsvOptions::default().delimiter(b';'),
    )
    .unwrap();
    assert_eq!((d.rows, d.cols), (2, 3));
    // Asked for: the one column is read as it is.
    let d = load("a;b\n1\n2\n", &CsvOptions::default().delimiter(b',')).unwrap();
    assert_eq!(d.feature_names(), vec!["a;b"]);
}

#[test]
fn one_range_for_every_pixel() {
    // The digits' raw values are 0 to 16; a pixel's own range can be much narrower (the
    // corners are rarely lit), so in one range every value is its raw value over 16.
    let d = digits().unwrap();
    let narrow = d
        .schema
        .features
        .iter()
        .position(|f| f.hi > f.lo && f.hi < 8.0)
        .expect("a pixel that is never brighter than half");
    let one = d.in_one_range().unwrap();
    assert_eq!((one.rows, one.cols), (d.rows, d.cols));
    for (i, (a, b)) in d.x.iter().zip(&one.x).enumerate() {
        let f = &d.schema.features[i % d.cols];
        let raw = f.lo + a * (f.hi - f.lo);
        assert!(
            (b - raw / 16.0).abs() < 1e-6,
            "value {i}: {b} for raw {raw}"
        );
    }
    let col = |x: &[f32]| -> f32 {
        x.iter()
            .skip(narrow)
            .step_by(d.cols)
            .copied()
            .fold(0.0, f32::max)
    };
    assert_eq!(col(&d.x), 1.0, "each pixel's own range stretches it to 1");
    assert!(col(&one.x) < 0.5, "one range keeps it dim: {}", col(&one.x));
    assert!(
        one.schema
            .features
            .iter()
            .all(|f| (f.lo, f.hi) == (0.0, 16.0))
    );
    // New rows scaled by the new schema land where the converted ones did.
    let mut raw = vec![16.0f32; d.cols];
    one.schema.scale(&mut raw);
    assert!(raw.iter().all(|&v| v == 1.0));
    // One-hot features have no common unit.
    let cat = load("a,kind\n1,x\n3,y\n", &CsvOptions::default()).unwrap();
    let e = cat.in_one_range().unwrap_err().to_string();
    assert!(e.contains("kind=x") && e.contains("one-hot"), "{e}");
}

#[test]
fn contaminated_training_sets_and_constant_columns() {
    use oddity::data::classes::{contaminated_split, labelled, without_constant_columns};
    let d = labelled(&digits().unwrap(), &[4]).unwrap();
    let anomalies = d.anomalies();
    for share in [0.05, 0.1, 0.2] {
        let s = contaminated_split(&d, share, 7).unwrap();
        // Half tests, every row once between the two halves' test and training pool.
        assert_eq!(s.test.rows, d.rows - d.rows / 2);
        let got = s.train.anomalies() as f64 / s.train.rows as f64;
        assert!((got - share).abs() < 0.01, "share {share}: {got}");
        // The digits' training half has far more anomalies than the share needs: every
        // normal row of it is kept.
        let normal_in_pool = (d.rows - anomalies) - (s.test.rows - s.test.anomalies());
        assert_eq!(
            s.train.rows - s.train.anomalies(),
            normal_in_pool,
            "share {share}"
        );
        let again = contaminated_split(&d, share, 7).unwrap();
        assert_eq!(
            again.train.origin, s.train.origin,
            "the same seed, the same rows"
        );
    }
    // Too few anomalies for the share: all of them, and fewer normal rows.
    let mut rare = d.clone();
    let flags = rare.anomaly.as_mut().unwrap();
    let mut seen = 0;
    for f in flags.iter_mut() {
        if *f == 1 {
            seen += 1;
            if seen > 40 {
                *f = 0;
            }
        }
    }
    let s = contaminated_split(&rare, 0.2, 3).unwrap();
    let got = s.train.anomalies() as f64 / s.train.rows as f64;
    assert!(
        (got - 0.2).abs() < 0.02,
        "{got} with {} anomalies",
        s.train.anomalies()
    );
    assert!(s.train.anomalies() <= 40);
    for bad in [0.0, 0.5] {
        let e = contaminated_split(&d, bad, 1).err().unwrap().to_string();
        assert!(e.contains("must be in (0, 0.5)"), "{e}");
    }
    // The digits' corner pixels are constant over a training set: left out of both.
    let s = contaminated_split(&d, 0.1, 1).unwrap();
    let (train, test, dropped) = without_constant_columns(&s.train, &s.test);
    assert!(dropped.contains(&"pixel0".to_string()), "{dropped:?}");
    assert_eq!(train.cols + dropped.len(), 64);
    assert_eq!((test.cols, test.rows), (train.cols, s.test.rows));
    assert_eq!(train.feature_names().len(), train.cols);
    let j = s
        .train
        .feature_names()
        .iter()
        .position(|n| n == &train.feature_names()[0])
        .unwrap();
    assert_eq!(
        train.row(3)[0],
        s.train.row(3)[j],
        "values move with their columns"
    );
}
