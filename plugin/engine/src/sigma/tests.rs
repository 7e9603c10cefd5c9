//! Unit tests of the pieces the integration tests cannot see: encodings,
//! wildcard escapes, YAML positions.

use super::*;

#[test]
fn base64_encodings() {
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"f"), "Zg==");
    // pySigma's base64offset of "/bin/bash".
    assert_eq!(base64_offsets("/bin/bash"), ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
}

#[test]
fn wildcard_escapes() {
    assert_eq!(sigma_tokens(r"a*b?"), [Tok::Char('a'), Tok::Star, Tok::Char('b'), Tok::One]);
    assert_eq!(sigma_tokens(r"a\*b\?"), [Tok::Char('a'), Tok::Char('*'), Tok::Char('b'), Tok::Char('?')]);
    assert_eq!(sigma_tokens(r"a\\*"), [Tok::Char('a'), Tok::Char('\\'), Tok::Star]);
    assert_eq!(sigma_tokens(r"c:\x"), [Tok::Char('c'), Tok::Char(':'), Tok::Char('\\'), Tok::Char('x')]);
}

#[test]
fn yaml_positions() {
    let docs = yaml::documents("title: x\ndetection:\n  sel:\n    a: 'b'\n---\ntitle: y\n").unwrap_or_default();
    assert_eq!(docs.len(), 2);
    let a = docs[0].get("detection").and_then(|d| d.get("sel")).and_then(|s| s.get("a"));
    assert_eq!(a.map(|a| (a.line, a.column, a.str())), Some((4, 8, Some("b"))));
    let e = yaml::documents("a: [1,\nb: 2").err();
    assert!(e.is_some_and(|e| e.line >= 1 && e.column >= 1));
}

#[test]
fn attack_tags() {
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        technique_of(&tags(&["attack.impact", "attack.t1578.002"])),
        (Some("T1578".to_string()), Some("T1578.002".to_string()))
    );
    assert_eq!(technique_of(&tags(&["attack.t1537"])), (Some("T1537".to_string()), None));
    assert_eq!(tactic_of("attack.defense-evasion"), Some(("TA0005", "Defense Evasion")));
    assert_eq!(tactic_of("attack.t1578"), None);
}
