//! The crate's error type: every failure a user, a file or a device can cause is one of these,
//! never a panic.

/// Errors from oddity.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No adapter, or none matching `WGPU_ADAPTER_NAME`.
    #[error(
        "{reason}; adapters found: {found}. On Linux without a GPU, Debian's `mesa-vulkan-drivers` (with `libvulkan1`) provides a software Vulkan adapter (lavapipe)"
    )]
    NoAdapter { reason: String, found: String },
    /// The adapter refused to open a device.
    #[error("could not open a device on adapter {adapter}: {message}")]
    RequestDevice { adapter: String, message: String },
    /// Operand shapes that do not fit together, found when a plan is built.
    #[error("shape mismatch in {op}: {detail}")]
    Shape { op: &'static str, detail: String },
    /// A request beyond what the adapter allows.
    #[error("{what} exceeds the adapter limit: {detail}")]
    Limit { what: &'static str, detail: String },
    /// An argument outside what the operation accepts.
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    /// A kernel launch that does not match the shader's reflected interface.
    #[error("kernel {kernel}: {detail}")]
    Kernel { kernel: String, detail: String },
    /// wgpu reported an error (validation, out of memory, device lost).
    #[error("wgpu error: {0}")]
    Wgpu(String),
    /// A data file or dataset request that cannot be used.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Mapping a buffer for readback failed.
    #[error("readback failed: {0}")]
    Readback(String),
    /// Training made the model's parameters NaN or infinite.
    #[error("training diverged: {0}")]
    Diverged(String),
}

/// Errors in data files and dataset requests. Positions are 1-based, as an editor shows them.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: the file is empty")]
    Empty { path: String },
    #[error("{path}: line {line}: {detail}")]
    Parse {
        path: String,
        line: u64,
        detail: String,
    },
    #[error("{path}: line {line}, column {column:?}: {detail}")]
    Value {
        path: String,
        line: u64,
        column: String,
        detail: String,
    },
    #[error("{path}: {detail}")]
    Format { path: String, detail: String },
    #[error("{0}")]
    Request(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn shape(op: &'static str, detail: impl Into<String>) -> Error {
    Error::Shape {
        op,
        detail: detail.into(),
    }
}

pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Error {
    Error::Invalid {
        what,
        detail: detail.into(),
    }
}
