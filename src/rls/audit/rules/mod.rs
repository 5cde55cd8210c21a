//! One file per rule family: its rule ids with their severity and what they find, the
//! `impl Audit` method that decides them, its catalog query when it has one of its own
//! (`<family>.sql`, read by [`super::catalog`]), and its unit tests. The registry that runs them
//! is [`super::FAMILIES`].

pub mod default_privileges;
pub mod definer_functions;
pub mod foreign_keys;
pub mod grants_not_governed;
pub mod helpers;
pub mod leakproof;
pub mod policies;
pub mod roles;
pub mod schemas;
pub mod sequences;
pub mod tables;
pub mod unique_keys;
pub mod views;
