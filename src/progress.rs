//! Progress of an apply, on stderr: an indicatif bar per phase (with rate
//! and ETA) on a terminal; on anything else (CI logs), a plain line per
//! phase every few seconds, so a long apply shows it is alive without
//! flooding the log.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::{ChangeReport, Outcome, Progress, Wait};
use crate::plan::Phase;

/// How often a plain progress line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Ca => "CA",
        Phase::CaRegistration => "CA registration",
        Phase::Policies => "policies",
        Phase::Devices => "devices",
        Phase::Delivery => "delivery",
        Phase::Retire => "retire",
        Phase::Cleanup => "cleanup",
    }
}

struct Counts {
    phase: Phase,
    total: usize,
    done: usize,
    failed: usize,
    started: Instant,
    last_line: Instant,
}

enum Mode {
    Off,
    Bars {
        multi: MultiProgress,
        bar: Mutex<Option<ProgressBar>>,
    },
    Plain,
}

/// Apply progress for people.
pub struct ApplyProgress {
    mode: Mode,
    counts: Mutex<Option<Counts>>,
    /// The waits already announced: one line per kind, not one per device.
    waits: Mutex<std::collections::BTreeSet<Wait>>,
}

impl ApplyProgress {
    /// Bars on a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bar: Mutex::new(None),
            }
        } else {
            Mode::Plain
        };
        Self {
            mode,
            counts: Mutex::new(None),
            waits: Mutex::new(Default::default()),
        }
    }

    /// Print a line without tearing the bars.
    pub fn println(&self, text: &str) {
        match &self.mode {
            Mode::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
            _ => eprintln!("{text}"),
        }
    }

    fn plain_line(counts: &Counts) -> String {
        let elapsed = counts.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            counts.done as f64 / elapsed
        } else {
            0.0
        };
        let left = counts.total.saturating_sub(counts.done);
        let eta = if rate > 0.0 {
            format!(", about {:.0}s left", left as f64 / rate)
        } else {
            String::new()
        };
        format!(
            "apply: {}: {}/{} changes ({} failed), {:.1}/s{eta}",
            phase_name(counts.phase),
            counts.done,
            counts.total,
            counts.failed,
            rate
        )
    }
}

impl Progress for ApplyProgress {
    fn waiting(&self, wait: Wait) {
        if matches!(self.mode, Mode::Off) || !self.waits.lock().expect("progress").insert(wait) {
            return;
        }
        self.println(&format!(
            "apply: {}; retrying for up to {} s",
            wait.describe(),
            wait.budget().as_secs()
        ));
    }

    fn phase_started(&self, phase: Phase, changes: usize) {
        let now = Instant::now();
        *self.counts.lock().expect("progress") = Some(Counts {
            phase,
            total: changes,
            done: 0,
            failed: 0,
            started: now,
            last_line: now,
        });
        match &self.mode {
            Mode::Off => {}
            Mode::Bars { multi, bar } => {
                let new = multi.add(ProgressBar::new(changes as u64));
                new.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>16} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
                    )
                    .expect("progress template")
                    .progress_chars("=> "),
                );
                new.set_prefix(phase_name(phase));
                new.enable_steady_tick(Duration::from_millis(200));
                *bar.lock().expect("progress") = Some(new);
            }
            Mode::Plain => eprintln!("apply: {}: {changes} changes to make", phase_name(phase)),
        }
    }

    fn change_finished(&self, _phase: Phase, report: &ChangeReport) {
        let mut counts = self.counts.lock().expect("progress");
        let Some(counts) = counts.as_mut() else {
            return;
        };
        counts.done += 1;
        if matches!(report.outcome, Outcome::Failed { .. }) {
            counts.failed += 1;
        }
        match &self.mode {
            Mode::Off => {}
            Mode::Bars { bar, .. } => {
                if let Some(bar) = bar.lock().expect("progress").as_ref() {
                    bar.inc(1);
                    if counts.failed > 0 {
                        bar.set_message(format!("{} failed", counts.failed));
                    }
                }
            }
            Mode::Plain => {
                if counts.last_line.elapsed() >= PLAIN_EVERY {
                    counts.last_line = Instant::now();
                    let mut stderr = std::io::stderr().lock();
                    let _ = writeln!(stderr, "{}", Self::plain_line(counts));
                }
            }
        }
    }

    fn phase_finished(&self, _phase: Phase) {
        let counts = self.counts.lock().expect("progress").take();
        match &self.mode {
            Mode::Off => {}
            Mode::Bars { bar, .. } => {
                if let Some(bar) = bar.lock().expect("progress").take() {
                    bar.finish();
                }
            }
            Mode::Plain => {
                if let Some(counts) = counts {
                    eprintln!(
                        "{} (done in {:.1}s)",
                        Self::plain_line(&counts),
                        counts.started.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_says_the_phase_count_rate_and_time_left() {
        let now = Instant::now();
        let counts = Counts {
            phase: Phase::Devices,
            total: 100,
            done: 50,
            failed: 2,
            started: now - Duration::from_secs(10),
            last_line: now,
        };
        assert_eq!(
            ApplyProgress::plain_line(&counts),
            "apply: devices: 50/100 changes (2 failed), 5.0/s, about 10s left"
        );
    }
}
