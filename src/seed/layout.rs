//! The layout of a scale load: organization sizes, and every row's id and random stream as a
//! pure function of its coordinates.

use super::spec::{
    ANCHOR, API_KEYS, CANCELLED, COMPLETED, COST_TRACKING, DATA_SOURCES, DAY, DELEGATIONS, DESKS,
    DESK_FANOUT, FAILED, HOUR, KNOWLEDGE_BASES, MAX_DESKS, MESSAGES, MINUTE, ORGANIZATIONS,
    PENDING, PROVIDERS, PROVIDER_WEIGHTS, QA_REVIEWS, SESSIONS, SESSION_STATUS_WEIGHTS, TABLES,
    TASKS, TASK_STATUS_WEIGHTS, USERS, WINDOW, WORKFLOWS, WORKFLOW_COUNT,
};

// ---------------------------------------------------------------------------------------------
// Deterministic randomness
// ---------------------------------------------------------------------------------------------

/// The SplitMix64 finalizer: a bijection on u64 that mixes every bit.
const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: small, fast, and the same on every platform and every version of arcdb.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// Uniform in 0..n (0 when n is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in lo..hi.
    pub(super) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }
    pub(super) fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// An index drawn with the given weights.
    pub(super) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total as u64) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

pub(super) type Id = [u8; 16];

/// A v4-shaped UUID from 64 bits of hash.
fn uuid_from(h: u64) -> Id {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&mix(h ^ 0x5555_5555_5555_5555).to_be_bytes());
    id[8..].copy_from_slice(&mix(h ^ 0xAAAA_AAAA_AAAA_AAAA).to_be_bytes());
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

// ---------------------------------------------------------------------------------------------
// The plan: organization sizes, and every row as a function of its coordinates
// ---------------------------------------------------------------------------------------------

pub(super) struct Org {
    /// Rank by size, 0 = largest.
    pub(super) idx: u32,
    pub(super) tasks: u64,
    pub(super) users: u64,
    pub(super) desks: u64,
    pub(super) knowledge_bases: u64,
    pub(super) api_keys: u64,
    pub(super) sessions: u64,
    pub(super) audit_logs: u64,
    pub(super) created: i64,
}

pub(super) struct Plan {
    pub(super) seed: u64,
    pub(super) run: u32,
    pub(super) key: u64,
    pub(super) orgs: Vec<Org>,
}

pub(super) struct Task {
    pub(super) id: Id,
    pub(super) created: i64,
    pub(super) status: usize,
    pub(super) desk: Option<u64>,
    pub(super) started: Option<i64>,
    pub(super) completed: Option<i64>,
    pub(super) rng: Rng,
}

pub(super) struct Session {
    pub(super) id: Id,
    pub(super) desk: u64,
    pub(super) user: Option<u64>,
    pub(super) task: Option<u64>,
    pub(super) status: usize,
    pub(super) started: i64,
    pub(super) last: i64,
    pub(super) ended: Option<i64>,
    pub(super) messages: u64,
    pub(super) costs: u64,
}

pub(super) struct Desk {
    pub(super) id: Id,
    pub(super) provider: usize,
    pub(super) model: usize,
    pub(super) rng: Rng,
}

impl Plan {
    pub(super) fn new(seed: u64, run: u32, orgs: u32, tasks: u64, skew: f64) -> Plan {
        let key = mix(mix(seed ^ 0x6172_6364_622d_7363) ^ run as u64);
        let sizes = allocate(tasks, orgs, skew);
        let mut rng = Rng(key);
        let orgs = sizes
            .into_iter()
            .enumerate()
            .map(|(i, tasks)| {
                let users = 2 + tasks / 50;
                let desks = (5 + tasks / 200).min(MAX_DESKS);
                Org {
                    idx: i as u32,
                    tasks,
                    users,
                    desks,
                    knowledge_bases: 1 + desks / 20,
                    api_keys: 1 + (users / 20).min(49),
                    sessions: tasks.div_ceil(10),
                    audit_logs: tasks * 3 / 10 + users,
                    created: ANCHOR - WINDOW - 30 * DAY + rng.between(0, 20 * DAY),
                }
            })
            .collect();
        Plan {
            seed,
            run,
            key,
            orgs,
        }
    }

    /// The id and the random stream of row `idx` of `table` in organization `org`. For a given
    /// table and organization, distinct indexes give distinct hashes (the mixing is bijective).
    pub(super) fn row(&self, table: usize, org: u32, idx: u64) -> (Id, Rng) {
        let h = mix(mix(mix(self.key ^ table as u64) ^ org as u64) ^ idx);
        (uuid_from(h), Rng(mix(h ^ 0x0F0F_0F0F_0F0F_0F0F)))
    }

    pub(super) fn id(&self, table: usize, org: u32, idx: u64) -> Id {
        self.row(table, org, idx).0
    }

    pub(super) fn org_id(&self, org: &Org) -> Id {
        self.id(ORGANIZATIONS, 0, org.idx as u64)
    }

    pub(super) fn task(&self, org: &Org, t: u64) -> Task {
        let (id, mut rng) = self.row(TASKS, org.idx, t);
        let step = (WINDOW / org.tasks.max(1) as i64).max(1);
        let created = ANCHOR - WINDOW + t as i64 * step + rng.between(0, step);
        let status = rng.weighted(&TASK_STATUS_WEIGHTS);
        let desk = if status == PENDING && rng.percent(30) {
            None
        } else {
            Some(rng.below(org.desks))
        };
        let started = (status != PENDING).then(|| created + rng.between(MINUTE, 2 * DAY));
        let completed = matches!(status, COMPLETED | FAILED | CANCELLED)
            .then(|| started.unwrap_or(created) + rng.between(10 * MINUTE, 5 * DAY));
        Task {
            id,
            created,
            status,
            desk,
            started,
            completed,
            rng,
        }
    }

    pub(super) fn session(&self, org: &Org, s: u64) -> Session {
        let (id, mut rng) = self.row(SESSIONS, org.idx, s);
        let step = (WINDOW / org.sessions.max(1) as i64).max(1);
        let started = ANCHOR - WINDOW + s as i64 * step + rng.between(0, step);
        let task = (org.tasks > 0 && rng.percent(80)).then(|| rng.below(org.tasks));
        let desk = rng.below(org.desks);
        let user = rng.percent(70).then(|| rng.below(org.users));
        let status = rng.weighted(&SESSION_STATUS_WEIGHTS);
        let last = started + rng.between(MINUTE, 2 * HOUR);
        let ended = (status >= 2).then(|| last + rng.between(0, 10 * MINUTE));
        let messages = 2 + rng.below(5);
        let costs = 1 + rng.below(3);
        Session {
            id,
            desk,
            user,
            task,
            status,
            started,
            last,
            ended,
            messages,
            costs,
        }
    }

    pub(super) fn desk(&self, org: &Org, d: u64) -> Desk {
        let (id, mut rng) = self.row(DESKS, org.idx, d);
        let provider = rng.weighted(&PROVIDER_WEIGHTS);
        let model = rng.below(PROVIDERS[provider].1.len() as u64) as usize;
        Desk {
            id,
            provider,
            model,
            rng,
        }
    }

    /// Expected rows of table `i` (for the progress bar; the real counts come from COPY).
    pub(super) fn estimate(&self, i: usize) -> u64 {
        let sum = |f: fn(&Org) -> u64| self.orgs.iter().map(f).sum::<u64>();
        match i {
            ORGANIZATIONS => self.orgs.len() as u64,
            USERS => sum(|o| o.users),
            DESKS => sum(|o| o.desks),
            WORKFLOWS => self.orgs.len() as u64 * WORKFLOW_COUNT,
            TASKS => sum(|o| o.tasks),
            SESSIONS => sum(|o| o.sessions),
            MESSAGES => sum(|o| o.sessions * 4),
            QA_REVIEWS => sum(|o| o.tasks * 37 / 100),
            DELEGATIONS => sum(|o| o.tasks * 7 / 100),
            KNOWLEDGE_BASES => sum(|o| o.knowledge_bases),
            DATA_SOURCES => sum(|o| o.knowledge_bases * 2),
            COST_TRACKING => sum(|o| o.sessions * 2),
            API_KEYS => sum(|o| o.api_keys),
            _ => sum(|o| o.audit_logs),
        }
    }

    pub(super) fn estimated_rows(&self) -> u64 {
        (0..TABLES.len()).map(|i| self.estimate(i)).sum()
    }
}

/// Split `total` tasks over `orgs` organizations: one each when there are enough, the rest
/// with Zipf weights 1/rank^skew (largest remainder, so the sum is exact).
fn allocate(total: u64, orgs: u32, skew: f64) -> Vec<u64> {
    let floor = u64::from(total >= orgs as u64);
    let spread = total - floor * orgs as u64;
    let weights: Vec<f64> = (1..=orgs as u64)
        .map(|rank| 1.0 / (rank as f64).powf(skew))
        .collect();
    let sum: f64 = weights.iter().sum();
    let shares: Vec<f64> = weights.iter().map(|w| w / sum * spread as f64).collect();
    let mut counts: Vec<u64> = shares.iter().map(|s| floor + s.floor() as u64).collect();
    let assigned: u64 = counts.iter().sum();
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = shares[a] - shares[a].floor();
        let fb = shares[b] - shares[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().take(total.saturating_sub(assigned) as usize) {
        counts[i] += 1;
    }
    counts
}

pub(super) fn desk_parent(d: u64) -> Option<u64> {
    (d > 0).then(|| (d - 1) / DESK_FANOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_is_exact_and_skewed() {
        let counts = allocate(5000, 20, 1.0);
        assert_eq!(counts.iter().sum::<u64>(), 5000);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]));
        assert!(counts[0] > 5 * counts[10]);
        let uniform = allocate(1000, 10, 0.0);
        assert!(uniform.iter().all(|c| *c == 100));
        let few = allocate(3, 10, 1.0);
        assert_eq!(few.iter().sum::<u64>(), 3);
        let all = allocate(100, 100, 2.0);
        assert!(all.iter().all(|c| *c == 1));
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = Plan::new(7, 0, 3, 100, 1.0);
        let b = Plan::new(7, 0, 3, 100, 1.0);
        let c = Plan::new(7, 1, 3, 100, 1.0);
        assert_eq!(a.id(TASKS, 1, 5), b.id(TASKS, 1, 5));
        assert_ne!(a.id(TASKS, 1, 5), c.id(TASKS, 1, 5));
        let mut ids: Vec<Id> = (0..10_000).map(|i| a.id(TASKS, 0, i)).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10_000);
        assert_eq!(a.id(TASKS, 0, 0)[6] >> 4, 4);
    }
}
