//! Ansible's "become" for one host and one step. The playbook's `become`,
//! `become_user` and `become_method` keywords (top level, then the step)
//! say what a step wants; the inventory's `ansible_become`,
//! `ansible_become_user` and `ansible_become_method` win over them, as
//! connection variables win over keywords in Ansible.

use runner_transport::escalate::{Escalation, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Host, truthy};

/// The `become*` keywords of a playbook or a step; unset ones inherit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BecomeKeywords {
    #[serde(default, rename = "become", skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(
        default,
        rename = "become_user",
        skip_serializing_if = "Option::is_none"
    )]
    pub user: Option<String>,
    #[serde(
        default,
        rename = "become_method",
        skip_serializing_if = "Option::is_none"
    )]
    pub method: Option<Method>,
}

impl BecomeKeywords {
    /// `self`, with what it leaves unset taken from `outer`.
    pub fn or(&self, outer: &BecomeKeywords) -> BecomeKeywords {
        BecomeKeywords {
            enabled: self.enabled.or(outer.enabled),
            user: self.user.clone().or_else(|| outer.user.clone()),
            method: self.method.or(outer.method),
        }
    }
}

/// The inventory's become variables, understood by the runner.
pub(super) const BECOME_VARS: &[&str] = &[
    "ansible_become",
    "ansible_become_user",
    "ansible_become_method",
];

/// Become variables runner reads but cannot follow as Ansible would:
/// they are refused when they ask for something.
pub(super) const LEGACY_BECOME: &[&str] = &["ansible_sudo", "ansible_su"];

/// Passwords: never sent (`sudo -n`).
pub(super) const BECOME_PASSWORDS: &[&str] = &["ansible_become_password", "ansible_become_pass"];

impl Host {
    /// Who `step`'s commands run as on this host: `None` is the login
    /// user. An error names a variable the runner cannot follow.
    pub fn escalation(&self, step: &BecomeKeywords) -> Result<Option<Escalation>, String> {
        let vars = BecomeKeywords {
            enabled: self.vars.get("ansible_become").map(truthy),
            user: self.text(&["ansible_become_user"]),
            method: match self.text(&["ansible_become_method"]) {
                None => None,
                Some(m) => Some(Method::parse(&m).ok_or_else(|| {
                    format!(
                        "host {}: ansible_become_method '{m}' is not supported (runner becomes through sudo or su)",
                        self.name
                    )
                })?),
            },
        }
        .or(step);
        if vars.enabled != Some(true) {
            return Ok(None);
        }
        let user = vars.user.unwrap_or_else(|| "root".into());
        Escalation::new(vars.method.unwrap_or(Method::Sudo), &user)
            .map(Some)
            .map_err(|e| format!("host {}: {e}", self.name))
    }

    /// A legacy `ansible_sudo`/`ansible_su` that asks for become: an
    /// error, as following it half would run commands as the wrong user.
    pub(super) fn legacy_become(&self, var: &str, value: &Value) -> Option<String> {
        (LEGACY_BECOME.contains(&var) && truthy(value)).then(|| {
            format!(
                "host {}: {var} is true, but runner reads only ansible_become, ansible_become_user and ansible_become_method; commands would run as {}. Write ansible_become: true instead",
                self.name,
                self.runs_as()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(vars: Value) -> Host {
        Host {
            name: "h".into(),
            vars: vars.as_object().unwrap().clone(),
            groups: vec![],
        }
    }

    fn step(enabled: Option<bool>, user: Option<&str>, method: Option<Method>) -> BecomeKeywords {
        BecomeKeywords {
            enabled,
            user: user.map(str::to_string),
            method,
        }
    }

    #[test]
    fn inventory_variables_win_over_the_step_keywords() {
        let none = BecomeKeywords::default();
        assert_eq!(host(json!({})).escalation(&none), Ok(None));
        let h = host(json!({"ansible_become": "yes", "ansible_become_user": "nobody"}));
        let e = h.escalation(&none).unwrap().unwrap();
        assert_eq!((e.method, e.user.as_str()), (Method::Sudo, "nobody"));
        // The step asks for su as postgres; the host's user wins, its
        // method is unset so the step's is used.
        let e = h
            .escalation(&step(Some(true), Some("postgres"), Some(Method::Su)))
            .unwrap()
            .unwrap();
        assert_eq!((e.method, e.user.as_str()), (Method::Su, "nobody"));
        // A step's become: false does not beat ansible_become: true.
        assert!(
            h.escalation(&step(Some(false), None, None))
                .unwrap()
                .is_some()
        );
        // And the host's false beats the step's true.
        let h = host(json!({"ansible_become": false}));
        assert_eq!(h.escalation(&step(Some(true), None, None)), Ok(None));
        // The step alone: root through sudo by default.
        let e = host(json!({}))
            .escalation(&step(Some(true), None, None))
            .unwrap()
            .unwrap();
        assert_eq!((e.method, e.user.as_str()), (Method::Sudo, "root"));
    }

    #[test]
    fn what_cannot_be_followed_is_refused() {
        let h = host(json!({"ansible_become": true, "ansible_become_method": "doas"}));
        let err = h.escalation(&BecomeKeywords::default()).unwrap_err();
        assert!(
            err.contains("ansible_become_method 'doas' is not supported"),
            "{err}"
        );
        let h = host(json!({"ansible_become": true, "ansible_become_user": "a b"}));
        assert!(h.escalation(&BecomeKeywords::default()).is_err());
        // Nothing su or sudo could read as an option, or as root.
        for (method, user) in [
            (Method::Su, "--command=touch /tmp/x"),
            (Method::Su, "-"),
            (Method::Sudo, "#0"),
            (Method::Sudo, "-u"),
            (Method::Su, "0"),
        ] {
            let err = host(json!({}))
                .escalation(&step(Some(true), Some(user), Some(method)))
                .unwrap_err();
            assert!(err.starts_with("host h: become_user"), "{err}");
        }
        let e = host(json!({}))
            .escalation(&step(Some(true), Some("0"), None))
            .unwrap()
            .unwrap();
        assert_eq!(e.to_string(), "root (uid 0) (through sudo)");
        let h = host(json!({"ansible_sudo": "yes"}));
        assert!(h.legacy_become("ansible_sudo", &json!("yes")).is_some());
        assert!(h.legacy_become("ansible_sudo", &json!(false)).is_none());
    }
}
