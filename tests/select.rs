//! `select.wgsl` against its f64 twins: percentiles (numpy's linear rule) of columns at
//! awkward lengths, with ties, negatives, signed zeros and wide ranges, at offsets and
//! strides; the rows at or below a threshold, in order, into a row list; the per-row table
//! lookup. Outputs poisoned first.

mod common;

use common::*;
use oddity::Tensor;
use oddity::tape::{StepState, Tape};
use oddity_kernels::params::SelectParams;
use oddity_kernels::reference as r;
use rand::RngExt;

fn run(gpu: &oddity::Gpu, record: impl FnOnce(&mut Tape)) {
    let state = StepState::new(gpu).unwrap();
    let mut tape = Tape::new(gpu, &state);
    record(&mut tape);
    tape.finish().unwrap().run(1).unwrap();
}

/// `n` values: half drawn from a wide range of magnitudes and signs, a quarter copies of
/// others (ties), the rest signed zeros and small integers.
fn awkward(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
    let mut v: Vec<f32> = Vec::with_capacity(n);
    for i in 0..n {
        let x = match i % 4 {
            0 | 1 => {
                let m: f32 = rng.random_range(-20.0..20.0);
                let s = if rng.random::<bool>() { 1.0 } else { -1.0 };
                s * m.exp2() * rng.random::<f32>()
            }
            2 if i > 0 => v[rng.random_range(0..i)],
            _ => [0.0, -0.0, 1.0, -3.0][rng.random_range(0..4)],
        };
        v.push(x);
    }
    v
}

#[test]
fn percentiles_match_numpy_linear_rule() {
    let gpu = gpu();
    let mut rng = rng();
    for &n in &[1u32, 2, 3, 7, 255, 256, 257, 1000, 4099] {
        let cols = 3u32;
        let v = awkward(&mut rng, (n * cols) as usize);
        // The values at offset 2 of their buffer, three columns; the percentile of column 1.
        let mut padded = vec![f32::NAN, f32::NAN];
        padded.extend_from_slice(&v);
        let b = Tensor::from_slice(&gpu, &padded, padded.len() as u32, 1, "values").unwrap();
        let vt = Tensor::view(b.buffer(), 2, n, cols).unwrap();
        for q in [0.0, 10.0, 50.0, 90.0, 99.5, 100.0] {
            let out = nan_tensor(&gpu, 1, 1);
            run(&gpu, |t| t.percentile(&vt, 1, q, &out).unwrap());
            let got = out.read(&gpu).unwrap()[0];
            let p = SelectParams {
                v_off: 3,
                stride: cols,
                ..SelectParams::new(n)
            }
            .percentile(q);
            let want = r::quantile(&p, &wide(&padded));
            // f32's interpolation errs by its rounding of the two order statistics.
            let rank = |k| {
                let at = SelectParams {
                    lo: k,
                    hi: k,
                    frac: 0.0,
                    ..p
                };
                r::quantile(&at, &wide(&padded)).abs()
            };
            let tol = 1e-6 * (rank(p.lo) + rank(p.hi)).max(1e-30);
            assert!(
                (f64::from(got) - want).abs() <= tol,
                "{n} values, percentile {q}: {got} against {want}"
            );
            if p.frac == 0.0 {
                assert_eq!(
                    f64::from(got),
                    want,
                    "an order statistic is one of the values"
                );
            }
        }
    }
}

#[test]
fn rows_at_or_below_a_threshold_in_order_and_lookups() {
    let gpu = gpu();
    let mut rng = rng();
    for &n in &[1u32, 5, 256, 257, 3001] {
        let v = awkward(&mut rng, n as usize);
        let vt = Tensor::from_slice(&gpu, &v, n, 1, "values").unwrap();
        // The threshold: the 60th percentile, computed on the GPU and never read back.
        let thr = nan_tensor(&gpu, 1, 1);
        let lab = gpu
            .upload(&vec![u32::MAX; (n + 4) as usize], "row list")
            .unwrap();
        run(&gpu, |t| {
            t.percentile(&vt, 0, 60.0, &thr).unwrap();
            t.select_below(&vt, &thr, &lab, 2).unwrap();
        });
        let t = f64::from(thr.read(&gpu).unwrap()[0]);
        let want = r::select_below(&SelectParams::new(n), &wide(&v), t);
        let got = gpu.read_u32(&lab, 0, u64::from(n + 4)).unwrap();
        assert_eq!(got[2] as usize, want.len(), "{n} rows: the count");
        assert_eq!(&got[3..3 + want.len()], &want[..], "{n} rows: the list");
        assert!(
            got[..2].iter().all(|&w| w == u32::MAX),
            "words before the list kept"
        );
        assert!(
            got[3 + want.len()..].iter().all(|&w| w == u32::MAX),
            "words past the list kept"
        );
        assert!(
            want.len() as f64 >= 0.6 * f64::from(n - 1),
            "{} of {n}",
            want.len()
        );

        // Each row's entry of column 1 of a 7 x 2 table.
        let idx: Vec<f32> = (0..n).map(|_| rng.random_range(0..7) as f32).collect();
        let table = randn(&mut rng, 14, 3.0);
        let (it, tt) = (
            Tensor::from_slice(&gpu, &idx, n, 1, "indices").unwrap(),
            Tensor::from_slice(&gpu, &table, 7, 2, "table").unwrap(),
        );
        let out = nan_tensor(&gpu, n, 1);
        run(&gpu, |t| t.lookup(&it, &tt, 1, &out).unwrap());
        let p = SelectParams {
            width: 2,
            col: 1,
            ..SelectParams::new(n)
        };
        let want = r::lookup(&p, &wide(&idx), &wide(&table));
        assert_eq!(wide(&out.read(&gpu).unwrap()), want, "{n} lookups");
    }
}

#[test]
fn bad_shapes_are_refused() {
    let gpu = gpu();
    let v = Tensor::from_slice(&gpu, &[1.0; 6], 3, 2, "v").unwrap();
    let out = nan_tensor(&gpu, 1, 1);
    let state = StepState::new(&gpu).unwrap();
    let mut t = Tape::new(&gpu, &state);
    let e = t.percentile(&v, 2, 50.0, &out).unwrap_err().to_string();
    assert!(e.contains("column 2 of 3x2"), "{e}");
    let e = t.percentile(&v, 0, 101.0, &out).unwrap_err().to_string();
    assert!(e.contains("percentile 101"), "{e}");
    let col = Tensor::from_slice(&gpu, &[1.0; 3], 3, 1, "col").unwrap();
    let short = gpu.upload(&[0u32; 3], "short").unwrap();
    let e = t
        .select_below(&col, &out, &short, 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("need 4 words"), "{e}");
}
