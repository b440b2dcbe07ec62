//! Model files (safetensors): a model's parameters, its optimizer state and step counter (so
//! training can resume where it stopped), and in the metadata its registry name and family, its
//! configuration (JSON), the schema of the data it was trained on, and its threshold if one
//! was set. Files written by `oddity fit --save` before this format (`supervised/1`: parameters
//! and configuration only) are still read.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use serde::{Deserialize, Serialize};

use super::Threshold;
use crate::data::Schema;
use crate::error::{Result, invalid};

/// The metadata key that marks an oddity model file, and the format this build writes.
const FORMAT_KEY: &str = "oddity_model";
const FORMAT: &str = "model/2";
/// The first format: a supervised detector's parameters and its `SupervisedConfig`.
const LEGACY: &str = "supervised/1";

/// Which of the registry's two families a model belongs to: the detectors `oddity fit` trains
/// (unsupervised or supervised), or the models Algorithm 1 drives (`oddity active`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Detector,
    Active,
}

/// A model's training state: every parameter, the optimizer's state and the step counter.
#[derive(Clone, Debug, PartialEq)]
pub struct CoreState {
    pub params: Vec<f32>,
    /// None in files of the first format (the optimizer then starts afresh).
    pub optimizer: Option<Vec<f32>>,
    pub step: Option<u32>,
}

/// Everything a model file holds.
#[derive(Clone, Debug)]
pub struct ModelFile {
    /// The registry name (`abc-ae`, `vae`, `dae-uai`, ...).
    pub kind: String,
    pub family: Family,
    /// The model's configuration, as its `Config` type serialises it.
    pub config: serde_json::Value,
    /// How raw data becomes the model's inputs (empty when unknown).
    pub schema: Schema,
    pub threshold: Option<Threshold>,
    /// Whether the model had been fitted (files without the mark were: they are written after
    /// fitting).
    pub fitted: bool,
    pub state: CoreState,
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| invalid("model file", e.to_string()))
}

/// `file` (safetensors bytes) with its JSON header's keys in sorted order: `serialize` takes
/// the metadata as a `HashMap`, whose order changes from process to process, and the same
/// model must give the same bytes. The header keeps its length (the same JSON, reordered,
/// padded with spaces as safetensors pads it), so the data offsets stand.
fn sorted_header(mut file: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    fn sort(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: std::collections::BTreeMap<String, serde_json::Value> =
                    m.into_iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            other => other,
        }
    }
    let n = u64::from_le_bytes(file[..8].try_into().map_err(|_| "no header")?) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&file[8..8 + n]).map_err(|e| e.to_string())?;
    let mut text = serde_json::to_vec(&sort(header)).map_err(|e| e.to_string())?;
    if text.len() > n {
        return Err(format!("sorted header of {} bytes for {n}", text.len()));
    }
    text.resize(n, b' ');
    file[8..8 + n].copy_from_slice(&text);
    Ok(file)
}

impl ModelFile {
    /// Writes the file (safetensors: `params` and `optimizer` as F32, `step` as U32).
    pub fn write(&self, path: &Path) -> Result<()> {
        let err = |e: String| invalid("model file", format!("{}: {e}", path.display()));
        fn view(dtype: safetensors::Dtype, n: usize, bytes: &[u8]) -> Result<TensorView<'_>> {
            TensorView::new(dtype, vec![n], bytes).map_err(|e| invalid("model file", e.to_string()))
        }
        let s = &self.state;
        let step = s.step.map(|v| [v]);
        let mut tensors = vec![(
            "params",
            view(
                safetensors::Dtype::F32,
                s.params.len(),
                bytemuck::cast_slice(&s.params),
            )?,
        )];
        if let Some(o) = &s.optimizer {
            let bytes = bytemuck::cast_slice(o);
            tensors.push(("optimizer", view(safetensors::Dtype::F32, o.len(), bytes)?));
        }
        if let Some(v) = &step {
            let bytes = bytemuck::cast_slice(v);
            tensors.push(("step", view(safetensors::Dtype::U32, 1, bytes)?));
        }
        let mut meta = HashMap::from([
            (FORMAT_KEY.to_string(), FORMAT.to_string()),
            ("kind".to_string(), self.kind.clone()),
            ("family".to_string(), json(&self.family)?),
            ("config".to_string(), json(&self.config)?),
            ("schema".to_string(), json(&self.schema)?),
        ]);
        if let Some(t) = &self.threshold {
            meta.insert("threshold".to_string(), json(t)?);
        }
        if !self.fitted {
            meta.insert("fitted".to_string(), "false".to_string());
        }
        let out = safetensors::serialize(tensors, Some(meta)).map_err(|e| err(e.to_string()))?;
        std::fs::write(path, sorted_header(out).map_err(err)?).map_err(|e| err(e.to_string()))
    }

    /// Reads a file written by [`ModelFile::write`] or by the first format. A file that is
    /// missing, truncated, not safetensors, not an oddity model or of another format is an
    /// error naming it.
    pub fn read(path: &Path) -> Result<ModelFile> {
        let name = path.display().to_string();
        let bad = |detail: String| invalid("model file", format!("{name}: {detail}"));
        let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        let get = |key: &str| meta.get(key).map(String::as_str);
        let parse = |key: &str, what: &str| -> Result<serde_json::Value> {
            serde_json::from_str(get(key).unwrap_or(""))
                .map_err(|e| bad(format!("its {what} metadata is unreadable ({e})")))
        };
        let format = match get(FORMAT_KEY) {
            Some(f @ (FORMAT | LEGACY)) => f,
            Some(other) => {
                return Err(bad(format!(
                    "model format {other:?}, this build reads {FORMAT:?} and {LEGACY:?}"
                )));
            }
            None => return Err(bad("not an oddity model (no oddity_model metadata)".into())),
        };
        let config = parse("config", "architecture")?;
        let schema: Schema = match get("schema") {
            Some(s) => serde_json::from_str(s)
                .map_err(|e| bad(format!("its schema metadata is unreadable ({e})")))?,
            None => Schema::default(),
        };
        let f32s = |key: &str| -> Result<Vec<f32>> {
            let t = st
                .tensor(key)
                .map_err(|e| bad(format!("no {key} tensor ({e})")))?;
            if t.dtype() != safetensors::Dtype::F32 {
                return Err(bad(format!("{key} are {:?}, expected F32", t.dtype())));
            }
            Ok(t.data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let params = f32s("params")?;
        if format == LEGACY {
            // The first format held a supervised detector, named by its configuration's kind.
            let kind: crate::models::SupervisedConfig = serde_json::from_value(config.clone())
                .map_err(|e| bad(format!("its architecture metadata is unreadable ({e})")))?;
            return Ok(ModelFile {
                kind: kind.kind.name().to_string(),
                family: Family::Detector,
                config,
                schema,
                threshold: None,
                fitted: true,
                state: CoreState {
                    params,
                    optimizer: None,
                    step: None,
                },
            });
        }
        // The optimizer state and step counter, where the file has them (training resumes
        // exactly from them; without, the optimizer starts afresh).
        let optimizer = if st.names().contains(&"optimizer") {
            Some(f32s("optimizer")?)
        } else {
            None
        };
        let step = match st.tensor("step") {
            Err(_) => None,
            Ok(t) => match (t.dtype(), t.data()) {
                (safetensors::Dtype::U32, [a, b, c, d]) => {
                    Some(u32::from_le_bytes([*a, *b, *c, *d]))
                }
                (dtype, _) => {
                    return Err(bad(format!(
                        "step is {dtype:?} x {:?}, expected one U32",
                        t.shape()
                    )));
                }
            },
        };
        let family = serde_json::from_value(parse("family", "family")?)
            .map_err(|e| bad(format!("its family metadata is unreadable ({e})")))?;
        let threshold = match get("threshold") {
            Some(t) => Some(
                serde_json::from_str(t)
                    .map_err(|e| bad(format!("its threshold metadata is unreadable ({e})")))?,
            ),
            None => None,
        };
        let fitted = match get("fitted") {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => return Err(bad(format!("its fitted mark is {other:?}"))),
        };
        Ok(ModelFile {
            kind: get("kind")
                .ok_or_else(|| bad("no kind metadata".into()))?
                .to_string(),
            family,
            config,
            schema,
            threshold,
            fitted,
            state: CoreState {
                params,
                optimizer,
                step,
            },
        })
    }
}

/// Serialises a model's configuration for its file.
pub(crate) fn config_json<T: Serialize>(config: &T) -> Result<serde_json::Value> {
    serde_json::to_value(config).map_err(|e| invalid("model configuration", e.to_string()))
}

/// Deserialises a configuration given as JSON (a model file's, or one a user wrote).
pub(crate) fn config_from<T: serde::de::DeserializeOwned>(
    kind: &str,
    v: serde_json::Value,
) -> Result<T> {
    serde_json::from_value(v).map_err(|e| {
        invalid(
            "model configuration",
            format!("{kind}: not a configuration of this model ({e})"),
        )
    })
}
