//! Host patterns of a step's `on:` and of `--limit`, as in Ansible:
//! `all` or `*`, a group, a host, globs (`web*`, `db-?`, `h[12]x`),
//! regular expressions (`~web\d+`, matched from the start of the name),
//! subscripts `group[0]`, `group[-1]`, and inclusive ranges
//! `group[0:1]` (two hosts, as in Ansible) and `group[1:]`; unions `a:b`
//! (or `a,b`), intersections `a:&b`, exclusions `a:!b`.

use regex::Regex;

use crate::inventory::Inventory;

/// The hosts matched by `pattern`, in inventory order.
pub fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>, String> {
    let mut selected: Vec<String> = Vec::new();
    let terms = split_terms(pattern);
    if terms.is_empty() {
        return Err("empty host pattern".into());
    }
    for term in terms {
        if let Some(t) = term.strip_prefix('!') {
            let out = resolve(inv, t)?;
            selected.retain(|h| !out.contains(h));
        } else if let Some(t) = term.strip_prefix('&') {
            let keep = resolve(inv, t)?;
            selected.retain(|h| keep.contains(h));
        } else {
            for h in resolve(inv, term)? {
                if !selected.contains(&h) {
                    selected.push(h);
                }
            }
        }
    }
    sort_by_inventory(inv, &mut selected);
    Ok(selected)
}

fn sort_by_inventory(inv: &Inventory, hosts: &mut [String]) {
    let order: Vec<&String> = inv.hosts.iter().map(|h| &h.name).collect();
    hosts.sort_by_key(|h| order.iter().position(|o| *o == h));
}

/// Split on `:` and `,` outside `[...]` (and a regex's `{m,n}`).
fn split_terms(pattern: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in pattern.char_indices() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth = depth.saturating_sub(1),
            ':' | ',' if depth == 0 => {
                terms.push(pattern[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(pattern[start..].trim());
    terms.retain(|t| !t.is_empty());
    terms
}

/// A term's subscript: one host, or an inclusive range.
#[derive(Debug, PartialEq)]
enum Subscript {
    Index(i64),
    Range(usize, Option<usize>),
}

/// Split `expr[sub]` into the expression and its subscript, refusing the
/// forms whose meaning differs between Python and Ansible.
fn split_subscript(term: &str) -> Result<(&str, Option<Subscript>), String> {
    if term.starts_with('~') || !term.ends_with(']') {
        return Ok((term, None));
    }
    let Some(open) = term.rfind('[') else {
        return Ok((term, None));
    };
    let (expr, inner) = (&term[..open], &term[open + 1..term.len() - 1]);
    if expr.is_empty() {
        return Ok((term, None));
    }
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Ok(i) = inner.parse::<i64>()
        && (number(inner) || inner.strip_prefix('-').is_some_and(number))
    {
        return Ok((expr, Some(Subscript::Index(i))));
    }
    let Some((a, b)) = inner.split_once(':') else {
        if let Some((a, b)) = inner.split_once('-')
            && number(a)
            && (b.is_empty() || number(b))
        {
            return Err(format!(
                "'{term}': write {expr}[{a}:{b}] (Ansible no longer reads the form with '-')"
            ));
        }
        // A glob's character class, as `h[12x]`.
        return Ok((term, None));
    };
    let bound = |s: &str| -> Result<usize, String> {
        if number(s) {
            return s
                .parse()
                .map_err(|_| format!("'{term}': '{s}' is too large"));
        }
        Err(if s.starts_with('-') {
            format!(
                "'{term}': a range cannot start or end at a negative index (Ansible does not read it, and Python would); use {expr}[-1] for the last host, or count from the start"
            )
        } else if s.is_empty() {
            format!(
                "'{term}': write the start, as in {expr}[0:{b}]: ranges include their end, as in Ansible, so {expr}[0:{b}] is the first {} host(s)",
                b.parse::<usize>()
                    .map(|n| (n + 1).to_string())
                    .unwrap_or("N+1".into())
            )
        } else {
            format!("'{term}': '{s}' is not an index")
        })
    };
    let start = bound(a)?;
    let end = if b.is_empty() { None } else { Some(bound(b)?) };
    Ok((expr, Some(Subscript::Range(start, end))))
}

/// Whether a term is matched as a glob (or names hosts beyond groups).
fn is_glob(expr: &str) -> bool {
    expr.contains(['*', '?', '['])
}

/// fnmatch's glob as an anchored regular expression.
fn glob_regex(glob: &str) -> Result<Regex, String> {
    let mut re = String::from("^(?:");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                let mut first = true;
                for c in chars.by_ref() {
                    if c == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    if c == '\\' || c == '[' || c == '&' || c == '~' || c == '^' {
                        class.push('\\');
                    }
                    class.push(c);
                }
                if !closed {
                    return Err(format!("'{glob}': missing ']'"));
                }
                re.push('[');
                re.push_str(&class);
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    Regex::new(&re).map_err(|e| format!("'{glob}': {e}"))
}

fn resolve(inv: &Inventory, term: &str) -> Result<Vec<String>, String> {
    let (expr, subscript) = split_subscript(term)?;
    let mut members: Vec<String> = if expr == "all" {
        inv.hosts.iter().map(|h| h.name.clone()).collect()
    } else if let Some(re) = expr.strip_prefix('~') {
        // Python's re.match: anchored at the start only.
        let re = Regex::new(&format!("^(?:{re})"))
            .map_err(|e| format!("'{term}': not a regular expression: {e}"))?;
        matching(inv, |name| re.is_match(name))
    } else if is_glob(expr) {
        let re = glob_regex(expr)?;
        matching(inv, |name| re.is_match(name))
    } else if let Some(g) = inv.groups.get(expr) {
        g.clone()
    } else if inv.host(expr).is_some() {
        vec![expr.to_string()]
    } else {
        let mut known: Vec<&str> = inv.groups.keys().map(String::as_str).collect();
        known.extend(inv.hosts.iter().map(|h| h.name.as_str()));
        return Err(format!(
            "'{expr}' is neither a group nor a host of the inventory (known: {})",
            known.join(", ")
        ));
    };
    if members.is_empty() && (expr.starts_with('~') || is_glob(expr)) {
        return Err(format!(
            "'{expr}' matches no group or host of the inventory"
        ));
    }
    sort_by_inventory(inv, &mut members);
    let len = members.len();
    match subscript {
        None => Ok(members),
        Some(Subscript::Index(i)) => {
            let at = if i < 0 { len as i64 + i } else { i };
            if at < 0 || at >= len as i64 {
                return Err(format!(
                    "'{term}': index out of range ({expr} has {len} hosts)"
                ));
            }
            Ok(vec![members[at as usize].clone()])
        }
        Some(Subscript::Range(start, end)) => {
            let end = end.map_or(len, |e| (e + 1).min(len));
            let start = start.min(len);
            Ok(members[start..end.max(start)].to_vec())
        }
    }
}

/// The hosts of every group whose name matches, and every host whose name
/// does (Ansible looks at hosts too when the term is a glob or regex).
fn matching(inv: &Inventory, is_match: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (g, members) in &inv.groups {
        if is_match(g) {
            for h in members {
                if !out.contains(h) {
                    out.push(h.clone());
                }
            }
        }
    }
    for h in &inv.hosts {
        if is_match(&h.name) && !out.contains(&h.name) {
            out.push(h.name.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::Document;
    use std::path::Path;

    fn inv() -> Inventory {
        let doc = Document::parse(
            Path::new("i.yaml"),
            "all:\n  children:\n    rabbits:\n      hosts: {r1: , r2: , r3: }\n    balancers:\n      hosts: {lb1: , lb2: }\n",
        )
        .unwrap();
        Inventory::from_document(&doc).unwrap()
    }

    #[test]
    fn patterns() {
        let inv = inv();
        let s = |p: &str| select(&inv, p).unwrap();
        assert_eq!(s("rabbits[0]"), ["r1"]);
        assert_eq!(s("rabbits[1:]"), ["r2", "r3"]);
        assert_eq!(s("rabbits[-1]"), ["r3"]);
        assert_eq!(s("lb2:rabbits[0]"), ["r1", "lb2"]);
        assert_eq!(s("all:!balancers"), ["r1", "r2", "r3"]);
        assert_eq!(s("all:&balancers"), ["lb1", "lb2"]);
        assert_eq!(s("r2,lb1"), ["r2", "lb1"]);
        let err = select(&inv, "rabbitz").unwrap_err();
        assert!(err.contains("neither a group nor a host"), "{err}");
        assert!(select(&inv, "rabbits[7]").is_err());
    }

    /// Ansible's ranges include their end: `web[0:1]` is two hosts.
    #[test]
    fn ranges_are_inclusive_as_in_ansible() {
        let inv = inv();
        let s = |p: &str| select(&inv, p).unwrap();
        assert_eq!(s("rabbits[0:1]"), ["r1", "r2"]);
        assert_eq!(s("rabbits[1:1]"), ["r2"]);
        assert_eq!(s("rabbits[0:9]"), ["r1", "r2", "r3"]);
        assert_eq!(s("rabbits[0:2]:!rabbits[1]"), ["r1", "r3"]);
        let e = |p: &str| select(&inv, p).unwrap_err();
        let err = e("rabbits[:1]");
        assert!(
            err.contains("rabbits[0:1]") && err.contains("include their end"),
            "{err}"
        );
        let err = e("rabbits[-2:]");
        assert!(err.contains("negative"), "{err}");
        let err = e("rabbits[0-1]");
        assert!(err.contains("rabbits[0:1]"), "{err}");
    }

    #[test]
    fn star_globs_and_regexes() {
        let inv = inv();
        let s = |p: &str| select(&inv, p).unwrap();
        assert_eq!(s("*"), ["r1", "r2", "r3", "lb1", "lb2"]);
        assert_eq!(s("lb*"), ["lb1", "lb2"]);
        assert_eq!(s("r?"), ["r1", "r2", "r3"]);
        assert_eq!(s("r[!2]"), ["r1", "r3"]);
        assert_eq!(s("[lr]*2"), ["r2", "lb2"]);
        // A glob matches group names too: `rabb*` is the rabbits group.
        assert_eq!(s("rabb*"), ["r1", "r2", "r3"]);
        assert_eq!(s("rabb*[-1]"), ["r3"]);
        assert_eq!(s("~r[12]"), ["r1", "r2"]);
        assert_eq!(s("~(lb|r)2"), ["r2", "lb2"]);
        assert_eq!(s("~r\\d{1,2}:!r2"), ["r1", "r3"]);
        // Anchored at the start, as Python's re.match.
        assert_eq!(s("~b"), ["lb1", "lb2"]);
        let err = select(&inv, "db*").unwrap_err();
        assert!(err.contains("matches no group or host"), "{err}");
        let err = select(&inv, "~(").unwrap_err();
        assert!(err.contains("not a regular expression"), "{err}");
    }
}
