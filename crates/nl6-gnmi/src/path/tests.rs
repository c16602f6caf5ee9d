use super::*;

fn elem(name: &str, keys: &[(&str, &str)]) -> PathElem {
    PathElem {
        name: name.to_owned(),
        key: keys
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn path(origin: &str, elems: Vec<PathElem>) -> Path {
    Path {
        origin: origin.to_owned(),
        elem: elems,
        ..Default::default()
    }
}

fn p(text: &str) -> Path {
    parse_path(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
}

#[test]
fn root_is_empty_path() {
    assert_eq!(p("/"), path("", vec![]));
    assert_eq!(p("openconfig:/"), path("openconfig", vec![]));
}

#[test]
fn plain_elements() {
    assert_eq!(
        p("/interfaces/interface/state"),
        path(
            "",
            vec![
                elem("interfaces", &[]),
                elem("interface", &[]),
                elem("state", &[])
            ]
        )
    );
}

#[test]
fn origin_prefix() {
    assert_eq!(
        p("openconfig:/interfaces"),
        path("openconfig", vec![elem("interfaces", &[])])
    );
}

#[test]
fn colon_after_first_slash_is_not_origin() {
    assert_eq!(
        p("/openconfig-interfaces:interfaces"),
        path("", vec![elem("openconfig-interfaces:interfaces", &[])])
    );
    assert_eq!(p("/a[k=x:/y]"), path("", vec![elem("a", &[("k", "x:/y")])]));
}

#[test]
fn slash_inside_key_value() {
    assert_eq!(
        p("/interfaces/interface[name=Ethernet1/1]/state"),
        path(
            "",
            vec![
                elem("interfaces", &[]),
                elem("interface", &[("name", "Ethernet1/1")]),
                elem("state", &[])
            ]
        )
    );
}

#[test]
fn several_keys_and_equals_in_value() {
    assert_eq!(
        p("/a[x=1][y=b=c]"),
        path("", vec![elem("a", &[("x", "1"), ("y", "b=c")])])
    );
}

#[test]
fn empty_key_value_is_allowed() {
    assert_eq!(p("/a[k=]"), path("", vec![elem("a", &[("k", "")])]));
}

#[test]
fn escapes_in_values() {
    assert_eq!(
        p(r"/a[k=x\]y\[z\\w\/v]"),
        path("", vec![elem("a", &[("k", r"x]y[z\w/v")])])
    );
    // An unknown escape keeps its backslash.
    assert_eq!(p(r"/a[k=\n]"), path("", vec![elem("a", &[("k", r"\n")])]));
}

#[test]
fn wildcards_are_accepted() {
    assert_eq!(
        p("/interfaces/interface[name=*]/.../*"),
        path(
            "",
            vec![
                elem("interfaces", &[]),
                elem("interface", &[("name", "*")]),
                elem("...", &[]),
                elem("*", &[])
            ]
        )
    );
}

#[test]
fn unicode_values_and_names() {
    assert_eq!(
        p("/ünï[κ=värde/ü]"),
        path("", vec![elem("ünï", &[("κ", "värde/ü")])])
    );
}

fn err(text: &str) -> PathError {
    match parse_path(text) {
        Ok(path) => panic!("{text:?} should fail, parsed as {path:?}"),
        Err(e) => e,
    }
}

#[test]
fn error_relative() {
    assert_eq!(
        err("interfaces/interface"),
        PathError::Relative {
            pos: 0,
            path: "interfaces/interface".into()
        }
    );
    assert_eq!(
        err(""),
        PathError::Relative {
            pos: 0,
            path: "".into()
        }
    );
    assert_eq!(
        err("openconfig:interfaces"),
        PathError::Relative {
            pos: 11,
            path: "openconfig:interfaces".into()
        }
    );
    assert_eq!(
        err("oc:").to_string(),
        "path must be absolute (start with '/') at byte 3 in \"oc:\""
    );
}

#[test]
fn error_empty_origin() {
    assert_eq!(
        err(":/a"),
        PathError::EmptyOrigin {
            pos: 0,
            path: ":/a".into()
        }
    );
}

#[test]
fn error_empty_element() {
    assert_eq!(
        err("/a//b"),
        PathError::EmptyElement {
            pos: 3,
            path: "/a//b".into()
        }
    );
    assert_eq!(
        err("/a//b").to_string(),
        "empty path element at byte 3 in \"/a//b\""
    );
    assert_eq!(
        err("/a/"),
        PathError::EmptyElement {
            pos: 3,
            path: "/a/".into()
        }
    );
    assert_eq!(
        err("//"),
        PathError::EmptyElement {
            pos: 1,
            path: "//".into()
        }
    );
    assert_eq!(
        err("/[k=v]"),
        PathError::EmptyElement {
            pos: 1,
            path: "/[k=v]".into()
        }
    );
    assert_eq!(
        err("/a[k=v]/"),
        PathError::EmptyElement {
            pos: 8,
            path: "/a[k=v]/".into()
        }
    );
}

#[test]
fn error_unterminated() {
    assert_eq!(
        err("/a[k=v"),
        PathError::UnterminatedKey {
            pos: 2,
            path: "/a[k=v".into()
        }
    );
    assert_eq!(
        err("/a[k"),
        PathError::UnterminatedKey {
            pos: 2,
            path: "/a[k".into()
        }
    );
    // An escaped `]` does not close the key.
    assert_eq!(
        err(r"/a[k=v\]"),
        PathError::UnterminatedKey {
            pos: 2,
            path: r"/a[k=v\]".into()
        }
    );
    assert_eq!(
        err("/x/a[k=1][j=2/b").to_string(),
        "unterminated '[' at byte 9 in \"/x/a[k=1][j=2/b\""
    );
}

#[test]
fn error_key_without_equals() {
    assert_eq!(
        err("/a[name]"),
        PathError::KeyWithoutEquals {
            pos: 2,
            key: "name".into(),
            path: "/a[name]".into()
        }
    );
    assert_eq!(
        err("/a[]").to_string(),
        "key \"\" has no '=' at byte 2 in \"/a[]\""
    );
}

#[test]
fn error_empty_key_name() {
    assert_eq!(
        err("/a[=v]"),
        PathError::EmptyKeyName {
            pos: 2,
            path: "/a[=v]".into()
        }
    );
}

#[test]
fn error_duplicate_key() {
    assert_eq!(
        err("/a[k=1][k=2]"),
        PathError::DuplicateKey {
            pos: 7,
            key: "k".into(),
            path: "/a[k=1][k=2]".into()
        }
    );
    assert_eq!(
        err("/a[k=1][k=2]").to_string(),
        "duplicate key \"k\" at byte 7 in \"/a[k=1][k=2]\""
    );
}

#[test]
fn error_unexpected_after_key() {
    assert_eq!(
        err("/a[k=1]b"),
        PathError::UnexpectedAfterKey {
            pos: 7,
            found: 'b',
            path: "/a[k=1]b".into()
        }
    );
    assert_eq!(
        err("/a[k=1]]"),
        PathError::UnexpectedAfterKey {
            pos: 7,
            found: ']',
            path: "/a[k=1]]".into()
        }
    );
    assert_eq!(
        err("/a[k=1]ü").to_string(),
        "unexpected character 'ü' after ']' at byte 7 in \"/a[k=1]ü\" \
         (expected '[', '/' or end of path)"
    );
}

#[test]
fn error_stray_bracket() {
    assert_eq!(
        err("/a]b"),
        PathError::StrayBracket {
            pos: 2,
            path: "/a]b".into()
        }
    );
}

#[test]
fn format_basic() {
    assert_eq!(format_path(&path("", vec![])), "/");
    assert_eq!(format_path(&path("openconfig", vec![])), "openconfig:/");
    assert_eq!(
        format_path(&path(
            "openconfig",
            vec![
                elem("interfaces", &[]),
                elem("interface", &[("name", "Ethernet1/1")]),
                elem("state", &[])
            ]
        )),
        "openconfig:/interfaces/interface[name=Ethernet1/1]/state"
    );
}

#[test]
fn format_sorts_keys_and_escapes() {
    assert_eq!(
        format_path(&path(
            "",
            vec![elem("a", &[("z", "1"), ("b", r"x]\y"), ("m", "=/[")])]
        )),
        r"/a[b=x\]\\y][m==/[][z=1]"
    );
}

#[test]
fn format_ignores_target() {
    let mut with_target = path("", vec![elem("a", &[])]);
    with_target.target = "10.42.0.1".into();
    assert_eq!(format_path(&with_target), "/a");
}

#[test]
fn join_prefix_and_path() {
    let mut prefix = path("openconfig", vec![elem("interfaces", &[])]);
    prefix.target = "dev1".into();
    let rel = p("/interface[name=e1]/state");
    let joined = join(Some(&prefix), &rel);
    assert_eq!(joined.origin, "openconfig");
    assert_eq!(joined.target, "dev1");
    assert_eq!(
        format_path(&joined),
        "openconfig:/interfaces/interface[name=e1]/state"
    );

    // The path's origin wins over the prefix's.
    let joined = join(Some(&prefix), &p("other:/x"));
    assert_eq!(joined.origin, "other");

    // Without a prefix the path comes back unchanged.
    let mut alone = p("oc:/a/b");
    alone.target = "t".into();
    assert_eq!(join(None, &alone), alone);

    // An empty prefix target keeps the path's.
    let joined = join(Some(&path("", vec![])), &alone);
    assert_eq!(joined, alone);
}

#[test]
fn matches_exact_and_keys() {
    let concrete = p("/interfaces/interface[name=e1]/state/oper-status");
    assert!(matches(&concrete, &concrete));
    assert!(matches(
        &p("/interfaces/interface/state/oper-status"),
        &concrete
    ));
    assert!(matches(
        &p("/interfaces/interface[name=*]/state/oper-status"),
        &concrete
    ));
    assert!(!matches(
        &p("/interfaces/interface[name=e2]/state/oper-status"),
        &concrete
    ));
    assert!(!matches(
        &p("/interfaces/interface[name=e1][unit=0]/state/oper-status"),
        &concrete
    ));
    // Not a prefix match: the whole concrete path must be covered.
    assert!(!matches(&p("/interfaces"), &concrete));
    assert!(!matches(&concrete, &p("/interfaces")));
}

#[test]
fn matches_star_one_level() {
    let concrete = p("/interfaces/interface[name=e1]/state/oper-status");
    assert!(matches(&p("/interfaces/*/state/*"), &concrete));
    assert!(matches(&p("/*/*/*/*"), &concrete));
    assert!(!matches(&p("/*/*/*"), &concrete));
    assert!(!matches(&p("/*/*/*/*/*"), &concrete));
    assert!(matches(&p("/interfaces/*[name=e1]/state/*"), &concrete));
    assert!(!matches(&p("/interfaces/*[name=e9]/state/*"), &concrete));
}

#[test]
fn matches_any_depth() {
    let concrete = p("/interfaces/interface[name=e1]/state/counters/in-octets");
    assert!(matches(&p("/..."), &concrete));
    assert!(matches(&p("/..."), &p("/")));
    assert!(matches(&p("/interfaces/..."), &concrete));
    assert!(matches(&p("/.../in-octets"), &concrete));
    assert!(matches(&p("/.../counters/..."), &concrete));
    assert!(matches(
        &p("/interfaces/.../state/.../in-octets"),
        &concrete
    ));
    // `...` matches zero elements too.
    assert!(matches(
        &p("/interfaces/interface/.../state/counters/in-octets/..."),
        &concrete
    ));
    assert!(!matches(&p("/.../out-octets"), &concrete));
    assert!(!matches(&p("/.../state/in-octets"), &concrete));
    assert!(matches(&p("/.../state/*/in-octets"), &concrete));
    // Backtracking past a repeated name.
    assert!(matches(&p("/.../a/b"), &p("/a/a/b")));
    assert!(!matches(&p("/.../a/b"), &p("/a/b/a")));
    assert!(matches(&p("/"), &p("/")));
    assert!(!matches(&p("/"), &p("/a")));
}

#[test]
fn matches_ignores_origin_and_target() {
    let mut concrete = p("openconfig:/a");
    concrete.target = "t".into();
    assert!(matches(&p("/a"), &concrete));
}

/// `/e0/e1/…` with `n` elements.
fn n_elems(n: usize) -> String {
    (0..n).map(|i| format!("/e{i}")).collect()
}

fn limit_err(text: &str) -> (usize, PathLimitError) {
    match err(text) {
        PathError::Limit { pos, exceeded, .. } => (pos, exceeded),
        other => panic!("{other:?} is not a limit error"),
    }
}

#[test]
fn element_count_limit() {
    assert_eq!(p(&n_elems(MAX_PATH_ELEMS)).elem.len(), MAX_PATH_ELEMS);
    let text = n_elems(MAX_PATH_ELEMS + 1);
    let (pos, exceeded) = limit_err(&text);
    assert_eq!(pos, n_elems(MAX_PATH_ELEMS).len() + 1);
    assert_eq!(
        exceeded,
        PathLimitError::TooManyElems {
            actual: 65,
            limit: 64
        }
    );
    let message = err(&text).to_string();
    assert!(
        message.starts_with("path has 65 elements; the limit is 64 elements per path at byte"),
        "{message}"
    );
}

#[test]
fn ten_thousand_any_depth_elements_are_rejected_with_the_count() {
    let text = "/...".repeat(10_000);
    let (_, exceeded) = limit_err(&text);
    assert_eq!(
        exceeded,
        PathLimitError::TooManyElems {
            actual: 10_000,
            limit: MAX_PATH_ELEMS
        }
    );
    // A syntax error after the limit still wins over the count (the text is parsed whole).
    assert!(matches!(
        err(&format!("{text}//")),
        PathError::EmptyElement { .. }
    ));
}

#[test]
fn key_count_limit() {
    let keys = |n: usize| -> String { (0..n).map(|i| format!("[k{i}=v]")).collect() };
    assert_eq!(
        p(&format!("/a{}", keys(MAX_KEYS_PER_ELEM))).elem[0]
            .key
            .len(),
        8
    );
    let text = format!("/x/a{}", keys(MAX_KEYS_PER_ELEM + 1));
    assert_eq!(
        limit_err(&text),
        (
            4 + 8 * "[k0=v]".len(),
            PathLimitError::TooManyKeys {
                elem: 1,
                actual: 9,
                limit: 8
            }
        )
    );
}

#[test]
fn name_and_value_length_limits() {
    let name = "n".repeat(MAX_NAME_BYTES);
    let value = "v".repeat(MAX_KEY_VALUE_BYTES);
    p(&format!("{name}:/{name}[{name}={value}]"));
    let long_name = "n".repeat(MAX_NAME_BYTES + 1);
    assert_eq!(
        limit_err(&format!("/a/{long_name}")),
        (
            3,
            PathLimitError::ElemNameTooLong {
                elem: 1,
                actual: 257,
                limit: 256
            }
        )
    );
    assert_eq!(
        limit_err(&format!("/a[{long_name}=v]")),
        (
            2,
            PathLimitError::KeyNameTooLong {
                elem: 0,
                actual: 257,
                limit: 256
            }
        )
    );
    assert_eq!(
        limit_err(&format!("{long_name}:/a")),
        (
            0,
            PathLimitError::OriginTooLong {
                actual: 257,
                limit: 256
            }
        )
    );
    let (pos, exceeded) = limit_err(&format!("/a[name={value}v]"));
    assert_eq!(pos, 2);
    assert_eq!(
        exceeded,
        PathLimitError::KeyValueTooLong {
            elem: 0,
            key: "name".into(),
            actual: 1025,
            limit: 1024
        }
    );
    assert!(
        exceeded
            .to_string()
            .contains("the limit is 1024 bytes per key value"),
        "{exceeded}"
    );
}

#[test]
fn errors_for_huge_paths_stay_small() {
    let big = 1_800_000;
    let texts = [
        format!("/{}", "a".repeat(big)),
        format!("/a[k={}]", "v".repeat(big)),
        format!("/a[k={}", "v".repeat(big)),
        "/x".repeat(big / 2),
        format!("{}{}", "/x".repeat(MAX_PATH_ELEMS / 2), "y".repeat(big)),
        format!("relative{}", "\u{1}".repeat(big)),
    ];
    for text in &texts {
        let message = err(text).to_string();
        assert!(message.len() < 1024, "{} bytes: {message}", message.len());
        assert!(
            message.contains(&format!("({} bytes)", text.len())),
            "{message}"
        );
    }
}

#[test]
fn message_limits_match_text_limits() {
    let name = "n".repeat(MAX_NAME_BYTES + 1);
    let value = "v".repeat(MAX_KEY_VALUE_BYTES + 1);
    let ok = p("/interfaces/interface[name=Ethernet1]/state");
    assert_eq!(check_limits(&ok), Ok(()));
    let mut too_deep = ok.clone();
    too_deep.elem = vec![elem("...", &[]); 10_000];
    assert_eq!(
        check_limits(&too_deep),
        Err(PathLimitError::TooManyElems {
            actual: 10_000,
            limit: 64
        })
    );
    let keys: Vec<(String, String)> = (0..9).map(|i| (format!("k{i}"), "v".into())).collect();
    let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cases = [
        path(&name, vec![]),
        path("", vec![elem(&name, &[])]),
        path("", vec![elem("a", &[(&name, "v")])]),
        path("", vec![elem("a", &[("k", &value)])]),
        path("", vec![elem("a", &keys)]),
    ];
    for bad in cases {
        let from_message = check_limits(&bad).unwrap_err();
        let PathError::Limit { exceeded, .. } = err(&format_path(&bad)) else {
            panic!("text of {bad:?} is not a limit error");
        };
        assert_eq!(from_message, exceeded);
    }
}
