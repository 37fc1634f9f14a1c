//! Colour for severities, alert levels and priorities in human output. Decided once at
//! start-up from `--color auto|always|never`: `auto` colours only when stdout is a terminal,
//! `NO_COLOR` (set and not empty, <https://no-color.org>) is not set and `TERM` is not
//! `dumb`. JSON output never carries colour: only table cells and summary words are painted.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    // colour when stdout is a terminal and NO_COLOR is not set
    Auto,
    // always colour (even into a pipe, despite NO_COLOR)
    Always,
    Never,
}

/// Whether colour is on, given the choice and the environment (pure, for tests).
pub fn decide(
    choice: ColorChoice,
    stdout_tty: bool,
    no_color: Option<&str>,
    term: Option<&str>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            stdout_tty && no_color.is_none_or(str::is_empty) && term != Some("dumb")
        }
    }
}

pub fn init(choice: ColorChoice) {
    let no_color = std::env::var("NO_COLOR").ok();
    let term = std::env::var("TERM").ok();
    let on = decide(
        choice,
        std::io::stdout().is_terminal(),
        no_color.as_deref(),
        term.as_deref(),
    );
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The ANSI style of a severity, alert level or priority word, if it has one.
fn style(word: &str) -> Option<&'static str> {
    Some(match word.trim().to_ascii_lowercase().as_str() {
        "critical" | "p1" => "1;31",
        "high" | "p2" => "31",
        "medium" | "p3" => "33",
        "low" | "p4" => "36",
        "info" | "informational" => "2",
        _ => return None,
    })
}

/// `text` painted in the colour of `word` (a severity, level or priority), when colour is on.
pub fn paint_as(word: &str, text: &str) -> String {
    paint_if(enabled(), word, text)
}

fn paint_if(on: bool, word: &str, text: &str) -> String {
    match style(word) {
        Some(s) if on => format!("\x1b[{s}m{text}\x1b[0m"),
        _ => text.to_string(),
    }
}

/// A severity, level or priority word in its colour.
pub fn paint(word: &str) -> String {
    paint_as(word, word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_honours_the_terminal_no_color_and_dumb_terminals() {
        use ColorChoice::*;
        assert!(decide(Auto, true, None, Some("xterm")));
        assert!(decide(Auto, true, Some(""), None));
        assert!(!decide(Auto, false, None, Some("xterm")));
        assert!(!decide(Auto, true, Some("1"), Some("xterm")));
        assert!(!decide(Auto, true, None, Some("dumb")));
        assert!(decide(Always, false, Some("1"), None));
        assert!(!decide(Never, true, None, None));
    }

    #[test]
    fn words_without_a_style_stay_plain() {
        assert_eq!(
            paint_if(true, "critical", "critical"),
            "\x1b[1;31mcritical\x1b[0m"
        );
        assert_eq!(paint_if(true, "P3", "P3 "), "\x1b[33mP3 \x1b[0m");
        assert_eq!(paint_if(true, "open", "open"), "open");
        assert_eq!(paint_if(false, "critical", "critical"), "critical");
    }
}
