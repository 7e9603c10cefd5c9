//! `just rules-table`: rewrites the rule table of `rules/README.md` from the
//! built-in packs (between its `rules-table` markers), so the table says
//! what the packs say. Review the diff before committing it.

use std::path::Path;
use std::process::ExitCode;

use modwatch_testkit::rules_table;

fn main() -> ExitCode {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/README.md");
    let result = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|current| rules_table::readme(&current).map(|new| (current, new)))
        .and_then(|(current, new)| {
            if current == new {
                return Ok("is up to date");
            }
            std::fs::write(&path, new)
                .map(|()| "rewritten")
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        });
    match result {
        Ok(what) => {
            eprintln!("rules/README.md {what}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rules-table: {e}");
            ExitCode::FAILURE
        }
    }
}
