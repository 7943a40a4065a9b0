//! The run's transport pool: one transport per inventory host, opened on
//! first use through a [`Connector`] and shared by every step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_transport::{LocalTransport, SshTarget, SshTransport, Transport};

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
        }
    }

    /// A pool of real connections (SSH, or local).
    pub fn system(inventory: Inventory, connect_timeout: Duration) -> Self {
        Self::new(inventory, Arc::new(SystemConnector), connect_timeout)
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The transport of `name`, if it is in the inventory.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Transport>> {
        self.inventory.host(name)?;
        Some(self.transport(name))
    }

    /// The transport of `name`, which must be an inventory host.
    pub fn transport(&self, name: &str) -> Arc<dyn Transport> {
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
