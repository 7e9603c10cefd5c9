//! Replays the kept inputs of one fuzz target (`tests/fuzz/<target>/`) and
//! compares each result with the one `tests/fuzz/README.md` gives it (its
//! table: `| <target>/<file> | <result> | … |`).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// `tests/fuzz/`, from any crate of the repository.
fn dir() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("tests/fuzz/README.md").is_file() {
        assert!(dir.pop(), "tests/fuzz/README.md not found above {}", env!("CARGO_MANIFEST_DIR"));
    }
    dir.join("tests/fuzz")
}

/// The expected result of every input the table lists, by `<target>/<file>`.
fn expected() -> BTreeMap<String, String> {
    let table = std::fs::read_to_string(dir().join("README.md")).unwrap_or_default();
    table
        .lines()
        .filter_map(|line| {
            let mut cells = line.split('|').map(|c| c.trim().trim_matches('`'));
            let (_, input, result) = (cells.next()?, cells.next()?, cells.next()?);
            input.contains('/').then(|| (input.to_string(), result.to_string()))
        })
        .collect()
}

/// Runs `check` on every file of `tests/fuzz/<target>/` (none may panic)
/// and checks each result, and that the table lists no missing file.
/// Returns how many inputs ran.
pub fn replay<R: ToString>(target: &str, check: impl Fn(&[u8]) -> R) -> usize {
    let expected = expected();
    let mut ran = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join(target))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for file in &files {
        let name = format!("{target}/{}", file.file_name().unwrap_or_default().to_string_lossy());
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = check(&data).to_string();
        let want = expected.get(&name).unwrap_or_else(|| panic!("{name} has no row in tests/fuzz/README.md"));
        assert_eq!(&got, want, "{name}");
        ran += 1;
    }
    for name in expected.keys().filter(|n| n.starts_with(&format!("{target}/"))) {
        assert!(dir().join(name).is_file(), "tests/fuzz/README.md lists {name}, which is missing");
    }
    ran
}
