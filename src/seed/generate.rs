//! The generator: one method per table, in load order, writing COPY rows.

use super::copy::{write_hex, Chunk, Rows};
use super::layout::{desk_parent, Desk, Id, Org, Plan, Session, Task};
use super::spec::{
    billing_month, ANCHOR, API_KEYS, AUDIT_ACTIONS, AUDIT_ACTION_WEIGHTS, AUDIT_LOGS, BLOCKED,
    CANCELLED, COMPLETED, COST_TRACKING, DATA_SOURCES, DAY, DELEGATIONS, DESKS, FAILED, HOUR,
    IN_REVIEW, KNOWLEDGE_BASES, LEAD_ROLES, MESSAGES, MINUTE, NOUNS, ORGANIZATIONS, PENDING,
    PHRASES, PRIORITIES, PRIORITY_WEIGHTS, PROVIDERS, QA_REVIEWS, SESSIONS, SESSION_STATUSES,
    SOURCE_TYPES, STAGES, SYNC_STATUSES, SYNC_STATUS_WEIGHTS, TABLES, TASKS, TASK_STATUSES,
    TEAM_ROLES, USERS, USER_AGENTS, VERBS, WINDOW, WORKFLOWS, WORKFLOW_COUNT, WORKFLOW_NAMES,
    WORKFLOW_STAGES,
};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use tokio::sync::mpsc;

pub(super) struct Gen<'a, const B: bool> {
    plan: &'a Plan,
    w: Rows<B>,
    /// Desk paths of the current organization, concatenated (reused across organizations).
    paths: Vec<u8>,
    path_ends: Vec<usize>,
}

impl<'a, const B: bool> Gen<'a, B> {
    pub(super) fn new(plan: &'a Plan, out: mpsc::Sender<Chunk>) -> Self {
        Gen {
            plan,
            w: Rows::new(out),
            paths: Vec::new(),
            path_ends: Vec::new(),
        }
    }

    pub(super) fn run(mut self) {
        let tables: [fn(&mut Self, &Org); 14] = [
            Self::organization,
            Self::users,
            Self::desks,
            Self::workflows,
            Self::tasks,
            Self::sessions,
            Self::messages,
            Self::qa_reviews,
            Self::delegations,
            Self::knowledge_bases,
            Self::data_sources,
            Self::cost_tracking,
            Self::api_keys,
            Self::audit_logs,
        ];
        let plan = self.plan;
        for table in tables {
            self.w.start_table();
            for org in &plan.orgs {
                if self.w.closed {
                    return;
                }
                table(&mut self, org);
            }
            self.w.end_table();
        }
    }

    fn user_id(&self, org: &Org, u: u64) -> Id {
        self.plan.id(USERS, org.idx, u)
    }
    fn desk_id(&self, org: &Org, d: u64) -> Id {
        self.plan.id(DESKS, org.idx, d)
    }

    fn organization(&mut self, org: &Org) {
        let p = self.plan;
        let (id, mut rng) = p.row(ORGANIZATIONS, 0, org.idx as u64);
        let rank = org.idx + 1;
        let n = p.orgs.len() as u32;
        let tier = if rank * 100 <= n.max(100) {
            "enterprise"
        } else if rank * 10 <= n {
            "professional"
        } else if rank * 10 <= n * 4 {
            "starter"
        } else {
            "free"
        };
        let w = &mut self.w;
        w.begin(TABLES[ORGANIZATIONS].columns.len());
        w.uuid(&id);
        w.text_with(|b| {
            let _ = write!(b, "Scale Org {rank:05} (seed {}, run {})", p.seed, p.run);
        });
        w.text_with(|b| {
            let _ = write!(b, "scale-s{}-r{}-{rank:05}", p.seed, p.run);
        });
        w.text(tier);
        w.jsonb_with(|b| {
            let _ = write!(
                b,
                r#"{{"arcdb_scale": {{"seed": {}, "run": {}, "rank": {rank}}}}}"#,
                p.seed, p.run
            );
        });
        w.int4((org.users * 2).min(i32::MAX as u64) as i32);
        w.int4((org.desks * 2) as i32);
        w.numeric(10_000 * (1 + rng.below(50)) as i64, 2); // $100 steps, in cents
        w.int8(org.tasks as i64);
        w.boolean(true);
        w.ts(org.created);
        w.ts(org.created + rng.between(0, 10 * DAY));
        w.end();
    }

    pub(super) fn users(&mut self, org: &Org) {
        let org_id = self.plan.org_id(org);
        for u in 0..org.users {
            let (id, mut rng) = self.plan.row(USERS, org.idx, u);
            let created =
                org.created + u as i64 * (WINDOW / org.users as i64) + rng.between(0, HOUR);
            let w = &mut self.w;
            w.begin(TABLES[USERS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "user{u}@org{}.scale.example", org.idx + 1);
            });
            w.text_with(|b| {
                let _ = write!(b, "user{u}");
            });
            w.text_with(|b| {
                let _ = write!(b, "Scale User {u}");
            });
            w.boolean(u == 0);
            w.boolean(!rng.percent(3));
            w.jsonb(if rng.percent(50) {
                r#"{"theme": "dark"}"#
            } else {
                "{}"
            });
            w.opt_ts(rng.percent(90).then(|| ANCHOR - rng.between(0, 30 * DAY)));
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    pub(super) fn desks(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let creator = self.user_id(org, 0);
        self.paths.clear();
        self.path_ends.clear();
        for d in 0..org.desks {
            let Desk {
                id,
                provider,
                model,
                mut rng,
            } = p.desk(org, d);
            let parent = desk_parent(d);
            // hierarchy_path = parent's path || '/' || desk_id (the desk_id alone at a root),
            // depth = number of ancestors (hierarchy_level = depth + 1; the trigger of 0007).
            let (start, depth) = match parent {
                None => (self.paths.len(), 0),
                Some(q) => {
                    let from = if q == 0 {
                        0
                    } else {
                        self.path_ends[q as usize - 1]
                    };
                    let to = self.path_ends[q as usize];
                    let start = self.paths.len();
                    self.paths.extend_from_within(from..to);
                    self.paths.push(b'/');
                    let ancestors = self.paths[start..].iter().filter(|&&b| b == b'/').count();
                    (start, ancestors)
                }
            };
            let _ = write!(self.paths, "desk-{d}");
            self.path_ends.push(self.paths.len());
            let role = match depth {
                0 => "executive",
                1 => "director",
                2 => rng.pick(&LEAD_ROLES),
                _ => rng.pick(&TEAM_ROLES),
            };
            let created = org.created + rng.between(HOUR, 20 * DAY);
            let parent_id = parent.map(|q| self.desk_id(org, q));
            let w = &mut self.w;
            w.begin(TABLES[DESKS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "desk-{d}");
            });
            w.text_with(|b| {
                let _ = write!(b, "Desk {d} ({})", role.replace('_', " "));
            });
            if rng.percent(60) {
                w.text("Handles the work routed to this part of the organization.");
            } else {
                w.null();
            }
            w.text(role);
            w.opt_uuid(parent_id.as_ref());
            w.text_with(|b| b.extend_from_slice(&self.paths[start..]));
            w.int4(depth as i32 + 1);
            w.text(PROVIDERS[provider].0);
            w.text(PROVIDERS[provider].1[model].0);
            w.numeric(rng.between(0, 101), 2);
            w.int4(1024 * (1 + rng.below(8)) as i32);
            w.jsonb("{}");
            w.numeric(100 * rng.between(10, 2000), 2);
            w.boolean(!rng.percent(5));
            w.uuid(&creator);
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    fn workflows(&mut self, org: &Org) {
        let org_id = self.plan.org_id(org);
        let creator = self.user_id(org, 0);
        for k in 0..WORKFLOW_COUNT {
            let (id, mut rng) = self.plan.row(WORKFLOWS, org.idx, k);
            let created = org.created + rng.between(HOUR, 10 * DAY);
            let w = &mut self.w;
            w.begin(TABLES[WORKFLOWS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text(WORKFLOW_NAMES[k as usize]);
            w.text("Stages a task goes through before it is done.");
            w.jsonb(WORKFLOW_STAGES[k as usize]);
            w.int4(1 + rng.below(3) as i32);
            w.boolean(k == 0);
            w.boolean(true);
            w.uuid(&creator);
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    pub(super) fn tasks(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for t in 0..org.tasks {
            let Task {
                id,
                created,
                status,
                desk,
                started,
                completed,
                mut rng,
            } = p.task(org, t);
            let priority = rng.weighted(&PRIORITY_WEIGHTS);
            let workflow = rng.percent(85).then(|| rng.below(WORKFLOW_COUNT));
            let parent = (t > 0 && rng.percent(10)).then(|| rng.below(t));
            let creator = rng.below(org.users);
            let verb = rng.pick(&VERBS);
            let noun = rng.pick(&NOUNS);
            let due = rng
                .percent(30)
                .then(|| created + rng.between(DAY, 30 * DAY));
            let retries = if status == FAILED {
                1 + rng.below(3)
            } else {
                0
            };
            let estimate = 1 + rng.below(40);
            let w = &mut self.w;
            w.begin(TABLES[TASKS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.int8(t as i64 + 1);
            w.text_with(|b| {
                let _ = write!(b, "{verb} {noun}");
            });
            if rng.percent(50) {
                w.text_with(|b| {
                    let _ = write!(b, "{verb} {noun} and report back. Ticket {}.", t + 1);
                });
            } else {
                w.null();
            }
            w.text(TASK_STATUSES[status]);
            w.text(PRIORITIES[priority]);
            match workflow {
                Some(k) => {
                    w.uuid(&p.id(WORKFLOWS, org.idx, k));
                    w.text(
                        STAGES[match status {
                            PENDING => 0,
                            IN_REVIEW | BLOCKED => 1,
                            COMPLETED => 2,
                            _ => rng.below(3) as usize,
                        }],
                    );
                }
                None => {
                    w.null();
                    w.null();
                }
            }
            w.opt_uuid(parent.map(|q| p.id(TASKS, org.idx, q)).as_ref());
            w.uuid(&p.id(USERS, org.idx, creator));
            w.opt_uuid(desk.map(|d| p.id(DESKS, org.idx, d)).as_ref());
            w.jsonb_with(|b| {
                let _ = write!(b, r#"{{"source": "scale", "estimate_hours": {estimate}}}"#);
            });
            if status == COMPLETED {
                w.jsonb(r#"{"result": "ok"}"#);
            } else {
                w.null();
            }
            w.opt_text((status == FAILED).then_some("Upstream service returned 503"));
            w.int4(retries as i32);
            w.opt_ts(due);
            w.opt_ts(started);
            w.opt_ts(completed);
            w.ts(created);
            w.ts(completed.or(started).unwrap_or(created));
            w.end();
        }
    }

    pub(super) fn sessions(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for s in 0..org.sessions {
            let Session {
                id,
                desk,
                user,
                task,
                status,
                started,
                last,
                ended,
                ..
            } = p.session(org, s);
            let w = &mut self.w;
            w.begin(TABLES[SESSIONS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.uuid(&p.id(DESKS, org.idx, desk));
            w.opt_uuid(user.map(|u| p.id(USERS, org.idx, u)).as_ref());
            w.opt_uuid(task.map(|t| p.id(TASKS, org.idx, t)).as_ref());
            w.text(SESSION_STATUSES[status]);
            w.text_with(|b| {
                let _ = write!(b, "Session {}", s + 1);
            });
            w.jsonb("{}");
            w.ts(started);
            w.ts(last);
            w.opt_ts(ended);
            w.ts(started);
            w.ts(ended.unwrap_or(last));
            w.end();
        }
    }

    pub(super) fn messages(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for s in 0..org.sessions {
            let session = p.session(org, s);
            let desk = p.desk(org, session.desk);
            let model = PROVIDERS[desk.provider].1[desk.model].0;
            let gap = (session.last - session.started) / session.messages as i64;
            for m in 0..session.messages {
                let (id, mut rng) = p.row(MESSAGES, org.idx, s * 8 + m);
                let role = match m {
                    0 => "system",
                    m if m % 2 == 1 => "user",
                    _ => "assistant",
                };
                let created = session.started + m as i64 * gap;
                let sentences = 1 + rng.below(3);
                let w = &mut self.w;
                w.begin(TABLES[MESSAGES].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&session.id);
                w.int4(m as i32 + 1);
                w.text(role);
                w.text_with(|b| {
                    for i in 0..sentences {
                        if i > 0 {
                            b.push(b' ');
                        }
                        b.extend_from_slice(rng.pick(&PHRASES).as_bytes());
                    }
                });
                if role == "assistant" {
                    w.text(model);
                    w.int4(rng.between(200, 4000) as i32);
                    w.int4(rng.between(50, 1500) as i32);
                } else {
                    w.null();
                    w.null();
                    w.null();
                }
                w.jsonb("{}");
                w.ts(created);
                w.ts(created);
                w.end();
            }
        }
    }

    fn qa_reviews(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for t in 0..org.tasks {
            let task = p.task(org, t);
            // Index t*4+3 is never a review row: its stream decides how many reviews there are.
            let (_, mut pick) = p.row(QA_REVIEWS, org.idx, t * 4 + 3);
            let reviews = match task.status {
                IN_REVIEW | FAILED => 1,
                COMPLETED if pick.percent(50) => 1 + pick.percent(10) as u64,
                _ => 0,
            };
            let base = task.started.unwrap_or(task.created);
            for k in 0..reviews {
                let (id, mut rng) = p.row(QA_REVIEWS, org.idx, t * 4 + k);
                let last = k + 1 == reviews;
                let status = match task.status {
                    IN_REVIEW => {
                        if rng.percent(50) {
                            "pending"
                        } else {
                            "in_progress"
                        }
                    }
                    FAILED => "failed",
                    _ if !last => "needs_revision",
                    _ => "passed",
                };
                let reviewed = matches!(status, "passed" | "failed" | "needs_revision");
                let created = base + (k as i64 + 1) * HOUR;
                let reviewed_at = reviewed.then(|| created + rng.between(MINUTE, 6 * HOUR));
                let w = &mut self.w;
                w.begin(TABLES[QA_REVIEWS].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&task.id);
                w.text("review");
                w.int4(k as i32 + 1);
                w.text(status);
                w.uuid(&p.id(DESKS, org.idx, rng.below(org.desks)));
                w.opt_uuid(
                    rng.percent(30)
                        .then(|| p.id(USERS, org.idx, rng.below(org.users)))
                        .as_ref(),
                );
                if reviewed {
                    w.numeric(rng.between(4000, 10_001), 2);
                    w.text(match status {
                        "passed" => "Looks good.",
                        "failed" => "Does not meet the acceptance criteria.",
                        _ => "Please address the comments and resubmit.",
                    });
                } else {
                    w.null();
                    w.null();
                }
                w.jsonb(if status == "needs_revision" {
                    r#"[{"severity": "minor", "note": "missing test"}]"#
                } else {
                    "[]"
                });
                w.opt_ts(reviewed_at);
                w.ts(created);
                w.ts(reviewed_at.unwrap_or(created));
                w.end();
            }
        }
    }

    fn delegations(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        if org.desks < 2 {
            return;
        }
        for t in 0..org.tasks {
            let task = p.task(org, t);
            let Some(to) = task.desk else { continue };
            let (id, mut rng) = p.row(DELEGATIONS, org.idx, t);
            if !rng.percent(8) {
                continue;
            }
            let from = match desk_parent(to) {
                _ if rng.percent(20) => None,
                Some(parent) => Some(parent),
                None => Some(1 + rng.below(org.desks - 1)),
            };
            let delegated = task.created + rng.between(MINUTE, HOUR);
            let status = match task.status {
                PENDING => "pending",
                COMPLETED => "completed",
                CANCELLED => "cancelled",
                _ if rng.percent(10) => "rejected",
                _ => "accepted",
            };
            let responded = (status != "pending").then(|| delegated + rng.between(MINUTE, DAY));
            let completed = (status == "completed").then(|| task.completed.unwrap_or(delegated));
            let w = &mut self.w;
            w.begin(TABLES[DELEGATIONS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.uuid(&task.id);
            w.opt_uuid(from.map(|d| p.id(DESKS, org.idx, d)).as_ref());
            w.uuid(&p.id(DESKS, org.idx, to));
            w.opt_uuid(
                rng.percent(60)
                    .then(|| p.id(USERS, org.idx, rng.below(org.users)))
                    .as_ref(),
            );
            w.text(status);
            w.text("Better suited to this desk's role.");
            w.ts(delegated);
            w.opt_ts(responded);
            w.opt_ts(completed.map(|c| c.max(responded.unwrap_or(c))));
            w.ts(delegated);
            w.ts(responded.unwrap_or(delegated));
            w.end();
        }
    }

    pub(super) fn knowledge_bases(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let creator = self.user_id(org, 0);
        for k in 0..org.knowledge_bases {
            let (id, mut rng) = p.row(KNOWLEDGE_BASES, org.idx, k);
            let created = org.created + rng.between(DAY, 60 * DAY);
            let documents = rng.below(5000);
            let chunks = documents * (5 + rng.below(20));
            let w = &mut self.w;
            w.begin(TABLES[KNOWLEDGE_BASES].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "Knowledge base {}", k + 1);
            });
            w.text("Documents the desks retrieve from.");
            w.opt_uuid(
                (k > 0)
                    .then(|| p.id(DESKS, org.idx, rng.below(org.desks)))
                    .as_ref(),
            );
            w.text("openai");
            w.text("text-embedding-3-small");
            w.int4(1000);
            w.int4(200);
            w.text(if rng.percent(90) {
                "active"
            } else {
                "indexing"
            });
            w.int4(documents as i32);
            w.int8(chunks as i64);
            w.int8((chunks * 4096) as i64);
            w.jsonb("{}");
            w.ts(ANCHOR - rng.between(0, 7 * DAY));
            w.uuid(&creator);
            w.ts(created);
            w.ts(created);
            w.end();
        }
    }

    fn data_sources(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let creator = self.user_id(org, 0);
        for k in 0..org.knowledge_bases {
            let kb = p.id(KNOWLEDGE_BASES, org.idx, k);
            for j in 0..2 {
                let (id, mut rng) = p.row(DATA_SOURCES, org.idx, k * 2 + j);
                let kind = rng.pick(&SOURCE_TYPES);
                let sync = SYNC_STATUSES[rng.weighted(&SYNC_STATUS_WEIGHTS)];
                let created = org.created + rng.between(DAY, 60 * DAY);
                let w = &mut self.w;
                w.begin(TABLES[DATA_SOURCES].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&kb);
                w.text_with(|b| {
                    let _ = write!(b, "Source {}-{}", k + 1, j + 1);
                });
                w.text(kind);
                w.jsonb_with(|b| {
                    let _ = write!(
                        b,
                        r#"{{"url": "https://{kind}.example.com/org{}"}}"#,
                        org.idx + 1
                    );
                });
                w.text_with(|b| {
                    let _ = write!(b, "secrets/{kind}-{}-{}", k + 1, j + 1);
                });
                w.text(sync);
                w.int4(60 * (1 + rng.below(24)) as i32);
                w.opt_ts((sync == "synced").then(|| ANCHOR - rng.between(0, DAY)));
                w.opt_text((sync == "error").then_some("401 Unauthorized: token expired"));
                w.boolean(true);
                w.uuid(&creator);
                w.ts(created);
                w.ts(created);
                w.end();
            }
        }
    }

    fn cost_tracking(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for s in 0..org.sessions {
            let session = p.session(org, s);
            let desk = p.desk(org, session.desk);
            let (provider, models) = PROVIDERS[desk.provider];
            let (model, input_price, output_price) = models[desk.model];
            for c in 0..session.costs {
                let (id, mut rng) = p.row(COST_TRACKING, org.idx, s * 4 + c);
                let created = session.started + rng.between(0, session.last - session.started + 1);
                let input = rng.between(100, 20_000);
                let output = rng.between(50, 4_000);
                let operation = if rng.percent(10) {
                    "embedding"
                } else {
                    "completion"
                };
                let w = &mut self.w;
                w.begin(TABLES[COST_TRACKING].columns.len());
                w.uuid(&id);
                w.uuid(&org_id);
                w.uuid(&desk.id);
                w.opt_uuid(session.task.map(|t| p.id(TASKS, org.idx, t)).as_ref());
                w.uuid(&session.id);
                w.text(provider);
                w.text(model);
                w.text(operation);
                w.int8(input);
                w.int8(output);
                w.int8(input + output);
                w.numeric(input * input_price + output * output_price, 6);
                w.text(&billing_month(created));
                w.int4(rng.between(200, 20_000) as i32);
                w.text_with(|b| {
                    b.extend_from_slice(b"req_");
                    write_hex(b, &id[..8]);
                });
                w.jsonb("{}");
                w.ts(created);
                w.end();
            }
        }
    }

    pub(super) fn api_keys(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        for k in 0..org.api_keys {
            let (id, mut rng) = p.row(API_KEYS, org.idx, k);
            // Only the SHA-256 of the (never stored) key; unique across runs and organizations.
            let hash = Sha256::new()
                .chain_update(b"arcdb-scale-key:")
                .chain_update(p.key.to_be_bytes())
                .chain_update(org.idx.to_be_bytes())
                .chain_update(k.to_be_bytes())
                .finalize();
            let created = org.created + rng.between(DAY, 90 * DAY);
            let revoked = rng
                .percent(10)
                .then(|| created + rng.between(DAY, 30 * DAY));
            let w = &mut self.w;
            w.begin(TABLES[API_KEYS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text_with(|b| {
                let _ = write!(b, "key-{}", k + 1);
            });
            w.text_with(|b| {
                b.extend_from_slice(b"arc_");
                write_hex(b, &hash[..4]);
            });
            w.text_with(|b| write_hex(b, &hash));
            w.text_array(if k % 3 == 0 {
                &["tasks:read", "tasks:write", "desks:read"]
            } else {
                &["tasks:read"]
            });
            w.uuid(&p.id(USERS, org.idx, k % org.users));
            w.int4(60 * (1 + rng.below(10)) as i32);
            w.opt_ts(
                rng.percent(50)
                    .then(|| ANCHOR + rng.between(30 * DAY, 365 * DAY)),
            );
            w.opt_ts(rng.percent(80).then(|| ANCHOR - rng.between(0, 7 * DAY)));
            w.opt_ts(revoked);
            if revoked.is_some() {
                w.uuid(&p.id(USERS, org.idx, 0));
                w.text("Rotated");
            } else {
                w.null();
                w.null();
            }
            // A revoked key is never active (api_keys_revoked_inactive_check of 0007).
            w.boolean(revoked.is_none());
            w.ts(created);
            w.ts(revoked.unwrap_or(created));
            w.end();
        }
    }

    pub(super) fn audit_logs(&mut self, org: &Org) {
        let p = self.plan;
        let org_id = p.org_id(org);
        let step = (WINDOW / org.audit_logs.max(1) as i64).max(1);
        for a in 0..org.audit_logs {
            let (id, mut rng) = p.row(AUDIT_LOGS, org.idx, a);
            let action = AUDIT_ACTIONS[rng.weighted(&AUDIT_ACTION_WEIGHTS)];
            let created = ANCHOR - WINDOW + a as i64 * step + rng.between(0, step);
            let user = rng.percent(85).then(|| rng.below(org.users));
            let desk = rng.percent(20).then(|| rng.below(org.desks));
            let key = rng.percent(10).then(|| rng.below(org.api_keys));
            let (resource, resource_id) =
                if org.tasks > 0 && action != "login" && action != "logout" {
                    ("task", p.id(TASKS, org.idx, rng.below(org.tasks)))
                } else {
                    ("user", p.id(USERS, org.idx, user.unwrap_or(0)))
                };
            let w = &mut self.w;
            w.begin(TABLES[AUDIT_LOGS].columns.len());
            w.uuid(&id);
            w.uuid(&org_id);
            w.text(action);
            w.opt_uuid(user.map(|u| p.id(USERS, org.idx, u)).as_ref());
            w.opt_uuid(desk.map(|d| p.id(DESKS, org.idx, d)).as_ref());
            w.opt_uuid(key.map(|k| p.id(API_KEYS, org.idx, k)).as_ref());
            // What the audit_logs_set_actor_type trigger of 0007 derives.
            w.text(match (user, key, desk) {
                (Some(_), _, _) => "user",
                (None, Some(_), _) => "api_key",
                (None, None, Some(_)) => "desk",
                _ => "system",
            });
            w.text(resource);
            w.uuid(&resource_id);
            w.text_with(|b| {
                let _ = write!(b, "{action} {resource}");
            });
            if action == "update" {
                w.jsonb(r#"{"status": {"old": "pending", "new": "in_progress"}}"#);
            } else {
                w.null();
            }
            w.jsonb("{}");
            w.inet4([
                10,
                (org.idx % 256) as u8,
                rng.below(256) as u8,
                1 + rng.below(254) as u8,
            ]);
            w.text(rng.pick(&USER_AGENTS));
            w.text_with(|b| {
                b.extend_from_slice(b"req_");
                write_hex(b, &id[8..]);
            });
            w.ts(created);
            w.end();
        }
    }
}
