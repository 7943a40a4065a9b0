//! The scale curve: a playbook of two no-op steps on 1 to 500 sshd hosts,
//! run by the release `runner` binary as a child process. Per host count:
//! the first step (connection set-up and the step), the second step (warm
//! masters), both from the JSON report; the process's wall time; its peak
//! RSS and CPU time from `wait4`; and, sampled from /proc, its peak open
//! descriptors and threads and the peak number of `ssh` processes. Then
//! Ansible's figure for the same no-op on 50 hosts, and the SVG.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::{ansible, noop_playbook_file, plot, start_hosts};

#[derive(Debug, Parser)]
#[command(name = "bench curve")]
struct CurveArgs {
    /// Host counts to measure, ascending.
    #[arg(long, env = "BENCH_HOSTS", value_delimiter = ',', default_values_t = [1, 10, 50, 100, 250, 500])]
    hosts: Vec<usize>,
    /// Runs per host count (the figures are medians, with the range).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// `--forks` of each run (default: the host count, one batch).
    #[arg(long)]
    forks: Option<usize>,
    /// Also run Ansible (ansible-core in a venv under target/) on this many
    /// hosts; 0 for none.
    #[arg(long, default_value_t = 50)]
    ansible_hosts: usize,
    /// Draw the curve into this SVG file (and save its figures beside it,
    /// as .json).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Measure nothing: draw --svg again from its saved .json.
    #[arg(long, requires = "svg")]
    replot: bool,
}

/// One run of the runner on `hosts` hosts.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub first_step: Duration,
    pub second_step: Duration,
    pub wall: Duration,
    pub max_rss_kib: u64,
    pub cpu: Duration,
    /// CPU time of the sshd hosts (listeners and what they waited for:
    /// sessions and the commands run in them).
    pub hosts_cpu: Duration,
    pub peak: Peaks,
}

/// What the /proc sampler saw at most during a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peaks {
    pub fds: usize,
    pub threads: usize,
    pub ssh_processes: usize,
}

/// The runs of one host count.
pub struct Point {
    pub hosts: usize,
    pub samples: Vec<Sample>,
}

impl Point {
    /// The median of one figure over the runs, with its minimum and maximum.
    pub fn median<T: Ord + Copy>(&self, f: impl Fn(&Sample) -> T) -> (T, T, T) {
        median(self.samples.iter().map(f).collect())
    }
}

pub fn median<T: Ord + Copy>(mut v: Vec<T>) -> (T, T, T) {
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// `<target>/<profile>` from `<target>/<profile>/examples/bench`: where
/// the `runner` binary of the same profile is.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors()
        .nth(2)
        .expect("<target>/<profile>/examples/bench")
        .to_path_buf()
}

/// The plugins built beside this bench (`<target>/wasm32-wasip2/release`).
fn plugins_dir() -> PathBuf {
    let target = profile_dir().parent().expect("<target>").to_path_buf();
    target.join("wasm32-wasip2/release")
}

pub fn main() {
    let args = CurveArgs::parse_from(std::env::args().skip(1));
    if let (true, Some(svg)) = (args.replot, &args.svg) {
        let saved = std::fs::read_to_string(svg.with_extension("json")).expect("the saved figures");
        let figures: plot::Figures = serde_json::from_str(&saved).expect("figures");
        plot::draw(svg, &figures).expect("drawing the SVG");
        println!("drew {}", svg.display());
        return;
    }
    let runner = profile_dir().join("runner");
    assert!(
        runner.exists(),
        "{} is missing: cargo build --release -p runner-cli (the profile of this bench)",
        runner.display()
    );
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let most = args
        .hosts
        .iter()
        .copied()
        .chain([args.ansible_hosts])
        .max()
        .unwrap_or(1);
    println!("starting {most} sshd hosts on 127.0.0.1 ...");
    let (hosts, user) = start_hosts(w, most);
    let playbook = noop_playbook_file(w, 2);
    let run = |n: usize| {
        let inv = hosts.inventory_of_first(&w.join(format!("inv{n}.yaml")), None, &user, n);
        run_runner(
            &runner,
            w,
            &inv,
            &playbook,
            args.forks.unwrap_or(n),
            &hosts.pids(),
        )
    };
    // The first run compiles the plugin into the (bench's own) cache.
    run(1);
    let mut points = Vec::new();
    for &n in &args.hosts {
        let samples = (0..args.runs).map(|_| run(n)).collect();
        let point = Point { hosts: n, samples };
        print_point(&point);
        points.push(point);
    }
    let theirs = (args.ansible_hosts > 0).then(|| {
        let venv = runner_test_support::ansible_bin();
        let m = ansible::measure(&venv, &hosts, &user, w, args.ansible_hosts, args.runs);
        println!(
            "Ansible, {} hosts, forks {}: {} first task (cold), {} per further task (warm)",
            m.hosts,
            m.hosts,
            range(median(m.cold.clone())),
            range(median(m.warm.clone())),
        );
        m
    });
    print_table(&points, args.forks);
    if let Some(svg) = &args.svg {
        let figures = figures(&points, theirs.as_ref());
        let json = serde_json::to_string_pretty(&figures).unwrap();
        std::fs::write(svg.with_extension("json"), json + "\n").unwrap();
        plot::draw(svg, &figures).expect("drawing the SVG");
        println!("drew {}", svg.display());
    }
}

/// The medians the SVG shows.
fn figures(points: &[Point], ansible: Option<&ansible::Measured>) -> plot::Figures {
    let runner = points
        .iter()
        .map(|p| plot::Row {
            hosts: p.hosts,
            first_step_s: p.median(|s| s.first_step).0.as_secs_f64(),
            second_step_s: p.median(|s| s.second_step).0.as_secs_f64(),
            rss_mb: mb(p.median(|s| s.max_rss_kib).0),
        })
        .collect();
    let ansible = ansible.map(|m| {
        let cold = median(m.cold.clone()).0.as_secs_f64();
        (m.hosts, cold, median(m.warm.clone()).0.as_secs_f64())
    });
    plot::Figures { runner, ansible }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.0} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Megabytes (10^6 bytes, as the goal says) from KiB.
pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

fn range((m, lo, hi): (Duration, Duration, Duration)) -> String {
    format!("{} ({}–{})", secs(m), secs(lo), secs(hi))
}

fn print_point(p: &Point) {
    let (rss, _, _) = p.median(|s| s.max_rss_kib);
    println!(
        "{:3} hosts: first step {}, second step {}, wall {}, peak RSS {:.0} MB",
        p.hosts,
        range(p.median(|s| s.first_step)),
        range(p.median(|s| s.second_step)),
        range(p.median(|s| s.wall)),
        mb(rss),
    );
}

/// The Markdown table for docs/BENCHMARKS.md.
fn print_table(points: &[Point], forks: Option<usize>) {
    println!(
        "\nforks: {}",
        forks.map_or("the host count".into(), |f| f.to_string())
    );
    println!(
        "| hosts | first step (connect + step) | second step (warm) | whole run | peak RSS | runner CPU | per host | sshd hosts' CPU | per host | peak fds | peak threads | peak ssh processes |"
    );
    println!("| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
    for p in points {
        let (cpu, _, _) = p.median(|s| s.cpu);
        let (hosts_cpu, _, _) = p.median(|s| s.hosts_cpu);
        let per_host = |d: Duration| d.as_secs_f64() * 1e3 / p.hosts as f64;
        println!(
            "| {} | {} | {} | {} | {:.0} MB | {} | {:.1} ms | {} | {:.1} ms | {} | {} | {} |",
            p.hosts,
            range(p.median(|s| s.first_step)),
            range(p.median(|s| s.second_step)),
            range(p.median(|s| s.wall)),
            mb(p.median(|s| s.max_rss_kib).0),
            secs(cpu),
            per_host(cpu),
            secs(hosts_cpu),
            per_host(hosts_cpu),
            p.median(|s| s.peak.fds).0,
            p.median(|s| s.peak.threads).0,
            p.median(|s| s.peak.ssh_processes).0,
        );
    }
}

/// One `runner play` of the no-op playbook, measured.
#[expect(clippy::zombie_processes, reason = "wait4 reaps it, for its rusage")]
fn run_runner(
    runner: &Path,
    w: &Path,
    inv: &Path,
    playbook: &Path,
    forks: usize,
    sshd: &[u32],
) -> Sample {
    let out_path = w.join("report.jsonl");
    let err_path = w.join("runner.log");
    let ssh_before = count_ssh_processes();
    let hosts_before = cpu_of(sshd);
    let start = Instant::now();
    let child = Command::new(runner)
        .arg("play")
        .arg(playbook)
        .arg("-i")
        .arg(inv)
        .args(["--forks", &forks.to_string(), "--output", "json"])
        .env("RUNNER_PLUGIN_PATH", plugins_dir())
        .env("RUNNER_STATE_DIR", w.join("state"))
        .env("RUNNER_CACHE_DIR", w.join("cache"))
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("runner starts");
    let pid = child.id();
    let sampler = Sampler::start(pid);
    let (status, usage) = wait4(pid);
    let wall = start.elapsed();
    let mut peak = sampler.stop();
    // The masters exit after the runner (it asks them to); the sshd
    // sessions then end and their CPU time reaches their listeners.
    wait_for_ssh_processes(ssh_before);
    let hosts_cpu = cpu_of(sshd).saturating_sub(hosts_before);
    peak.ssh_processes = peak.ssh_processes.saturating_sub(ssh_before);
    let report = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "runner failed (wait status {status}):\n{report}\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    let steps = step_durations(&report);
    assert_eq!(steps.len(), 2, "two step_done events in:\n{report}");
    Sample {
        first_step: steps[0],
        second_step: steps[1],
        wall,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        hosts_cpu,
        peak,
    }
}

/// The `duration_ms` of each `step_done` event of a JSON report.
fn step_durations(report: &str) -> Vec<Duration> {
    report
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "step_done")
        .filter_map(|e| e["duration_ms"].as_u64())
        .map(Duration::from_millis)
        .collect()
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
}

/// Wait for the child `pid` and return its wait status and resource use
/// (its own and that of the children it waited for: the ssh clients that
/// set up each master before going to the background).
fn wait4(pid: u32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = i32::try_from(pid).expect("pid");
    // SAFETY: valid pointers to locals; pid is our own child, not yet waited for.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    (status, usage)
}

/// CPU time of these processes and of the children they waited for
/// (/proc/PID/stat: utime, stime, cutime, cstime).
fn cpu_of(pids: &[u32]) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            // Fields 14 to 17 of stat(5); `state` (field 3) is fields[0].
            fields[11..15]
                .iter()
                .map(|f| f.parse::<u64>().unwrap_or(0))
                .sum::<u64>()
        })
        .sum();
    Duration::from_millis(ticks * 1000 / tick)
}

/// Samples a process's descriptors and threads, and the machine's `ssh`
/// processes, every 100 ms, keeping the largest.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Peaks>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = Peaks::default();
            while !flag.load(Ordering::Relaxed) {
                let fd_dir = format!("/proc/{pid}/fd");
                if let Ok(fds) = std::fs::read_dir(fd_dir) {
                    peak.fds = peak.fds.max(fds.count());
                }
                peak.threads = peak.threads.max(threads_of(pid));
                peak.ssh_processes = peak.ssh_processes.max(count_ssh_processes());
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

fn threads_of(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Wait (at most 20 s) until no more `ssh` processes run than `before`.
fn wait_for_ssh_processes(before: usize) {
    let start = Instant::now();
    while count_ssh_processes() > before && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes whose name is `ssh` (clients and masters, not sshd).
pub fn count_ssh_processes() -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim_end() == "ssh")
        })
        .count()
}
