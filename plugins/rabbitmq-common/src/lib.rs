//! How the RabbitMQ plugins reach a node: `rabbitmqctl` inside the node's
//! container (`docker exec`) or natively for changes, and the management
//! API — milliseconds per question where the CLI starts an Erlang VM —
//! for observation when a URL is given.
//!
//! Plugins embed [`NodeAccess`] in their parameters with
//! `#[serde(flatten)]`; its schema properties come with it.

use runner_plugin_sdk::{Action, GetError, actions, basic_auth, get_json};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// How to reach the node (its `container` default is in the schema, so
/// capability patterns see it).
#[derive(Deserialize, JsonSchema)]
pub struct NodeAccess {
    /// Container of the node; empty for a native install.
    #[serde(default = "default_container")]
    #[schemars(regex(pattern = "^[A-Za-z0-9_.-]*$"))]
    pub container: String,
    /// Observe through this node's management API, e.g. `http://10.0.0.11:15672`.
    #[schemars(regex(pattern = r"^https?://[^/\s]+$"))]
    pub management_url: Option<String>,
    /// The management API's user.
    #[serde(default = "default_admin")]
    pub admin_user: String,
    /// The management API user's password.
    pub admin_password: Option<String>,
}

fn default_container() -> String {
    "rabbit".into()
}
fn default_admin() -> String {
    "admin".into()
}

/// Capability patterns for `rabbitmqctl ARGS` run either way.
pub fn ctl_patterns(args: &str) -> Vec<String> {
    vec![
        format!("docker exec {{container}} rabbitmqctl {args}"),
        format!("rabbitmqctl {args}"),
    ]
}

impl NodeAccess {
    /// `rabbitmqctl ARGS`, in the container when there is one.
    pub fn ctl(&self, args: &str) -> String {
        format!("{}rabbitmqctl {args}", self.exec_prefix())
    }

    /// `rabbitmq-diagnostics -q CHECK`, in the container when there is one.
    pub fn diag(&self, check: &str) -> String {
        format!("{}rabbitmq-diagnostics -q {check}", self.exec_prefix())
    }

    /// `docker exec CONTAINER ` or nothing.
    pub fn exec_prefix(&self) -> String {
        if self.container.is_empty() {
            String::new()
        } else {
            format!("docker exec {} ", self.container)
        }
    }

    /// The API's base URL and credentials, when observation goes through it.
    pub fn api(&self) -> Result<Option<Api>, String> {
        let Some(url) = &self.management_url else {
            return Ok(None);
        };
        let password = self
            .admin_password
            .as_deref()
            .ok_or("management_url needs admin_password")?;
        Ok(Some(Api {
            base: url.trim_end_matches('/').to_string(),
            auth: basic_auth(&self.admin_user, password),
        }))
    }
}

pub struct Api {
    pub base: String,
    auth: (String, String),
}

impl Api {
    /// GET `/api/{path}` as JSON.
    pub fn get(&self, path: &str) -> Result<Value, GetError> {
        get_json(
            &format!("{}/api/{path}", self.base),
            std::slice::from_ref(&self.auth),
        )
    }

    /// An action that sends `method /api/{path}` (JSON `body`, if any)
    /// with the admin's credentials: a change made by HTTP, where
    /// `rabbitmqctl` would start an Erlang VM (about a second) for it. The
    /// runner masks the credentials wherever it shows the action.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>, summary: String) -> Action {
        let mut headers = vec![self.auth.clone()];
        if body.is_some() {
            headers.push(("Content-Type".into(), "application/json".into()));
        }
        actions::described(
            actions::http(
                method,
                &format!("{}/api/{path}", self.base),
                headers,
                body.map(Value::to_string),
            ),
            summary,
        )
    }

    /// How the API takes the admin's credentials (asking `/api/overview`).
    pub fn state(&self) -> ApiState {
        let url = format!("{}/api/overview", self.base);
        match runner_plugin_sdk::http_get(&url, std::slice::from_ref(&self.auth)) {
            Err(reason) => ApiState::NoAnswer(reason),
            Ok(r) if (200..300).contains(&r.status) => ApiState::Answers,
            Ok(r) if r.status == 401 || r.status == 403 => ApiState::Refused(r.status),
            Ok(r) => ApiState::NoAnswer(format!("HTTP {}", r.status)),
        }
    }
}

/// What the management API made of the plugin's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiState {
    /// 2xx: the node runs, and takes the admin's password.
    Answers,
    /// Nothing answered, or not yet (connection refused, 503 while booting).
    NoAnswer(String),
    /// 401 or 403: the node runs, but its admin user does not have the
    /// password (or the tag) the plugin was given — a node first booted
    /// with other secrets keeps the password it was created with.
    Refused(u16),
}
