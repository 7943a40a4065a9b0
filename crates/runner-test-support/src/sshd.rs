//! Real sshd processes on 127.0.0.1 as test hosts (shared by the
//! end-to-end tests and the benchmark).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn sh(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd).args(args).status().expect(cmd);
    assert!(st.success(), "{cmd} {args:?} failed");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Real sshd processes on 127.0.0.1, each a "host" with its own host key
/// and its own directory (`root` var) to write into.
pub struct SshHosts {
    pub dir: PathBuf,
    pub names: Vec<String>,
    pub ports: Vec<u16>,
    pub key: PathBuf,
    pub known_hosts: PathBuf,
    children: Vec<Child>,
}

impl SshHosts {
    pub fn start(dir: &Path, n: usize) -> SshHosts {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("sshd is installed (apt-get install openssh-server)");
        std::fs::create_dir_all("/run/sshd").ok();
        let dir = dir.join("ssh");
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("id_ed25519");
        sh(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()],
        );
        let pubkey = std::fs::read_to_string(dir.join("id_ed25519.pub")).unwrap();
        let auth = dir.join("authorized_keys");
        std::fs::write(&auth, &pubkey).unwrap();
        let known_hosts = dir.join("known_hosts");
        let mut known = String::new();
        let mut hosts = SshHosts {
            dir: dir.clone(),
            names: vec![],
            ports: vec![],
            key,
            known_hosts: known_hosts.clone(),
            children: vec![],
        };
        for i in 0..n {
            let name = format!("h{}", i + 1);
            let hk = dir.join(format!("{name}_host_key"));
            sh(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-f", hk.to_str().unwrap()],
            );
            let port = free_port();
            let config = dir.join(format!("{name}_sshd_config"));
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nAuthorizedKeysFile {auth}\n\
                     PidFile {dir}/{name}.pid\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\nMaxSessions 100\nMaxStartups 100\n",
                    hk = hk.display(),
                    auth = auth.display(),
                    dir = dir.display(),
                ),
            )
            .unwrap();
            let child = Command::new(sshd)
                .args(["-D", "-e", "-f", config.to_str().unwrap()])
                .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
                .spawn()
                .expect("sshd starts");
            let host_pub = std::fs::read_to_string(hk.with_extension("pub")).unwrap();
            let mut parts = host_pub.split_whitespace();
            known.push_str(&format!(
                "[127.0.0.1]:{port} {} {}\n",
                parts.next().unwrap(),
                parts.next().unwrap()
            ));
            std::fs::create_dir_all(dir.join(&name)).unwrap();
            hosts.children.push(child);
            hosts.names.push(name);
            hosts.ports.push(port);
        }
        std::fs::write(&known_hosts, known).unwrap();
        for port in &hosts.ports {
            let start = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "sshd on {port} did not start"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        hosts
    }

    /// The process ids of the sshd listeners, one a host.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// The directory that host `i` writes into.
    pub fn root(&self, i: usize) -> PathBuf {
        self.dir.join(&self.names[i])
    }

    /// An inventory of these hosts (group `web`), with extra host vars.
    pub fn inventory(&self, path: &Path, key: Option<&Path>) -> PathBuf {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        self.inventory_as(path, key, &user)
    }

    /// The same, logging in as `user`.
    pub fn inventory_as(&self, path: &Path, key: Option<&Path>, user: &str) -> PathBuf {
        self.inventory_of_first(path, key, user, self.names.len())
    }

    /// An inventory of the first `n` hosts only, logging in as `user`.
    pub fn inventory_of_first(
        &self,
        path: &Path,
        key: Option<&Path>,
        user: &str,
        n: usize,
    ) -> PathBuf {
        let mut text = format!(
            "all:\n  vars:\n    ansible_user: {user}\n    ansible_ssh_private_key_file: {}\n    runner_known_hosts: {}\n  children:\n    web:\n      hosts:\n",
            key.unwrap_or(&self.key).display(),
            self.known_hosts.display()
        );
        for (i, name) in self.names.iter().enumerate().take(n) {
            text.push_str(&format!(
                "        {name}:\n          ansible_host: 127.0.0.1\n          ansible_port: {}\n          root: {}\n",
                self.ports[i],
                self.root(i).display()
            ));
        }
        std::fs::write(path, text).unwrap();
        path.to_path_buf()
    }
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
