//! The integration tests, as one test binary: one link of the crate and its dependencies instead
//! of one per file (22 binaries of ~100 MB each, with full debug info, filled a CI disk). Each module is
//! one area; run one with `cargo test --test suite adopt::`.

mod adopt;
mod application;
mod ci_workflow;
mod citus_lint;
mod cockroachdb;
mod drift;
mod faults;
mod first_hour;
mod fixed_cost;
mod live;
mod local_server;
mod migrate;
mod pgbouncer;
mod refinery;
mod rls_audit;
mod rls_models;
mod rls_probe;
mod rls_verdict;
mod round_trip;
mod seed;
mod support;
mod tls;
mod views;
