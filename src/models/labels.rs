//! The expert's labels on the GPU, in the layout `sample_labelled` reads (word 0: count; then
//! `cap` row indices; then `cap` labels), and a per-row flag buffer that top-k uses to skip
//! labelled rows. The host keeps a copy; adding labels is a host write between rounds.

use crate::error::{Result, invalid};
use crate::gpu::{Gpu, GpuBuffer};

/// How many labels of each class the expert has given: what an active model needs to know
/// between rounds (a UAI model trains its base alone before the first label, and hedges its
/// queries while the labels hold one class only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LabelCounts {
    pub normal: u32,
    pub anomalous: u32,
}

impl LabelCounts {
    pub fn total(&self) -> u32 {
        self.normal + self.anomalous
    }

    /// Whether there is at least one label of each class.
    pub fn both_classes(&self) -> bool {
        self.normal > 0 && self.anomalous > 0
    }
}

/// Labels given so far for a dataset of `cap` rows.
pub struct LabelSet {
    cap: u32,
    /// The layout `sample_labelled` reads.
    pub lab: GpuBuffer,
    /// One u32 per row, 1 when labelled.
    pub flags: GpuBuffer,
    given: Vec<(u32, u8)>,
    seen: Vec<bool>,
}

impl LabelSet {
    pub fn new(gpu: &Gpu, rows: u32) -> Result<LabelSet> {
        Ok(LabelSet {
            cap: rows,
            lab: gpu.upload(&vec![0u32; 1 + 2 * rows as usize], "labels")?,
            flags: gpu.upload(&vec![0u32; rows.max(1) as usize], "labelled flags")?,
            given: Vec::new(),
            seen: vec![false; rows as usize],
        })
    }

    pub fn capacity(&self) -> u32 {
        self.cap
    }

    /// (row, label) in the order given; label 1 = anomaly.
    pub fn given(&self) -> &[(u32, u8)] {
        &self.given
    }

    pub fn len(&self) -> usize {
        self.given.len()
    }

    /// The labels given so far, by class.
    pub fn counts(&self) -> LabelCounts {
        let anomalous = self.given.iter().filter(|g| g.1 == 1).count() as u32;
        LabelCounts {
            normal: self.given.len() as u32 - anomalous,
            anomalous,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.given.is_empty()
    }

    pub fn contains(&self, row: u32) -> bool {
        self.seen.get(row as usize).copied().unwrap_or(false)
    }

    /// Marks rows as seen without a label (an expert skipped them): they are never chosen
    /// again and do not train the head.
    pub fn skip(&mut self, gpu: &Gpu, rows: &[u32]) -> Result<()> {
        for &row in rows {
            if row >= self.cap || self.contains(row) {
                return Err(invalid(
                    "skip",
                    format!("row {row} is past the data or already seen"),
                ));
            }
        }
        for &row in rows {
            gpu.write(&self.flags, u64::from(row), &[1u32])?;
            self.seen[row as usize] = true;
        }
        Ok(())
    }

    /// Adds labels (1 = anomaly, 0 = normal); a row out of range, labelled twice, or a label
    /// other than 0/1 is an error and nothing is added.
    pub fn add(&mut self, gpu: &Gpu, labels: &[(u32, u8)]) -> Result<()> {
        let mut batch = std::collections::HashSet::new();
        for &(row, y) in labels {
            if row >= self.cap {
                return Err(invalid(
                    "label",
                    format!("row {row} is past the {} rows", self.cap),
                ));
            }
            if y > 1 {
                return Err(invalid(
                    "label",
                    format!("row {row}: label {y} (1 = anomaly, 0 = normal)"),
                ));
            }
            if self.contains(row) || !batch.insert(row) {
                return Err(invalid("label", format!("row {row} is labelled twice")));
            }
        }
        let start = self.given.len() as u64;
        for (i, &(row, y)) in labels.iter().enumerate() {
            gpu.write(&self.lab, 1 + start + i as u64, &[row])?;
            gpu.write(
                &self.lab,
                1 + u64::from(self.cap) + start + i as u64,
                &[u32::from(y)],
            )?;
            gpu.write(&self.flags, u64::from(row), &[1u32])?;
            self.seen[row as usize] = true;
            self.given.push((row, y));
        }
        gpu.write(&self.lab, 0, &[self.given.len() as u32])
    }
}
