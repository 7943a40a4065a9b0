//! The lab's images, built locally with no registry: a Debian base (a local
//! `debian:SUITE-slim` or one made with `debootstrap` + `docker import`),
//! the lab host image, and the service images a [`crate::Stack`] names,
//! each from one [`Recipe`] (RabbitMQ, HAProxy) on a [`Suite`].
//! Dockerfiles live in `crates/runner-lab/images/` and are embedded in the
//! binary; each built image carries the sha256 of its build context and the
//! ID of its base as labels, and is rebuilt when either changes.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::docker;
use crate::progress::Progress;

/// The lab host image tag.
pub const HOST_IMAGE: &str = "runner-lab/host:trixie";
/// Label holding the sha256 of an image's build context (Dockerfile + files).
pub const LABEL_SHA: &str = "runner-lab.dockerfile-sha256";
/// Label holding the image ID of the base an image was built on.
pub const LABEL_BASE: &str = "runner-lab.base-id";
/// Label on imported base images: the sha256 of the recipe that made them.
pub const LABEL_RECIPE: &str = "runner-lab.base-recipe";

/// One of the lab's embedded Dockerfiles (`images/<recipe>/`) for the
/// service images a [`crate::Stack`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipe {
    /// Debian's rabbitmq-server with the official image's contract.
    Rabbitmq,
    /// Debian's haproxy with the official image's contract.
    Haproxy,
}

impl Recipe {
    fn files(self) -> Files {
        match self {
            Recipe::Rabbitmq => RABBITMQ_FILES,
            Recipe::Haproxy => HAPROXY_FILES,
        }
    }
}

/// A Debian release used as an image base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// Debian 13.
    Trixie,
    /// Debian 12.
    Bookworm,
    /// Debian 14 (testing): the newest RabbitMQ Debian packages.
    Forky,
}

impl Suite {
    /// The suite's code name.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Trixie => "trixie",
            Suite::Bookworm => "bookworm",
            Suite::Forky => "forky",
        }
    }

    /// The debootstrap script that makes it: a debootstrap older than the
    /// suite has no script of its name, and testing is made like sid.
    fn debootstrap_script(self) -> &'static str {
        match self {
            Suite::Forky => "sid",
            other => other.name(),
        }
    }

    /// The base image this lab imports when no `debian:SUITE-slim` exists.
    pub fn base_tag(self) -> String {
        format!("runner-lab/base:{}", self.name())
    }
}

type Files = &'static [(&'static str, &'static str)];

const HOST_FILES: Files = &[
    ("Dockerfile", include_str!("../images/host/Dockerfile")),
    ("lab-init", include_str!("../images/host/lab-init")),
    (
        "sshd-lab.conf",
        include_str!("../images/host/sshd-lab.conf"),
    ),
    ("daemon.json", include_str!("../images/host/daemon.json")),
];
const RABBITMQ_FILES: Files = &[
    ("Dockerfile", include_str!("../images/rabbitmq/Dockerfile")),
    (
        "docker-entrypoint.sh",
        include_str!("../images/rabbitmq/docker-entrypoint.sh"),
    ),
    (
        "10-defaults.conf",
        include_str!("../images/rabbitmq/10-defaults.conf"),
    ),
];
const HAPROXY_FILES: Files = &[("Dockerfile", include_str!("../images/haproxy/Dockerfile"))];

/// How the imported base is slimmed and prepared after `debootstrap`; its
/// hash labels the base, so changing it rebuilds the base.
const BASE_RECIPE: &str = "minbase; apt lists and caches emptied; policy-rc.d exit 101; \
dpkg path-exclude docs/man/locale; apt no-recommends; v1";

/// One image the lab builds.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Tag, e.g. `runner-lab/host:trixie`.
    pub tag: String,
    /// Debian release it is built on.
    pub suite: Suite,
    files: Files,
}

impl ImageSpec {
    /// The lab host image.
    pub fn host() -> Self {
        ImageSpec {
            tag: HOST_IMAGE.to_string(),
            suite: Suite::Trixie,
            files: HOST_FILES,
        }
    }

    /// A service image of a [`crate::Stack`].
    pub fn service(image: &crate::stack::ServiceImage) -> Self {
        ImageSpec {
            tag: image.tag.clone(),
            suite: image.suite,
            files: image.recipe.files(),
        }
    }

    /// sha256 (hex) of the build context: every file's name and content.
    pub fn context_sha256(&self) -> String {
        let mut h = Sha256::new();
        let mut files: Vec<_> = self.files.to_vec();
        files.sort();
        for (name, content) in files {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(content.len().to_le_bytes());
            h.update(content.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// What happened to an image during `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAction {
    /// It was already there with the same labels.
    Unchanged,
    /// It was built (or rebuilt).
    Built,
}

/// The image ID of `tag` in the outer engine, if it exists.
pub async fn image_id(tag: &str) -> Result<Option<String>> {
    docker::inspect("image", tag, "{{.Id}}").await
}

async fn label(tag: &str, key: &str) -> Result<Option<String>> {
    let format = format!("{{{{index .Config.Labels \"{key}\"}}}}");
    docker::inspect("image", tag, &format).await
}

fn recipe_sha() -> String {
    hex::encode(Sha256::digest(BASE_RECIPE.as_bytes()))
}

/// Makes sure a base image for `suite` exists; returns its reference and
/// whether it had to be made.
pub async fn ensure_base(suite: Suite, progress: &Progress) -> Result<(String, ImageAction)> {
    let slim = format!("debian:{}-slim", suite.name());
    if image_id(&slim).await?.is_some() {
        return Ok((slim, ImageAction::Unchanged));
    }
    let tag = suite.base_tag();
    if label(&tag, LABEL_RECIPE).await?.as_deref() == Some(recipe_sha().as_str()) {
        return Ok((tag, ImageAction::Unchanged));
    }
    debootstrap_base(suite, &tag, progress).await?;
    Ok((tag, ImageAction::Built))
}

/// The Debian mirror this machine's apt uses (so debootstrap reaches the
/// same one), `$RUNNER_LAB_DEBIAN_MIRROR` if set, else deb.debian.org.
pub fn debian_mirror() -> String {
    if let Ok(m) = std::env::var("RUNNER_LAB_DEBIAN_MIRROR") {
        return m;
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        if let Some(m) = mirror_from_sources(&text) {
            return m;
        }
    }
    "http://deb.debian.org/debian".to_string()
}

/// The first Debian (non-security) archive URL in an apt sources text, in
/// either one-line or deb822 format.
pub fn mirror_from_sources(text: &str) -> Option<String> {
    let good = |url: &str| {
        url.starts_with("http")
            && url.trim_end_matches('/').ends_with("/debian")
            && !url.contains("security")
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("deb ") {
            let mut words = rest.split_whitespace().peekable();
            if words.peek().is_some_and(|w| w.starts_with('[')) {
                for w in words.by_ref() {
                    if w.ends_with(']') {
                        break;
                    }
                }
            }
            if let Some(url) = words.next()
                && good(url)
            {
                return Some(url.trim_end_matches('/').to_string());
            }
        } else if let Some(rest) = line.strip_prefix("URIs:") {
            for url in rest.split_whitespace() {
                if good(url) {
                    return Some(url.trim_end_matches('/').to_string());
                }
            }
        }
    }
    None
}

async fn debootstrap_base(suite: Suite, tag: &str, progress: &Progress) -> Result<()> {
    if which("debootstrap").is_none() {
        bail!(
            "no debian:{}-slim image and no `debootstrap` to make a base image: \
             install it (`apt-get install debootstrap`) or load a debian:{}-slim image",
            suite.name(),
            suite.name()
        );
    }
    let mirror = debian_mirror();
    progress.phase(&format!(
        "making base image {tag} (debootstrap --variant=minbase {} {mirror})",
        suite.name()
    ));
    let dir = tempfile::Builder::new()
        .prefix("runner-lab-rootfs-")
        .tempdir_in(std::env::var("RUNNER_LAB_TMP").unwrap_or_else(|_| "/var/tmp".to_string()))
        .context("temporary directory for debootstrap")?;
    let root = dir.path().join("root");
    let mut cmd = tokio::process::Command::new("debootstrap");
    cmd.args(["--variant=minbase", suite.name()])
        .arg(&root)
        .arg(&mirror)
        .arg(suite.debootstrap_script())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    docker::stream_command(cmd, "debootstrap", |line| {
        if line.starts_with("I: ") {
            progress.step(line.trim_start_matches("I: "));
        }
    })
    .await
    .context("debootstrap failed (it needs root, and a reachable Debian mirror)")?;
    slim_rootfs(&root, suite)?;
    progress.step(&format!("importing into the engine as {tag}"));
    import_rootfs(&root, tag).await?;
    Ok(())
}

fn slim_rootfs(root: &Path, suite: Suite) -> Result<()> {
    for d in ["var/lib/apt/lists", "var/cache/apt/archives"] {
        let dir = root.join(d);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_file() {
                    std::fs::remove_file(&p)?;
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join("var/cache/apt")) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "bin") {
                std::fs::remove_file(&p)?;
            }
        }
    }
    let write = |rel: &str, text: &str, mode: u32| -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, text)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
        Ok(())
    };
    write("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)?;
    write(
        "etc/dpkg/dpkg.cfg.d/runner-lab-slim",
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n\
         path-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n\
         path-exclude /usr/share/info/*\n",
        0o644,
    )?;
    write(
        "etc/apt/apt.conf.d/90runner-lab",
        "APT::Install-Recommends \"false\";\nAPT::Install-Suggests \"false\";\n\
         Acquire::Languages \"none\";\n",
        0o644,
    )?;
    if suite == Suite::Forky {
        // A testing suite's Release carries a Valid-Until a week or two
        // ahead; a mirror that is a snapshot (as on these machines) is
        // refused once it passes. A lab image, never a host we build.
        write(
            "etc/apt/apt.conf.d/91runner-lab-testing",
            "Acquire::Check-Valid-Until \"false\";\n",
            0o644,
        )?;
    }
    Ok(())
}

async fn import_rootfs(root: &Path, tag: &str) -> Result<()> {
    let mut tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("run tar")?;
    let tar_out: Stdio = tar
        .stdout
        .take()
        .context("tar stdout")?
        .try_into()
        .context("pipe tar into docker import")?;
    let change = format!("LABEL {LABEL_RECIPE}={}", recipe_sha());
    let out = docker::command(&["import", "--change", &change, "-", tag])
        .stdin(tar_out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await?;
    let st = tar.wait().await?;
    if !out.status.success() || !st.success() {
        bail!(
            "docker import of the base image failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(prog)).find(|p| p.is_file())
}

/// Builds `spec` unless the engine already has it with the same context
/// hash and base image ID.
pub async fn ensure_image(spec: &ImageSpec, progress: &Progress) -> Result<ImageAction> {
    let (base, _) = ensure_base(spec.suite, progress).await?;
    let base_id = image_id(&base)
        .await?
        .with_context(|| format!("base image {base} vanished"))?;
    let sha = spec.context_sha256();
    let old_id = image_id(&spec.tag).await?;
    if old_id.is_some()
        && label(&spec.tag, LABEL_SHA).await?.as_deref() == Some(sha.as_str())
        && label(&spec.tag, LABEL_BASE).await?.as_deref() == Some(base_id.as_str())
    {
        return Ok(ImageAction::Unchanged);
    }
    progress.phase(&format!("building {} on {base}", spec.tag));
    let ctx = tempfile::Builder::new()
        .prefix("runner-lab-build-")
        .tempdir()
        .context("temporary build context")?;
    for (name, content) in spec.files {
        std::fs::write(ctx.path().join(name), content)?;
    }
    let ctx_path = ctx.path().to_string_lossy().into_owned();
    let args = vec![
        "build".to_string(),
        "--rm".into(),
        "--force-rm".into(),
        "--build-arg".into(),
        format!("BASE={base}"),
        "--label".into(),
        format!("{LABEL_SHA}={sha}"),
        "--label".into(),
        format!("{LABEL_BASE}={base_id}"),
        "-t".into(),
        spec.tag.clone(),
        ctx_path,
    ];
    let mut step = String::new();
    // The classic builder needs no buildx plugin and prints one line per
    // step, which is what the progress display shows.
    docker::stream(&args, &[("DOCKER_BUILDKIT", "0")], |line| {
        if line.starts_with("Step ") {
            step = line.to_string();
            progress.step(line);
        } else if !line.trim().is_empty() && !line.starts_with(" ---> ") {
            progress.detail(&step, line.trim());
        }
    })
    .await
    .with_context(|| format!("building {}", spec.tag))?;
    if let Some(old) = old_id
        && image_id(&spec.tag).await?.as_deref() != Some(old.as_str())
    {
        // The old image is now untagged; drop it unless something uses it.
        let _ = docker::output(&["image", "rm", &old]).await;
    }
    Ok(ImageAction::Built)
}

#[cfg(test)]
mod tests {

    #[test]
    fn forky_is_made_with_the_sid_script() {
        assert_eq!(Suite::Forky.debootstrap_script(), "sid");
        assert_eq!(Suite::Trixie.debootstrap_script(), "trixie");
    }
    use super::*;

    #[test]
    fn mirror_one_line_and_deb822() {
        let one = "# c\ndeb [arch=amd64] http://ftp.example.org/debian/ bookworm main\n";
        assert_eq!(
            mirror_from_sources(one).as_deref(),
            Some("http://ftp.example.org/debian")
        );
        let d822 = "Types: deb\nURIs: http://deb.debian.org/debian-security\n\n\
                    Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n";
        assert_eq!(
            mirror_from_sources(d822).as_deref(),
            Some("http://deb.debian.org/debian")
        );
        assert_eq!(
            mirror_from_sources("deb https://x.y/node nodistro main"),
            None
        );
    }

    #[test]
    fn context_hash_differs_per_image() {
        let h = ImageSpec::host().context_sha256();
        assert_eq!(h.len(), 64);
        let new = crate::Stack::default();
        let old = crate::Stack::builtin("rabbitmq-3.10").unwrap();
        let [rabbit4, haproxy] = [0, 1].map(|i| ImageSpec::service(&new.images[i]));
        assert_ne!(h, haproxy.context_sha256());
        assert_eq!(
            rabbit4.context_sha256(),
            ImageSpec::service(&old.images[0]).context_sha256()
        );
    }
}
