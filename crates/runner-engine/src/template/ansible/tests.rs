//! Each filter as an Ansible user writes it, with Ansible's answer.

use serde_json::json;

use crate::template::Templates;

fn render(tpl: &str, ctx: serde_json::Value) -> serde_json::Value {
    Templates::default()
        .render_str(tpl, &ctx)
        .unwrap_or_else(|e| panic!("{tpl}: {e}"))
}

fn err(tpl: &str, ctx: serde_json::Value) -> String {
    Templates::default().render_str(tpl, &ctx).unwrap_err()
}

#[test]
fn serialisation_and_encoding() {
    let ctx = json!({"d": {"a": 1, "b": [true, null]}, "s": "hello"});
    assert_eq!(
        render("{{ d | to_json }}", ctx.clone()),
        r#"{"a": 1, "b": [true, null]}"#
    );
    assert_eq!(
        render("{{ d | to_nice_json }}", ctx.clone()),
        "{\n    \"a\": 1,\n    \"b\": [\n        true,\n        null\n    ]\n}"
    );
    assert_eq!(
        render("{{ d | to_yaml }}", ctx.clone()),
        "a: 1\nb:\n- true\n- null\n"
    );
    assert_eq!(render("{{ s | b64encode }}", ctx.clone()), "aGVsbG8=");
    assert_eq!(
        render("{{ s | b64encode | b64decode }}", ctx.clone()),
        "hello"
    );
    assert!(err("{{ 'not base64!' | b64decode }}", ctx.clone()).contains("b64decode"));
    assert_eq!(
        render("{{ s | hash('sha256') }}", ctx.clone()),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert!(err("{{ s | hash('md5') }}", ctx).contains("not offered"));
}

#[test]
fn regexes_with_pythons_back_references() {
    let ctx = json!({"h": "rabbit-01.example.com"});
    assert_eq!(
        render(
            r"{{ h | regex_replace('^(\\w+)-(\\d+)\\..*$', '\\2-\\1') }}",
            ctx.clone()
        ),
        "01-rabbit"
    );
    assert_eq!(
        render(
            r"{{ h | regex_replace('(?P<n>\\d+)', 'n\\g<n>$') }}",
            ctx.clone()
        ),
        "rabbit-n01$.example.com"
    );
    assert_eq!(render(r"{{ h | regex_search('\d+') }}", ctx.clone()), "01");
    assert_eq!(
        render(r"{{ h | regex_search('zzz') is none }}", ctx.clone()),
        json!(true)
    );
    assert!(err("{{ h | regex_search('(') }}", ctx).contains("regex '('"));
}

#[test]
fn mappings_and_lists() {
    let ctx = json!({"a": {"x": 1, "n": {"p": 1}}, "b": {"y": 2, "n": {"q": 2}}, "l": [1, [2, [3, [4]]]]});
    assert_eq!(
        render("{{ a | combine(b) }}", ctx.clone()),
        json!({"x": 1, "n": {"q": 2}, "y": 2})
    );
    assert_eq!(
        render("{{ a | combine(b, recursive=true) }}", ctx.clone()),
        json!({"x": 1, "n": {"p": 1, "q": 2}, "y": 2})
    );
    assert_eq!(
        render("{{ b | dict2items }}", ctx.clone()),
        json!([{"key": "y", "value": 2}, {"key": "n", "value": {"q": 2}}])
    );
    assert_eq!(
        render("{{ b | dict2items | items2dict }}", ctx.clone()),
        ctx["b"]
    );
    assert_eq!(
        render("{{ l | flatten }}", ctx.clone()),
        json!([1, 2, 3, 4])
    );
    assert_eq!(
        render("{{ l | flatten(1) }}", ctx.clone()),
        json!([1, 2, [3, [4]]])
    );
    assert!(err("{{ l | combine(a) }}", ctx).contains("only mappings combine"));
}

#[test]
fn paths_shell_conditions_and_lookups() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("motd.txt"), "welcome\n\n").unwrap();
    let ctx = json!({"p": "/etc/rabbitmq/conf.d/10.conf", "w": "it's here", "ok": true,
                     "playbook_dir": dir.path().to_str().unwrap()});
    assert_eq!(render("{{ p | basename }}", ctx.clone()), "10.conf");
    assert_eq!(
        render("{{ p | dirname }}", ctx.clone()),
        "/etc/rabbitmq/conf.d"
    );
    assert_eq!(render("{{ w | quote }}", ctx.clone()), r"'it'\''s here'");
    assert_eq!(
        render("{{ ok | ternary('yes', 'no') }}", ctx.clone()),
        "yes"
    );
    assert_eq!(
        render("{{ lookup('file', 'motd.txt') }}", ctx.clone()),
        "welcome"
    );
    assert!(err("{{ lookup('file', 'nope.txt') }}", ctx.clone()).contains("nope.txt"));
    assert!(err("{{ lookup('pipe', 'id') }}", ctx.clone()).contains("lookup('env', ...)"));
    assert_eq!(
        render(
            "{{ lookup('env', 'RUNNER_SURELY_UNSET_VAR') }}",
            ctx.clone()
        ),
        ""
    );
    let e = err("{{ missing | mandatory }}", ctx);
    assert!(e.contains("undefined") || e.contains("mandatory"), "{e}");
}

#[test]
fn template_files_render_as_ansibles_template_module() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hosts.j2"),
        "# {{ title | upper }}\n{% for h in hosts %}\n{{ h }}\n{% endfor %}\n{% include 'footer.j2' %}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("footer.j2"),
        "-- {{ hosts | length }} hosts\n",
    )
    .unwrap();
    let ctx = json!({"title": "nodes", "hosts": ["rabbit1", "rabbit2"],
                     "playbook_dir": dir.path().to_str().unwrap()});
    // No blank line per loop tag, and the last newline dropped.
    assert_eq!(
        render("{{ lookup('template', 'hosts.j2') }}", ctx.clone()),
        "# NODES\nrabbit1\nrabbit2\n-- 2 hosts"
    );
    let e = err("{{ lookup('template', '../outside.j2') }}", ctx.clone());
    assert!(e.contains("outside.j2"), "{e}");
    std::fs::write(dir.path().join("bad.j2"), "{{ nope }}").unwrap();
    let e = err("{{ lookup('template', 'bad.j2') }}", ctx);
    assert!(e.contains("bad.j2") && e.contains("undefined"), "{e}");
}

#[test]
fn password_hash_is_crypt3_with_the_salt_given() {
    // The vectors of `openssl passwd -6/-5 -salt saltstring 'Hello world!'`.
    let ctx = json!({"pw": "Hello world!"});
    assert_eq!(
        render(
            "{{ pw | password_hash('sha512', 'saltstring') }}",
            ctx.clone()
        ),
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
    );
    assert_eq!(
        render(
            "{{ pw | password_hash('sha256', salt='saltstring') }}",
            ctx.clone()
        ),
        "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
    );
    let with_rounds = render(
        "{{ pw | password_hash('sha512', 'abc', rounds=6000) }}",
        ctx.clone(),
    );
    assert!(
        with_rounds
            .as_str()
            .unwrap()
            .starts_with("$6$rounds=6000$abc$"),
        "{with_rounds}"
    );
    assert!(err("{{ pw | password_hash('sha512') }}", ctx.clone()).contains("needs a salt"));
    assert!(
        err("{{ pw | password_hash('sha512', 'a b') }}", ctx.clone()).contains("a salt is 1 to 16")
    );
    assert!(
        err("{{ pw | password_hash('md5', 'ab') }}", ctx.clone()).contains("'md5' is not offered")
    );
    assert!(err("{{ pw | password_hash('sha512', 'ab', color=1) }}", ctx).contains("color"));
}

#[test]
fn now_is_one_instant_for_the_run() {
    let a = render("{{ now(utc=true) }}", json!({}));
    let a = a.as_str().unwrap();
    // Python's str(datetime): 2026-12-04 00:10:11.123456
    assert_eq!(a.len(), 26, "{a}");
    assert_eq!(&a[4..5], "-");
    assert_eq!(render("{{ now(utc=true) }}", json!({})), a);
    let day = render("{{ now(utc=true, fmt='%Y-%m-%d') }}", json!({}));
    assert_eq!(day, a[..10]);
    assert!(err("{{ now(utc=true, fmt='%Q') }}", json!({})).contains("now(fmt='%Q')"));
}

#[test]
fn default_omit_leaves_the_parameter_out() {
    let t = Templates::default();
    let params =
        json!({"path": "/a", "mode": "{{ m | default(omit) }}", "nested": {"x": "{{ omit }}"}});
    assert_eq!(
        t.render(&params, &json!({})).unwrap(),
        json!({"path": "/a", "nested": {}})
    );
    assert_eq!(
        t.render(&params, &json!({"m": "0600"})).unwrap()["mode"],
        "0600"
    );
    let (at, e) = t
        .render(&json!({"a": ["{{ omit }}"]}), &json!({}))
        .unwrap_err();
    assert_eq!(at, "/a/0");
    assert!(
        e.contains("omit can only stand for a whole parameter"),
        "{e}"
    );
    assert!(t.render(&json!({"a": "x{{ omit }}"}), &json!({})).is_err());
}
