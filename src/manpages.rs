//! `arcdb man DIR`: the man pages, rendered from the same clap definitions as `--help`.

use crate::output::{table, Report};
use anyhow::Context;
use serde::Serialize;
use std::path::Path;

/// The pages `arcdb man` wrote.
#[derive(Debug, Serialize)]
pub struct ManReport {
    pub dir: String,
    pub pages: Vec<String>,
}

impl Report for ManReport {
    fn render_table(&self) -> String {
        format!(
            "{}\nWrote {} man pages into {} (MANPATH or `man -l` reads them).\n",
            table(&["page"], self.pages.iter().map(|p| vec![p.clone()])),
            self.pages.len(),
            self.dir
        )
    }
}

/// Write `arcdb.1` and `arcdb-<subcommand>.1` (nested: `arcdb-local-start.1`) into `dir`.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<ManReport> {
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    cmd.build();
    let mut pages = Vec::new();
    write_page(dir, &cmd, "arcdb", &mut pages)?;
    Ok(ManReport {
        dir: dir.display().to_string(),
        pages,
    })
}

fn write_page(
    dir: &Path,
    cmd: &clap::Command,
    name: &str,
    pages: &mut Vec<String>,
) -> anyhow::Result<()> {
    let page = cmd.clone().name(name.to_string());
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("could not write {}", path.display()))?;
    pages.push(path.display().to_string());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_page(dir, sub, &format!("{name}-{}", sub.get_name()), pages)?;
    }
    Ok(())
}
