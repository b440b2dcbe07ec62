//! Running the `oddity` binary from a test (for the test files that have it: the `cli`
//! feature).

/// Runs `oddity ARGS`: (success, stdout, stderr).
pub fn oddity(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oddity"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A small `oddity active` run on the built-in digits0 (no model, no output chosen yet).
pub const SMALL: &[&str] = &[
    "active",
    "--dataset",
    "digits0",
    "--k",
    "6",
    "--budget",
    "12",
    "--pretrain-steps",
    "20",
    "--active-steps",
    "5",
    "--hidden",
    "16,4",
    "--batch",
    "32",
];

/// A fresh, empty directory for one test (`oddity-NAME-PID` under the system's temp dir).
pub fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("oddity-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
