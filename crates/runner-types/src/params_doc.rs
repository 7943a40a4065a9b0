//! What a plugin's parameter schema says of each parameter, for people:
//! name, type, whether it is required, its default and its description
//! (`runner plugins show` prints them as a table).

use serde_json::Value;

/// One top-level parameter of a plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDoc {
    pub name: String,
    /// `string`, `integer`, `array of string`, `2 | 3`, `string or object`, …
    pub kind: String,
    pub required: bool,
    pub default: Option<Value>,
    pub description: Option<String>,
}

/// The parameters of `schema` (an object schema), in its order.
pub fn param_docs(schema: &Value) -> Vec<ParamDoc> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, prop)| ParamDoc {
            name: name.clone(),
            kind: kind_of(prop),
            required: required.contains(&name.as_str()),
            default: prop.get("default").cloned(),
            description: prop["description"].as_str().map(one_line),
        })
        .collect()
}

/// A short human name for the type a subschema accepts.
pub fn kind_of(schema: &Value) -> String {
    if let Some(values) = schema["enum"].as_array() {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema[key].as_array() {
            return options.iter().map(kind_of).collect::<Vec<_>>().join(" or ");
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return "any".into(),
    };
    types
        .iter()
        .map(|t| match (*t, schema.get("items")) {
            ("array", Some(items)) => format!("array of {}", kind_of(items)),
            (t, _) => t.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Doc comments keep their line breaks; a table cell wants one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_parameter_has_its_type_default_and_description() {
        let schema = json!({
            "type": "object",
            "required": ["vip"],
            "properties": {
                "vip": {"type": "string", "description": "The virtual\n IP."},
                "prefix": {"type": "integer", "default": 24},
                "vrrp_version": {"type": "integer", "enum": [2, 3], "default": 3},
                "peers": {"type": "array", "items": {"type": "string"}, "default": []},
                "backends": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
                "free": {}
            }
        });
        let docs = param_docs(&schema);
        let row = |n: &str| docs.iter().find(|d| d.name == n).unwrap().clone();
        assert_eq!(docs[0].name, "vip", "the schema's order is kept");
        assert!(row("vip").required && !row("prefix").required);
        assert_eq!(row("vip").description.as_deref(), Some("The virtual IP."));
        assert_eq!(row("prefix").default, Some(json!(24)));
        assert_eq!(row("vrrp_version").kind, "2 | 3");
        assert_eq!(row("peers").kind, "array of string");
        assert_eq!(row("backends").kind, "array of string or object");
        assert_eq!(row("free").kind, "any");
        assert_eq!(row("vip").default, None);
    }

    #[test]
    fn a_schema_without_properties_has_no_parameters() {
        assert!(param_docs(&json!({"type": "object"})).is_empty());
    }
}
