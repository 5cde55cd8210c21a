//! The report for people, like a compiler's diagnostics: findings grouped by table, then rule;
//! each one line that fits the terminal, with the fix (and the detail) indented under it; a root
//! cause first, with the findings it explains folded under it; counts per severity at the end.

#[cfg(test)]
use super::Severity;
use super::{Finding, RlsReport, Verdict};
use std::collections::BTreeMap;

/// Rules that explain every other finding when present (reported once, the rest folded).
pub const ROOT_CAUSES: &[&str] = &["tenant-role-missing", "setting-unread"];

/// The width to fit: `COLUMNS`, else the terminal's, else 100 (not a terminal).
pub fn width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n >= 40)
    {
        return n;
    }
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size() {
            return (w as usize).max(40);
        }
    }
    100
}

/// The table (or other object) a finding belongs to, for grouping.
fn group_of(f: &Finding) -> String {
    match f.object.rsplit_once(" on ") {
        Some((_, table)) => table.to_string(),
        None => f.object.clone(),
    }
}

/// `text` cut to `width` characters, with an ellipsis when cut.
fn fit(text: &str, width: usize) -> String {
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= width {
        return text;
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` wrapped to `width`, each line starting with `indent`.
fn wrap(text: &str, indent: &str, width: usize) -> String {
    let room = width.saturating_sub(indent.chars().count()).max(20);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > room {
            out.push_str(indent);
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The finding's line: `severity[rule] object [command]: message` when that fits, else the
/// head alone (cut to the width) and the message wrapped under it: nothing is lost.
fn full(f: &Finding, width: usize, indent: &str) -> String {
    let command = f
        .command
        .as_deref()
        .map(|c| format!(" [{c}]"))
        .unwrap_or_default();
    let head = format!("{}[{}] {}{command}", f.severity.as_str(), f.rule, f.object);
    let room = width.saturating_sub(indent.chars().count());
    let one_line = format!("{head}: {}", f.message);
    let deeper = format!("{indent}    ");
    let mut out = String::new();
    if one_line.chars().count() <= room {
        out.push_str(&format!("{indent}{one_line}\n"));
    } else {
        out.push_str(&format!("{indent}{}\n", fit(&head, room)));
        out.push_str(&wrap(&f.message, &deeper, width));
    }
    if let Some(detail) = &f.detail {
        out.push_str(&wrap(detail, &deeper, width));
    }
    out.push_str(&wrap(&format!("fix: {}", f.fix), &deeper, width));
    out
}

/// The report for people, `width` columns wide.
pub fn table(report: &RlsReport, width: usize) -> String {
    let findings: Vec<&Finding> = report.findings().collect();
    let mut out = String::new();
    let roots: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| ROOT_CAUSES.contains(&f.rule.as_str()))
        .collect();
    if !roots.is_empty() {
        for root in &roots {
            out.push_str(&full(root, width, ""));
        }
        // Everything else follows from the root cause: counted per rule, not listed.
        let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
        for f in findings
            .iter()
            .filter(|f| !ROOT_CAUSES.contains(&f.rule.as_str()))
        {
            *per_rule.entry(f.rule.as_str()).or_default() += 1;
        }
        if !per_rule.is_empty() {
            out.push_str(&wrap(
                &format!(
                    "explains the other {} finding(s), folded here (see --format json): {}",
                    per_rule.values().sum::<usize>(),
                    per_rule
                        .iter()
                        .map(|(r, n)| format!("{r} ×{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "    ",
                width,
            ));
        }
        out.push('\n');
    } else {
        // By table, errors first within each, then by rule.
        let mut groups: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
        for f in &findings {
            groups.entry(group_of(f)).or_default().push(f);
        }
        for (group, mut list) in groups {
            list.sort_by(|a, b| {
                b.severity
                    .cmp(&a.severity)
                    .then(a.rule.cmp(&b.rule))
                    .then(a.object.cmp(&b.object))
            });
            out.push_str(&format!("{}\n", fit(&group, width)));
            for f in list {
                out.push_str(&full(f, width, "  "));
            }
            out.push('\n');
        }
    }
    let skipped = report
        .checks
        .iter()
        .filter(|c| c.unverified().is_some())
        .count();
    let sample = if report.sampled {
        " (a sample: more organizations exist)"
    } else {
        ""
    };
    let probe_tenants = if report.probe_tenants > 0 {
        format!(" ({} made by verify-rls)", report.probe_tenants)
    } else {
        String::new()
    };
    // The column model is the default and goes unsaid.
    let model = if report.model == "column" {
        String::new()
    } else {
        format!(" ({} model)", report.model)
    };
    out.push_str(&wrap(
        &format!(
            "{} ({}) as {}{model}: {} checks over {} tables and {} organizations{probe_tenants}{sample}, {} skipped",
            report.target,
            report.engine,
            report.tenant_role,
            report.checks.len(),
            report.tables,
            report.organizations_probed,
            skipped,
        ),
        "",
        width,
    ));
    let s = report.summary;
    let counts = format!(
        "{} error(s), {} warning(s), {} info",
        s.error, s.warning, s.info
    );
    let verdict = match report.verdict {
        Verdict::Isolated if findings.is_empty() => "no finding: tenants are isolated".to_string(),
        Verdict::Isolated => format!(
            "{counts}, none at or above --fail-on {}: tenants are isolated",
            report.fail_on.as_str()
        ),
        Verdict::Findings => counts,
        Verdict::Inconclusive => format!("{counts}; INCONCLUSIVE: isolation was not verified"),
    };
    out.push_str(&wrap(&verdict, "", width));
    if !report.inconclusive.is_empty() {
        if report.verdict != Verdict::Inconclusive {
            out.push_str("not verified either:\n");
        }
        for why in &report.inconclusive {
            out.push_str(&wrap(&format!("- {why}"), "  ", width));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, severity: Severity, object: &str) -> Finding {
        Finding {
            rule: rule.into(),
            severity,
            object: object.into(),
            command: Some("SELECT".into()),
            message: "a tenant reads every organization's rows ".repeat(20),
            detail: None,
            fix: "ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY; ".repeat(5),
            location: None,
        }
    }

    #[test]
    fn long_lines_are_cut_and_fixes_wrapped_to_the_width() {
        let f = finding("rls-disabled", Severity::Error, "public.tasks");
        let text = full(&f, 80, "  ");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        // The head on its line, the whole message wrapped under it, then the fix.
        assert_eq!(
            text.lines().next().unwrap(),
            "  error[rls-disabled] public.tasks [SELECT]"
        );
        let words = text.matches("organization's").count();
        assert_eq!(words, 20, "{text}");
        assert!(text.contains("      fix: ALTER TABLE"));
    }

    #[test]
    fn findings_on_one_table_are_grouped_under_it() {
        assert_eq!(
            group_of(&finding(
                "policy-unscoped",
                Severity::Error,
                "policy p on public.tasks"
            )),
            "public.tasks"
        );
        assert_eq!(
            group_of(&finding("rls-disabled", Severity::Error, "public.tasks")),
            "public.tasks"
        );
    }
}
