//! Progress on stderr: a bar on a terminal, else one line per finished unit (with the time so
//! far), so a run logged to a file shows how far it got.

use std::time::Instant;

/// Progress of a long experiment on stderr: a bar on a terminal, else one line per finished
/// unit (with the time so far), so a run logged to a file shows how far it got.
pub struct Progress {
    bar: indicatif::ProgressBar,
    tty: bool,
    start: Instant,
}

impl Progress {
    pub fn new(total: u64) -> Progress {
        let bar = indicatif::ProgressBar::new(total);
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        if !tty {
            bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        Progress {
            bar,
            tty,
            start: Instant::now(),
        }
    }

    /// What runs now (shown on the bar).
    pub fn start(&self, what: String) {
        self.bar.set_message(what);
    }

    /// One unit finished; `line` says what it gave.
    pub fn done(&self, line: String) {
        self.bar.inc(1);
        if !self.tty {
            eprintln!(
                "[{}/{} {:.0} s] {line}",
                self.bar.position(),
                self.bar.length().unwrap_or(0),
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
