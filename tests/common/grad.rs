//! The finite-difference harness of the gradient checks: the GPU's gradients (from the tape's
//! backward pass) against central differences of an f64 forward written with plain loops.
//! Gradient buffers are poisoned with NaN first, so an unwritten gradient fails, and each plan
//! is replayed twice, so a scratch buffer that relies on being new fails too.

use super::{rel_err, wide};
use oddity::Gpu;
use oddity::tape::{StepState, Tape, Tensor};

pub type Build = dyn Fn(&mut Tape, &[Tensor]) -> oddity::Result<Tensor>;
pub type BuildAll<'a> = dyn Fn(&mut Tape, &[Tensor]) -> oddity::Result<Vec<Tensor>> + 'a;
pub type Forward<'a> = dyn Fn(&[Vec<f64>]) -> f64 + 'a;

/// Checks d loss / d (each input) from the tape against finite differences of `f64_loss`.
pub fn check(
    gpu: &Gpu,
    name: &str,
    inputs: &[(Vec<f32>, u32, u32)],
    build: &Build,
    f64_loss: &Forward<'_>,
) {
    check_all(gpu, name, inputs, &|t, x| Ok(vec![build(t, x)?]), f64_loss);
}

/// [`check`] for a loss that is the sum of the terms `build` returns (one backward over all).
pub fn check_all(
    gpu: &Gpu,
    name: &str,
    inputs: &[(Vec<f32>, u32, u32)],
    build: &BuildAll<'_>,
    f64_loss: &Forward<'_>,
) {
    let state = StepState::new(gpu).unwrap();
    let mut tape = Tape::new(gpu, &state);
    let mut tensors = Vec::new();
    let mut grads = Vec::new();
    for (v, r, c) in inputs {
        let t = Tensor::from_slice(gpu, v, *r, *c, "input").unwrap();
        let g = Tensor::from_slice(gpu, &vec![f32::NAN; v.len()], *r, *c, "grad").unwrap();
        tape.param(&t, &g).unwrap();
        tensors.push(t);
        grads.push(g);
    }
    let losses = build(&mut tape, &tensors).unwrap();
    tape.backward_all(&losses.iter().collect::<Vec<_>>())
        .unwrap();
    // Twice: what one replay leaves in a scratch buffer must not leak into the next (wgpu
    // zero-fills new buffers, so one replay alone would not show an unwritten row).
    tape.finish().unwrap().run(2).unwrap();
    let x: Vec<Vec<f64>> = inputs.iter().map(|(v, _, _)| wide(v)).collect();
    let got_loss: f32 = losses.iter().map(|l| l.read(gpu).unwrap()[0]).sum();
    let want_loss = f64_loss(&x);
    assert!(
        (f64::from(got_loss) - want_loss).abs() <= 1e-5 * want_loss.abs().max(1.0),
        "{name}: loss {got_loss} vs {want_loss}"
    );
    for (i, g) in grads.iter().enumerate() {
        let got = g.read(gpu).unwrap();
        let mut fd = vec![0.0; got.len()];
        for (j, d) in fd.iter_mut().enumerate() {
            let h = 1e-6 * x[i][j].abs().max(1.0);
            let mut xp = x.clone();
            xp[i][j] += h;
            let up = f64_loss(&xp);
            xp[i][j] -= 2.0 * h;
            *d = (up - f64_loss(&xp)) / (2.0 * h);
        }
        let e = rel_err(&got, &fd);
        eprintln!("{name}: input {i} ({} values) rel err {e:.2e}", got.len());
        assert!(
            e < 1e-4,
            "{name}: gradient of input {i}: rel err {e}\n got {got:?}\n fd  {fd:?}"
        );
    }
}
