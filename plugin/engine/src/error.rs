//! The engine's one error type, with stable numeric codes.
//!
//! Codes come from one table ([`ErrorKind::code`]) and are never reused: a code
//! that appeared in a release keeps its meaning forever, so pipelines and
//! dashboards can key on it.

use std::fmt;

/// What went wrong. Matching never fails; only decoding an event and loading
/// rules, config or state can, and (5xx) a host that runs the engine inside a
/// wasm module whose memory or stack ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    // 1xx: one event could not be decoded. The event passes through unchanged.
    /// The event is not valid JSON.
    InvalidJson,
    /// The event bytes are not valid UTF-8.
    InvalidUtf8,
    /// The event is valid JSON but not an object (nor a batch of objects).
    NotAnObject,
    /// The event is larger than `limits.max_event_bytes`.
    TooLarge,
    /// The event nests objects/arrays deeper than `limits.max_depth`.
    TooDeep,
    /// The event is empty or only whitespace.
    Empty,
    /// An object of the event has the same key twice (Elasticsearch refuses
    /// such a document too).
    DuplicateKey,

    // 2xx: a rule pack could not be loaded. The previous engine keeps running.
    /// The rule pack is not valid TOML, or its tables have the wrong shape.
    RulePackSyntax,
    /// A rule lacks a required key or has a key of the wrong type or value.
    RuleInvalid,
    /// A rule's query does not parse as EQL.
    QuerySyntax,
    /// A rule's query parses but Elasticsearch would reject it (e.g. a
    /// field-to-field comparison, `:` with a number, an unknown function).
    QueryRejected,
    /// Two rules share an id.
    DuplicateRuleId,
    /// A regular expression or wildcard in a query is invalid or too large.
    PatternInvalid,
    /// A rule loads but cannot run here (a Sigma rule for a logsource
    /// modwatch does not read): a warning, never a refusal.
    RuleUnsupported,
    /// A rule loads and runs here but `modwatch export` cannot translate it:
    /// its condition has no equivalent in the target language.
    RuleNotExportable,

    // 3xx: configuration.
    /// The config is not a JSON object.
    ConfigSyntax,
    /// The config has a key the engine does not know.
    ConfigUnknownKey,
    /// A config value has the wrong type or is out of range.
    ConfigInvalidValue,

    // 4xx: exported state.
    /// Exported state could not be imported.
    StateInvalid,

    // 5xx: the wasm module around the engine failed (the Fluent Bit module,
    // where the host's limits can stop a call). The record passes through.
    /// The previous call into the module trapped (its wasm stack or memory
    /// ran out); the host dropped that record. Reported on the next record;
    /// detection goes on.
    Trap,
    /// Detection is off for this record: the engine could not be built in
    /// the module (too little wasm stack or memory), or traps have worn the
    /// module's stack down.
    DetectionOff,
}

impl ErrorKind {
    /// The stable numeric code of this kind.
    pub const fn code(self) -> u16 {
        match self {
            ErrorKind::InvalidJson => 100,
            ErrorKind::InvalidUtf8 => 101,
            ErrorKind::NotAnObject => 102,
            ErrorKind::TooLarge => 103,
            ErrorKind::TooDeep => 104,
            ErrorKind::Empty => 105,
            ErrorKind::DuplicateKey => 106,
            ErrorKind::RulePackSyntax => 200,
            ErrorKind::RuleInvalid => 201,
            ErrorKind::QuerySyntax => 202,
            ErrorKind::QueryRejected => 203,
            ErrorKind::DuplicateRuleId => 204,
            ErrorKind::PatternInvalid => 205,
            ErrorKind::RuleUnsupported => 206,
            ErrorKind::RuleNotExportable => 207,
            ErrorKind::ConfigSyntax => 300,
            ErrorKind::ConfigUnknownKey => 301,
            ErrorKind::ConfigInvalidValue => 302,
            ErrorKind::StateInvalid => 400,
            ErrorKind::Trap => 500,
            ErrorKind::DetectionOff => 501,
        }
    }

    /// A short stable name, e.g. `invalid_json`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::NotAnObject => "not_an_object",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::Empty => "empty",
            ErrorKind::DuplicateKey => "duplicate_key",
            ErrorKind::RulePackSyntax => "rule_pack_syntax",
            ErrorKind::RuleInvalid => "rule_invalid",
            ErrorKind::QuerySyntax => "query_syntax",
            ErrorKind::QueryRejected => "query_rejected",
            ErrorKind::DuplicateRuleId => "duplicate_rule_id",
            ErrorKind::PatternInvalid => "pattern_invalid",
            ErrorKind::RuleUnsupported => "rule_unsupported",
            ErrorKind::RuleNotExportable => "rule_not_exportable",
            ErrorKind::ConfigSyntax => "config_syntax",
            ErrorKind::ConfigUnknownKey => "config_unknown_key",
            ErrorKind::ConfigInvalidValue => "config_invalid_value",
            ErrorKind::StateInvalid => "state_invalid",
            ErrorKind::Trap => "trap",
            ErrorKind::DetectionOff => "detection_off",
        }
    }
}

/// Where in a rule pack or config an error is: the rule, if any, and a
/// 1-based line:column.
///
/// For query errors, `line`/`column` are positions inside the rule's query
/// text; `pack_line` is the line of the rule pack file where that query
/// position lies, when the pack came from text. For config errors they are
/// the position in the config text of the offending key (or array item), or
/// where the JSON parser stopped for a syntax error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The id of the rule, when the error belongs to one.
    pub rule_id: Option<String>,
    /// 1-based line (in the query for query errors, else in the pack or
    /// config text).
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// 1-based line in the rule pack file, when known.
    pub pack_line: Option<u32>,
    /// 1-based column (in characters) on `pack_line`, when known: where an
    /// editor showing the pack puts its cursor.
    pub pack_column: Option<u32>,
}

/// An error from the engine: a kind with a stable code, a message that quotes
/// the offending value, and for rule and config errors the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    location: Option<Location>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), location: None }
    }

    pub(crate) fn at(mut self, location: Location) -> Error {
        self.location = Some(location);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable numeric code (see [`ErrorKind::code`]).
    pub fn code(&self) -> u16 {
        self.kind.code()
    }

    /// The message, a lowercase sentence without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The rule and position, for rule pack and config errors.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{} ", self.code())?;
        if let Some(loc) = &self.location {
            if let Some(id) = &loc.rule_id {
                write!(f, "rule {id:?} ")?;
            }
            if loc.line > 0 {
                write!(f, "at {}:{} ", loc.line, loc.column)?;
            }
            if let Some(pl) = loc.pack_line {
                write!(f, "(pack line {pl}) ")?;
            }
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

/// Everything wrong with a rule pack or config, reported at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// Why an engine could not be built or state not imported: which input was
/// refused, and why. Mirrors the component's `error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The JSON config was refused; every problem is listed.
    Config(Errors),
    /// The rule pack was refused; every problem is listed.
    Rules(Errors),
    /// Exported state could not be imported (the first problem found).
    State(Error),
}

impl LoadError {
    /// The refused input: `config`, `rules` or `state`.
    pub fn input(&self) -> &'static str {
        match self {
            LoadError::Config(_) => "config",
            LoadError::Rules(_) => "rules",
            LoadError::State(_) => "state",
        }
    }

    /// The problems, in the order found.
    pub fn errors(&self) -> &[Error] {
        match self {
            LoadError::Config(errors) | LoadError::Rules(errors) => &errors.0,
            LoadError::State(error) => std::slice::from_ref(error),
        }
    }

    /// The problems, owned.
    pub fn into_errors(self) -> Errors {
        match self {
            LoadError::Config(errors) | LoadError::Rules(errors) => errors,
            LoadError::State(error) => Errors(vec![error]),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors().iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind, in the order of the table.
    const ALL: [ErrorKind; 21] = [
        ErrorKind::InvalidJson,
        ErrorKind::InvalidUtf8,
        ErrorKind::NotAnObject,
        ErrorKind::TooLarge,
        ErrorKind::TooDeep,
        ErrorKind::Empty,
        ErrorKind::DuplicateKey,
        ErrorKind::RulePackSyntax,
        ErrorKind::RuleInvalid,
        ErrorKind::QuerySyntax,
        ErrorKind::QueryRejected,
        ErrorKind::DuplicateRuleId,
        ErrorKind::PatternInvalid,
        ErrorKind::RuleUnsupported,
        ErrorKind::RuleNotExportable,
        ErrorKind::ConfigSyntax,
        ErrorKind::ConfigUnknownKey,
        ErrorKind::ConfigInvalidValue,
        ErrorKind::StateInvalid,
        ErrorKind::Trap,
        ErrorKind::DetectionOff,
    ];

    #[test]
    fn codes_and_names_are_unique() {
        let mut codes: Vec<u16> = ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        let mut names: Vec<&str> = ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    /// The one list of codes users read (`docs/detection.md#errors`) has a
    /// row for every kind, with its code and name, and no other row.
    #[test]
    fn the_docs_list_every_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/detection.md");
        let docs = std::fs::read_to_string(path).unwrap();
        let section = docs.split("\n## Errors\n").nth(1).unwrap().split("\n## ").next().unwrap();
        let rows: Vec<(u16, &str)> = section
            .lines()
            .filter_map(|line| {
                let mut cells = line.strip_prefix("| ")?.split(" | ");
                let code = cells.next()?.parse().ok()?;
                Some((code, cells.next()?.trim_matches('`')))
            })
            .collect();
        let want: Vec<(u16, &str)> = ALL.iter().map(|k| (k.code(), k.name())).collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn display_names_rule_and_position() {
        let e = Error::new(ErrorKind::QuerySyntax, "expected a value, found \"=\"").at(Location {
            rule_id: Some("r1".into()),
            line: 2,
            column: 7,
            pack_line: Some(14),
            pack_column: Some(9),
        });
        assert_eq!(e.to_string(), "E202 rule \"r1\" at 2:7 (pack line 14) expected a value, found \"=\"");
    }
}
