//! BiGAN: each player's plan trains only its own networks' words of the one arena; each
//! player, trained against a fixed opponent, lowers its own objective and raises the other's;
//! fitting runs its alternating plans with no host wait; its file; its refusals. (The dense, concat, noise and BCE
//! rules it trains through have their finite-difference checks in `gradcheck.rs`.)

mod common;

use common::*;
use oddity::Tensor;
use oddity::models::{Bigan, BiganConfig, Detector, ModelCore, Player, ROUNDS_PER_SUBMIT};
use oddity::nn::{ArenaBuilder, Mlp, Optimizer};
use oddity::ops::Act;
use oddity::ops::loss::RowError;
use rand::RngExt;

#[test]
fn a_range_plan_trains_its_words_and_leaves_the_others_exactly() {
    let gpu = gpu();
    let mut rng = rng();
    let mut arena = ArenaBuilder::new(3);
    let a = Mlp::new(&mut arena, &[3, 5], &[Act::Tanh]).unwrap();
    let split = arena.len() as u32;
    let b = Mlp::new(&mut arena, &[5, 2], &[Act::Identity]).unwrap();
    let end = arena.len() as u32;
    let core = ModelCore::new(&gpu, arena, Optimizer::adam(0.01), 3).unwrap();
    let x = Tensor::from_slice(&gpu, &randn(&mut rng, 21, 1.0), 7, 3, "x").unwrap();
    let y = Tensor::from_slice(&gpu, &randn(&mut rng, 14, 1.0), 7, 2, "y").unwrap();
    for (range, name) in [(split..end, "b"), (0..split, "a")] {
        let plan = core
            .train_plan_range(range.clone(), 0.01, |tape| {
                let h = a.forward(tape, core.arena(), &x)?;
                let out = b.forward(tape, core.arena(), &h)?;
                let (_, loss) = tape.row_error_mean(&out, &y, RowError::SquaredL2, 7)?;
                Ok(vec![loss])
            })
            .unwrap();
        let (p0, g0) = (
            core.arena().read(&gpu).unwrap(),
            core.arena().read_grads(&gpu).unwrap(),
        );
        plan.run(3).unwrap();
        let (p1, g1) = (
            core.arena().read(&gpu).unwrap(),
            core.arena().read_grads(&gpu).unwrap(),
        );
        let inside = |i: usize| range.contains(&(i as u32));
        for i in 0..end as usize {
            if inside(i) {
                continue;
            }
            assert_eq!(
                p1[i].to_bits(),
                p0[i].to_bits(),
                "{name}'s plan moved word {i}"
            );
            assert_eq!(
                g1[i].to_bits(),
                g0[i].to_bits(),
                "{name}'s plan wrote gradient {i}"
            );
        }
        let moved = (0..end as usize)
            .filter(|&i| inside(i) && p1[i] != p0[i])
            .count();
        assert_eq!(
            moved,
            range.len(),
            "{name}'s plan trains every one of its words"
        );
    }
}

fn rows(
    rng: &mut rand::rngs::StdRng,
    normal: usize,
    far: usize,
    d: usize,
) -> oddity::data::Dataset {
    let mut x = Vec::new();
    for i in 0..normal + far {
        let shift = if i >= normal { 0.8 } else { 0.0 };
        // Normal rows near a line through the unit cube; far rows off it.
        let t = rng.random::<f32>();
        x.extend((0..d).map(|j| {
            let on = if j % 2 == 0 { t } else { 1.0 - t };
            0.1 + 0.6 * on + 0.05 * rng.random::<f32>() + if j == 1 { shift } else { 0.0 }
        }));
    }
    dataset(
        "line",
        d,
        x,
        Some((0..normal + far).map(|i| u8::from(i >= normal)).collect()),
    )
}

/// Networks small enough for a software adapter: hidden 16, latent 2, features 8, batch 32.
fn small(d: usize) -> BiganConfig {
    BiganConfig {
        hidden: 16,
        latent: 2,
        features: 8,
        batch: 32,
        ..BiganConfig::new(d as u32)
    }
}

/// Each player, trained alone against the other held fixed, lowers its own objective (a
/// classification problem each: the game's two halves move as they should), and raises its
/// opponent's.
#[test]
fn each_player_lowers_its_own_objective_against_a_fixed_opponent() {
    let gpu = gpu();
    let mut rng = rng();
    let d = 4;
    let train = rows(&mut rng, 320, 0, d);
    let config = BiganConfig {
        lr: 1e-3,
        ..small(d)
    };
    let mut model = Bigan::new(&gpu, config).unwrap();
    let params = |m: &Bigan| m.core().arena().read(&gpu).unwrap();
    let (d0, g0) = model.objectives(&train).unwrap();
    let p0 = params(&model);
    let steps = model.train(&train, &[Player::Discriminator], 150).unwrap();
    assert_eq!(steps, 150);
    let (d1, g1) = model.objectives(&train).unwrap();
    let p1 = params(&model);
    let steps = model
        .train(&train, &[Player::EncoderGenerator], 150)
        .unwrap();
    assert_eq!(steps, 150);
    let (d2, g2) = model.objectives(&train).unwrap();
    let p2 = params(&model);
    // The encoder and generator come first in the arena, the discriminator after: each
    // player's training moved its own words, every one, and no other.
    let split = (0..p0.len()).find(|&i| p1[i] != p0[i]).expect("D moved");
    assert!(split > 0, "D's words start after E's and G's");
    assert!(
        (split..p0.len()).all(|i| p1[i] != p0[i]),
        "D moved, every word"
    );
    assert!(
        (0..split).all(|i| p2[i] != p1[i]),
        "E and G moved, every word"
    );
    assert!(
        (split..p0.len()).all(|i| p2[i].to_bits() == p1[i].to_bits()),
        "D held"
    );
    eprintln!(
        "objectives (D, EG): {d0:.4} {g0:.4} -> D trained {d1:.4} {g1:.4} -> EG trained {d2:.4} {g2:.4}"
    );
    assert!(d1 < 0.7 * d0, "the discriminator's objective {d0} -> {d1}");
    assert!(
        g1 > g0,
        "the discriminator's training raises the others' objective {g0} -> {g1}"
    );
    assert!(
        g2 < 0.7 * g1,
        "the encoder's and generator's objective {g1} -> {g2}"
    );
    assert!(
        d2 > d1,
        "their training raises the discriminator's {d1} -> {d2}"
    );
}

/// Fitting: alternating plans, one submit per player's step and no host wait; the scores
/// through the model file; the generator's samples; the refusals.
#[test]
fn fitting_alternates_without_host_waits() {
    // A device of its own: the counters are the device's, and the other tests run beside.
    let gpu = oddity::Gpu::new().unwrap();
    let mut rng = rng();
    let d = 4;
    let train = rows(&mut rng, 320, 0, d);
    let test = rows(&mut rng, 50, 5, d);
    let config = BiganConfig {
        epochs: 7,
        ..small(d)
    };
    let mut model = Bigan::new(&gpu, config.clone()).unwrap();
    let c0 = gpu.counters();
    let report = model.fit(&train).unwrap();
    let c = gpu.counters() - c0;
    let rounds: u32 = 7 * 320 / 32;
    assert_eq!(report.steps, 2 * u64::from(rounds));
    assert_eq!(c.host_waits, 0, "fitting waited on the device");
    assert_eq!(
        c.submits,
        u64::from(rounds.div_ceil(ROUNDS_PER_SUBMIT)),
        "the rounds recorded in submits of {ROUNDS_PER_SUBMIT}"
    );
    let scores = model.score(&test).unwrap();
    assert!(scores.iter().all(|s| s.is_finite() && *s >= 0.0));
    let again = reloaded(&gpu, &model).score(&test).unwrap();
    assert!(
        same_bits(&again, &scores),
        "the reloaded model scores differently"
    );
    let samples = model.generate(17, 5).unwrap();
    assert_eq!(samples.len(), 17 * d);
    assert!(samples.iter().all(|v| v.is_finite()));
    // Refused: one row; alpha outside [0, 1]; no latent.
    let mut one = train.clone();
    one.rows = 1;
    one.x.truncate(d);
    let e = model.fit(&one).unwrap_err().to_string();
    assert!(e.contains("needs at least 2"), "{e}");
    for bad in [
        BiganConfig {
            alpha: 1.5,
            ..config.clone()
        },
        BiganConfig {
            latent: 0,
            ..config.clone()
        },
    ] {
        assert!(Bigan::new(&gpu, bad).is_err());
    }
}
