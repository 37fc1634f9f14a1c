//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver).
//! Signs in, checks the overview chart renders, filters exposures, moves a ticket, and is
//! refused a page its role may not see. Screenshots go to target/browser-screenshots/.
//! Without chromium and chromedriver the test prints SKIPPED, except in CI (`CI=true`),
//! where it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use ctem_model::work::Role;
use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::common::env;

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "chromedriver";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tools_ready() -> bool {
    std::path::Path::new(CHROMIUM).exists()
        && Command::new(DRIVER)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

async fn start_driver() -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let child = Command::new(DRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    let d = Driver(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (d, port)
}

/// Waits (up to 10 s) until the browser's URL contains `needle`: a click that navigates
/// returns before the next page has loaded.
async fn wait_url(c: &fantoccini::Client, needle: &str) -> Result<(), fantoccini::error::CmdError> {
    for _ in 0..200 {
        if c.current_url().await?.as_str().contains(needle) {
            // and the new document is ready
            let ready = c.execute("return document.readyState", vec![]).await?;
            if ready == "complete" {
                return Ok(());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the browser never reached a URL with {needle:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    if !tools_ready() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium and chromedriver are required in CI (.ci/run installs them)");
        }
        eprintln!("SKIPPED: no {CHROMIUM} or {DRIVER} (apt-get install chromium chromium-driver)");
        return;
    }
    let env = env();
    env.password(Role::ItOperations);
    let addr = crate::socket::spawn(env.state.clone()).await;
    let base = format!("http://{addr}");
    let (_driver, port) = start_driver().await;
    let caps = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1366,768"]}});
    let caps = caps.as_object().expect("object").clone();
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("webdriver session");
    let dir = shots();
    let run = async {
        // sign in
        c.goto(&format!("{base}/tickets")).await?;
        assert!(
            c.current_url().await?.path().ends_with("/login"),
            "sent to sign in"
        );
        c.find(Locator::Css("#name"))
            .await?
            .send_keys("it_operations")
            .await?;
        c.find(Locator::Css("#password"))
            .await?
            .send_keys("pw-it_operations")
            .await?;
        c.find(Locator::Css("#signin")).await?.click().await?;
        wait_url(&c, &format!("{base}/")).await?;
        assert_eq!(c.current_url().await?.path(), "/");

        // the overview's chart is drawn, with a visible size
        let line = c.find(Locator::Css("#trend polyline.new")).await?;
        assert!(line.attr("points").await?.is_some_and(|p| p.contains(',')));
        let width = c
            .execute(
                "return document.querySelector('#trend').getBoundingClientRect().width",
                vec![],
            )
            .await?;
        assert!(width.as_f64().unwrap_or(0.0) > 300.0, "chart width {width}");
        std::fs::write(dir.join("overview.png"), c.screenshot().await?).expect("png");

        // filter exposures with the form
        c.find(Locator::LinkText("Exposures"))
            .await?
            .click()
            .await?;
        wait_url(&c, "/exposures").await?;
        c.find(Locator::Css("#f-severity"))
            .await?
            .select_by_value("critical")
            .await?;
        c.find(Locator::Css("#f-apply")).await?.click().await?;
        wait_url(&c, "severity=critical").await?;
        let crit = c
            .find_all(Locator::Css("#exposures td.sev-critical"))
            .await?;
        let url = c.current_url().await?;
        assert_eq!(crit.len(), 24, "{url}: {}", c.source().await?);
        assert!(
            c.find_all(Locator::Css("#exposures td.sev-high"))
                .await?
                .is_empty()
        );
        std::fs::write(dir.join("exposures-critical.png"), c.screenshot().await?).expect("png");

        // move a ticket (the form carries the session's CSRF token)
        c.find(Locator::LinkText("Tickets")).await?.click().await?;
        wait_url(&c, "/tickets").await?;
        c.find(Locator::Css("#move-1"))
            .await?
            .select_by_value("in_progress")
            .await?;
        c.find(Locator::Css("#move-btn-1")).await?.click().await?;
        wait_url(&c, "/tickets#t1").await?;
        let state = c.find(Locator::Css("#t1 td.state")).await?.text().await?;
        assert_eq!(state, "in_progress");
        std::fs::write(dir.join("ticket-moved.png"), c.screenshot().await?).expect("png");

        // a page the role may not see: no link to it, and refused when typed in
        assert!(c.find_all(Locator::LinkText("Intel")).await?.is_empty());
        c.goto(&format!("{base}/intel")).await?;
        wait_url(&c, "/intel").await?;
        let msg = c.find(Locator::Css("#forbidden")).await?.text().await?;
        assert!(msg.contains("may not read_intel"), "{msg}");
        std::fs::write(dir.join("intel-refused.png"), c.screenshot().await?).expect("png");
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let out = run.await;
    let _ = c.close().await;
    out.expect("browser steps");
    let t = env.store().ticket(1).unwrap().unwrap();
    assert_eq!(t.state.as_str(), "in_progress");
}
