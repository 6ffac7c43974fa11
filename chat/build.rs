//! Fetches the API reference page's renderer (swagger-ui-dist, pinned with
//! its checksum in `www/api-docs/package-lock.json`) into `OUT_DIR`, where
//! `http::assets` embeds it. `npm ci` checks the checksums; `--ignore-scripts`
//! keeps the packages' install scripts (telemetry) from running.
//!
//! `CHAT_API_DOCS_DIR` names a directory holding `swagger-ui-bundle.js` and
//! `swagger-ui.css` already (an offline build); npm is not run then.

use std::path::{Path, PathBuf};
use std::process::Command;

const FILES: [&str; 2] = ["swagger-ui-bundle.js", "swagger-ui.css"];

fn main() {
    println!("cargo::rerun-if-changed=../www/api-docs/package.json");
    println!("cargo::rerun-if-changed=../www/api-docs/package-lock.json");
    println!("cargo::rerun-if-env-changed=CHAT_API_DOCS_DIR");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out.join("api-docs");
    std::fs::create_dir_all(&target).expect("create OUT_DIR/api-docs");
    let source = match std::env::var_os("CHAT_API_DOCS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => fetch(&out),
    };
    for file in FILES {
        let from = source.join(file);
        std::fs::copy(&from, target.join(file))
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    }
}

/// Installs the locked packages under `out/npm` and returns the renderer's
/// directory.
fn fetch(out: &Path) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../www/api-docs");
    let work = out.join("npm");
    std::fs::create_dir_all(&work).expect("create OUT_DIR/npm");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(manifest.join(file), work.join(file))
            .unwrap_or_else(|e| panic!("cannot copy www/api-docs/{file}: {e}"));
    }
    let status = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&work)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "building chat needs npm, to fetch the API reference renderer pinned in \
                 www/api-docs/package-lock.json ({e}); or set CHAT_API_DOCS_DIR to a \
                 directory holding {FILES:?}"
            )
        });
    assert!(status.success(), "npm ci in {} failed: {status}", work.display());
    work.join("node_modules/swagger-ui-dist")
}
