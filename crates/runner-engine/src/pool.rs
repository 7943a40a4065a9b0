//! The run's transport pool: one transport per inventory host, opened on
//! first use through a [`Connector`] and shared by every step, and over it
//! one per user a step becomes ([`Escalated`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_transport::escalate::{Escalated, Escalation};
use runner_transport::{
    LocalTransport, Output, SshTarget, SshTransport, Transport, TransportError,
};

use crate::inventory::BecomeKeywords;

use crate::inventory::{Connection, Inventory};

/// Opens the transport to one inventory host.
pub trait Connector: Send + Sync {
    fn connect(&self, name: &str, connection: Connection, timeout: Duration) -> Arc<dyn Transport>;
}

/// The real connections: `sh` on this machine, or SSH.
pub struct SystemConnector;

impl Connector for SystemConnector {
    fn connect(&self, name: &str, connection: Connection, timeout: Duration) -> Arc<dyn Transport> {
        match connection {
            Connection::Local => Arc::new(LocalTransport::new(name)),
            Connection::Ssh {
                address,
                port,
                user,
                key,
                known_hosts,
            } => Arc::new(SshTransport::new(SshTarget {
                name: name.to_string(),
                address,
                port,
                user,
                key,
                known_hosts,
                connect_timeout: timeout,
            })),
        }
    }
}

/// The transports of one run, by inventory host name.
pub struct TransportPool {
    inventory: Inventory,
    connector: Arc<dyn Connector>,
    connect_timeout: Duration,
    open: Mutex<HashMap<String, Arc<dyn Transport>>>,
    escalated: Mutex<HashMap<(String, Escalation), Arc<dyn Transport>>>,
}

impl TransportPool {
    pub fn new(
        inventory: Inventory,
        connector: Arc<dyn Connector>,
        connect_timeout: Duration,
    ) -> Self {
        TransportPool {
            inventory,
            connector,
            connect_timeout,
            open: Mutex::new(HashMap::new()),
            escalated: Mutex::new(HashMap::new()),
        }
    }

    /// A pool of real connections (SSH, or local).
    pub fn system(inventory: Inventory, connect_timeout: Duration) -> Self {
        Self::new(inventory, Arc::new(SystemConnector), connect_timeout)
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The transport of `name`, if it is in the inventory, as its own
    /// variables say (`ansible_become*`).
    pub fn get(&self, name: &str) -> Option<Arc<dyn Transport>> {
        self.inventory.host(name)?;
        Some(self.transport(name))
    }

    /// The transport of `name`, which must be an inventory host, as its
    /// own variables say (`ansible_become*`): facts and peers use it.
    pub fn transport(&self, name: &str) -> Arc<dyn Transport> {
        let host = self
            .inventory
            .host(name)
            .expect("targets come from the inventory");
        match host.escalation(&BecomeKeywords::default()) {
            Ok(escalation) => self.transport_as(name, escalation.as_ref()),
            Err(reason) => Arc::new(Refused {
                host: name.to_string(),
                reason,
            }),
        }
    }

    /// The transport of `name` running every command as `escalation`
    /// says (the login user when `None`).
    pub fn transport_as(&self, name: &str, escalation: Option<&Escalation>) -> Arc<dyn Transport> {
        let login = self.login(name);
        let Some(escalation) = escalation else {
            return login;
        };
        let key = (name.to_string(), escalation.clone());
        let mut escalated = self.escalated.lock().expect("pool");
        escalated
            .entry(key)
            .or_insert_with(|| Arc::new(Escalated::new(login, escalation.clone())))
            .clone()
    }

    /// The transport of `name` as the login user.
    fn login(&self, name: &str) -> Arc<dyn Transport> {
        let mut open = self.open.lock().expect("pool");
        if let Some(t) = open.get(name) {
            return t.clone();
        }
        let host = self
            .inventory
            .host(name)
            .expect("targets come from the inventory");
        let connection = host.connection(&self.inventory.dir());
        let t = self
            .connector
            .connect(name, connection, self.connect_timeout);
        open.insert(name.to_string(), t.clone());
        t
    }
}

/// A host whose variables say to run commands in a way the runner
/// cannot: every command fails with the reason, none runs otherwise.
struct Refused {
    host: String,
    reason: String,
}

#[async_trait::async_trait]
impl Transport for Refused {
    fn host(&self) -> &str {
        &self.host
    }

    async fn run(&self, _: &str, _: Option<&[u8]>, _: Duration) -> Result<Output, TransportError> {
        Err(TransportError::Failed {
            host: self.host.clone(),
            reason: self.reason.clone(),
        })
    }
}
