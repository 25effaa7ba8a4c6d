//! Samples and their summary (min / median / p99 / max), and the rows of the
//! final table.

use std::fmt::Write;

/// A summary of samples in one unit.
#[derive(Clone, Debug)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for no samples. p99 is the nearest-rank percentile.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        let rank = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
        Some(Summary {
            n: s.len(),
            min: s[0],
            median: rank(0.5),
            p99: rank(0.99),
            max: s[s.len() - 1],
        })
    }

    pub fn single(value: f64) -> Summary {
        Summary {
            n: 1,
            min: value,
            median: value,
            p99: value,
            max: value,
        }
    }
}

/// Whether a figure is within its budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Missed,
    /// Informative figure without a budget.
    Info,
}

/// One line of the result table.
#[derive(Clone, Debug)]
pub struct Row {
    pub figure: String,
    pub unit: &'static str,
    pub summary: Summary,
    pub budget: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(figure: impl Into<String>, unit: &'static str, summary: Summary) -> Row {
        Row {
            figure: figure.into(),
            unit,
            summary,
            budget: "-".into(),
            verdict: Verdict::Info,
        }
    }

    /// Budget text and whether it was met.
    pub fn budget(mut self, text: impl Into<String>, met: bool) -> Row {
        self.budget = text.into();
        self.verdict = if met { Verdict::Met } else { Verdict::Missed };
        self
    }
}

fn num(v: f64) -> String {
    if (v == v.trunc() && v.abs() < 1e9) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| figure | unit | n | min | median | p99 | max | budget | verdict |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let s = &r.summary;
        let verdict = match r.verdict {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Info => "",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.figure,
            r.unit,
            s.n,
            num(s.min),
            num(s.median),
            num(s.p99),
            num(s.max),
            r.budget,
            verdict
        );
    }
    out
}
