//! `oddity bench --sweep N`: every GEMM product of the DAE's training step and scoring pass,
//! timed under each single-kernel policy (`gemm`, `gemm_wide`, `gemm_sliced`, `gemm_huge`) and
//! under the chosen policy, `N` launches each. It tells, on the adapter it runs on, which
//! kernel is fastest for each product and how far the policy's choices are from that.

use oddity::Gpu;
use oddity::gpu::GemmPolicy;
use oddity::models::Autoencoder;
use oddity::tape::Plan;

/// One product: where it is, its shape, the chosen policy's kernel and time, and its time
/// under each of [`GemmPolicy::SINGLE`] (microseconds per launch).
#[derive(serde::Serialize)]
pub struct Product {
    pub plan: &'static str,
    pub shape: String,
    pub chosen: String,
    pub chosen_us: f64,
    pub us: Vec<f64>,
}

#[derive(serde::Serialize)]
pub struct Sweep {
    pub policy: GemmPolicy,
    pub kernels: Vec<&'static str>,
    pub timing: &'static str,
    pub launches: u32,
    pub products: Vec<Product>,
}

/// A plan's GEMM dispatches as (label, microseconds), in order.
fn gemm_times(plan: &Plan, launches: u32) -> oddity::Result<(Vec<(String, f64)>, &'static str)> {
    let (times, how) = plan.kernel_times(launches)?;
    let gemms = times
        .into_iter()
        .filter(|(label, _)| label.starts_with("gemm::") || label.starts_with("gemm16::"))
        .collect();
    Ok((gemms, how))
}

/// "gemm::gemm_sliced [8, 8, 1] 256x256x784" -> ("gemm_sliced", "256x256x784").
fn split(label: &str) -> (String, String) {
    let kernel = label
        .split_whitespace()
        .next()
        .and_then(|k| k.split("::").nth(1))
        .unwrap_or(label);
    let shape = label.rsplit(' ').next().unwrap_or("");
    (kernel.to_string(), shape.to_string())
}

/// Times `model`'s training step and scoring pass of `x` under every single-kernel policy and
/// under the device's own, which it leaves set as it found it. The plans run on the model's
/// real buffers (training steps change its weights).
pub fn run(
    gpu: &Gpu,
    model: &Autoencoder,
    x: &oddity::tape::DataRows,
    launches: u32,
) -> oddity::Result<Sweep> {
    let policy = gpu.gemm_policy();
    let mut runs = Vec::new();
    let mut timing = "";
    let mut timed = || -> oddity::Result<()> {
        for p in std::iter::once(policy).chain(GemmPolicy::SINGLE) {
            gpu.set_gemm_policy(p);
            let (train, how) = gemm_times(&model.train_plan(x)?, launches)?;
            let (score, _) = gemm_times(&model.score_plan(x)?.0, launches)?;
            timing = how;
            runs.push([train, score]);
        }
        Ok(())
    };
    let result = timed();
    gpu.set_gemm_policy(policy);
    result?;
    let mut products = Vec::new();
    for (i, plan) in ["step", "score"].into_iter().enumerate() {
        for (j, (label, chosen_us)) in runs[0][i].iter().enumerate() {
            let (chosen, shape) = split(label);
            let us = runs[1..]
                .iter()
                .map(|r| r[i].get(j).map_or(f64::NAN, |t| t.1))
                .collect();
            products.push(Product {
                plan,
                shape,
                chosen,
                chosen_us: *chosen_us,
                us,
            });
        }
    }
    Ok(Sweep {
        policy,
        kernels: GemmPolicy::SINGLE
            .iter()
            .map(|p| p.kernel().0.entry)
            .collect(),
        timing,
        launches,
        products,
    })
}

impl Sweep {
    pub fn print(&self) {
        outln!(
            "  GEMM sweep ({}, {} launches each, us per launch; `{}` is the policy's choice):",
            self.timing,
            self.launches,
            self.policy.name()
        );
        let head: Vec<String> = self.kernels.iter().map(|k| format!("{k:>12}")).collect();
        outln!(
            "    {:<6}{:<16}{}  {:>12}  {:<12} best",
            "plan",
            "MxNxK",
            head.join(""),
            self.policy.name(),
            "(kernel)"
        );
        for plan in ["step", "score"] {
            let (mut chosen, mut best) = (0.0, 0.0);
            for p in self.products.iter().filter(|p| p.plan == plan) {
                let (bi, bu) =
                    p.us.iter()
                        .enumerate()
                        .min_by(|a, b| a.1.total_cmp(b.1))
                        .map_or((0, f64::NAN), |(i, u)| (i, *u));
                chosen += p.chosen_us;
                best += bu;
                let cols: Vec<String> = p.us.iter().map(|u| format!("{u:12.1}")).collect();
                outln!(
                    "    {:<6}{:<16}{}  {:12.1}  {:<12} {}",
                    plan,
                    p.shape,
                    cols.join(""),
                    p.chosen_us,
                    p.chosen,
                    self.kernels[bi]
                );
            }
            outln!(
                "    {plan}: the policy's products {chosen:.1} us; the fastest kernel for each {best:.1} us"
            );
        }
    }
}
