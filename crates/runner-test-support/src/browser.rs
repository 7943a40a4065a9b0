//! A real browser for the pages a person looks at: Debian's headless
//! Chromium, driven over the DevTools protocol (`headless_chrome`), typing
//! into forms and taking screenshots as a person would see the page.
//! It reaches only the addresses it is given: everything else goes to a
//! proxy on a closed loopback port, and Chromium's background traffic is
//! off (the crate's default flags).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser as Chrome, LaunchOptions, Tab};

/// Debian's package installs it here (`./dev setup` installs it).
const CHROMIUM: &str = "/usr/bin/chromium";

pub struct Browser {
    chrome: Chrome,
}

impl Browser {
    /// Headless Chromium that may reach `allowed` (host names or
    /// addresses, as in `--proxy-bypass-list`) and nothing else.
    pub fn launch(allowed: &[&str]) -> Result<Browser> {
        if !Path::new(CHROMIUM).exists() {
            bail!("{CHROMIUM} is not installed (./dev setup installs Debian's chromium)");
        }
        let proxy = OsStr::new("--proxy-server=http://127.0.0.1:9");
        let bypass = format!("--proxy-bypass-list={}", allowed.join(";"));
        let options = LaunchOptions::default_builder()
            .path(Some(PathBuf::from(CHROMIUM)))
            .headless(true)
            .sandbox(false)
            .window_size(Some((1280, 1024)))
            .args(vec![proxy, OsStr::new(&bypass)])
            .idle_browser_timeout(Duration::from_secs(120))
            .build()
            .context("Chromium's launch options")?;
        let chrome = Chrome::new(options).context("launch headless Chromium")?;
        Ok(Browser { chrome })
    }

    /// A new tab at `url`, answering an HTTP authentication challenge with
    /// `credentials` when given.
    pub fn open(&self, url: &str, credentials: Option<(&str, &str)>) -> Result<Arc<Tab>> {
        let tab = self.chrome.new_tab()?;
        if let Some((user, password)) = credentials {
            tab.enable_fetch(None, Some(true))?;
            tab.authenticate(Some(user.into()), Some(password.into()))?;
        }
        tab.navigate_to(url)?.wait_until_navigated()?;
        Ok(tab)
    }
}

/// The page's HTML once `done` holds for it, polled until `timeout`.
pub fn wait_for_content(
    tab: &Tab,
    timeout: Duration,
    done: impl Fn(&str) -> bool,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let html = tab.get_content()?;
        if done(&html) {
            return Ok(html);
        }
        if Instant::now() > deadline {
            bail!("the page did not show what was expected within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Saves a PNG of what the tab shows to `dir/name.png`; returns the path.
pub fn screenshot(tab: &Tab, dir: &Path, name: &str) -> Result<PathBuf> {
    let png = tab.capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}
