//! Uniform parameters of each kernel, shared by the GPU launchers and the f64 references. The
//! runtime writes each field at the offset naga reflected for the member of the same name, and
//! refuses a struct whose fields and the shader's members differ.

/// `NONE` in an offset field: the optional operand is absent.
pub const NONE: u32 = u32::MAX;

/// A uniform field value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    U32(u32),
    F32(f32),
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::U32(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::F32(v)
    }
}

/// A kernel's uniform parameters as (member name, value) pairs.
pub trait Params {
    fn fields(&self) -> Vec<(&'static str, Value)>;
}

macro_rules! params {
    ($(#[$doc:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name { $(pub $field: $ty),* }
        impl Params for $name {
            fn fields(&self) -> Vec<(&'static str, Value)> {
                vec![$((stringify!($field), Value::from(self.$field))),*]
            }
        }
    };
}

params!(
    /// `gemm.wgsl`: C (+)= act(op(A) op(B) + bias); see the shader header.
    GemmParams {
        m: u32, n: u32, k: u32,
        a_off: u32, a_rs: u32, a_cs: u32, a_mode: u32, a_aux_off: u32, a_ones_row: u32,
        b_off: u32, b_rs: u32, b_cs: u32, b_mode: u32, b_aux_off: u32,
        bias_off: u32, c_off: u32, ldc: u32,
        act: u32, dact: u32, alpha: f32, accumulate: u32,
    }
);

impl GemmParams {
    /// `C = A B` for an `m x n x k` product with every option off; strides and offsets zero.
    pub fn new(m: u32, n: u32, k: u32) -> GemmParams {
        GemmParams {
            m,
            n,
            k,
            a_off: 0,
            a_rs: 0,
            a_cs: 0,
            a_mode: 0,
            a_aux_off: 0,
            a_ones_row: NONE,
            b_off: 0,
            b_rs: 0,
            b_cs: 0,
            b_mode: 0,
            b_aux_off: 0,
            bias_off: NONE,
            c_off: 0,
            ldc: n,
            act: 0,
            dact: 0,
            alpha: 0.0,
            accumulate: 0,
        }
    }
}

params!(
    /// `rowerr.wgsl`: row-wise squared L2 / MSE and its backward; the forward pass can also
    /// write the gradient of the mean over the first `d_rows` rows (at `d_off`, NONE: not).
    RowErrParams {
        rows: u32, cols: u32, pred_off: u32, target_off: u32, out_off: u32, mse: u32,
        g_off: u32, g_scale: f32, accumulate: u32, d_off: u32, d_rows: u32,
    }
);

params!(
    /// `bce.wgsl`: masked mean BCE with logits and its backward.
    BceParams {
        rows: u32, z_off: u32, y_off: u32, mask_off: u32, out_off: u32,
        g_off: u32, g_scale: f32, accumulate: u32,
    }
);

params!(
    /// `head.wgsl`: the UAI head (logistic layer on [l; s], masked mean BCE) and its gradients.
    HeadParams {
        rows: u32, h: u32, l_off: u32, l_rows: u32, r0: u32, s_off: u32, w_off: u32,
        y_off: u32, m_off: u32, out_off: u32, g_off: u32, g_scale: f32, dw_acc: u32,
        dl_off: u32, dl_acc: u32, inv_var: f32, c_off: u32, loss_off: u32, st_off: u32,
        decay: f32,
    }
);

/// `head.wgsl`'s running score statistics before any step: (mean 0, standard deviation 1, no
/// minibatch behind them), which the kernel also starts from when `st_off == NONE`.
pub const HEAD_STATS_START: [f32; 3] = [0.0, 1.0, 0.0];

params!(
    /// `reduce.wgsl`: scale * sum of a range.
    ReduceParams { n: u32, x_off: u32, out_off: u32, scale: f32 }
);

params!(
    /// `gather.wgsl`: random minibatch (+ noise) and index gather.
    GatherParams {
        rows: u32, cols: u32, n_data: u32, data_off: u32, out_off: u32, noisy_off: u32,
        idx_off: u32, seed: u32, noise_std: f32, cls_off: u32, cls_out_off: u32,
        part_len: u32,
    }
);

params!(
    /// `noise.wgsl`: additive Gaussian noise.
    NoiseParams { n: u32, x_off: u32, out_off: u32, seed: u32, tag: u32, sigma: f32 }
);

params!(
    /// `optim.wgsl`: one optimizer update over an arena.
    OptimParams { n: u32, first: u32, total: u32, kind: u32, lr: f32, beta1: f32, beta2: f32, eps: f32 }
);

params!(
    /// `binloss.wgsl`: ABC / LRC / sigmoid-CE loss per row and its backward.
    BinLossParams { rows: u32, kind: u32, v_off: u32, y_off: u32, out_off: u32, g_off: u32, g_scale: f32, accumulate: u32 }
);

params!(
    /// `step.wgsl` `fill`: set or add a constant.
    FillParams { n: u32, out_off: u32, value: f32, accumulate: u32 }
);

params!(
    /// `step.wgsl` `axpy`: out (+)= a * x.
    AxpyParams { n: u32, x_off: u32, out_off: u32, a: f32, accumulate: u32 }
);

params!(
    /// `topk.wgsl`: one selection pass over scores (with an exclusion mask) or candidate pairs.
    TopKParams { n: u32, k: u32, s_off: u32, m_off: u32, p_off: u32, o_off: u32 }
);

params!(
    /// `gather.wgsl` `sample_labelled`: `batch` random rows then `rows` rows from the labelled
    /// set on the GPU, in one tensor.
    LabelledParams {
        batch: u32, n_data: u32, rows: u32, cols: u32, cap: u32, data_off: u32, out_off: u32,
        noisy_off: u32, y_off: u32, m_off: u32, c_off: u32, seed: u32, noise_std: f32,
        cls_off: u32, cls_out_off: u32, part_len: u32,
    }
);

params!(
    /// `step.wgsl` `copy_cols`: a block of columns between matrices.
    CopyColsParams { rows: u32, width: u32, x_off: u32, x_ld: u32, o_off: u32, o_ld: u32, accumulate: u32 }
);

params!(
    /// `softmax_ce.wgsl`: per-row softmax cross-entropy and its backward.
    /// The forward pass can also write the gradient of the mean over the first `d_rows` rows
    /// (at `d_off`, NONE: not).
    CeParams {
        rows: u32, cols: u32, z_off: u32, cls_off: u32, out_off: u32, g_off: u32, g_scale: f32,
        accumulate: u32, d_off: u32, d_rows: u32,
    }
);

params!(
    /// `vae.wgsl`: the VAE's Gaussian latent (sample z, each row's KL term) and its backward.
    VaeParams {
        rows: u32, latent: u32, h_off: u32, z_off: u32, kl_off: u32, dz_off: u32, g_off: u32,
        dh_off: u32, seed: u32, tag: u32, sample: u32, beta: f32, g_scale: f32, accumulate: u32,
    }
);

params!(
    /// `gaussnll.wgsl`: rows' Gaussian negative log-likelihood under one learned log-variance.
    GaussNllParams {
        rows: u32, dims: u32, e_off: u32, s_off: u32, out_off: u32, g_off: u32, g_scale: f32,
        d_off: u32, accumulate: u32,
    }
);

params!(
    /// `iforest.wgsl`: every row's isolation-forest score from the trees' nodes.
    IForestParams {
        rows: u32, cols: u32, x_off: u32, t_off: u32, trees: u32, npt: u32, out_off: u32,
    }
);

params!(
    /// `pca.wgsl`: column statistics, standardisation, the Jacobi eigen-solver and the scores.
    PcaParams {
        rows: u32, cols: u32, k: u32, x_off: u32, z_off: u32, st_off: u32, w_off: u32,
        l_off: u32, p_off: u32, out_off: u32, sweeps: u32, mode: u32, scale: f32, tol: f32,
    }
);

impl PcaParams {
    /// `rows x cols` with every offset 0, no components, sweeps or tolerance, scale 1.
    pub fn new(rows: u32, cols: u32) -> PcaParams {
        PcaParams {
            rows,
            cols,
            k: 0,
            x_off: 0,
            z_off: 0,
            st_off: 0,
            w_off: 0,
            l_off: 0,
            p_off: 0,
            out_off: 0,
            sweeps: 0,
            mode: 0,
            scale: 1.0,
            tol: 0.0,
        }
    }
}

params!(
    /// `ocsvm.wgsl`: squared norms, the RBF kernel, the SMO solver and the decision values.
    OcsvmParams {
        rows: u32, cols: u32, sv: u32, x_off: u32, g_off: u32, a_off: u32, b_off: u32,
        out_off: u32, k_off: u32, al_off: u32, gr_off: u32, st_off: u32, iters: u32,
        nu: f32, gamma: f32, eps: f32,
    }
);

impl OcsvmParams {
    /// `rows x cols` with every offset 0, no support rows or iterations, nu 0.5, gamma 1 and
    /// LIBSVM's tolerance 1e-3.
    pub fn new(rows: u32, cols: u32) -> OcsvmParams {
        OcsvmParams {
            rows,
            cols,
            sv: 0,
            x_off: 0,
            g_off: 0,
            a_off: 0,
            b_off: 0,
            out_off: 0,
            k_off: 0,
            al_off: 0,
            gr_off: 0,
            st_off: 0,
            iters: 0,
            nu: 0.5,
            gamma: 1.0,
            eps: 1e-3,
        }
    }
}

params!(
    /// `ocsvm_primal.wgsl`: random Fourier features and the linear one-class SVM's primal.
    PrimalParams {
        rows: u32, cols: u32, x_off: u32, u_off: u32, w_off: u32, r_off: u32, out_off: u32,
        r_out: u32, g_off: u32, g_scale: f32, accumulate: u32, r_acc: u32, nu: f32, scale: f32,
    }
);

impl PrimalParams {
    /// `rows x cols` with every offset 0, no upstream gradient (scale 1), nu 0.5, scale 1.
    pub fn new(rows: u32, cols: u32) -> PrimalParams {
        PrimalParams {
            rows,
            cols,
            x_off: 0,
            u_off: 0,
            w_off: 0,
            r_off: 0,
            out_off: 0,
            r_out: 0,
            g_off: NONE,
            g_scale: 1.0,
            accumulate: 0,
            r_acc: 0,
            nu: 0.5,
            scale: 1.0,
        }
    }
}

params!(
    /// `gmm.wgsl`: DAGMM's Gaussian mixture (fit from codes and membership logits, each row's
    /// energy, the penalty) and its backward rules.
    GmmParams {
        rows: u32, dims: u32, comps: u32, z_off: u32, l_off: u32, p_off: u32, out_off: u32,
        r_off: u32, pen_off: u32, g_off: u32, g_scale: f32, gp_off: u32, mix_off: u32,
        dz_off: u32, dl_off: u32, accumulate: u32, eps: f32,
    }
);

impl GmmParams {
    /// `rows` codes of `dims` values in `comps` components, every offset 0 and every optional
    /// operand absent.
    pub fn new(rows: u32, dims: u32, comps: u32) -> GmmParams {
        GmmParams {
            rows,
            dims,
            comps,
            z_off: 0,
            l_off: 0,
            p_off: 0,
            out_off: 0,
            r_off: 0,
            pen_off: NONE,
            g_off: NONE,
            g_scale: 1.0,
            gp_off: 0,
            mix_off: 0,
            dz_off: NONE,
            dl_off: NONE,
            accumulate: 0,
            eps: 1e-6,
        }
    }

    /// Words of one component's record: G, phi, logdet, mu, S and C.
    pub fn record(&self) -> u32 {
        3 + self.dims + 2 * self.dims * self.dims
    }
}

params!(
    /// `recon.wgsl`: each row's relative Euclidean distance and cosine similarity between
    /// x and its reconstruction y, and their backward rule.
    ReconParams {
        rows: u32, cols: u32, x_off: u32, y_off: u32, out_off: u32, g_off: u32, g_scale: f32,
        dx_off: u32, dy_off: u32, accumulate: u32,
    }
);

params!(
    /// `conv.wgsl`: 2-D convolution and its transpose between a "big" side (cb x hb x wb per
    /// row) and a "small" side (cs x hs x ws), weight W[cs, cb, kh, kw]: each direction, the
    /// weight and bias gradients, and dY act'(Y).
    ConvParams {
        rows: u32, cs: u32, hs: u32, ws: u32, cb: u32, hb: u32, wb: u32, kh: u32, kw: u32,
        sh: u32, sw: u32, ph: u32, pw: u32, big_off: u32, small_off: u32, w_off: u32,
        b_off: u32, out_off: u32, bias_side: u32, count: u32, act: u32, alpha: f32,
        accumulate: u32,
    }
);

params!(
    /// `dropout.wgsl`: inverted dropout and its backward (the same mask, redrawn).
    DropoutParams { n: u32, x_off: u32, out_off: u32, seed: u32, tag: u32, rate: f32, accumulate: u32 }
);

params!(
    /// `kmeans.wgsl`: assignment, centroid update, cluster statistics and k-means++ seeding.
    KmeansParams {
        rows: u32, cols: u32, k: u32, x_off: u32, c_off: u32, a_off: u32, d_off: u32,
        s_off: u32, m_off: u32, idx: u32, mode: u32, seed: u32, tag: u32,
    }
);

impl KmeansParams {
    /// `rows x cols` rows and `k` centroids, every offset 0, centroid 0, mode 0, seed and tag 0.
    pub fn new(rows: u32, cols: u32, k: u32) -> KmeansParams {
        KmeansParams {
            rows,
            cols,
            k,
            x_off: 0,
            c_off: 0,
            a_off: 0,
            d_off: 0,
            s_off: 0,
            m_off: 0,
            idx: 0,
            mode: 0,
            seed: 0,
            tag: 0,
        }
    }
}

params!(
    /// `gmmdiag.wgsl`: a diagonal-covariance Gaussian mixture's E and M steps.
    GmmDiagParams {
        rows: u32, cols: u32, k: u32, x_off: u32, p_off: u32, r_off: u32, e_off: u32,
        a_off: u32, s_off: u32, reg: f32,
    }
);

impl GmmDiagParams {
    /// `rows x cols` rows and `k` components, every offset 0, scikit-learn's `reg_covar` 1e-6.
    pub fn new(rows: u32, cols: u32, k: u32) -> GmmDiagParams {
        GmmDiagParams {
            rows,
            cols,
            k,
            x_off: 0,
            p_off: 0,
            r_off: 0,
            e_off: 0,
            a_off: 0,
            s_off: 0,
            reg: 1e-6,
        }
    }

    /// Words of one component's record: log w, the means and the variances.
    pub fn record(&self) -> u32 {
        1 + 2 * self.cols
    }
}

params!(
    /// `select.wgsl`: a percentile by radix select, the rows at or below a threshold, a
    /// per-row table lookup.
    SelectParams {
        n: u32, v_off: u32, stride: u32, lo: u32, hi: u32, frac: f32, o_off: u32, t_off: u32,
        l_off: u32, w_off: u32, width: u32, col: u32,
    }
);

impl SelectParams {
    /// `n` values of stride 1, every offset 0, ranks 0, no table.
    pub fn new(n: u32) -> SelectParams {
        SelectParams {
            n,
            v_off: 0,
            stride: 1,
            lo: 0,
            hi: 0,
            frac: 0.0,
            o_off: 0,
            t_off: 0,
            l_off: 0,
            w_off: 0,
            width: 0,
            col: 0,
        }
    }

    /// The ranks and weight of numpy's linear `q`-th percentile (0 to 100) of `n` values.
    pub fn percentile(mut self, q: f64) -> SelectParams {
        let pos = q / 100.0 * f64::from(self.n.saturating_sub(1));
        self.lo = pos.floor() as u32;
        self.hi = pos.ceil() as u32;
        self.frac = (pos - pos.floor()) as f32;
        self
    }
}

params!(
    /// `angle.wgsl`: the angle between each prediction row and its target, and its backward.
    AngleParams {
        rows: u32, cols: u32, pred_off: u32, target_off: u32, out_off: u32, g_off: u32,
        g_scale: f32, accumulate: u32, a_off: u32,
    }
);

impl AngleParams {
    /// `rows x cols`, every offset 0, no upstream gradient (scale 1), written, not added.
    pub fn new(rows: u32, cols: u32) -> AngleParams {
        AngleParams {
            rows,
            cols,
            pred_off: 0,
            target_off: 0,
            out_off: 0,
            g_off: NONE,
            g_scale: 1.0,
            accumulate: 0,
            a_off: 0,
        }
    }
}

params!(
    /// `lstm.wgsl`: an LSTM layer over whole sequences, forward, backward through time, and
    /// the recurrent weights' gradient.
    LstmParams {
        batch: u32, steps: u32, hidden: u32, zx_off: u32, zx_row: u32, zx_step: u32,
        wh_off: u32, s_off: u32, last_off: u32, g_off: u32, g_last: u32, g_scale: f32,
        dz_off: u32, sum_off: u32, o_off: u32, accumulate: u32,
    }
);

impl LstmParams {
    /// `batch` sequences of `steps` steps and `hidden` units, one zx row a step (`zx_step`
    /// 4H), every offset 0, no last-step output, no upstream buffer (scale 1, every step), no
    /// step sums, written, not added.
    pub fn new(batch: u32, steps: u32, hidden: u32) -> LstmParams {
        LstmParams {
            batch,
            steps,
            hidden,
            zx_off: 0,
            zx_row: steps * 4 * hidden,
            zx_step: 4 * hidden,
            wh_off: 0,
            s_off: 0,
            last_off: NONE,
            g_off: NONE,
            g_last: 0,
            g_scale: 1.0,
            dz_off: 0,
            sum_off: NONE,
            o_off: 0,
            accumulate: 0,
        }
    }

    /// Words the forward pass keeps: h and c (B T H each) and the gates (B T 4H).
    pub fn saved(&self) -> u32 {
        6 * self.batch * self.steps * self.hidden
    }
}
