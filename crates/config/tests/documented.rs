//! docs/CONFIGURATION.md documents exactly the keys the parser accepts, its TOML
//! examples load, and so does every file in conf/examples/.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn reference() -> String {
    std::fs::read_to_string(repo("docs/CONFIGURATION.md")).expect("docs/CONFIGURATION.md")
}

/// `## `[section]`` headings and the `### `key`` headings under each.
fn documented_keys(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            current = heading
                .strip_prefix("`[")
                .and_then(|h| h.strip_suffix("]`"))
                .map(str::to_string);
            if let Some(section) = &current {
                sections.entry(section.clone()).or_default();
            }
        } else if let Some(heading) = line.strip_prefix("### ") {
            let key = heading
                .strip_prefix('`')
                .and_then(|h| h.strip_suffix('`'))
                .unwrap_or_else(|| panic!("a key heading is `key` in backquotes: {line}"));
            let section = current
                .as_ref()
                .unwrap_or_else(|| panic!("key `{key}` documented outside a `[section]`"));
            let fresh = sections.get_mut(section).unwrap().insert(key.to_string());
            assert!(fresh, "`{key}` documented twice in [{section}]");
        }
    }
    sections
}

#[test]
fn every_key_is_documented_and_every_documented_key_exists() {
    let documented = documented_keys(&reference());
    for (section, keys) in tern_config::KNOWN_KEYS {
        if section.is_empty() {
            // Top-level keys are tables, documented by their sections.
            for key in *keys {
                assert!(
                    documented
                        .keys()
                        .any(|s| s == key || s.starts_with(&format!("{key}."))),
                    "top-level table `{key}` has no `## `[{key}...]`` section in docs/CONFIGURATION.md"
                );
            }
            continue;
        }
        let known: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
        let written = documented
            .get(*section)
            .unwrap_or_else(|| panic!("no `## `[{section}]`` section in docs/CONFIGURATION.md"));
        let missing: Vec<_> = known.difference(written).collect();
        let unknown: Vec<_> = written.difference(&known).collect();
        assert!(
            missing.is_empty(),
            "[{section}]: keys the parser accepts but docs/CONFIGURATION.md does not document: {missing:?}"
        );
        assert!(
            unknown.is_empty(),
            "[{section}]: keys docs/CONFIGURATION.md documents but the parser rejects: {unknown:?}"
        );
    }
    let sections: BTreeSet<&str> = tern_config::KNOWN_KEYS.iter().map(|(s, _)| *s).collect();
    for section in documented.keys() {
        assert!(
            sections.contains(section.as_str()),
            "docs/CONFIGURATION.md documents a section [{section}] the parser does not know"
        );
    }
}

#[test]
fn the_reference_s_toml_examples_load() {
    let text = reference();
    let mut blocks = 0;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```toml" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let block = block.join("\n");
        if let Err(e) = tern_config::parse_str(&block, "docs/CONFIGURATION.md example") {
            panic!("{e}\n{block}");
        }
        blocks += 1;
    }
    assert!(blocks > 0, "no ```toml example found");
}

#[test]
fn every_example_file_loads() {
    let dir = repo("conf/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        // The certificate examples name certificate and key files that are not
        // shipped; tests/example_certs.rs loads them with a PKI made for them.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("site-to-site-certs-"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "examples: {files:?}");
    for file in files {
        let config = tern_config::load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !config.engine.connections.is_empty(),
            "{} has no connection",
            file.display()
        );
    }
}

#[test]
fn the_key_reader_sees_what_is_written() {
    let sections = documented_keys(
        "## `[daemon]`\n### `socket`\ntext\n## Other\ntext\n## `[x.NAME]`\n### `y`\n",
    );
    assert_eq!(sections["daemon"], BTreeSet::from(["socket".to_string()]));
    assert_eq!(sections["x.NAME"], BTreeSet::from(["y".to_string()]));
    assert_eq!(sections.len(), 2);
}
