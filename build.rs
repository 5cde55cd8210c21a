//! Embeds the SQL trees (migrations/, seeds/, rls-tests/) into the binary as (path, contents)
//! lists, so that arcdb is one file and a changed SQL file rebuilds it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut code = String::new();
    for (konst, dir) in [
        ("MIGRATIONS", "migrations"),
        ("SEEDS", "seeds"),
        ("RLS_TESTS", "rls-tests"),
    ] {
        let base = root.join(dir);
        println!("cargo:rerun-if-changed={}", base.display());
        let mut files = Vec::new();
        collect(&base, &mut files);
        files.sort();
        writeln!(code, "pub static {konst}: &[EmbeddedFile] = &[").unwrap();
        for file in files {
            let rel = file
                .strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            writeln!(
                code,
                "    EmbeddedFile {{ path: {rel:?}, contents: include_str!({:?}) }},",
                file.display().to_string()
            )
            .unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(out, code).unwrap();
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, files);
        } else if name.ends_with(".sql") || name.ends_with(".toml") {
            files.push(path);
        }
    }
}
