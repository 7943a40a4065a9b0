//! A small AMQP client for the end-to-end tests (lapin): publish with a
//! confirm, get with an ack, on one long-lived connection; over TLS
//! trusting only a given CA.

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

pub struct Amqp {
    pub conn: Connection,
    channel: Channel,
}

impl Amqp {
    pub async fn connect(url: &str) -> Result<Amqp, String> {
        Amqp::connect_tls(url, None).await
    }

    /// For `amqps://`: trusting only the CA certificates in `ca_pem` (none:
    /// nothing is trusted).
    pub async fn connect_tls(url: &str, ca_pem: Option<&str>) -> Result<Amqp, String> {
        let tls = lapin::tcp::OwnedTLSConfig {
            identity: None,
            cert_chain: ca_pem.map(str::to_string),
        };
        let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
        let conn =
            Connection::connect_with_config(url, ConnectionProperties::default(), tls, runtime)
                .await
                .map_err(|e| e.to_string())?;
        let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(Amqp { conn, channel })
    }

    /// Declare `queue` durable with the vhost's default type.
    pub async fn declare(&self, queue: &str) -> Result<(), String> {
        self.channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Publish persistently and wait for the broker's confirm.
    pub async fn publish(&self, queue: &str, body: &[u8]) -> Result<(), String> {
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        if confirm.is_ack() {
            Ok(())
        } else {
            Err(format!("not confirmed: {confirm:?}"))
        }
    }

    /// Get one message and ack it.
    pub async fn get(&self, queue: &str) -> Result<Option<Vec<u8>>, String> {
        let msg = self
            .channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        match msg {
            None => Ok(None),
            Some(m) => {
                m.delivery
                    .ack(BasicAckOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Some(m.delivery.data.clone()))
            }
        }
    }
}
