//! The layers of ARCHITECTURE.md, enforced: every `crate::` path in `src/` points to
//! a module on a lower layer than the module it is written in.

use std::collections::HashMap;

use crate::util::project_root;

/// Module → layer, from the table under "## Layers" in ARCHITECTURE.md.
fn layers() -> HashMap<String, u32> {
    let text = std::fs::read_to_string(project_root().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("\n## Layers\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a Layers section");
    let section = section.split("\n## ").next().unwrap();
    let mut map = HashMap::new();
    for row in section.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Ok(layer) = cells[1].parse::<u32>() else {
            continue; // the header row
        };
        for module in cells[2].split(',') {
            map.insert(module.trim().to_owned(), layer);
        }
    }
    map
}

/// The modules a source file names as `crate::MODULE`, outside comments.
fn imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
        // `use crate::{a, b}` style groups name their modules after the brace.
        if let Some(group) = code.split("crate::{").nth(1) {
            for part in group.split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                found.push(name);
            }
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

fn violations(layers: &HashMap<String, u32>) -> Vec<String> {
    let mut out = Vec::new();
    let dir = project_root().join("src");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for path in files {
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(&own) = layers.get(&module) else {
            out.push(format!("{module} is on no layer in ARCHITECTURE.md"));
            continue;
        };
        for target in imports(&std::fs::read_to_string(&path).unwrap()) {
            if target == module {
                continue;
            }
            match layers.get(&target) {
                Some(&layer) if layer < own => {}
                Some(&layer) => out.push(format!(
                    "{module} (layer {own}) imports {target} (layer {layer})"
                )),
                None => out.push(format!("{module} imports {target}, which is on no layer")),
            }
        }
    }
    out
}

#[test]
fn modules_import_only_from_lower_layers() {
    let layers = layers();
    assert!(
        layers.len() >= 20,
        "the layer table lists the modules: {layers:?}"
    );
    let found = violations(&layers);
    assert!(found.is_empty(), "{found:#?}");
}

/// The check itself catches an upward import (so the test above can fail).
#[test]
fn an_upward_import_is_caught() {
    let names = imports("use crate::run::run; // crate::cli\nlet x = crate::{config, pipeline};");
    assert_eq!(names, ["run", "config", "pipeline"]);
    let mut layers = layers();
    // Pretend config sat above pipeline: config's imports stay, pipeline's import of
    // config is now upward.
    layers.insert("config".to_owned(), layers["pipeline"] + 1);
    assert!(
        violations(&layers).iter().any(|v| v.starts_with(&format!(
            "pipeline (layer {}) imports config",
            layers["pipeline"]
        ))),
        "{:?}",
        violations(&layers)
    );
}
