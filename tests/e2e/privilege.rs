//! End-to-end: Ansible's become over real SSH. The inventory's
//! `ansible_become*` variables (here from `host_vars/`) and a step's
//! `become*` keywords decide who commands run as, through sudo or su, and
//! the host itself says who it was (`id -un`); the preview says it too.

use std::os::unix::fs::MetadataExt;

use crate::support::*;

const PLAYBOOK: &str = r#"
name: who
steps:
  - name: as the inventory says
    plugin: command
    on: web
    with:
      cmd: "id -un > {{ root }}/who-1"
      creates: "{{ root }}/who-1"
  - name: as the step says
    plugin: command
    on: web
    become: true
    become_user: nobody
    become_method: su
    with:
      cmd: "id -un > {{ root }}/who-2"
      creates: "{{ root }}/who-2"
  - name: a file written as nobody
    plugin: file
    on: h2
    become: true
    become_user: nobody
    with:
      path: "{{ root }}/owned"
      content: "mine\n"
"#;

fn who(hosts: &SshHosts, i: usize, n: u8) -> String {
    std::fs::read_to_string(hosts.root(i).join(format!("who-{n}")))
        .unwrap_or_else(|e| panic!("who-{n} on host {i}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn commands_run_as_the_become_user_the_inventory_and_the_step_say() {
    use std::os::unix::fs::PermissionsExt;
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 3);
    for i in 0..3 {
        std::fs::set_permissions(hosts.root(i), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::create_dir(w.join("host_vars")).unwrap();
    std::fs::write(
        w.join("host_vars/h1.yaml"),
        "ansible_become: true\nansible_become_user: nobody\n",
    )
    .unwrap();
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    let inv = inv.to_str().unwrap();

    let preview = run(w, &["play", "site.yaml", "-i", inv, "--check"]);
    let text = stdout(&preview);
    assert_eq!(preview.status.code(), Some(0), "{text}{}", stderr(&preview));
    assert!(text.contains("runs as nobody (through sudo)"), "{text}");
    assert!(text.contains("runs as nobody (through su)"), "{text}");

    let first = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    let r = recap(&first);
    assert_eq!(first.status.code(), Some(0), "{r}{}", stderr(&first));
    assert_eq!(total(&r, "changed"), 3 + 3 + 1, "{r}");
    // Step 1: h1's host_vars say sudo to nobody; the others log in as root.
    assert_eq!(who(&hosts, 0, 1), "nobody");
    assert_eq!(who(&hosts, 1, 1), "root");
    assert_eq!(who(&hosts, 2, 1), "root");
    // Step 2: the step's su to nobody everywhere (h1's user is nobody too).
    for i in 0..3 {
        assert_eq!(who(&hosts, i, 2), "nobody", "host {i}");
    }
    let owned = std::fs::metadata(hosts.root(1).join("owned")).unwrap();
    assert_eq!(owned.uid(), 65534, "the file was written by nobody");

    let again = run(w, &["play", "site.yaml", "-i", inv, "--output", "json"]);
    assert_eq!(total(&recap(&again), "changed"), 0, "{}", stdout(&again));
}

#[test]
fn a_user_that_cannot_be_become_fails_the_host_and_says_why() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 2);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::create_dir(w.join("host_vars")).unwrap();
    std::fs::write(
        w.join("host_vars/h1.yaml"),
        "ansible_become: true\nansible_become_user: no-such-user\n",
    )
    .unwrap();
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    let out = run(w, &["play", "site.yaml", "-i", inv.to_str().unwrap()]);
    let text = stdout(&out) + &stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("could not become no-such-user through sudo"),
        "{text}"
    );
    assert!(!hosts.root(0).join("who-1").exists(), "{text}");
}

/// A become user is a user name or a numeric id, never something su or
/// sudo would read as an option: `--command=id>FILE` through su is refused
/// before anything runs. A numeric id goes to sudo as an id, and the
/// preview names who it is (uid 0: root).
#[test]
fn a_become_user_is_never_read_as_an_option() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let inv = inv.to_str().unwrap();
    let pwned = hosts.root(0).join("pwned");
    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsteps:\n  - name: injected\n    plugin: command\n    on: web\n    become: true\n    become_method: su\n    become_user: \"--command=id>{}\"\n    with: {{ cmd: \"true\" }}\n",
            pwned.display()
        ),
    )
    .unwrap();
    let out = run(w, &["play", "site.yaml", "-i", inv]);
    let text = stdout(&out) + &stderr(&out);
    assert!(!pwned.exists(), "the injected command ran: {text}");
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("is neither a user name"), "{text}");

    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsteps:\n  - name: by id\n    plugin: command\n    on: web\n    become: true\n    become_user: \"0\"\n    with:\n      cmd: \"id -un > {root}/who\"\n      creates: \"{root}/who\"\n",
            root = hosts.root(0).display()
        ),
    )
    .unwrap();
    let preview = run(w, &["play", "site.yaml", "-i", inv, "--check"]);
    let text = stdout(&preview);
    assert_eq!(preview.status.code(), Some(0), "{text}{}", stderr(&preview));
    assert!(
        text.contains("runs as root (uid 0) (through sudo)"),
        "{text}"
    );
    let out = run(w, &["play", "site.yaml", "-i", inv]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let who = std::fs::read_to_string(hosts.root(0).join("who")).unwrap();
    assert_eq!(who.trim(), "root");
}
