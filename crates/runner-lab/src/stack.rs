//! What the lab's hosts run, as data: a [`Stack`] is the service images
//! `up` builds from the lab's embedded recipes and loads into every host's
//! engine, plus the inventory variables that tell a playbook about them.
//! The built-in stacks are in `stacks/stacks.yaml`; the first is the
//! default.

use std::sync::LazyLock;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Mapping;

use crate::images::{Recipe, Suite};

/// One service image: its tag, the recipe it is built from, on which suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceImage {
    /// Tag in the outer engine and in each host's, e.g. `runner-lab/haproxy:3.0`.
    pub tag: String,
    /// Which of the lab's Dockerfiles builds it.
    pub recipe: Recipe,
    /// The Debian release it is built on.
    pub suite: Suite,
}

/// What the hosts run (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stack {
    /// The stack's name in the catalogue, e.g. `rabbitmq-4.0`.
    pub name: String,
    /// Images built and loaded into every host.
    pub images: Vec<ServiceImage>,
    /// Inventory variables (`all.vars`), in order.
    pub vars: Mapping,
}

#[derive(Deserialize)]
struct Entry {
    images: Vec<ServiceImage>,
    vars: Mapping,
}

static CATALOGUE: LazyLock<Vec<Stack>> = LazyLock::new(|| {
    parse_catalogue(include_str!("../stacks/stacks.yaml")).expect("stacks/stacks.yaml is valid")
});

fn parse_catalogue(text: &str) -> Result<Vec<Stack>> {
    let entries: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(text)?;
    entries
        .into_iter()
        .map(|(k, v)| {
            let name = k
                .as_str()
                .context("a stack name is not a string")?
                .to_string();
            let e: Entry = serde_yaml_ng::from_value(v).with_context(|| format!("stack {name}"))?;
            Ok(Stack {
                name,
                images: e.images,
                vars: e.vars,
            })
        })
        .collect()
}

impl Default for Stack {
    /// The catalogue's first stack.
    fn default() -> Self {
        CATALOGUE[0].clone()
    }
}

impl Stack {
    /// A built-in stack by name.
    pub fn builtin(name: &str) -> Result<Stack> {
        CATALOGUE
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .with_context(|| {
                format!(
                    "no lab stack {name}; there are {}",
                    Stack::builtin_names().join(", ")
                )
            })
    }

    /// The built-in stacks' names, the default first.
    pub fn builtin_names() -> Vec<&'static str> {
        CATALOGUE.iter().map(|s| s.name.as_str()).collect()
    }

    /// The image tags, in order.
    pub fn image_tags(&self) -> Vec<String> {
        self.images.iter().map(|i| i.tag.clone()).collect()
    }

    /// A variable's value as text, if it is set and a scalar.
    pub fn var(&self, name: &str) -> Option<String> {
        match self.vars.get(name)? {
            serde_yaml_ng::Value::String(s) => Some(s.clone()),
            serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
            serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue() {
        let d = Stack::default();
        assert_eq!(d.name, "rabbitmq-4.0");
        assert_eq!(
            d.image_tags(),
            ["runner-lab/rabbitmq:4.0", "runner-lab/haproxy:3.0"]
        );
        assert_eq!(d.var("rabbitmq_version").as_deref(), Some("4.0"));
        let old = Stack::builtin("rabbitmq-3.10").unwrap();
        assert_eq!(old.images[0].suite, Suite::Bookworm);
        assert_eq!(old.images[0].recipe, Recipe::Rabbitmq);
        let new = Stack::builtin("rabbitmq-4.3").unwrap();
        assert_eq!(new.images[0].suite, Suite::Forky);
        assert_eq!(new.var("rabbitmq_version").as_deref(), Some("4.3"));
        assert!(Stack::builtin("nope").is_err());
    }
}
