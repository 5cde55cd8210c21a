//! Where a finding's object is defined in arcdb's own migrations, for SARIF (GitHub places the
//! result on that line). Only on a database arcdb migrated (its history table exists): a
//! third-party schema's tables are not in these files.

use super::Location;

/// The migration file and line that last defines `object` (a finding's object:
/// `public.tasks`, `policy p on public.tasks`, `constraint c on public.tasks`, `view public.v`,
/// `function public.f(uuid)`), if one does.
pub fn locate(object: &str) -> Option<Location> {
    let needle = needle(object)?;
    let mut found = None;
    for file in crate::embedded::MIGRATIONS {
        // The PostgreSQL variant of each migration (not up.cockroachdb.sql, not down.sql).
        if !file.path.ends_with("/up.sql") {
            continue;
        }
        for (n, line) in file.contents.lines().enumerate() {
            if line.to_lowercase().contains(&needle) {
                found = Some(Location {
                    path: format!("migrations/{}", file.path),
                    line: Some(n as u32 + 1),
                });
                break;
            }
        }
    }
    found
}

/// The lower-case text that starts the object's definition.
fn needle(object: &str) -> Option<String> {
    let unqualified = |q: &str| {
        let q = q.split('(').next().unwrap_or(q);
        q.rsplit('.')
            .next()
            .unwrap_or(q)
            .trim_matches('"')
            .to_lowercase()
    };
    let words: Vec<&str> = object.split_whitespace().collect();
    match words.as_slice() {
        ["policy", name, "on", ..] => Some(format!(
            "create policy {}",
            name.trim_matches('"').to_lowercase()
        )),
        ["constraint", name, "on", ..] => Some(format!(
            "constraint {} ",
            name.trim_matches('"').to_lowercase()
        )),
        ["view", name] => Some(format!("create view {}", unqualified(name))),
        ["materialized", "view", name] => {
            Some(format!("create materialized view {}", unqualified(name)))
        }
        ["function", name] => Some(format!("function {}(", unqualified(name))),
        [table] if table.contains('.') => Some(format!("create table {} ", unqualified(table))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_policies_are_found_in_the_migration_that_defines_them() {
        let t = locate("public.tasks").expect("tasks is created by a migration");
        assert!(t.path.starts_with("migrations/0002"), "{t:?}");
        assert!(t.line.unwrap() > 1);
        let p = locate("policy tasks_tenant_isolation on public.tasks").expect("policy");
        assert!(p.path.ends_with("/up.sql"), "{p:?}");
        assert!(locate("role arcdesk_tenant").is_none());
        assert!(locate("public.no_such_table").is_none());
    }
}
