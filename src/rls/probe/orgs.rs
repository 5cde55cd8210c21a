//! The organizations probed and the rows sampled from each (read as the owner, once per run).

use super::*;

#[derive(Debug, Clone)]
pub(super) struct Org {
    pub(super) id: String,
    pub(super) label: String,
}

/// All organizations, or a deterministic sample of `max` of them (and the total).
pub(super) async fn read_orgs(
    tx: Tx<'_>,
    root: &Table,
    max: usize,
) -> anyhow::Result<(Vec<Org>, usize)> {
    let label = ["name", "slug"]
        .iter()
        .find(|c| root.column(c).is_some())
        .map(|c| format!("{}::text", quoted_ident(c)))
        .unwrap_or_else(|| format!("{}::text", root.tc_sql()));
    let total: i64 = tx
        .query(&format!("SELECT count(*) FROM {}", root.sql), &[])
        .await?[0]
        .get(0);
    // md5 of the key: a spread-out sample that is the same on every run.
    let rows = tx
        .query(
            &format!(
                "SELECT {key}::text, coalesce({label}, {key}::text) FROM {} ORDER BY md5({key}::text) LIMIT $1",
                root.sql,
                key = root.tc_sql()
            ),
            &[&(max as i64)],
        )
        .await?;
    let mut orgs: Vec<Org> = rows
        .iter()
        .map(|r| Org {
            id: r.get(0),
            label: r.get(1),
        })
        .collect();
    orgs.sort_by(|a, b| a.label.cmp(&b.label).then(a.id.cmp(&b.id)));
    Ok((orgs, total as usize))
}

/// Up to [`SAMPLE_ROWS`] rows of each organization per table, the ones with the most NULLs
/// (the fewest optional references) first.
pub(super) async fn read_samples(
    tx: Tx<'_>,
    tables: &[Table],
    orgs: &[Org],
) -> anyhow::Result<Vec<HashMap<String, Vec<Map<String, Value>>>>> {
    let ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let mut all = Vec::new();
    for t in tables {
        let mut per_org: HashMap<String, Vec<Map<String, Value>>> = HashMap::new();
        if t.is_table() && !t.global && !t.filtered_for_owner && !ids.is_empty() {
            let order = if t.pk.is_empty() {
                String::new()
            } else {
                let cols: Vec<String> = t.pk.iter().map(|c| quoted_ident(c)).collect();
                format!("ORDER BY {}", cols.join(", "))
            };
            let sql = format!(
                "SELECT o.k, x.j
                   FROM unnest($1::text[]) AS o(k)
                   CROSS JOIN LATERAL (
                        SELECT to_jsonb(s) AS j
                          FROM (SELECT * FROM {t} WHERE {tc} = o.k::{ty} {order} LIMIT 20) AS s
                         ORDER BY (SELECT count(*) FROM jsonb_each(to_jsonb(s)) AS e
                                    WHERE e.value = 'null'::jsonb) DESC, to_jsonb(s)::text
                         LIMIT {SAMPLE_ROWS}) AS x",
                t = t.sql,
                tc = t.tc_sql(),
                ty = t.tc_ty,
            );
            for row in tx.query(&sql, &[&ids]).await? {
                let org: String = row.get(0);
                if let Value::Object(map) = row.get::<_, Value>(1) {
                    per_org.entry(org).or_default().push(map);
                }
            }
        }
        all.push(per_org);
    }
    Ok(all)
}

/// Per table, the probed organization with the fewest rows in it (ties: the first in the
/// probe order).
pub(super) async fn smallest_orgs(
    tx: Tx<'_>,
    tables: &[Table],
    orgs: &[Org],
) -> anyhow::Result<Vec<Option<String>>> {
    let ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let mut out = Vec::new();
    for t in tables {
        if !t.is_table() || !t.probed() || ids.is_empty() {
            out.push(None);
            continue;
        }
        let sql = format!(
            "SELECT o.k FROM unnest($1::text[]) WITH ORDINALITY AS o(k, i)
              ORDER BY (SELECT count(*) FROM {t} WHERE {tc} = o.k::{ty}), o.i
              LIMIT 1",
            t = t.sql,
            tc = t.tc_sql(),
            ty = t.tc_ty
        );
        out.push(tx.query(&sql, &[&ids]).await?.first().map(|r| r.get(0)));
    }
    Ok(out)
}
