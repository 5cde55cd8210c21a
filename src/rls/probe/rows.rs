//! Rows the write probes insert: a sampled row changed into a valid new row of another
//! organization, keeping the shape its constraints expect (integer modes, [`reshape`]).

use super::*;

#[derive(Clone, Copy, Debug)]
pub(super) enum IntMode {
    Keep,
    Null,
    Offset,
}

impl Probe<'_, '_> {
    /// A row valid for `org`, built from `template`: tenant column set, key and unique-key
    /// columns changed (keeping their shape), foreign-key columns untouched.
    pub(super) fn build_row(
        &self,
        t: &Table,
        template: &Map<String, Value>,
        org: &str,
        mode: IntMode,
        flip: Option<bool>,
        salt: u64,
    ) -> Map<String, Value> {
        let mut row = template.clone();
        row.insert(t.tc.clone(), Value::String(org.to_string()));
        if let Some(flag) = flip {
            for col in &t.partial_bools {
                row.insert(col.clone(), Value::Bool(flag));
            }
        }
        for col in &t.columns {
            if col.name == t.tc
                || !t.unique_columns.contains(&col.name)
                || t.fk_columns.contains(&col.name)
            {
                continue;
            }
            let Some(value) = row.get_mut(&col.name) else {
                continue;
            };
            match (col.category, &*value) {
                ('U', _) if col.ty == "uuid" => {
                    *value = Value::String(uuid::Uuid::new_v4().to_string());
                }
                ('S', Value::String(s)) => *value = Value::String(reshape(s, salt)),
                ('N', Value::Number(num))
                    if matches!(col.ty.as_str(), "smallint" | "integer" | "bigint") =>
                {
                    match mode {
                        IntMode::Keep => {}
                        IntMode::Null => *value = Value::Null,
                        IntMode::Offset => {
                            let bump = if col.ty == "smallint" {
                                7_001
                            } else {
                                1_000_003
                            };
                            if let Some(n) = num.as_i64() {
                                *value = Value::from(n + bump);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        row
    }
}

/// Change the first alphanumeric characters of `s` into others of the same class (digit,
/// hex letter a–f, other letter, same case), so that a value keeps the shape its CHECK
/// constraints expect (emails, handles, hex hashes) while no longer colliding with the
/// original.
pub(super) fn reshape(s: &str, salt: u64) -> String {
    let mut changed = 0;
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if changed >= 12 || !c.is_ascii_alphanumeric() {
                return c;
            }
            changed += 1;
            let step = (salt as usize + i) % 4 + 1;
            let rotate = |base: u8, len: usize, c: char| -> char {
                let pos = c as usize - base as usize;
                (base + ((pos + step) % len) as u8) as char
            };
            match c {
                '0'..='9' => rotate(b'0', 10, c),
                'a'..='f' => rotate(b'a', 6, c),
                'g'..='z' => rotate(b'g', 20, c),
                'A'..='F' => rotate(b'A', 6, c),
                _ => rotate(b'G', 20, c),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_keeps_the_shape_and_changes_the_value() {
        let hex = "3f9a0c1b2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
        let changed = reshape(hex, 0);
        assert_ne!(changed, hex);
        assert_eq!(changed.len(), hex.len());
        assert!(changed
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let email = reshape("alice@acme.com", 1);
        assert_ne!(email, "alice@acme.com");
        assert_eq!(email.matches('@').count(), 1);
        assert!(email.ends_with(".com") || email.contains('.'));
        let handle = reshape("ACME-ceo_01", 2);
        assert_eq!(handle.len(), 11);
        assert_eq!(&handle[4..5], "-");
        assert!(handle[..4].chars().all(|c| c.is_ascii_uppercase()));
        assert_eq!(reshape("--", 3), "--");
    }
}
