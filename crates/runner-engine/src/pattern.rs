//! Host patterns of a step's `on:` — Ansible's syntax:
//! `all`, `group`, `host`, `group[0]`, `group[1:]`, `group[-1]`,
//! unions `a:b` (or `a,b`), intersections `a:&b`, exclusions `a:!b`.

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
    // Inventory order, whatever order the terms came in.
    let order: Vec<&String> = inv.hosts.iter().map(|h| &h.name).collect();
    selected.sort_by_key(|h| order.iter().position(|o| *o == h));
    Ok(selected)
}

/// Split on `:` and `,` outside `[...]`.
fn split_terms(pattern: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
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

fn resolve(inv: &Inventory, term: &str) -> Result<Vec<String>, String> {
    let (name, slice) = match term.split_once('[') {
        Some((n, rest)) => {
            let inner = rest
                .strip_suffix(']')
                .ok_or_else(|| format!("'{term}': missing ']'"))?;
            (n, Some(inner))
        }
        None => (term, None),
    };
    let members: Vec<String> = if let Some(g) = inv.groups.get(name) {
        g.clone()
    } else if inv.host(name).is_some() {
        vec![name.to_string()]
    } else {
        let mut known: Vec<&str> = inv.groups.keys().map(String::as_str).collect();
        known.extend(inv.hosts.iter().map(|h| h.name.as_str()));
        return Err(format!(
            "'{name}' is neither a group nor a host of the inventory (known: {})",
            known.join(", ")
        ));
    };
    let Some(slice) = slice else {
        return Ok(members);
    };
    let len = members.len() as i64;
    let index = |s: &str, default: i64| -> Result<i64, String> {
        if s.trim().is_empty() {
            return Ok(default);
        }
        let i: i64 = s
            .trim()
            .parse()
            .map_err(|_| format!("'{term}': '{s}' is not an index"))?;
        Ok(if i < 0 { len + i } else { i })
    };
    match slice.split_once(':') {
        None => {
            let i = index(slice, 0)?;
            if i < 0 || i >= len {
                return Err(format!(
                    "'{term}': index out of range ({name} has {len} hosts)"
                ));
            }
            Ok(vec![members[i as usize].clone()])
        }
        Some((a, b)) => {
            let start = index(a, 0)?.clamp(0, len);
            let end = index(b, len)?.clamp(0, len);
            Ok(members[start as usize..end.max(start) as usize].to_vec())
        }
    }
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
}
