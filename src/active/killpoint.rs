//! Places where a test may have the process killed, to check that a run killed anywhere
//! resumes from its journal to the curve of an uninterrupted run. `ODDITY_KILL_AT=PLACE:ROUND`
//! (set by the test harness only) aborts the process, as a kill would, when round `ROUND`
//! (0-based) reaches `PLACE`:
//! - `answered`: the oracle has answered, nothing is journalled yet;
//! - `journal`: half of the round's journal line is written (and synced), the rest never;
//! - `training`: the round's training steps are submitted, its query not yet made.
//!
//! Unset (always, outside such tests), every check is one load of a cached value.

use std::sync::OnceLock;

/// Where a kill can be asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Answered,
    Journal,
    Training,
}

fn target() -> Option<(Place, u32)> {
    static TARGET: OnceLock<Option<(Place, u32)>> = OnceLock::new();
    *TARGET.get_or_init(|| {
        let v = std::env::var("ODDITY_KILL_AT").ok()?;
        let (place, round) = v.split_once(':')?;
        let place = match place {
            "answered" => Place::Answered,
            "journal" => Place::Journal,
            "training" => Place::Training,
            _ => return None,
        };
        Some((place, round.parse().ok()?))
    })
}

/// Whether the process is to be killed at `place` in `round`.
pub(crate) fn armed(place: Place, round: u32) -> bool {
    target() == Some((place, round))
}

/// Aborts the process (as `kill -9` would: no destructor, no flush) when armed.
pub(crate) fn check(place: Place, round: u32) {
    if armed(place, round) {
        std::process::abort();
    }
}
