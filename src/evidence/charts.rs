//! Inline SVG charts for the HTML pack: no script, no external resource.
//!
//! Each chart is drawn in a fixed coordinate system (`viewBox`) and scales
//! with the page; colours carry meaning only together with a text label, so
//! a black-and-white print still reads.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::pack::Latency;
use crate::eval::gates::GateResult;
use crate::eval::summary::{Criterion, Segment};

const W: f64 = 720.0;
const LABEL: f64 = 150.0;
const PLOT: f64 = 430.0;
const ROW: f64 = 30.0;
const PASS: &str = "#1a7f37";
const FAIL: &str = "#cf222e";
const NEUTRAL: &str = "#57606a";
const GRID: &str = "#d0d7de";

fn f(x: f64) -> String {
    format!("{x:.1}")
}

/// The threshold a gate named `gate` sets, if there is one.
fn threshold(gates: &[GateResult], gate: &str) -> Option<(f64, bool)> {
    gates
        .iter()
        .find(|g| g.gate == gate)
        .map(|g| (g.threshold, g.passed))
}

/// Vertical grid lines at 0, ¼, ½, ¾ and 1 of a 0–1 axis, labelled below.
fn unit_grid(h: f64, label: impl Fn(f64) -> String) -> Markup {
    let x = |v: f64| LABEL + v * PLOT;
    html! {
        @for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
            line x1=(f(x(t))) x2=(f(x(t))) y1="0" y2=(f(h - 22.0)) stroke=(GRID) stroke-width="1" {}
            text x=(f(x(t))) y=(f(h - 6.0)) text-anchor="middle" class="axis" { (label(t)) }
        }
    }
}

/// Mean judge score per criterion (0–1) against each criterion's threshold.
pub(super) fn criteria(criteria: &BTreeMap<String, Criterion>, gates: &[GateResult]) -> Markup {
    let h = ROW * criteria.len() as f64 + 34.0;
    let x = |v: f64| LABEL + v.clamp(0.0, 1.0) * PLOT;
    let label = criteria
        .iter()
        .map(|(k, c)| {
            format!(
                "{k} {}",
                c.mean.map_or("not scored".into(), |m| format!("{m:.2}"))
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg class="chart" viewBox=(format!("0 0 {W} {}", f(h))) role="img" aria-label=(format!("Mean judge score per criterion: {label}")) {
            title { "Mean judge score per criterion against its threshold" }
            (unit_grid(h, |t| format!("{t:.2}")))
            @for (i, (name, c)) in criteria.iter().enumerate() {
                @let y = ROW * i as f64 + 4.0;
                @let gate = threshold(gates, &format!("criteria.{name}"));
                @let colour = match (c.mean, gate) {
                    (None, _) => FAIL,
                    (Some(_), Some((_, true))) => PASS,
                    (Some(_), Some((_, false))) => FAIL,
                    (Some(_), None) => NEUTRAL,
                };
                text x=(f(LABEL - 8.0)) y=(f(y + 15.0)) text-anchor="end" class="label" { (name) }
                @match c.mean {
                    Some(m) => {
                        rect x=(f(LABEL)) y=(f(y + 3.0)) width=(f(x(m) - LABEL)) height="16" rx="2" fill=(colour) {}
                        text x=(f((x(m) + 6.0).min(W - 40.0))) y=(f(y + 15.0)) class="value" { (format!("{m:.2}")) }
                    }
                    None => {
                        text x=(f(LABEL + 4.0)) y=(f(y + 15.0)) class="value" fill=(FAIL) { "not scored" }
                    }
                }
                @if let Some((t, _)) = gate {
                    line x1=(f(x(t))) x2=(f(x(t))) y1=(f(y)) y2=(f(y + 22.0)) stroke="#24292f" stroke-width="2.5" {}
                    text x=(f(W - 4.0)) y=(f(y + 15.0)) text-anchor="end" class="axis" { (format!("min {t:.2}")) }
                }
            }
        }
    }
}

/// Pass rate per segment with its 95% Wilson interval, against the pass-rate
/// gates (the segment's own, else the overall one).
pub(super) fn segments(segments: &BTreeMap<String, Segment>, gates: &[GateResult]) -> Markup {
    let h = ROW * segments.len() as f64 + 34.0;
    let x = |v: f64| LABEL + v.clamp(0.0, 1.0) * PLOT;
    let overall = threshold(gates, "pass_rate").map(|(t, _)| t);
    let label = segments
        .iter()
        .map(|(k, s)| {
            format!(
                "{k} {}",
                s.pass_rate
                    .map_or("n/a".into(), |r| format!("{:.0}%", r * 100.0))
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        svg class="chart" viewBox=(format!("0 0 {W} {}", f(h))) role="img" aria-label=(format!("Pass rate by segment with 95% intervals: {label}")) {
            title { "Pass rate by segment, with 95% confidence intervals" }
            (unit_grid(h, |t| format!("{:.0}%", t * 100.0)))
            @for (i, (name, s)) in segments.iter().enumerate() {
                @let y = ROW * i as f64 + 4.0;
                @let own = threshold(gates, &format!("segments.{name}.pass_rate")).map(|(t, _)| t);
                @let t = own.or(overall);
                @let colour = match (s.pass_rate, t) {
                    (None, _) => FAIL,
                    (Some(r), Some(t)) if own.is_some() && r < t => FAIL,
                    (Some(_), Some(_)) if own.is_some() => PASS,
                    (Some(_), _) => NEUTRAL,
                };
                text x=(f(LABEL - 8.0)) y=(f(y + 15.0)) text-anchor="end" class="label" { (name) " (" (s.cases) ")" }
                @if let Some([lo, hi]) = s.pass_rate_ci95 {
                    line x1=(f(x(lo))) x2=(f(x(hi))) y1=(f(y + 11.0)) y2=(f(y + 11.0)) stroke=(colour) stroke-width="2" {}
                    line x1=(f(x(lo))) x2=(f(x(lo))) y1=(f(y + 5.0)) y2=(f(y + 17.0)) stroke=(colour) stroke-width="2" {}
                    line x1=(f(x(hi))) x2=(f(x(hi))) y1=(f(y + 5.0)) y2=(f(y + 17.0)) stroke=(colour) stroke-width="2" {}
                }
                @match s.pass_rate {
                    Some(r) => {
                        circle cx=(f(x(r))) cy=(f(y + 11.0)) r="5.5" fill=(colour) {}
                        text x=(f(W - 4.0)) y=(f(y + 15.0)) text-anchor="end" class="value" {
                            (format!("{:.0}%", r * 100.0))
                            @if let Some([lo, hi]) = s.pass_rate_ci95 { (format!(" ({:.0}–{:.0})", lo * 100.0, hi * 100.0)) }
                        }
                    }
                    None => { text x=(f(LABEL + 4.0)) y=(f(y + 15.0)) class="value" fill=(FAIL) { "nothing evaluated" } }
                }
                @if let Some(t) = t {
                    line x1=(f(x(t))) x2=(f(x(t))) y1=(f(y)) y2=(f(y + 22.0)) stroke="#24292f" stroke-width="2.5" stroke-dasharray=(if own.is_some() { "none" } else { "3 2" }) {}
                }
            }
        }
    }
}

/// Histogram of case latencies on an axis from 0, with p50, p95 and the
/// latency gate marked (labels that would collide are merged).
pub(super) fn latency(l: &Latency, gate: Option<f64>) -> Markup {
    let (h, top, bottom) = (200.0, 34.0, 150.0);
    let (left, width) = (50.0, W - 90.0);
    let hi = nice(gate.map_or(l.max_ms, |g| g.max(l.max_ms)) * 1.05);
    let x = |v: f64| left + v.max(0.0) / hi * width;
    let max = l.bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let y = |c: usize| bottom - c as f64 / max * (bottom - top);
    let ticks: Vec<f64> = (0..=4).map(|i| hi * i as f64 / 4.0).collect();
    let close = (x(l.p95_ms) - x(l.p50_ms)).abs() < 90.0;
    let gate_colour = match gate {
        Some(g) if l.p95_ms <= g => PASS,
        _ => FAIL,
    };
    html! {
        svg class="chart" viewBox=(format!("0 0 {W} {h}")) role="img" aria-label=(format!("Latency of {} cases: p50 {:.0} ms, p95 {:.0} ms", l.n, l.p50_ms, l.p95_ms)) {
            title { "Latency distribution of evaluated cases" }
            @for t in &ticks {
                line x1=(f(x(*t))) x2=(f(x(*t))) y1=(f(top)) y2=(f(bottom)) stroke=(GRID) stroke-width="1" {}
                text x=(f(x(*t))) y=(f(bottom + 16.0)) text-anchor="middle" class="axis" { (format!("{t:.0} ms")) }
            }
            line x1=(f(left)) x2=(f(left + width)) y1=(f(bottom)) y2=(f(bottom)) stroke=(NEUTRAL) stroke-width="1" {}
            text x=(f(left - 8.0)) y=(f(top + 4.0)) text-anchor="end" class="axis" { (max as usize) }
            text x=(f(left - 8.0)) y=(f(bottom)) text-anchor="end" class="axis" { "0" }
            text x=(f(left - 8.0)) y=(f((top + bottom) / 2.0)) text-anchor="end" class="axis" { "cases" }
            @for b in &l.bins {
                @let (bx, bw) = (x(b.lo_ms), (x(b.hi_ms) - x(b.lo_ms)).max(4.0));
                @if b.count > 0 {
                    rect x=(f(bx)) y=(f(y(b.count))) width=(f(bw)) height=(f(bottom - y(b.count))) fill="#8c959f" {}
                }
            }
            line x1=(f(x(l.p50_ms))) x2=(f(x(l.p50_ms))) y1=(f(top - 4.0)) y2=(f(bottom)) stroke=(NEUTRAL) stroke-width="1.5" stroke-dasharray="4 3" {}
            line x1=(f(x(l.p95_ms))) x2=(f(x(l.p95_ms))) y1=(f(top - 4.0)) y2=(f(bottom)) stroke="#24292f" stroke-width="2" {}
            @if close {
                text x=(f(x(l.p95_ms))) y=(f(top - 10.0)) text-anchor="middle" class="axis" { (format!("p50 {:.0} · p95 {:.0} ms", l.p50_ms, l.p95_ms)) }
            } @else {
                text x=(f(x(l.p50_ms))) y=(f(top - 10.0)) text-anchor="middle" class="axis" { (format!("p50 {:.0} ms", l.p50_ms)) }
                text x=(f(x(l.p95_ms))) y=(f(top - 10.0)) text-anchor="middle" class="axis" { (format!("p95 {:.0} ms", l.p95_ms)) }
            }
            @if let Some(g) = gate {
                line x1=(f(x(g))) x2=(f(x(g))) y1=(f(top - 4.0)) y2=(f(bottom)) stroke=(gate_colour) stroke-width="2" stroke-dasharray="6 3" {}
                text x=(f(x(g))) y=(f(bottom + 34.0)) text-anchor="middle" class="value" fill=(gate_colour) { (format!("gate: p95 ≤ {g:.0} ms")) }
            }
        }
    }
}

/// A round axis maximum at or above `v`: 1, 2, 2.5 or 5 times a power of ten.
fn nice(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}
