//! DAE_uai and Class_uai: the head's gradient reaches the encoder but not the score; without labels a step is
//! exactly a DAE step; the query ranks unlabelled rows and never returns a labelled one.

mod common;

use common::*;
use oddity::models::{Autoencoder, AutoencoderConfig};
use oddity::models::{Detector, LabelSet, UaiConfig, UaiModel};
use oddity::nn::Optimizer;
use oddity::tape::DataRows;
use oddity::tape::Tensor;
use oddity_kernels::reference::top_k;

fn config(seed: u64) -> AutoencoderConfig {
    AutoencoderConfig {
        batch: 32,
        seed,
        optimizer: Optimizer::rmsprop(0.01),
        ..AutoencoderConfig::dae(12, &[8, 3])
    }
}

fn slots(arena: &oddity::nn::ParamArena, values: &[f32], from: usize, to: usize) -> Vec<u32> {
    let s = &arena.slots;
    values[s[from].offset as usize..(s[to - 1].offset + s[to - 1].rows * s[to - 1].cols) as usize]
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

#[test]
fn head_gradient_reaches_the_encoder_and_not_the_score() {
    let gpu = gpu();
    let mut rng = rng();
    let n = 200u32;
    let data: Vec<f32> = randn(&mut rng, (n * 12) as usize, 1.0)
        .iter()
        .map(|v| v.abs())
        .collect();
    let x: DataRows = Tensor::from_slice(&gpu, &data, n, 12, "data")
        .unwrap()
        .into();
    let rows = [3u32, 17, 40, 41, 99, 150];
    let grads_with = |y: u8| {
        let model = UaiModel::new(&gpu, UaiConfig::new(config(9))).unwrap();
        let mut labels = LabelSet::new(&gpu, n).unwrap();
        labels.add(&gpu, &rows.map(|r| (r, y))).unwrap();
        // Two steps: the head starts with zero weights on l, so the first step only moves the
        // head; the second shows where its loss flows.
        model.train_plan(&x, &labels, None).unwrap().run(2).unwrap();
        (model.core().arena().read_grads(&gpu).unwrap(), model)
    };
    let (g0, m) = grads_with(0);
    let (g1, _) = grads_with(1);
    let mut dae = Autoencoder::new(&gpu, config(9)).unwrap();
    dae.fit(&x, 2).unwrap();
    let gd = dae.core().arena().read_grads(&gpu).unwrap();
    // slots: encoder 0..2, decoder 2..4, head 4
    assert_ne!(
        slots(m.core().arena(), &g0, 0, 2),
        slots(m.core().arena(), &g1, 0, 2),
        "the head's loss changes the encoder's gradient"
    );
    assert_ne!(
        slots(m.core().arena(), &g0, 0, 2),
        slots(dae.core().arena(), &gd, 0, 2),
        "labels add to the encoder's gradient"
    );
    assert_eq!(
        slots(m.core().arena(), &g0, 2, 4),
        slots(m.core().arena(), &g1, 2, 4),
        "no gradient flows through s(x) into the decoder"
    );
    assert_eq!(
        slots(m.core().arena(), &g0, 2, 4),
        slots(dae.core().arena(), &gd, 2, 4),
        "the decoder sees only the DAE loss"
    );
    assert_ne!(
        slots(m.core().arena(), &g0, 4, 5),
        slots(m.core().arena(), &g1, 4, 5),
        "the head learns from the labels"
    );
}

#[test]
fn without_labels_a_step_is_exactly_a_dae_step() {
    let gpu = gpu();
    let mut rng = rng();
    let n = 150u32;
    let data: Vec<f32> = randn(&mut rng, (n * 12) as usize, 1.0)
        .iter()
        .map(|v| v.abs())
        .collect();
    let x: DataRows = Tensor::from_slice(&gpu, &data, n, 12, "data")
        .unwrap()
        .into();
    let model = UaiModel::new(&gpu, UaiConfig::new(config(4))).unwrap();
    let labels = LabelSet::new(&gpu, n).unwrap();
    model
        .train_plan(&x, &labels, None)
        .unwrap()
        .run(30)
        .unwrap();
    let mut dae = Autoencoder::new(&gpu, config(4)).unwrap();
    dae.fit(&x, 30).unwrap();
    let (pu, pd) = (
        model.core().arena().read(&gpu).unwrap(),
        dae.core().arena().read(&gpu).unwrap(),
    );
    assert_eq!(
        slots(model.core().arena(), &pu, 0, 4),
        slots(dae.core().arena(), &pd, 0, 4)
    );
    let head = slots(model.core().arena(), &pu, 4, 5);
    assert_eq!(
        head,
        [0f32; 5].map(f32::to_bits).to_vec(),
        "the head is untouched (at its start: the logit is the standardised score)"
    );
}

#[test]
fn query_ranks_by_score_and_skips_labelled_rows() {
    let gpu = gpu();
    let (data, _) = oddity::data::synthetic_mnist(3000, 12, 0.02, 3);
    let x: DataRows = Tensor::from_slice(&gpu, &data, 3000, 12, "data")
        .unwrap()
        .into();
    let model = UaiModel::new(&gpu, UaiConfig::new(config(2))).unwrap();
    let mut labels = LabelSet::new(&gpu, 3000).unwrap();
    let dae = Autoencoder::new(&gpu, config(2)).unwrap();
    let want = top_k(&dae.scores(&x).unwrap(), None, 10);
    let (plan, _, top) = model.query_plan(&x, &labels, None, 10).unwrap();
    plan.run(1).unwrap();
    let got = top.read(&gpu).unwrap();
    assert_eq!(
        got, want,
        "before any label the head's logit is s(x): the DAE's ranking"
    );
    labels
        .add(&gpu, &got.iter().map(|&(r, _)| (r, 1)).collect::<Vec<_>>())
        .unwrap();
    plan.run(1).unwrap();
    let next = top.read(&gpu).unwrap();
    assert!(
        next.iter().all(|&(r, _)| !labels.contains(r)),
        "labelled rows are never chosen again"
    );
    assert!(
        next.iter().zip(&next[1..]).all(|(a, b)| a.1 >= b.1),
        "best first"
    );
    let e = labels
        .add(&gpu, &[(next[0].0, 1), (next[0].0, 0)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("labelled twice"), "{e}");
    assert!(
        labels
            .add(&gpu, &[(3000, 1)])
            .unwrap_err()
            .to_string()
            .contains("past the 3000 rows")
    );
}

#[test]
fn head_prior_pulls_the_head_toward_its_start_and_leaves_the_bias_free() {
    let gpu = gpu();
    let mut rng = rng();
    let n = 120u32;
    let data: Vec<f32> = randn(&mut rng, (n * 12) as usize, 1.0)
        .iter()
        .map(|v| v.abs())
        .collect();
    let x: DataRows = Tensor::from_slice(&gpu, &data, n, 12, "data")
        .unwrap()
        .into();
    let given = [
        (5u32, 1u8),
        (9, 0),
        (33, 1),
        (70, 0),
        (71, 0),
        (119, 1),
        (2, 0),
    ];
    let sd = 0.5f32;
    // One step moves the head off its start (where the prior's pull is zero, so both models
    // agree); the second step's gradients then differ by the prior's pull alone.
    let run = |prior: Option<f32>| {
        let model = UaiModel::new(
            &gpu,
            UaiConfig {
                head_prior_std: prior,
                ..UaiConfig::new(config(3))
            },
        )
        .unwrap();
        let mut labels = LabelSet::new(&gpu, n).unwrap();
        labels.add(&gpu, &given).unwrap();
        let plan = model.train_plan(&x, &labels, None).unwrap();
        plan.run(1).unwrap();
        let after_one = model.core().arena().read(&gpu).unwrap();
        plan.run(1).unwrap();
        (
            after_one,
            model.core().arena().read_grads(&gpu).unwrap(),
            model,
        )
    };
    let (p_with, g_with, m) = run(Some(sd));
    let (p_without, g_without, _) = run(None);
    assert_eq!(p_with, p_without, "the prior does not act at the start");
    assert_eq!(
        slots(m.core().arena(), &g_with, 0, 4),
        slots(m.core().arena(), &g_without, 0, 4),
        "the prior touches only the head"
    );
    // The prior is N(0, sd^2) on the latent weights and the log weight on the score; the bias
    // (the last) is free.
    let h = m.head_slot();
    let mut moved = 0.0f64;
    for i in 0..5 {
        let k = (h.offset + i) as usize;
        let pull = match i {
            4 => 0.0,
            _ => f64::from(p_with[k]) / (f64::from(sd * sd) * 7.0),
        };
        let got = f64::from(g_with[k]) - f64::from(g_without[k]);
        assert!(
            (got - pull).abs() <= 1e-5 * (1.0 + pull.abs()),
            "head {i}: gradient difference {got}, the prior's pull {pull}"
        );
        moved += pull.abs();
    }
    assert!(moved > 1e-4, "the head moved off its start: {moved}");
}

#[test]
fn a_bad_head_prior_is_refused() {
    let gpu = gpu();
    for sd in [0.0f32, -1.0, f32::NAN, f32::INFINITY, 1e-30] {
        let e = UaiModel::new(
            &gpu,
            UaiConfig {
                head_prior_std: Some(sd),
                ..UaiConfig::new(config(1))
            },
        )
        .err()
        .unwrap_or_else(|| panic!("prior sd {sd} accepted"))
        .to_string();
        assert!(e.contains("prior standard deviation"), "{e}");
    }
}

/// A dataset stored as f16 gives exactly what its values rounded to f16 give stored as f32:
/// training (the sampler), scoring (the first layer's GEMM and the reconstruction target) and
/// the top-k, for DAE_uai and Class_uai with labels. So f16 storage changes a result only
/// through the rounding of the data (its effect on detection is measured in BENCHMARKS.md).
#[test]
fn f16_data_gives_exactly_its_rounded_values_in_f32() {
    let gpu = gpu();
    let mut rng = rng();
    let (n, cols) = (301u32, 12u32);
    let data: Vec<f32> = randn(&mut rng, (n * cols) as usize, 1.0)
        .iter()
        .map(|v| v.abs())
        .collect();
    let rounded: Vec<f32> = data
        .iter()
        .map(|&v| half::f16::from_f32(v).to_f32())
        .collect();
    assert_ne!(data, rounded, "the data has digits f16 drops");
    let x16 = Tensor::from_slice_f16(&gpu, &data, n, cols, "f16 data").unwrap();
    let x32 = Tensor::from_slice(&gpu, &rounded, n, cols, "rounded data").unwrap();
    assert!(x16.is_half() && !x32.is_half());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&x16.read(&gpu).unwrap()),
        bits(&rounded),
        "reads back widened"
    );
    let odd = Tensor::view(x16.buffer(), 7, 5, 3).unwrap();
    assert_eq!(
        bits(&odd.read(&gpu).unwrap()),
        bits(&rounded[7..22]),
        "a view at an odd element"
    );
    let classes: Vec<u32> = (0..n).map(|i| i % 4).collect();
    let cls = gpu.upload(&classes, "classes").unwrap();
    for uai in [UaiConfig::new(config(3)), UaiConfig::class(config(3), 4)] {
        let name = uai.name();
        let cls = matches!(uai.base, oddity::models::BaseKind::Class { .. }).then_some(&cls);
        let run = |x: &Tensor| {
            let x = &DataRows::from(x);
            let model = UaiModel::new(&gpu, uai.clone()).unwrap();
            let mut labels = LabelSet::new(&gpu, n).unwrap();
            labels.add(&gpu, &[(4, 1), (77, 0), (300, 1)]).unwrap();
            model.train_plan(x, &labels, cls).unwrap().run(5).unwrap();
            let (plan, scores, top) = model.query_plan(x, &labels, cls, 9).unwrap();
            plan.run(1).unwrap();
            let params = model.core().arena().read(&gpu).unwrap();
            (
                bits(&params),
                bits(&scores.read(&gpu).unwrap()),
                top.read(&gpu).unwrap(),
            )
        };
        let (p16, s16, t16) = run(&x16);
        let (p32, s32, t32) = run(&x32);
        assert_eq!(p16, p32, "{name}: parameters after 5 steps");
        assert_eq!(s16, s32, "{name}: every row's score");
        assert_eq!(t16, t32, "{name}: the top 9");
    }
}

/// A UAI model file from before the standardised head (no `head_form` in its configuration:
/// form 1) is refused with what to do; the plain models, whose arena is unchanged, still load.
#[test]
fn a_first_form_head_is_refused_and_plain_models_still_build() {
    let gpu = gpu();
    let mut json = serde_json::to_value(UaiConfig::new(config(1))).unwrap();
    json.as_object_mut().unwrap().remove("head_form");
    let old: UaiConfig = serde_json::from_value(json).unwrap();
    assert_eq!(old.head_form, 1);
    let e = UaiModel::new(&gpu, old.clone()).err().unwrap().to_string();
    assert!(
        e.contains("dae-uai") && e.contains("head form 1") && e.contains("train the model again"),
        "{e}"
    );
    UaiModel::new(&gpu, old.without_head()).unwrap();
}

/// The head's standardisation window: one minibatch for DAE_uai, 100 for Class_uai (whose
/// cross-entropy's deviation swings between minibatches), the flag over either; a model file
/// from before the window was recorded keeps the single minibatch it was trained with; a
/// window of 0 is refused.
#[test]
fn the_head_statistics_window_by_model_flag_and_file() {
    use oddity::models::{DataShape, Model, Settings};
    let shape = DataShape {
        name: "toy".into(),
        inputs: 12,
        classes: Some(3),
    };
    let window = |name: &str, flag: Option<u32>| {
        let s = Settings {
            head_stats_window: flag,
            ..Settings::default()
        };
        UaiModel::configure(name, &shape, &s)
            .unwrap()
            .head_stats_window
    };
    assert_eq!(window("dae-uai", None), 1);
    assert_eq!(window("class-uai", None), 100);
    assert_eq!(window("class-uai", Some(7)), 7);
    assert_eq!(window("dae-uai", Some(50)), 50);
    let mut json = serde_json::to_value(UaiConfig::class(config(1), 3)).unwrap();
    json.as_object_mut().unwrap().remove("head_stats_window");
    let old: UaiConfig = serde_json::from_value(json).unwrap();
    assert_eq!(old.head_stats_window, 1);
    let gpu = gpu();
    let e = UaiModel::new(
        &gpu,
        UaiConfig {
            head_stats_window: 0,
            ..old
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("head statistics window > 0"), "{e}");
}
