//! The rules the structure keeps (docs/architecture.md), checked on the workspace itself:
//! crates depend only downward, the engine does no I/O, only the journal writes events and
//! history, only the SIP crate writes SIP text, and the SIP crate's modules import each other
//! without a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Our crates each crate depends on (normal dependencies, not dev ones).
fn our_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let ours: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|n| ours.contains(n))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

#[test]
fn crates_depend_only_downward() {
    let deps = our_dependencies();
    let of = |c: &str| deps.get(c).cloned().unwrap_or_default();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        of("engine"),
        set(&[]),
        "the engine depends on nothing of ours"
    );
    assert_eq!(of("media"), set(&[]), "the media edge stands alone");
    assert_eq!(
        of("store"),
        set(&["engine"]),
        "the store knows the domain words only"
    );
    assert_eq!(
        of("phone_signal"),
        set(&[]),
        "the browser phone's messages are plain data"
    );
    assert_eq!(
        of("sip"),
        set(&["media", "phone_signal"]),
        "the SIP edge speaks SIP: no engine, no store (no events, no history)"
    );
    assert_eq!(
        of("telephony"),
        set(&["engine", "media", "sip", "store"]),
        "the core drives the engine and the edges"
    );
    assert!(
        !of("api").contains("sip") && !of("api").contains("telephony"),
        "the API edge never calls the SIP edge or the core directly: {:?}",
        of("api")
    );
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// The text of a source file before its `#[cfg(test)]` module: what runs in production.
fn production_text(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[test]
fn only_the_journal_writes_events_and_history() {
    let writers = [
        "events::append(",
        "calls::insert(",
        "calls::set_answered(",
        "calls::set_ended(",
        "calls::set_group(",
    ];
    let mut found = Vec::new();
    for p in sources(&root().join("crates")) {
        let rel = p
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .to_string();
        if rel.ends_with("store/src/journal.rs") || rel.contains("/tests/") {
            continue;
        }
        let text = production_text(&p);
        for w in writers {
            // The history rows' own writes append their events (both private to the store,
            // called by the journal only).
            if rel.ends_with("store/src/calls.rs") && w == "events::append(" {
                continue;
            }
            if text.contains(w) {
                found.push(format!("{rel}: {w}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "event or history writes outside the journal: {found:?}"
    );
}

#[test]
fn only_the_sip_crate_writes_sip_text() {
    for c in ["telephony", "engine", "api", "store", "media", "tsunagu"] {
        for p in sources(&root().join("crates").join(c).join("src")) {
            let text = production_text(&p);
            assert!(
                !text.contains("SIP/2.0"),
                "{} writes SIP text: that is the SIP crate's job",
                p.display()
            );
        }
    }
}

#[test]
fn the_engine_does_no_io() {
    let io = [
        "tokio",
        "UdpSocket",
        "TcpStream",
        "TcpListener",
        "std::fs",
        "SystemTime",
        "Instant::now",
        "std::thread",
        "sqlx",
        "std::process",
    ];
    for p in sources(&root().join("crates/engine/src")) {
        let text = production_text(&p);
        for word in io {
            assert!(
                !text.contains(word),
                "{} uses {word}: the engine is given time and does no I/O",
                p.display()
            );
        }
    }
}

#[test]
fn the_sip_crate_has_no_import_circle() {
    let dir = root().join("crates/sip/src");
    let modules: BTreeSet<String> = sources(&dir)
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
        .filter(|m| m != "lib")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &modules {
        let text = production_text(&dir.join(format!("{m}.rs")));
        let used: BTreeSet<String> = text
            .match_indices("crate::")
            .filter_map(|(i, _)| {
                let rest = &text[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                // `use crate::{a, b}` names several modules at once.
                if name.is_empty() && rest.starts_with('{') {
                    None
                } else {
                    Some(name)
                }
            })
            .chain(text.match_indices("use crate::{").flat_map(|(i, _)| {
                let rest = &text[i + "use crate::{".len()..];
                let end = rest.find('}').unwrap_or(0);
                rest[..end]
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or("").to_owned())
                    .collect::<Vec<_>>()
            }))
            .filter(|n| modules.contains(n) && n != m)
            .collect();
        graph.insert(m.clone(), used);
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut circle = path[i..].to_vec();
            circle.push(m.to_owned());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for n in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(n, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for m in &modules {
        if let Some(circle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!("import circle in crates/sip: {}", circle.join(" → "));
        }
    }
}
