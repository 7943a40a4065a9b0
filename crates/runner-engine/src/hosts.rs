//! The run's connections: one transport per inventory host, opened on
//! first use and shared by every step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_transport::{LocalTransport, SshTarget, SshTransport, Transport};

use crate::inventory::{Connection, Inventory};

pub struct Hosts {
    inventory: Inventory,
    connect_timeout: Duration,
    open: Mutex<HashMap<String, Arc<dyn Transport>>>,
}

impl Hosts {
    pub fn new(inventory: Inventory, connect_timeout: Duration) -> Self {
        Hosts {
            inventory,
            connect_timeout,
            open: Mutex::new(HashMap::new()),
        }
    }

    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The transport of `name`, if it is in the inventory.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Transport>> {
        self.inventory.host(name)?;
        Some(self.transport(name))
    }

    pub fn transport(&self, name: &str) -> Arc<dyn Transport> {
        let mut open = self.open.lock().expect("hosts");
        if let Some(t) = open.get(name) {
            return t.clone();
        }
        let host = self
            .inventory
            .host(name)
            .expect("targets come from the inventory");
        let t: Arc<dyn Transport> = match host.connection(&self.inventory.dir()) {
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
                connect_timeout: self.connect_timeout,
            })),
        };
        open.insert(name.to_string(), t.clone());
        t
    }
}
