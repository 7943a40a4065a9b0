//! Building the [`Plan`] a plugin returns: done, more after these, or
//! pending until earlier changes apply ("known after apply").

use crate::{Action, Plan};

impl Plan {
    /// These actions, and nothing after them. Empty: the host is as asked.
    pub fn done(actions: Vec<Action>) -> Plan {
        Plan {
            actions,
            replan: false,
            pending: None,
        }
    }

    /// These actions, then call the plugin again (stage + 1) once they ran.
    pub fn then_replan(actions: Vec<Action>) -> Plan {
        Plan {
            actions,
            replan: true,
            pending: None,
        }
    }

    /// What comes after `known` cannot be known until changes planned
    /// earlier in the run have applied (the service to ask does not run
    /// yet). A preview shows the step as pending with `reason`; when
    /// applying, a plan still pending fails the step with it.
    pub fn pending(reason: impl Into<String>, known: Vec<Action>) -> Plan {
        Plan {
            actions: known,
            replan: false,
            pending: Some(reason.into()),
        }
    }
}
