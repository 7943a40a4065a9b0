//! The filters and lookups Ansible users reach for, on top of minijinja's
//! own: `extract`, `zip`, `to_json`, `to_nice_json`, `to_yaml`,
//! `to_nice_yaml`, `b64encode`, `b64decode`, `regex_replace` (Python's
//! `\1` back-references), `regex_search`, `combine`, `dict2items`,
//! `items2dict`, `flatten`, `quote`, `basename`, `dirname`, `ternary`,
//! `mandatory`, `hash` (sha256, sha512), and `lookup('env', NAME)`,
//! `lookup('file', PATH)` and `lookup('template', PATH)` (relative to the
//! playbook; a template file renders as Ansible's template module does,
//! with `trim_blocks` and `{% include %}`); `password_hash` (with a
//! salt: [`password`]) and `now()` ([`clock`]). `omit` is in
//! [`super::omit`].

mod clock;
mod password;
mod pyjson;

pub use clock::capture_local_offset;

use base64::Engine;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, State, Value};

type Result<T> = std::result::Result<T, Error>;

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("extract", extract);
    env.add_filter("zip", zip);
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_nice_yaml", to_yaml);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("flatten", flatten);
    env.add_filter("quote", quote);
    env.add_filter("basename", basename);
    env.add_filter("dirname", dirname);
    env.add_filter("ternary", ternary);
    env.add_filter("mandatory", mandatory);
    env.add_filter("hash", hash);
    env.add_filter("password_hash", password::password_hash);
    env.add_function("lookup", lookup);
    env.add_function("now", clock::now);
}

fn bad(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn json_of(v: &Value) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| bad(e.to_string()))
}

/// `groups.web | map('extract', hostvars, 'ansible_host')`.
fn extract(key: Value, container: Value, attr: Option<Value>) -> Result<Value> {
    let item = container.get_item(&key)?;
    match attr {
        Some(a) => item.get_item(&a),
        None => Ok(item),
    }
}

/// Pairs of items, as long as the shorter list.
fn zip(a: Value, b: Value) -> Result<Value> {
    let left: Vec<Value> = a.try_iter()?.collect();
    let right: Vec<Value> = b.try_iter()?.collect();
    Ok(Value::from(
        left.into_iter()
            .zip(right)
            .map(|(x, y)| Value::from(vec![x, y]))
            .collect::<Vec<_>>(),
    ))
}

/// As Python's `json.dumps` ([`pyjson`]).
fn to_json(v: Value) -> Result<String> {
    pyjson::dumps(&json_of(&v)?).map_err(|e| bad(e.to_string()))
}

/// Indented by four spaces, keys sorted, as Ansible's.
fn to_nice_json(v: Value) -> Result<String> {
    pyjson::dumps_nice(&json_of(&v)?).map_err(|e| bad(e.to_string()))
}

fn to_yaml(v: Value) -> Result<String> {
    serde_yaml_ng::to_string(&json_of(&v)?).map_err(|e| bad(e.to_string()))
}

fn b64encode(s: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn b64decode(s: String) -> Result<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| bad(format!("b64decode: {e}")))?;
    String::from_utf8(bytes).map_err(|_| bad("b64decode: the decoded bytes are not UTF-8 text"))
}

fn regex(pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| bad(format!("regex '{pattern}': {e}")))
}

/// Python's `\1` and `\g<name>` become the regex crate's `${1}`, `${name}`.
fn python_replacement(rep: &str) -> String {
    // minijinja reads '\1' in a string literal as the octal escape \x01;
    // Ansible's Jinja keeps it a back-reference. A control character 1-7
    // in a replacement is that back-reference.
    let rep: String = rep
        .chars()
        .map(|c| match c {
            '\u{1}'..='\u{7}' => format!("\\{}", c as u32),
            c => c.to_string(),
        })
        .collect();
    let named = regex::Regex::new(r"\\g<(\w+)>").expect("a valid regex");
    let numbered = regex::Regex::new(r"\\(\d+)").expect("a valid regex");
    let rep = rep.replace('$', "$$");
    let rep = named.replace_all(&rep, "$${$1}");
    numbered.replace_all(&rep, "$${$1}").into_owned()
}

fn regex_replace(s: String, pattern: String, replacement: Option<String>) -> Result<String> {
    let rep = python_replacement(&replacement.unwrap_or_default());
    Ok(regex(&pattern)?.replace_all(&s, rep.as_str()).into_owned())
}

/// The first match, or none.
fn regex_search(s: String, pattern: String) -> Result<Value> {
    Ok(match regex(&pattern)?.find(&s) {
        Some(m) => Value::from(m.as_str()),
        None => Value::from(()),
    })
}

/// Later mappings win; `recursive=true` merges nested mappings too.
fn combine(first: Value, rest: minijinja::value::Rest<Value>, kwargs: Kwargs) -> Result<Value> {
    let recursive: Option<bool> = kwargs.get("recursive")?;
    kwargs.assert_all_used()?;
    let mut out = json_of(&first)?;
    for more in rest.iter() {
        merge(&mut out, json_of(more)?, recursive.unwrap_or(false))?;
    }
    Ok(Value::from_serialize(&out))
}

fn merge(into: &mut serde_json::Value, more: serde_json::Value, recursive: bool) -> Result<()> {
    let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), more) else {
        return Err(bad("combine: only mappings combine"));
    };
    for (k, v) in b {
        match a.get_mut(&k) {
            Some(old) if recursive && old.is_object() && v.is_object() => merge(old, v, true)?,
            _ => {
                a.insert(k, v);
            }
        }
    }
    Ok(())
}

fn dict2items(d: Value) -> Result<Value> {
    let serde_json::Value::Object(m) = json_of(&d)? else {
        return Err(bad("dict2items: not a mapping"));
    };
    let items: Vec<serde_json::Value> = m
        .into_iter()
        .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
        .collect();
    Ok(Value::from_serialize(&items))
}

fn items2dict(items: Value) -> Result<Value> {
    let serde_json::Value::Array(list) = json_of(&items)? else {
        return Err(bad("items2dict: not a list"));
    };
    let mut out = serde_json::Map::new();
    for item in list {
        let key = match &item["key"] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => return Err(bad("items2dict: an item without 'key'")),
            other => other.to_string(),
        };
        out.insert(key, item["value"].clone());
    }
    Ok(Value::from_serialize(&out))
}

/// Nested lists flattened, all the way or `levels` deep.
fn flatten(list: Value, levels: Option<usize>) -> Result<Value> {
    fn go(v: serde_json::Value, depth: Option<usize>, out: &mut Vec<serde_json::Value>) {
        match v {
            serde_json::Value::Array(items) if depth != Some(0) => {
                for i in items {
                    go(i, depth.map(|d| d - 1), out);
                }
            }
            other => out.push(other),
        }
    }
    let serde_json::Value::Array(items) = json_of(&list)? else {
        return Err(bad("flatten: not a list"));
    };
    let mut out = Vec::new();
    for i in items {
        go(i, levels, &mut out);
    }
    Ok(Value::from_serialize(&out))
}

/// Quoted for a POSIX shell, read back exactly.
fn quote(s: String) -> Result<String> {
    runner_types::shell::quote(&s).map_err(|e| bad(format!("quote: {e}")))
}

fn basename(s: String) -> String {
    s.rsplit('/').next().unwrap_or_default().to_string()
}

fn dirname(s: String) -> String {
    match s.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => s[..i].to_string(),
        None => String::new(),
    }
}

fn ternary(cond: Value, yes: Value, no: Value) -> Value {
    if cond.is_true() { yes } else { no }
}

fn mandatory(v: Value, msg: Option<String>) -> Result<Value> {
    if v.is_undefined() {
        return Err(bad(
            msg.unwrap_or_else(|| "a mandatory variable is not defined".into())
        ));
    }
    Ok(v)
}

/// Hex digest: `sha256` (the default here; Ansible's is sha1, which
/// runner does not offer) or `sha512`.
fn hash(s: String, algo: Option<String>) -> Result<String> {
    use sha2::Digest;
    match algo.as_deref().unwrap_or("sha256") {
        "sha256" => Ok(hex::encode(sha2::Sha256::digest(s.as_bytes()))),
        "sha512" => Ok(hex::encode(sha2::Sha512::digest(s.as_bytes()))),
        other => Err(bad(format!(
            "hash: '{other}' is not offered (sha256 or sha512)"
        ))),
    }
}

/// `lookup('env', NAME)` (empty when unset, as Ansible's),
/// `lookup('file', PATH)` (relative to the playbook; trailing newlines
/// stripped, as Ansible's) and `lookup('template', PATH)` (a `.j2` file
/// beside the playbook, rendered as Ansible's template module does).
fn lookup(state: &State, kind: String, arg: String) -> Result<Value> {
    let base = state
        .lookup("playbook_dir")
        .and_then(|v| v.as_str().map(std::path::PathBuf::from))
        .unwrap_or_default();
    match kind.as_str() {
        "env" => Ok(Value::from(std::env::var(&arg).unwrap_or_default())),
        "file" => {
            let path = base.join(&arg);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| bad(format!("lookup('file', '{arg}'): {}: {e}", path.display())))?;
            Ok(Value::from(text.trim_end_matches('\n')))
        }
        "template" => render_file(state, &base, &arg).map(Value::from),
        other => Err(bad(format!(
            "lookup('{other}', ...): runner offers lookup('env', ...), lookup('file', ...) and lookup('template', ...)"
        ))),
    }
}

/// A template file under `base`, with the caller's variables, as
/// Ansible's template module renders it: `trim_blocks` (a block tag's
/// newline goes), the last newline dropped, `{% include %}` and
/// `{% import %}` of other files under `base` (never above it).
fn render_file(state: &State, base: &std::path::Path, name: &str) -> Result<String> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_loader(minijinja::path_loader(base));
    register(&mut env);
    let ctx: std::collections::BTreeMap<String, Value> = state
        .known_variables()
        .into_iter()
        .filter_map(|k| Some((k.to_string(), state.lookup(&k)?)))
        .collect();
    let template = env
        .get_template(name)
        .map_err(|e| bad(format!("lookup('template', '{name}'): {e}")))?;
    template
        .render(ctx)
        .map_err(|e| bad(format!("lookup('template', '{name}'): {e}")))
}

#[cfg(test)]
mod tests;
