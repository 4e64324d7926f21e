//! The comparison of several targets for people: one column a target, the
//! cases they disagree on, each pair's McNemar test, and the verdict.

use crate::cli::output::table;
use crate::eval::compare::{CaseOutcome, Comparison};
use crate::eval::report::{
    TOP_DISAGREEMENTS, compare_rows, disagreement_line, more_disagreeing, pair_lines,
    target_verdict,
};

/// The human report of a comparison.
pub(crate) fn comparison(c: &Comparison, paint: &dyn Fn(bool, &str) -> String) -> String {
    let mut head: Vec<&str> = vec![""];
    head.extend(c.targets.iter().map(|t| t.target.as_str()));
    let mut rows: Vec<Vec<String>> = compare_rows(c)
        .into_iter()
        .map(|(what, values)| std::iter::once(what).chain(values).collect())
        .collect();
    rows.push(
        std::iter::once("verdict".to_string())
            .chain(c.targets.iter().map(|t| {
                let v = target_verdict(t);
                paint(t.verdict.exit_code == 0, &v)
            }))
            .collect(),
    );
    let mut out = table(&head, rows);
    out.push_str(&format!("{}\n", disagreement_line(c)));
    if !c.disagreements.is_empty() {
        head[0] = "case";
        out.push_str(&table(
            &head,
            c.disagreements.iter().take(TOP_DISAGREEMENTS).map(|d| {
                std::iter::once(d.id.clone())
                    .chain(c.targets.iter().map(|t| match d.outcome(&t.target) {
                        CaseOutcome::Pass => paint(true, "pass"),
                        CaseOutcome::Fail => paint(false, "FAIL"),
                        CaseOutcome::Error => paint(false, "error"),
                    }))
                    .collect::<Vec<_>>()
            }),
        ));
        if let Some(more) = more_disagreeing(c) {
            out.push_str(&format!("{more}\n"));
        }
    }
    for line in pair_lines(c, &|t| t.to_string()) {
        out.push_str(&format!("{line}\n"));
    }
    let v = &c.verdict;
    out.push_str(&format!(
        "{} (exit {}): {}\n",
        paint(v.exit_code == 0, &v.status.to_uppercase()),
        v.exit_code,
        v.reason
    ));
    out
}
