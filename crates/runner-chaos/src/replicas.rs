//! Are a queue's replicas whole? On RabbitMQ 4.x (quorum queues): every
//! member a voter, leader or follower, exactly one leader, and each
//! member's applied index within [`CATCH_UP_SLACK`] entries of the
//! leader's commit index — from `rabbitmq-queues quorum_status QUEUE
//! --formatter json` run in a node's container (the management API's
//! queue object lists members and which are online, not their membership
//! or indexes). On 3.x (classic queues mirrored by `ha-all`): a mirror on
//! every other node, all synchronised (the management API).

use std::time::Duration;

use serde_json::Value;

use crate::cluster::{Cluster, percent_encode};
use crate::health::node_api;

/// How far (log entries) a member's applied index may trail the leader's
/// commit index and still count as caught up: the members are asked one
/// after the other while the workload appends a few hundred entries a
/// second, so a live follower is always a little behind; one still
/// catching up after a restart is thousands or more behind.
pub const CATCH_UP_SLACK: u64 = 2000;

/// How long one `quorum_status` may take (it starts an Erlang VM, and a
/// member on a cut-off node is waited for).
const QUORUM_STATUS_TIMEOUT: Duration = Duration::from_secs(20);

/// What is wrong with `queue`'s replicas (nothing when whole).
pub async fn problems(c: &Cluster, queue: &str) -> Vec<String> {
    if c.rabbitmq_version.starts_with("3.") {
        classic_problems(c, queue).await
    } else {
        quorum_problems(c, queue).await
    }
}

/// `quorum_status` asked of the first RabbitMQ host that answers it.
async fn quorum_problems(c: &Cluster, queue: &str) -> Vec<String> {
    let quoted = match runner_types::shell::quote(queue) {
        Ok(q) => q,
        Err(e) => return vec![format!("{queue}: {e}")],
    };
    let cmd = format!(
        "docker exec {} rabbitmq-queues quorum_status {quoted} --formatter json",
        c.deployment.rabbit_container
    );
    let mut last = String::from("no RabbitMQ host answered");
    for h in &c.rabbits {
        match tokio::time::timeout(QUORUM_STATUS_TIMEOUT, runner_lab::exec(&h.name, &cmd)).await {
            Ok(Ok(out)) if out.ok() => {
                return parse_quorum_status(queue, &out.stdout, &c.node_names());
            }
            Ok(Ok(out)) => last = format!("{}: {}", h.name, first_line(&out.stderr, &out.stdout)),
            Ok(Err(e)) => last = format!("{}: {e:#}", h.name),
            Err(_) => last = format!("{}: no answer within {QUORUM_STATUS_TIMEOUT:?}", h.name),
        }
    }
    vec![format!("{queue}: quorum_status: {last}")]
}

fn first_line<'a>(a: &'a str, b: &'a str) -> &'a str {
    let text = if a.trim().is_empty() { b } else { a };
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed")
        .trim()
}

/// A field that is a number, or a number in a string; `None` for `""`.
fn index(row: &Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| match &row[*k] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// The problems `quorum_status`'s JSON shows for `queue`, whose members
/// must be exactly `nodes` (pure; unit-tested on 4.0's output).
pub fn parse_quorum_status(queue: &str, json: &str, nodes: &[String]) -> Vec<String> {
    let rows: Vec<Value> = match serde_json::from_str::<Value>(json.trim()) {
        Ok(Value::Array(rows)) => rows,
        _ => return vec![format!("{queue}: quorum_status said: {}", json.trim())],
    };
    let mut out = Vec::new();
    let leaders: Vec<&Value> = rows
        .iter()
        .filter(|r| r["Raft State"] == "leader")
        .collect();
    if leaders.len() != 1 {
        out.push(format!("{queue}: {} leaders", leaders.len()));
    }
    let commit = leaders.first().and_then(|l| index(l, &["Commit Index"]));
    for node in nodes {
        let Some(row) = rows.iter().find(|r| r["Node Name"] == node.as_str()) else {
            out.push(format!("{queue}: no member on {node}"));
            continue;
        };
        let state = row["Raft State"].as_str().unwrap_or("?");
        if state != "leader" && state != "follower" {
            out.push(format!("{queue}: the member on {node} is {state}"));
            continue;
        }
        match row["Membership"].as_str().unwrap_or("") {
            "voter" => {}
            "" => out.push(format!("{queue}: the member on {node} has no membership")),
            m => out.push(format!("{queue}: the member on {node} is {m}, not a voter")),
        }
        let applied = index(row, &["Last Applied"]);
        if let (Some(commit), Some(applied)) = (commit, applied)
            && commit.saturating_sub(applied) > CATCH_UP_SLACK
        {
            out.push(format!(
                "{queue}: the member on {node} is {} entries behind the leader",
                commit - applied
            ));
        }
    }
    for row in &rows {
        let name = row["Node Name"].as_str().unwrap_or("?");
        if !nodes.iter().any(|n| n == name) {
            out.push(format!(
                "{queue}: a member on {name}, which is not a cluster node"
            ));
        }
    }
    out
}

/// A mirrored classic queue: its master and a synchronised mirror on every
/// other node.
async fn classic_problems(c: &Cluster, queue: &str) -> Vec<String> {
    let path = format!("queues/%2F/{}", percent_encode(queue));
    for h in &c.rabbits {
        if let Ok(q) = node_api(c, h, &path).await {
            return parse_classic(queue, &q, &c.node_names());
        }
    }
    vec![format!("{queue}: no management API answered")]
}

/// The problems of a classic queue's management-API object (pure).
pub fn parse_classic(queue: &str, q: &Value, nodes: &[String]) -> Vec<String> {
    let names = |k: &str| -> Vec<&str> {
        q[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    };
    let master = q["node"].as_str().unwrap_or("");
    let synced = names("synchronised_slave_nodes");
    nodes
        .iter()
        .filter(|n| n.as_str() != master && !synced.contains(&n.as_str()))
        .map(|n| format!("{queue}: no synchronised mirror on {n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<String> {
        (1..=3).map(|i| format!("rabbit@rabbit{i}")).collect()
    }

    /// What RabbitMQ 4.0.5 printed on the lab, one member cut off (its
    /// row's index key is spelled `LastLog Index` there).
    const PARTITIONED: &str = r#"[
{"Node Name":"rabbit@rabbit1","Raft State":"timeout","Membership":"","LastLog Index":"","Last Written":"","Last Applied":"","Commit Index":"","Snapshot Index":"","Term":"","Machine Version":""}
,{"Node Name":"rabbit@rabbit2","Raft State":"leader","Membership":"voter","Last Log Index":41061,"Last Written":41061,"Last Applied":41061,"Commit Index":41061,"Snapshot Index":-1,"Term":2,"Machine Version":5}
,{"Node Name":"rabbit@rabbit3","Raft State":"follower","Membership":"voter","Last Log Index":41061,"Last Written":41061,"Last Applied":41061,"Commit Index":41061,"Snapshot Index":-1,"Term":2,"Machine Version":5}
]"#;

    #[test]
    fn quorum_status_of_4_0() {
        assert_eq!(
            parse_quorum_status("q", PARTITIONED, &nodes()),
            ["q: the member on rabbit@rabbit1 is timeout"]
        );
        let whole = PARTITIONED.replace(
            r#""Raft State":"timeout","Membership":"","LastLog Index":"","Last Written":"","Last Applied":"""#,
            r#""Raft State":"follower","Membership":"voter","Last Log Index":41000,"Last Written":41000,"Last Applied":"40990""#,
        );
        assert!(
            parse_quorum_status("q", &whole, &nodes()).is_empty(),
            "a little behind is caught up"
        );
        let behind = whole.replace(r#""Last Applied":"40990""#, r#""Last Applied":100"#);
        assert_eq!(
            parse_quorum_status("q", &behind, &nodes()),
            ["q: the member on rabbit@rabbit1 is 40961 entries behind the leader"]
        );
        let promotable = whole.replace(
            r#""Raft State":"follower","Membership":"voter","Last Log Index":41000"#,
            r#""Raft State":"follower","Membership":"promotable","Last Log Index":41000"#,
        );
        assert_eq!(
            parse_quorum_status("q", &promotable, &nodes()),
            ["q: the member on rabbit@rabbit1 is promotable, not a voter"]
        );
        let mut four = nodes();
        four.push("rabbit@rabbit4".into());
        assert_eq!(
            parse_quorum_status("q", &whole, &four),
            ["q: no member on rabbit@rabbit4"]
        );
        let p = parse_quorum_status("q", "Error: queue 'q' not found", &nodes());
        assert!(p[0].contains("not found"), "{p:?}");
    }

    #[test]
    fn classic_mirrors() {
        let q: Value = serde_json::json!({
            "node": "rabbit@rabbit1",
            "synchronised_slave_nodes": ["rabbit@rabbit3"],
        });
        assert_eq!(
            parse_classic("q", &q, &nodes()),
            ["q: no synchronised mirror on rabbit@rabbit2"]
        );
    }
}
