//! End-to-end: the `file` plugin over real SSH — a directory with owner
//! and group, a binary file copied from beside the playbook into parents
//! it creates, a symlink, a directory removed; the dry-run lists exactly
//! what apply does, a second run changes nothing, and a missing parent
//! without `parents: true` fails clearly.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::support::*;

const PLAYBOOK: &str = r#"
name: files
steps:
  - name: app directory
    plugin: file
    on: web
    with:
      path: "{{ root }}/app"
      state: directory
      mode: "0750"
      owner: nobody
      group: "65534"
  - name: binary copied
    plugin: file
    on: web
    with:
      path: "{{ root }}/etc/conf/d/app.bin"
      src: files/app.bin
      parents: true
      mode: "0640"
      owner: "65534"
  - name: current
    plugin: file
    on: web
    with:
      path: "{{ root }}/current"
      state: link
      src: "{{ root }}/app"
  - name: old release gone
    plugin: file
    on: web
    with:
      path: "{{ root }}/old"
      state: absent
      recurse: true
"#;

const NO_PARENTS: &str = r#"
name: no parents
steps:
  - name: deep
    plugin: file
    on: web
    with:
      path: "{{ root }}/missing/x.conf"
      content: "x\n"
"#;

/// The summaries of the actions planned (dry-run) or done (apply), in order.
fn summaries(o: &std::process::Output, event: &str) -> Vec<String> {
    events(o)
        .into_iter()
        .filter(|e| e["event"] == event)
        .flat_map(|e| match event {
            "planned" => e["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["action"]["summary"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
            _ => vec![e["summary"].as_str().unwrap().to_string()],
        })
        .collect()
}

#[test]
fn file_plugin_directories_links_copies_and_parents() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let inv = inv.to_str().unwrap();
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    std::fs::create_dir_all(w.join("files")).unwrap();
    let binary: Vec<u8> = (0..=255u8).chain([0, 0, 0xff]).collect();
    std::fs::write(w.join("files/app.bin"), &binary).unwrap();
    let root = hosts.root(0);
    std::fs::create_dir_all(root.join("old/sub")).unwrap();
    std::fs::write(root.join("old/sub/f"), "f").unwrap();

    let dry = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            inv,
            "--dry-run",
            "--output",
            "json",
        ],
    );
    assert_eq!(dry.status.code(), Some(0));
    let planned = summaries(&dry, "planned");
    let app = root.join("app");
    for want in [
        format!("create directory {} (0750)", app.display()),
        format!("create directory {}/etc (0755)", root.display()),
        format!("create directory {}/etc/conf (0755)", root.display()),
        format!("create directory {}/etc/conf/d (0755)", root.display()),
        format!("create {}/etc/conf/d/app.bin (0640)", root.display()),
        format!("link {}/current -> {}", root.display(), app.display()),
        format!("remove directory {}/old", root.display()),
    ] {
        assert!(planned.contains(&want), "{want} not in {planned:#?}");
    }
    let dry_text = stdout(&dry);
    assert!(
        dry_text.contains(r#""mode":"0640""#),
        "modes are octal text"
    );
    assert!(!root.join("app").exists(), "a dry-run changes nothing");
    assert!(root.join("old").exists());

    let apply = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(apply.status.code(), Some(0));
    assert_eq!(
        summaries(&apply, "action"),
        planned,
        "apply did what the dry-run showed"
    );
    let dir = std::fs::metadata(&app).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o750);
    assert_eq!((dir.uid(), dir.gid()), (65534, 65534));
    let bin = root.join("etc/conf/d/app.bin");
    assert_eq!(std::fs::read(&bin).unwrap(), binary, "binary bytes copied");
    let meta = std::fs::metadata(&bin).unwrap();
    assert_eq!(
        (meta.permissions().mode() & 0o777, meta.uid()),
        (0o640, 65534)
    );
    let conf = std::fs::metadata(root.join("etc/conf")).unwrap();
    assert_eq!(conf.permissions().mode() & 0o777, 0o755);
    assert_eq!(std::fs::read_link(root.join("current")).unwrap(), app);
    assert!(!root.join("old").exists());

    let again = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(total(&recap(&again), "changed"), 0, "{}", stdout(&again));

    std::fs::write(w.join("deep.yaml"), NO_PARENTS).unwrap();
    let deep = run(w, &["play", "deep.yaml", "-i", inv, "--dry-run"]);
    assert_ne!(deep.status.code(), Some(0));
    let text = format!("{}{}", stdout(&deep), stderr(&deep));
    assert!(text.contains("parents: true"), "{text}");
    assert!(!root.join("missing").exists());
}
