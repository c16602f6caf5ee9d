//! Property tests: path text formatting and parsing are inverse, and parsing never panics.

use nl6_gnmi::path::matches;
use nl6_gnmi::proto::gnmi::{Path, PathElem};
use nl6_gnmi::{format_path, parse_path};
use proptest::prelude::*;

/// Element names: realistic identifiers (with module prefixes and wildcards) or
/// anything without `/`, `[` and `]`, unicode included.
fn elem_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,12}",
        "[a-z][a-z-]{0,8}:[a-z][a-z0-9-]{0,8}",
        Just("*".to_owned()),
        Just("...".to_owned()),
        "[^/\\[\\]]{1,12}",
    ]
}

/// Key names: anything non-empty without `=` and `]`.
fn key_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z][a-z0-9-]{0,8}", "[^=\\]]{1,8}"]
}

/// Key values: any text, with the path syntax characters made frequent.
fn key_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9/=\\]\\[\\\\ :*.ü✓]{0,16}",
        Just("*".to_owned()),
    ]
}

fn path_elem() -> impl Strategy<Value = PathElem> {
    (
        elem_name(),
        proptest::collection::btree_map(key_name(), key_value(), 0..4),
    )
        .prop_map(|(name, key)| PathElem {
            name,
            key: key.into_iter().collect(),
        })
}

fn gnmi_path() -> impl Strategy<Value = Path> {
    (
        prop_oneof![Just(String::new()), "[a-z][a-z0-9_-]{0,10}"],
        proptest::collection::vec(path_elem(), 0..6),
    )
        .prop_map(|(origin, elem)| Path {
            origin,
            elem,
            ..Default::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn format_then_parse_round_trips(path in gnmi_path()) {
        let text = format_path(&path);
        let parsed = parse_path(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&path), "text {:?}", text);
        prop_assert_eq!(format_path(&parsed.unwrap()), text);
    }

    #[test]
    fn a_path_matches_itself_and_the_subtree_wildcard(path in gnmi_path()) {
        prop_assert!(matches(&path, &path));
        let everything = parse_path("/...").unwrap();
        prop_assert!(matches(&everything, &path));
    }

    #[test]
    fn parse_never_panics(text in "[/\\[\\]=\\\\a:*.ü]{0,24}") {
        if let Ok(path) = parse_path(&text) {
            // Whatever parses formats to text that parses to the same path.
            prop_assert_eq!(parse_path(&format_path(&path)), Ok(path));
        }
    }

    #[test]
    fn parse_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse_path(&text);
    }
}

#[test]
fn keys_are_sorted_deterministically() {
    let key = [("b", "2"), ("a", "1"), ("c", "3")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let path = Path {
        elem: vec![PathElem {
            name: "x".into(),
            key,
        }],
        ..Default::default()
    };
    assert_eq!(format_path(&path), "/x[a=1][b=2][c=3]");
}
