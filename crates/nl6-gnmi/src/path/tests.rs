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
            path: String::new()
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
