//! What a plugin costs by the language it is written in, for
//! docs/BENCHMARKS.md (run on purpose, not a test):
//!   cargo run --release -p runner-plugin-host --example languages
//! The Python plugin `lineinfile` (componentize-py: CPython inside the
//! component) and the JavaScript plugin `greeting-js` (componentize-js:
//! SpiderMonkey inside) against the Rust plugin `file`, each asked about a
//! file that is already as wanted (one `stat` probe and one read, answered
//! here, no action): the compile on a cache miss, the load from the cache, one
//! instantiate + plan, and the least linear memory a plan call runs in.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use runner_plugin_host::{Limits, Observer, PlanRequest, PluginHost};
use runner_types::capability::Grant;
use runner_types::{CommandOutput, HttpResponse};
use serde_json::{Value, json};

const CONTENT: &str = "a=1\nport=8080\n";

/// Answers the two observations each plugin makes (`greeting-js` asks
/// `stat -c %a` for the mode alone).
struct File;
#[async_trait::async_trait]
impl Observer for File {
    async fn probe(&self, command: &str) -> Result<CommandOutput, String> {
        let stdout = if command.starts_with("stat -c %a ") {
            "644\n"
        } else {
            "regular file:644:root:root:0:0\n"
        };
        Ok(CommandOutput {
            exit_code: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        })
    }
    async fn read_file(&self, _: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(Some(CONTENT.into()))
    }
    async fn http_get(&self, _: &str, _: &[(String, String)]) -> Result<HttpResponse, String> {
        Err("no HTTP here".into())
    }
    fn output(&self, _: runner_types::OutputStream, _: &str) {}
}

fn plugin_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("wasm32-wasip2/release")
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn host(cache: &std::path::Path, limits: Limits) -> PluginHost {
    PluginHost::new(
        vec![runner_plugin_host::PluginDir::built_in(plugin_dir())],
        cache.to_path_buf(),
        limits,
    )
    .unwrap()
}

/// One plan call; whether it planned nothing, as expected.
async fn plan_once(host: &PluginHost, name: &str, params: &Value) -> Result<(), String> {
    let plugin = host.get(name).await.map_err(|e| format!("{e:#}"))?;
    let grant = Grant::new(name, &plugin.info.capabilities, params);
    let request = PlanRequest {
        params,
        facts: &json!({}),
        host: "h",
        stage: 0,
    };
    let out = host
        .plan(&plugin, grant, Arc::new(File), request)
        .await
        .map_err(|e| e.to_string())?;
    assert!(out.plan.actions.is_empty(), "{name}: {:?}", out.plan);
    Ok(())
}

async fn measure(name: &str, lang: &str, params: Value) {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let file = format!("runner_plugin_{}.wasm", name.replace('-', "_"));
    let size = std::fs::metadata(plugin_dir().join(file))
        .map(|m| m.len())
        .unwrap_or_else(|_| panic!("{name} is not built: ./dev build"));
    let t = Instant::now();
    host(&cache, Limits::default()).get(name).await.unwrap();
    let miss = t.elapsed();
    let mut hits = Vec::new();
    for _ in 0..10 {
        let h = host(&cache, Limits::default());
        let t = Instant::now();
        assert!(h.get(name).await.unwrap().from_cache);
        hits.push(t.elapsed());
    }
    hits.sort();
    let h = host(&cache, Limits::default());
    plan_once(&h, name, &params).await.unwrap();
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        plan_once(&h, name, &params).await.unwrap();
    }
    let call = t.elapsed() / n;
    let memory = least_memory(&cache, name, &params).await;
    println!(
        "{name} ({lang}): component {:.1} MiB; compile + describe (cache miss) {}; load + describe (cache hit, median of 10) {}; instantiate + plan (mean of {n}) {}; least memory a plan runs in {memory} MiB",
        size as f64 / (1 << 20) as f64,
        ms(miss),
        ms(hits[5]),
        ms(call),
    );
}

/// The smallest memory limit, in MiB, under which describe and a plan
/// still succeed.
async fn least_memory(cache: &std::path::Path, name: &str, params: &Value) -> usize {
    let (mut low, mut high) = (0usize, 256usize);
    while high - low > 1 {
        let mid = (low + high) / 2;
        let limits = Limits {
            memory_bytes: mid << 20,
            ..Limits::default()
        };
        match plan_once(&host(cache, limits), name, params).await {
            Ok(()) => high = mid,
            Err(_) => low = mid,
        }
    }
    high
}

#[tokio::main]
async fn main() {
    measure(
        "file",
        "Rust",
        json!({"path": "/etc/app.conf", "content": CONTENT, "mode": "0644"}),
    )
    .await;
    measure(
        "lineinfile",
        "Python",
        json!({"path": "/etc/app.conf", "regexp": "^port=", "line": "port=8080"}),
    )
    .await;
    measure(
        "greeting-js",
        "JavaScript",
        json!({"path": "/etc/app.conf", "greeting": CONTENT.trim_end()}),
    )
    .await;
}
