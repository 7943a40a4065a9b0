//! Live progress for people: while a step runs, a spinner line per host
//! at work with its elapsed time (indicatif), below the lines already
//! printed. Only on a terminal without `NO_COLOR`; elsewhere (pipes, CI,
//! tests) nothing of it exists and the output is plain lines.
//!
//! Everything printed while spinners may be drawn goes through
//! [`Live::print`] (and the log through [`suspended`]), which takes the
//! spinners away, prints, and draws them again, so that no line is ever
//! garbled by them.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// The one live display of this process, once the human output made it.
static ACTIVE: OnceLock<MultiProgress> = OnceLock::new();

pub struct Live {
    multi: MultiProgress,
    /// The running hosts' spinners.
    bars: Mutex<HashMap<String, ProgressBar>>,
}

/// Whether progress may be animated: stdout is a terminal that takes
/// escape sequences, and the user did not ask for plain output.
pub fn wanted() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none()
        && std::env::var("TERM").as_deref() != Ok("dumb")
}

/// `  ⠋ running   web1  3.4s`, aligned with the result lines.
fn style() -> ProgressStyle {
    ProgressStyle::with_template("  {spinner:.cyan} {prefix:9} {msg}  {secs:.dim}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("secs", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.1}s", s.elapsed().as_secs_f64());
        })
}

impl Live {
    /// The live display, when [`wanted`].
    pub fn detect() -> Option<Live> {
        wanted().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
            let _ = ACTIVE.set(multi.clone());
            Live {
                multi,
                bars: Mutex::new(HashMap::new()),
            }
        })
    }

    /// A line that stays, above the spinners.
    pub fn print(&self, text: &str) {
        self.multi.suspend(|| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        });
    }

    /// `host` is at work: its spinner appears.
    pub fn start(&self, host: &str) {
        let bar = ProgressBar::new_spinner()
            .with_style(style())
            .with_prefix("running")
            .with_message(host.to_string());
        let bar = self.multi.add(bar);
        bar.enable_steady_tick(Duration::from_millis(100));
        let old = self.lock().insert(host.to_string(), bar);
        if let Some(old) = old {
            self.remove(&old);
        }
    }

    /// `host` is done: its spinner goes (its result line follows).
    pub fn finish(&self, host: &str) {
        let bar = self.lock().remove(host);
        if let Some(bar) = bar {
            self.remove(&bar);
        }
    }

    /// Every spinner goes (the step is over).
    pub fn clear(&self) {
        let bars: Vec<ProgressBar> = self.lock().drain().map(|(_, b)| b).collect();
        for bar in bars {
            self.remove(&bar);
        }
    }

    fn remove(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        self.multi.remove(bar);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.bars.lock().expect("bars")
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Runs `f` (a write to the terminal) with the spinners, if any, taken
/// away meanwhile.
pub fn suspended<R>(f: impl FnOnce() -> R) -> R {
    match ACTIVE.get() {
        Some(multi) => multi.suspend(f),
        None => f(),
    }
}
