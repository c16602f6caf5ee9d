//! `ProfileRegistry::load_dir`: extra profiles next to the built-ins, and refusals that
//! name the file.

use std::path::PathBuf;

use nl6_profile::ProfileRegistry;

/// A fresh directory under the system temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("nl6-profile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const LAB: &str = "name = \"lab-box\"\n[interfaces]\nnaming = \"xr\"\n[inventory]\n\
    manufacturer = \"Lab\"\nchassis_part = \"L1\"\nfans = 1\ncpus = 2\nmemory_gib = 4\n";

#[test]
fn loaded_profiles_join_the_builtins_and_may_replace_one() {
    let dir = Dir::new("ok");
    dir.write("lab.toml", LAB);
    dir.write(
        "generic.toml",
        "name = \"generic\"\n[interfaces]\nnaming = \"sonic\"\n",
    );
    dir.write("notes.txt", "not a profile");
    let registry = ProfileRegistry::load_dir(&dir.0).unwrap();
    let lab = registry.get("lab-box").unwrap();
    assert_eq!(lab.naming().as_str(), "xr");
    assert_eq!(lab.inventory().unwrap().fans, 1);
    assert_eq!(registry.get("generic").unwrap().naming().as_str(), "sonic");
    assert_eq!(registry.names().len(), 7);
}

#[test]
fn a_bad_file_is_refused_with_its_path_line_and_field() {
    let dir = Dir::new("bad");
    dir.write("a.toml", LAB);
    let bad = dir.write("b.toml", &LAB.replace("fans = 1", "fans = 5000"));
    let err = ProfileRegistry::load_dir(&dir.0).unwrap_err();
    assert_eq!(err.file, bad.display().to_string());
    assert_eq!(
        (err.line, err.field.as_str()),
        (Some(7), "inventory.fans"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("b.toml:7: inventory.fans: 5000 is more than"),
        "{err}"
    );
}

#[test]
fn two_files_with_one_name_are_refused() {
    let dir = Dir::new("twice");
    dir.write("a.toml", LAB);
    dir.write("b.toml", LAB);
    let err = ProfileRegistry::load_dir(&dir.0).unwrap_err();
    assert!(err.file.ends_with("b.toml"), "{err}");
    assert_eq!((err.line, err.field.as_str()), (Some(1), "name"), "{err}");
}

#[test]
fn a_missing_directory_names_itself() {
    let err =
        ProfileRegistry::load_dir(std::path::Path::new("/nonexistent/nl6-profiles")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/nl6-profiles: cannot read"),
        "{err}"
    );
}
