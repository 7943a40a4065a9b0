//! The lab's private Docker network: a fixed /24 picked from a short list of
//! candidates after checking it clashes with no route of this machine and no
//! other Docker network, host addresses inside it, and the virtual IP (.250).
//!
//! The network is an ordinary bridge (not `--internal`: Docker's isolation
//! rules for internal networks drop multicast, which keepalived's VRRP
//! needs); lab hosts have no default route instead (see
//! [`crate::hosts::isolate`]), so they reach each other and the machine they
//! run on, and nothing beyond.

use std::net::Ipv4Addr;

use anyhow::{Context, Result, bail};

use crate::docker;
use crate::state::{LABEL_LAB, NETWORK};

/// Candidate subnets, tried in order (10.213.x.0/24 is rarely used).
const CANDIDATES: [[u8; 3]; 8] = [
    [10, 213, 57],
    [10, 213, 58],
    [10, 213, 59],
    [10, 213, 61],
    [10, 213, 67],
    [10, 213, 71],
    [10, 213, 73],
    [10, 213, 79],
];

/// Last octet of the virtual IP.
pub const VIP_OCTET: u8 = 250;

/// An IPv4 subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    /// Network address.
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
}

impl Subnet {
    /// Parses `a.b.c.d/n`.
    pub fn parse(s: &str) -> Result<Subnet> {
        let (a, p) = s.split_once('/').context("subnet without /prefix")?;
        let addr: Ipv4Addr = a.parse().with_context(|| format!("bad subnet {s}"))?;
        let prefix: u8 = p.parse().with_context(|| format!("bad subnet {s}"))?;
        if prefix > 32 {
            bail!("bad prefix in {s}");
        }
        Ok(Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    /// The address with last octet `n` (for a /24).
    pub fn host(&self, n: u8) -> Ipv4Addr {
        let o = self.addr.octets();
        Ipv4Addr::new(o[0], o[1], o[2], n)
    }

    /// The gateway (.1): the machine's own address on the lab network.
    pub fn gateway(&self) -> Ipv4Addr {
        self.host(1)
    }

    /// The balancers' virtual IP (.250).
    pub fn vip(&self) -> Ipv4Addr {
        self.host(VIP_OCTET)
    }

    /// True when `ip` is inside the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// True when the two subnets share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

/// The lab network's subnet, if the network exists.
pub async fn lab_subnet() -> Result<Option<Subnet>> {
    let Some(s) = docker::inspect(
        "network",
        NETWORK,
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
    )
    .await?
    else {
        return Ok(None);
    };
    let first = s
        .split_whitespace()
        .next()
        .with_context(|| format!("network {NETWORK} has no subnet"))?;
    Ok(Some(Subnet::parse(first)?))
}

/// Subnets in use: other Docker networks' and this machine's routes.
async fn used_subnets() -> Result<Vec<Subnet>> {
    let mut used = Vec::new();
    let ids = docker::run(&["network", "ls", "-q"]).await?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec![
            "network",
            "inspect",
            "--format",
            "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} {{end}}",
        ];
        args.extend(ids);
        let out = docker::run(&args).await?;
        for line in out.lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some(NETWORK) {
                continue;
            }
            used.extend(words.filter_map(|w| Subnet::parse(w).ok()));
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        used.extend(routes_from_proc(&text));
    }
    Ok(used)
}

/// Destinations of the routes in `/proc/net/route` (default route left out).
pub fn routes_from_proc(text: &str) -> Vec<Subnet> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(m)) = (
            u32::from_str_radix(cols[1], 16),
            u32::from_str_radix(cols[7], 16),
        ) else {
            continue;
        };
        // The kernel prints them in host (little-endian) byte order.
        let dest = Ipv4Addr::from(dest.swap_bytes());
        let m = m.swap_bytes();
        if m == 0 {
            continue;
        }
        out.push(Subnet {
            addr: dest,
            prefix: m.count_ones() as u8,
        });
    }
    out
}

/// Picks the first candidate /24 that clashes with nothing in `used`.
pub fn pick_subnet(used: &[Subnet]) -> Option<Subnet> {
    CANDIDATES
        .iter()
        .map(|c| Subnet {
            addr: Ipv4Addr::new(c[0], c[1], c[2], 0),
            prefix: 24,
        })
        .find(|s| !used.iter().any(|u| u.overlaps(s)))
}

/// Makes sure the lab network exists; returns its subnet and whether it was
/// created now.
pub async fn ensure_network() -> Result<(Subnet, bool)> {
    if let Some(s) = lab_subnet().await? {
        return Ok((s, false));
    }
    let used = used_subnets().await?;
    let subnet = pick_subnet(&used).context(
        "every candidate lab subnet (10.213.x.0/24) clashes with a route or Docker network here",
    )?;
    let o = subnet.addr.octets();
    let label = format!("{LABEL_LAB}=1");
    let sub = subnet.to_string();
    let gw = subnet.gateway().to_string();
    // Dynamic addresses (none are used) stay below .128, away from the VIP.
    let range = format!("{}.{}.{}.0/25", o[0], o[1], o[2]);
    docker::run(&[
        "network",
        "create",
        "--driver",
        "bridge",
        "--subnet",
        &sub,
        "--gateway",
        &gw,
        "--ip-range",
        &range,
        "--label",
        &label,
        "--opt",
        "com.docker.network.bridge.name=runner-lab0",
        NETWORK,
    ])
    .await
    .context("create the lab network")?;
    Ok((subnet, true))
}

/// Removes the lab network; returns whether it existed.
pub async fn remove_network() -> Result<bool> {
    if !docker::exists("network", NETWORK).await? {
        return Ok(false);
    }
    docker::run(&["network", "rm", NETWORK]).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_math() {
        let s = Subnet::parse("10.213.57.0/24").unwrap();
        assert_eq!(s.vip(), Ipv4Addr::new(10, 213, 57, 250));
        assert!(s.contains(Ipv4Addr::new(10, 213, 57, 11)));
        assert!(!s.contains(Ipv4Addr::new(10, 213, 58, 11)));
        assert!(s.overlaps(&Subnet::parse("10.0.0.0/8").unwrap()));
        assert!(!s.overlaps(&Subnet::parse("172.17.0.0/16").unwrap()));
    }

    #[test]
    fn picks_a_free_candidate() {
        let used = vec![Subnet::parse("10.213.57.0/24").unwrap()];
        assert_eq!(pick_subnet(&used).unwrap().to_string(), "10.213.58.0/24");
        assert!(pick_subnet(&[Subnet::parse("10.0.0.0/8").unwrap()]).is_none());
    }

    #[test]
    fn proc_route_parsing() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = routes_from_proc(text);
        assert_eq!(r, vec![Subnet::parse("172.17.0.0/16").unwrap()]);
    }
}
