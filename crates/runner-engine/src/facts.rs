//! Facts: what a step's templates and plugins know about a host, gathered
//! with one command per host and run.

use serde_json::{Map, Value, json};

use runner_transport::Transport;

const GATHER: &str = r#"echo "hostname=$(hostname 2>/dev/null || uname -n)"
echo "kernel=$(uname -r)"
echo "arch=$(uname -m)"
echo "user=$(id -un)"
. /etc/os-release 2>/dev/null && echo "os_id=$ID" && echo "os_version=$VERSION_ID"
ip -4 -o addr show scope global 2>/dev/null | awk 'NR==1 {split($4, a, "/"); print "interface=" $2; print "address=" a[1]}'
command -v docker >/dev/null 2>&1 && echo "docker=yes"
true"#;

pub async fn gather(t: &dyn Transport) -> Result<Value, String> {
    let out = t
        .run(GATHER, None, std::time::Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    let mut facts = Map::new();
    for line in out.stdout_text().lines() {
        if let Some((k, v)) = line.split_once('=') {
            facts.insert(k.to_string(), json!(v));
        }
    }
    Ok(Value::Object(facts))
}
