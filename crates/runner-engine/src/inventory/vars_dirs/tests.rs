//! Ansible's precedence, file by file, and the errors and warnings.

use super::*;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const INVENTORY: &str = "all:
  vars: {level: file-all, only_file: yes}
  children:
    web:
      vars: {level: file-web}
      hosts:
        web1: {level: file-host}
        web2: {}
      children:
        edge:
          hosts: {web2: {}}
";

#[test]
fn ansibles_precedence_across_the_inventorys_and_the_playbooks_directories() {
    let inv_dir = tempfile::tempdir().unwrap();
    let pb_dir = tempfile::tempdir().unwrap();
    write(inv_dir.path(), "hosts.yaml", INVENTORY);
    write(
        inv_dir.path(),
        "group_vars/all.yml",
        "level: gv-all\nfrom_all: inv\n",
    );
    write(pb_dir.path(), "group_vars/all.yaml", "from_all: pb\n");
    // A directory of files, read in name order.
    write(
        inv_dir.path(),
        "group_vars/web/10.yml",
        "level: gv-web\nweb_port: 80\n",
    );
    write(inv_dir.path(), "group_vars/web/20.yml", "web_port: 8080\n");
    write(inv_dir.path(), "group_vars/edge", "level: gv-edge\n");
    write(inv_dir.path(), "group_vars/web/30.yml", "# nothing yet\n");
    write(pb_dir.path(), "group_vars/web.json", "{\"pb_web\": true}");
    write(inv_dir.path(), "host_vars/web2.yml", "level: hv-inv\n");
    write(pb_dir.path(), "host_vars/web2.yml", "level: hv-pb\n");
    // Skipped as Ansible skips them.
    write(inv_dir.path(), "group_vars/web.yml~", "level: backup\n");
    write(inv_dir.path(), "group_vars/.hidden.yml", "level: hidden\n");
    let mut inv = Inventory::load(&inv_dir.path().join("hosts.yaml")).unwrap();
    let warnings = inv
        .add_vars_dirs(&[inv_dir.path().to_path_buf(), pb_dir.path().to_path_buf()])
        .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let web1 = &inv.host("web1").unwrap().vars;
    // The inventory file's host vars win over every group_vars file.
    assert_eq!(web1["level"], "file-host");
    assert_eq!(web1["from_all"], "pb", "the playbook's group_vars/all wins");
    assert_eq!(web1["web_port"], 8080);
    assert_eq!(web1["pb_web"], true);
    assert_eq!(web1["only_file"], "yes");
    let web2 = &inv.host("web2").unwrap().vars;
    assert_eq!(web2["level"], "hv-pb", "the playbook's host_vars win");
    // Without host_vars: the child group's file wins over its parent's.
    std::fs::remove_dir_all(inv_dir.path().join("host_vars")).unwrap();
    std::fs::remove_dir_all(pb_dir.path().join("host_vars")).unwrap();
    let mut inv = Inventory::load(&inv_dir.path().join("hosts.yaml")).unwrap();
    inv.add_vars_dirs(&[inv_dir.path().to_path_buf()]).unwrap();
    assert_eq!(inv.host("web2").unwrap().vars["level"], "gv-edge");
}

#[test]
fn unknown_names_warn_and_bad_files_name_themselves() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "hosts.ini", "[web]\nweb1\n");
    write(dir.path(), "group_vars/wbe.yml", "x: 1\n");
    write(dir.path(), "host_vars/web9.yml", "x: 1\n");
    let mut inv = Inventory::load(&dir.path().join("hosts.ini")).unwrap();
    let warnings = inv.add_vars_dirs(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("no group 'wbe'"), "{warnings:?}");
    assert!(warnings[1].contains("no host 'web9'"), "{warnings:?}");
    write(dir.path(), "group_vars/web.yml", "- a list\n");
    let err = inv
        .add_vars_dirs(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("group_vars/web.yml"), "{err}");
    assert!(err.contains("mapping"), "{err}");
    write(dir.path(), "group_vars/web.yml", "a: [unclosed\n");
    let err = inv
        .add_vars_dirs(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("group_vars/web.yml:"), "{err}");
}
