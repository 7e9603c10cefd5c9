//! Whole-query tests: the seed rule, and one or more named cases per item of
//! the semantics listed in `docs/detection.md#eql`.

use super::*;
use serde_json::Value;

/// A test document over raw JSON: dotted paths walk object keys (a key that
/// itself contains dots is found too), arrays are flattened at any depth,
/// null and "" are missing.
struct Doc(Value);

impl Document for Doc {
    fn any_value(&self, field: &FieldPath, visit: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        walk(&self.0, &field.dotted, visit)
    }
}

fn walk(node: &Value, path: &str, visit: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
    match node {
        Value::Array(items) => items.iter().any(|i| walk(i, path, visit)),
        Value::Object(map) if !path.is_empty() => {
            map.get(path).is_some_and(|c| walk(c, "", visit))
                || path
                    .match_indices('.')
                    .any(|(i, _)| map.get(&path[..i]).is_some_and(|c| walk(c, &path[i + 1..], visit)))
        }
        _ if !path.is_empty() => false,
        Value::String(s) => !s.is_empty() && visit(Scalar::Str(s)),
        Value::Number(n) => visit(Scalar::Num(&crate::doc::Number::new(n.as_str()))),
        Value::Bool(b) => visit(Scalar::Bool(*b)),
        Value::Null | Value::Object(_) => false,
    }
}

/// Does `query` match `event`? Errors come back as text.
fn m(query: &str, event: &str) -> Result<bool, String> {
    let q = Query::parse(query).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(event).map_err(|e| e.to_string())?;
    Ok(q.matches(&Doc(v)))
}

/// Runs a table of (name, query, event, expected) and reports every failure.
fn table(cases: &[(&str, &str, &str, bool)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, query, event, want)| {
            let got = m(query, event);
            (got != Ok(*want)).then(|| format!("{name}: {query}\n  event: {event}\n  want {want}, got {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

const SEED: &str = r#"any where event.dataset == "azure.activitylogs"
  and event.action : ("Microsoft.Compute/snapshots/write", "Microsoft.Compute/virtualMachines/write",
                      "Microsoft.Compute/virtualMachines/delete", "Microsoft.Compute/disks/write")
  and not user.name : ("azure-backup-service", "azure-site-recovery")"#;

#[test]
fn seed_rule() {
    let azure = |extra: &str| {
        format!(
            r#"{{"event": {{"dataset": "azure.activitylogs", "action": "MICROSOFT.COMPUTE/SNAPSHOTS/WRITE"}}{extra}}}"#
        )
    };
    table(&[
        ("upper-case action, no user.name", SEED, &azure(""), true),
        ("excluded service, any case", SEED, &azure(r#", "user": {"name": "AZURE-BACKUP-SERVICE"}"#), false),
        ("other user", SEED, &azure(r#", "user": {"name": "alice@example.com"}"#), true),
        ("user.name empty string is missing", SEED, &azure(r#", "user": {"name": ""}"#), true),
        (
            "dataset is case-sensitive",
            SEED,
            r#"{"event": {"dataset": "Azure.ActivityLogs", "action": "Microsoft.Compute/disks/write"}}"#,
            false,
        ),
        (
            "other action",
            SEED,
            r#"{"event": {"dataset": "azure.activitylogs", "action": "Microsoft.Compute/disks/read"}}"#,
            false,
        ),
        (
            "dotted keys",
            SEED,
            r#"{"event.dataset": "azure.activitylogs", "event.action": "Microsoft.Compute/virtualMachines/delete"}"#,
            true,
        ),
    ]);
}

#[test]
fn seed_required_literals() {
    let q = Query::parse(SEED);
    let actions = vec![
        "Microsoft.Compute/snapshots/write".to_string(),
        "Microsoft.Compute/virtualMachines/write".to_string(),
        "Microsoft.Compute/virtualMachines/delete".to_string(),
        "Microsoft.Compute/disks/write".to_string(),
    ];
    let needles = q.as_ref().ok().map(|q| q.required_literals(&|_, run| Some(run.to_string())));
    assert_eq!(needles, Some(vec![vec!["azure.activitylogs".to_string()], actions.clone()]));
    // With event.dataset computed (needle declines it), the actions still constrain.
    let computed = |f: &str, run: &str| (f != "event.dataset").then(|| run.to_string());
    assert_eq!(q.as_ref().ok().map(|q| q.required_literals(&computed)), Some(vec![actions]));
}

#[test]
fn checklist_1_category() {
    table(&[
        ("any: no filter, no category field", "any where a == \"x\"", r#"{"a": "x"}"#, true),
        ("any where true", "any where true", r#"{}"#, true),
        ("any where false", "any where false", r#"{"a": 1}"#, false),
        ("category in array", "process where true", r#"{"event": {"category": ["network", "process"]}}"#, true),
        ("category scalar", "process where true", r#"{"event": {"category": "process"}}"#, true),
        ("category missing", "process where true", r#"{"a": 1}"#, false),
        ("category case-sensitive", "process where true", r#"{"event": {"category": "Process"}}"#, false),
        ("category and condition", "process where a == 1", r#"{"event": {"category": "process"}, "a": 2}"#, false),
        ("quoted category", "\"my-cat\" where true", r#"{"event": {"category": "my-cat"}}"#, true),
    ]);
}

#[test]
fn checklist_2_exact_operators() {
    table(&[
        ("== case-sensitive", "any where a == \"Abc\"", r#"{"a": "abc"}"#, false),
        ("== exact", "any where a == \"Abc\"", r#"{"a": "Abc"}"#, true),
        ("== no wildcards", "any where a == \"A*\"", r#"{"a": "Abc"}"#, false),
        ("== literal star", "any where a == \"A*\"", r#"{"a": "A*"}"#, true),
        ("!= other", "any where a != \"x\"", r#"{"a": "y"}"#, true),
        ("!= same", "any where a != \"x\"", r#"{"a": "x"}"#, false),
        ("!= case", "any where a != \"x\"", r#"{"a": "X"}"#, true),
        ("in exact", "any where a in (\"x\", \"Y\")", r#"{"a": "Y"}"#, true),
        ("in case", "any where a in (\"x\", \"Y\")", r#"{"a": "y"}"#, false),
        ("in no wildcards", "any where a in (\"x*\")", r#"{"a": "xyz"}"#, false),
        ("in numbers", "any where a in (1, 2, 3)", r#"{"a": 2}"#, true),
        ("not in", "any where a not in (\"x\", \"y\")", r#"{"a": "z"}"#, true),
        ("not in hit", "any where a not in (\"x\", \"y\")", r#"{"a": "y"}"#, false),
        ("string literal vs number (keyword)", "any where minCount == \"1\"", r#"{"minCount": 1}"#, true),
        ("seq literal vs number", "any where minCount : \"1\"", r#"{"minCount": 1}"#, true),
        ("number text kept exactly", "any where n == \"1.50\"", r#"{"n": 1.50}"#, true),
        ("number literal vs number", "any where n == 1", r#"{"n": 1.0}"#, true),
        ("number literal vs string", "any where n == 1", r#"{"n": "1"}"#, true),
        ("number literal vs other string", "any where n == 1", r#"{"n": "1.0"}"#, false),
        ("big integers exact", "any where n == 12345678901234567890", r#"{"n": 12345678901234567891}"#, false),
        ("bool literal vs bool", "any where b == true", r#"{"b": true}"#, true),
        ("bool literal vs string", "any where b == false", r#"{"b": "false"}"#, true),
        ("bool literal vs number", "any where b == true", r#"{"b": 1}"#, false),
        ("bare field is == true", "any where b", r#"{"b": true}"#, true),
        ("bare field false", "any where b", r#"{"b": false}"#, false),
        ("literal on the left", "any where \"x\" == a", r#"{"a": "x"}"#, true),
    ]);
}

#[test]
fn checklist_3_wildcards() {
    table(&[
        (": insensitive", "any where a : \"abc\"", r#"{"a": "ABC"}"#, true),
        (": star", "any where a : \"doc*\"", r#"{"a": "Document"}"#, true),
        (": question", "any where a : \"d?c\"", r#"{"a": "DOC"}"#, true),
        (": question is one", "any where a : \"d?c\"", r#"{"a": "disc"}"#, false),
        (
            ": backslash literal",
            r#"any where p : "*\\red_ttp\\wininit.*""#,
            r#"{"p": "C:\\red_ttp\\wininit.exe"}"#,
            true,
        ),
        (": list is or", "any where a : (\"x\", \"b*\")", r#"{"a": "Bee"}"#, true),
        (": list miss", "any where a : (\"x\", \"b*\")", r#"{"a": "ab"}"#, false),
        ("like sensitive", "any where a like \"D*C\"", r#"{"a": "DisC"}"#, true),
        ("like sensitive miss", "any where a like \"D*C\"", r#"{"a": "disc"}"#, false),
        ("like~ insensitive", "any where a like~ \"d*c\"", r#"{"a": "DISC"}"#, true),
        ("like list", "any where a like (\"n?t.e?e\", \"net.*\")", r#"{"a": "net.exe"}"#, true),
        ("in~ insensitive", "any where a in~ (\"test\", \"best\")", r#"{"a": "TEST"}"#, true),
        ("in~ verbatim star", "any where a in~ (\"test*\")", r#"{"a": "testing"}"#, false),
        ("in~ literal star", "any where a in~ (\"test*\")", r#"{"a": "TEST*"}"#, true),
        ("not in~", "any where a not in~ (\"x\")", r#"{"a": "X"}"#, false),
        ("ascii fold only", "any where a : \"é\"", r#"{"a": "É"}"#, false),
        ("startsWith", "any where startsWith(a, \"Micro\")", r#"{"a": "Microsoft"}"#, true),
        ("startsWith sensitive", "any where startsWith(a, \"micro\")", r#"{"a": "Microsoft"}"#, false),
        ("startsWith~", "any where startsWith~(a, \"micro\")", r#"{"a": "Microsoft"}"#, true),
        ("startsWith is literal", "any where startsWith(a, \"a*\")", r#"{"a": "abc"}"#, false),
        ("endsWith", "any where endsWith(a, \"/write\")", r#"{"a": "x/write"}"#, true),
        ("endsWith~", "any where endsWith~(a, \"/WRITE\")", r#"{"a": "x/write"}"#, true),
        ("stringContains", "any where stringContains(a, \"add=\")", r#"{"a": "{x=1, add={}}"}"#, true),
        ("stringContains sensitive", "any where stringContains(a, \"ADD=\")", r#"{"a": "{add=}"}"#, false),
        ("stringContains~", "any where stringContains~(a, \"ADD=\")", r#"{"a": "{add=}"}"#, true),
        (
            "stringContains escapes like Lucene",
            r#"any where stringContains(aws.cloudtrail.request_parameters, "principal=\\*")"#,
            r#"{"aws": {"cloudtrail": {"request_parameters": "{principal=*, functionName=f}"}}}"#,
            true,
        ),
        (
            "stringContains escaped star is literal",
            r#"any where stringContains(aws.cloudtrail.request_parameters, "principal=\\*")"#,
            r#"{"aws": {"cloudtrail": {"request_parameters": "{principal=123456789012}"}}}"#,
            false,
        ),
        ("stringContains star is a wildcard", "any where stringContains(a, \"x*z\")", r#"{"a": "__xyz__"}"#, true),
        ("functions on numbers use text", "any where startsWith(n, \"12\")", r#"{"n": 123}"#, true),
    ]);
}

#[test]
fn checklist_4_regex() {
    table(&[
        ("whole value", "any where a regex \"net.exe\"", r#"{"a": "net.exe"}"#, true),
        ("anchored", "any where a regex \"net\"", r#"{"a": "network"}"#, false),
        ("sensitive", "any where a regex \"NET.*\"", r#"{"a": "network"}"#, false),
        ("regex~", "any where a regex~ \"NET.*\"", r#"{"a": "network"}"#, true),
        ("list", "any where a regex (\"x\", \"[a-c]+\")", r#"{"a": "abc"}"#, true),
        ("caret is literal", "any where a regex \"^net.*\"", r#"{"a": "network"}"#, false),
        ("classes", r#"any where a regex "i-[0-9a-f]{8}""#, r#"{"a": "i-0123abcd"}"#, true),
        ("escape in eql string", r#"any where a regex "\\d+""#, r#"{"a": "2024"}"#, true),
        ("not regex on missing", "any where not a regex \"x\"", r#"{}"#, true),
        ("regex on number text", "any where n regex \"[0-9]+\"", r#"{"n": 42}"#, true),
    ]);
}

#[test]
fn checklist_5_missing_fields() {
    table(&[
        ("== missing", "any where a == \"x\"", r#"{}"#, false),
        (": missing", "any where a : \"x\"", r#"{}"#, false),
        ("in missing", "any where a in (\"x\")", r#"{}"#, false),
        ("like missing", "any where a like \"*\"", r#"{}"#, false),
        ("regex missing", "any where a regex \".*\"", r#"{}"#, false),
        ("range missing", "any where a < 5", r#"{}"#, false),
        ("startsWith missing", "any where startsWith(a, \"x\")", r#"{}"#, false),
        ("cidr missing", "any where cidrMatch(a, \"10.0.0.0/8\")", r#"{}"#, false),
        ("length missing", "any where length(a) >= 0", r#"{}"#, false),
        ("not : missing", "any where not a : \"x\"", r#"{}"#, true),
        ("!= missing", "any where a != \"x\"", r#"{}"#, true),
        ("not in missing", "any where a not in (\"x\")", r#"{}"#, true),
        ("== null missing", "any where a == null", r#"{}"#, true),
        ("== null present", "any where a == null", r#"{"a": 0}"#, false),
        ("!= null missing", "any where a != null", r#"{}"#, false),
        ("!= null present", "any where ?a != null", r#"{"a": false}"#, true),
        ("not length missing", "any where not length(a) > 3", r#"{}"#, true),
        ("length != is per value", "any where length(a) != 3", r#"{}"#, false),
        ("fn == false missing", "any where cidrMatch(a, \"10.0.0.0/8\") == false", r#"{}"#, true),
        ("not (a and b) missing", "any where not (a == 1 and b == 2)", r#"{"a": 1}"#, true),
        ("not is two-valued", "any where not (a == 1 or b != 2)", r#"{}"#, false),
    ]);
}

#[test]
fn checklist_6_arrays() {
    table(&[
        ("any element", "any where a == \"y\"", r#"{"a": ["x", "y"]}"#, true),
        ("nested arrays", "any where a == \"z\"", r#"{"a": [["x"], ["y", ["z"]]]}"#, true),
        ("array of objects", "any where a.b == \"y\"", r#"{"a": [{"b": "x"}, {"b": "y"}]}"#, true),
        ("!= is none equal", "any where a != \"y\"", r#"{"a": ["x", "y"]}"#, false),
        ("!= none equal", "any where a != \"z\"", r#"{"a": ["x", "y"]}"#, true),
        ("not in none", "any where a not in (\"y\")", r#"{"a": ["x", "y"]}"#, false),
        ("not : none", "any where not a : \"Y\"", r#"{"a": ["x", "y"]}"#, false),
        ("ranges independent", "any where a > 100 and a < 50", r#"{"a": [10, 200]}"#, true),
        ("lengths independent", "any where length(a) > 5 and length(a) < 3", r#"{"a": ["ab", "abcdefg"]}"#, true),
        (
            "different array elements",
            "any where a.b == \"x\" and a.c == \"y\"",
            r#"{"a": [{"b": "x", "c": "n"}, {"b": "n", "c": "y"}]}"#,
            true,
        ),
        ("cidr any element", "any where cidrMatch(ip, \"10.0.0.0/8\")", r#"{"ip": ["8.8.8.8", "10.1.2.3"]}"#, true),
        ("category array", "network where a == 1", r#"{"event": {"category": ["network"]}, "a": [0, 1]}"#, true),
    ]);
}

#[test]
fn checklist_7_null_and_empty_are_missing() {
    table(&[
        ("null is missing", "any where a == null", r#"{"a": null}"#, true),
        ("empty is missing", "any where a == null", r#"{"a": ""}"#, true),
        ("empty never equals", "any where a : \"*\"", r#"{"a": ""}"#, false),
        ("null in array skipped", "any where a != null", r#"{"a": [null, ""]}"#, false),
        ("not on empty", "any where not a : \"x\"", r#"{"a": ""}"#, true),
    ]);
}

#[test]
fn checklist_8_rejected_at_compile_time() {
    let kind = |q: &str| Query::parse(q).err().map(|e| e.kind());
    assert_eq!(kind("any where a == b"), Some(ErrorKind::QueryRejected));
    assert_eq!(kind("any where a = \"x\""), Some(ErrorKind::QuerySyntax));
    assert_eq!(kind("any where 1 < a < 3"), Some(ErrorKind::QueryRejected));
    assert_eq!(kind("any where a == 'x'"), Some(ErrorKind::QuerySyntax));
    assert_eq!(kind("any where a : 1"), Some(ErrorKind::QueryRejected));
    assert_eq!(kind("any where nope(a)"), Some(ErrorKind::QueryRejected));
    assert_eq!(kind("any where startsWith(a, \"b\", \"c\")"), Some(ErrorKind::QueryRejected));
    assert_eq!(kind("sequence [any where true] [any where true]"), Some(ErrorKind::QueryRejected));
    assert_eq!(kind("any where true | head 1"), Some(ErrorKind::QueryRejected));
    assert_eq!(kind("any where a regex \"a&b\""), Some(ErrorKind::PatternInvalid));
    let e = Query::parse("any where\n  event.action = \"x\"").err();
    let at = e.as_ref().and_then(|e| e.location()).map(|l| (l.line, l.column));
    assert_eq!(
        (e.map(|e| e.to_string()), at),
        (Some("E202 at 2:16 `=` is not supported, use `==`".into()), Some((2, 16)))
    );
}

#[test]
fn checklist_9_unknown_fields_are_optional() {
    table(&[
        ("unknown field is missing", "any where no.such.field == \"x\"", r#"{"a": 1}"#, false),
        ("unknown under not", "any where not no.such.field == \"x\"", r#"{"a": 1}"#, true),
        ("optional marker", "any where ?no.such.field == null", r#"{"a": 1}"#, true),
        ("optional present", "any where ?a == 1", r#"{"a": 1}"#, true),
        (
            "backtick-quoted key with dots and slashes",
            "any where claims.`http://schemas.microsoft.com/identity/claims/objectidentifier` : \"abc-*\"",
            r#"{"claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier": "ABC-123"}}"#,
            true,
        ),
        ("@timestamp", "any where @timestamp >= \"2024-01-01\"", r#"{"@timestamp": "2024-05-01T00:00:00Z"}"#, true),
    ]);
}

#[test]
fn checklist_10_no_keyword_length_limit() {
    let long = "x".repeat(40_000);
    let event = format!(r#"{{"a": "{long}end"}}"#);
    assert_eq!(m("any where a : \"*END\"", &event), Ok(true));
    assert_eq!(m("any where length(a) > 32766", &event), Ok(true));
}

#[test]
fn comparisons_and_functions() {
    table(&[
        ("number range", "any where n >= 10 and n < 20", r#"{"n": 15}"#, true),
        ("negative number", "any where n > -2", r#"{"n": -1.5}"#, true),
        ("string range is lexicographic", "any where s > \"b\"", r#"{"s": "c"}"#, true),
        ("string range case-sensitive", "any where s > \"b\"", r#"{"s": "C"}"#, false),
        ("number literal vs string value", "any where s < 5", r#"{"s": "10"}"#, true),
        ("literal on the left flips", "any where 5 < n", r#"{"n": 6}"#, true),
        ("length", "any where length(a) == 3", r#"{"a": "abc"}"#, true),
        ("length literal left", "any where 3 < length(a)", r#"{"a": "abcd"}"#, true),
        ("cidr v4", "any where cidrMatch(ip, \"10.0.0.0/8\", \"192.168.0.0/16\")", r#"{"ip": "192.168.1.1"}"#, true),
        ("cidr miss", "any where cidrMatch(ip, \"10.0.0.0/8\")", r#"{"ip": "11.0.0.1"}"#, false),
        ("cidr v6", "any where cidrMatch(ip, \"2001:db8::/32\")", r#"{"ip": "2001:db8::5"}"#, true),
        ("fn == true", "any where endsWith(a, \"x\") == true", r#"{"a": "ax"}"#, true),
        ("fn != true", "any where endsWith(a, \"x\") != true", r#"{"a": "ax"}"#, false),
        ("not fn", "any where not stringContains(a, \"x\")", r#"{"a": "abc"}"#, true),
        ("precedence not > and > or", "any where not a == 1 and b == 2 or c == 3", r#"{"a": 1, "c": 3}"#, true),
        ("precedence and binds tighter", "any where a == 1 or b == 2 and c == 3", r#"{"b": 2}"#, false),
        ("parentheses", "any where (a == 1 or b == 2) and c == 3", r#"{"b": 2, "c": 3}"#, true),
        ("raw string", r#"any where p == """C:\Windows\x""""#, r#"{"p": "C:\\Windows\\x"}"#, true),
        ("unicode escape", r#"any where p == "\u{41}B""#, r#"{"p": "AB"}"#, true),
        ("comments", "any where /* c */ a == 1 // end", r#"{"a": 1}"#, true),
    ]);
}

#[test]
fn query_is_shareable() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Query>();
}

#[test]
fn fields_lists_each_once() {
    let q = Query::parse("process where a == 1 and (b : \"x\" or not a != 2) and length(c.d) > 1");
    assert_eq!(q.as_ref().map(|q| q.fields()).ok(), Some(vec!["event.category", "a", "b", "c.d"]));
    let seed = Query::parse(SEED);
    assert_eq!(seed.as_ref().map(|q| q.fields()).ok(), Some(vec!["event.dataset", "event.action", "user.name"]));
}

#[test]
fn required_literals_mixes() {
    let echo = |_: &str, run: &str| Some(run.to_string());
    let r = |q: &str| Query::parse(q).ok().map(|q| q.required_literals(&echo));
    let v = |xs: &[&str]| Some(vec![xs.iter().map(|s| s.to_string()).collect::<Vec<_>>()]);
    let none: Option<Vec<Vec<String>>> = Some(Vec::new());
    type Clauses = Option<Vec<Vec<String>>>;
    let cases: &[(&str, &str, Clauses)] = &[
        ("single ==", "any where a == \"CreateSnapshot\"", v(&["CreateSnapshot"])),
        ("wildcard longest run", "any where a : \"*Snap?hot*Permission*\"", v(&["Permission"])),
        ("in list", "any where a in (\"alpha\", \"beta\")", v(&["alpha", "beta"])),
        ("in~ list", "any where a in~ (\"alpha\", \"ALPHA\", \"beta\")", v(&["alpha", "beta"])),
        ("function", "any where stringContains~(a, \"add=\")", v(&["add="])),
        ("lucene escape unescaped", r#"any where stringContains(a, "principal=\\*")"#, v(&["principal=*"])),
        ("startsWith", "any where startsWith(a, \"arn:aws\")", v(&["arn:aws"])),
        ("or unions", "any where a == \"alpha\" or b : \"beta*\"", v(&["alpha", "beta"])),
        ("or with unconstrained", "any where a == \"alpha\" or b == 1", none.clone()),
        (
            "and keeps every clause",
            "any where a == \"alpha\" and b == \"bravo-charlie\"",
            Some(vec![vec!["alpha".into()], vec!["bravo-charlie".into()]]),
        ),
        ("and ignores unconstrained", "any where a != \"alpha\" and b == \"bravo\"", v(&["bravo"])),
        (
            "and of two sets",
            "any where a in (\"abcd\", \"efgh\") and b == \"ijkl\"",
            Some(vec![vec!["abcd".into(), "efgh".into()], vec!["ijkl".into()]]),
        ),
        (
            "or of ands picks the best",
            "any where (a == \"abcd\" and b == \"bravo-x\") or c == \"zulu\"",
            v(&["bravo-x", "zulu"]),
        ),
        ("and of or", "any where (a == \"alpha\" or a == \"delta\") and c > 5", v(&["alpha", "delta"])),
        ("not leaf", "any where not a == \"alpha\"", none.clone()),
        ("not compound", "any where not (a == \"alpha\" and b == \"bravo\")", none.clone()),
        ("double not", "any where not (a != \"alpha\")", v(&["alpha"])),
        ("!=", "any where a != \"alpha\"", none.clone()),
        ("not in", "any where a not in (\"alpha\")", none.clone()),
        ("null check", "any where a != null", none.clone()),
        ("short run", "any where a : \"ab*\"", none.clone()),
        ("short element spoils list", "any where a : (\"alpha\", \"ab\")", none.clone()),
        ("numeric looking", "any where a == \"12345\"", none.clone()),
        ("number", "any where a == 12345", none.clone()),
        ("bool", "any where a == true", none.clone()),
        ("regex", "any where a regex \"alpha.*\"", none.clone()),
        ("cidr", "any where cidrMatch(a, \"10.0.0.0/8\")", none.clone()),
        ("length", "any where length(a) > 5", none.clone()),
        ("category only", "process where true", none.clone()),
        ("category is not a needle", "process where a == \"alpha\"", v(&["alpha"])),
        ("false", "any where false", Some(vec![Vec::new()])),
    ];
    for (name, q, want) in cases {
        assert_eq!(&r(q), want, "case {name}: {q}");
    }
    // The engine's needle function can decline a field.
    let no_user = |f: &str, run: &str| (f != "user.name").then(|| run.to_string());
    let q = Query::parse("any where user.name == \"alice\" or a == \"bravo\"").ok();
    assert_eq!(q.map(|q| q.required_literals(&no_user)), Some(Vec::new()));
    // And it can rewrite the literal into the needle it wants.
    let tail = |_: &str, run: &str| run.rsplit(':').next().map(str::to_string);
    let q = Query::parse("any where op == \"ec2.amazonaws.com:CreateSnapshot\"").ok();
    assert_eq!(q.map(|q| q.required_literals(&tail)), v(&["CreateSnapshot"]));
}
