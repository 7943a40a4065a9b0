//! Jinja-style templating of step parameters (minijinja). A string that is
//! exactly one `{{ expression }}`, with nothing around it, keeps the
//! expression's type (a list stays a list, a number a number); any other
//! string renders as text, byte for byte (spaces and newlines kept).
//! Ansible's filters and lookups are in [`ansible`]; `omit` in [`omit`].

mod ansible;
mod omit;

pub use ansible::capture_local_offset;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        ansible::register(&mut env);
        env.add_global("omit", omit::PLACEHOLDER);
        Templates { env }
    }
}

impl Templates {
    /// Render every string inside `value` against `ctx`. Errors carry the
    /// JSON pointer (below `value`) of the string that failed.
    /// A mapping entry rendered to `omit` is left out.
    pub fn render(&self, value: &Value, ctx: &Value) -> Result<Value, (String, String)> {
        let mut out = self.render_at(value, ctx, String::new())?;
        omit::remove(&mut out, String::new())?;
        Ok(out)
    }

    fn render_at(&self, value: &Value, ctx: &Value, at: String) -> Result<Value, (String, String)> {
        Ok(match value {
            Value::String(s) => self.render_str(s, ctx).map_err(|e| (at, e))?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.render_at(v, ctx, format!("{at}/{i}")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let sub = format!("{at}/{}", crate::yaml::escape(k));
                        Ok::<_, (String, String)>((k.clone(), self.render_at(v, ctx, sub)?))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    pub fn render_str(&self, text: &str, ctx: &Value) -> Result<Value, String> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(Value::String(text.to_string()));
        }
        let mctx = minijinja::Value::from_serialize(ctx);
        if let Some(expr) = single_expression(text) {
            let compiled = self.env.compile_expression(expr).map_err(describe)?;
            let out = compiled.eval(mctx).map_err(describe)?;
            if out.is_undefined() {
                return Err(format!("undefined value: {expr}"));
            }
            return serde_json::to_value(&out).map_err(|e| e.to_string());
        }
        self.env
            .render_str(text, mctx)
            .map(Value::String)
            .map_err(describe)
    }

    /// Evaluate a `when:` condition.
    pub fn truthy(&self, expr: &str, ctx: &Value) -> Result<bool, String> {
        let compiled = self.env.compile_expression(expr).map_err(describe)?;
        let out = compiled
            .eval(minijinja::Value::from_serialize(ctx))
            .map_err(describe)?;
        Ok(out.is_true())
    }
}

fn describe(e: minijinja::Error) -> String {
    let mut msg = e.to_string();
    if let Some(d) = e.detail()
        && !msg.contains(d)
    {
        msg = format!("{msg}: {d}");
    }
    msg
}

/// `{{ expr }}` and nothing else around it, not even whitespace.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn native_types_and_strings() {
        let t = Templates::default();
        let ctx = json!({"n": 3, "hosts": ["a", "b"], "name": "x"});
        assert_eq!(
            t.render(
                &json!({"a": "{{ n }}", "b": "{{ hosts }}", "c": "v-{{ name }}", "d": 1}),
                &ctx
            )
            .unwrap(),
            json!({"a": 3, "b": ["a", "b"], "c": "v-x", "d": 1})
        );
        assert_eq!(
            t.render(&json!("{% for h in hosts %}{{ h }};{% endfor %}"), &ctx)
                .unwrap(),
            json!("a;b;")
        );
        let (at, err) = t.render(&json!({"k": ["{{ nope }}"]}), &ctx).unwrap_err();
        assert_eq!(at, "/k/0");
        assert!(err.contains("undefined"), "{err}");
        assert!(t.truthy("n > 2", &ctx).unwrap());
        // Only a string that is exactly one expression keeps its type;
        // anything around it is text, kept byte for byte.
        let ctx = json!({"greeting": "hello", "x": "y", "port": 5672});
        assert_eq!(
            t.render_str("{{ greeting }}\n", &ctx).unwrap(),
            json!("hello\n")
        );
        assert_eq!(t.render_str("  {{ x }}", &ctx).unwrap(), json!("  y"));
        assert_eq!(t.render_str("{{ port }}\n", &ctx).unwrap(), json!("5672\n"));
        assert_eq!(t.render_str("{{ port }}", &ctx).unwrap(), json!(5672));
        assert_eq!(
            t.render_str("a\n\n{{ x }}\n\n", &ctx).unwrap(),
            json!("a\n\ny\n\n")
        );
        let ctx = json!({"hosts": ["a", "b"], "hostvars": {"a": {"ip": "1"}, "b": {"ip": "2"}}});
        assert_eq!(
            t.render_str("{{ hosts | zip(hosts | map('extract', hostvars, 'ip')) | map('join', ':') | list }}", &ctx)
                .unwrap(),
            json!(["a:1", "b:2"])
        );
        assert_eq!(
            t.render_str("{{ hosts | reject('eq', 'a') | list }}", &ctx)
                .unwrap(),
            json!(["b"])
        );
    }
}
