//! Progress reporting for slow lab steps (image builds, image loads): a
//! spinner with elapsed time and the current step on a terminal, plain
//! timestamped lines on stderr otherwise (CI logs, tests).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// One progress display for a whole `lab up`.
pub struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    phase: Mutex<String>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    /// A spinner on stderr when it is a terminal, plain lines otherwise.
    pub fn new() -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        } else {
            None
        };
        Progress {
            bar,
            start: Instant::now(),
            phase: Mutex::new(String::new()),
        }
    }

    fn stamp(&self) -> String {
        let s = self.start.elapsed().as_secs();
        format!("[{:02}:{:02}]", s / 60, s % 60)
    }

    /// Starts a new phase, e.g. "building runner-lab/host:trixie".
    pub fn phase(&self, msg: &str) {
        *self.phase.lock().unwrap() = msg.to_string();
        match &self.bar {
            Some(bar) => bar.set_message(msg.to_string()),
            None => eprintln!("{} {msg}", self.stamp()),
        }
    }

    /// Shows the current step inside the phase (e.g. a build's `Step 3/7`).
    pub fn step(&self, detail: &str) {
        let detail: String = detail.chars().take(120).collect();
        let phase = self.phase.lock().unwrap().clone();
        match &self.bar {
            Some(bar) => bar.set_message(format!("{phase}: {detail}")),
            None => eprintln!("{}   {detail}", self.stamp()),
        }
    }

    /// Updates the spinner's text with passing detail (an apt download line);
    /// not printed at all when stderr is no terminal.
    pub fn detail(&self, step: &str, detail: &str) {
        if let Some(bar) = &self.bar {
            let phase = self.phase.lock().unwrap().clone();
            let text: String = format!("{phase}: {step} | {detail}")
                .chars()
                .take(160)
                .collect();
            bar.set_message(text);
        }
    }

    /// Prints a line that stays (above the spinner on a terminal).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
