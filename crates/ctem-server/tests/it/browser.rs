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

/// Whether the browser tools are here; in CI their absence fails the test.
fn ready_or_skip() -> bool {
    if tools_ready() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("chromium and chromedriver are required in CI (.ci/run installs them)");
    }
    eprintln!("SKIPPED: no {CHROMIUM} or {DRIVER} (apt-get install chromium chromium-driver)");
    false
}

/// A headless Chromium session through a fresh chromedriver.
async fn browser() -> (Driver, fantoccini::Client) {
    let (driver, port) = start_driver().await;
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
    (driver, c)
}

/// Signs `user` (password `pw-USER`) in through the form.
async fn sign_in(
    c: &fantoccini::Client,
    base: &str,
    user: &str,
) -> Result<(), fantoccini::error::CmdError> {
    c.find(Locator::Css("#name")).await?.send_keys(user).await?;
    c.find(Locator::Css("#password"))
        .await?
        .send_keys(&format!("pw-{user}"))
        .await?;
    c.find(Locator::Css("#signin")).await?.click().await?;
    for _ in 0..200 {
        if !c.current_url().await?.path().ends_with("/login") {
            return wait_url(c, base).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{user} was never signed in");
}

/// The rendered width of the element `css`, in CSS pixels.
async fn width(c: &fantoccini::Client, css: &str) -> Result<f64, fantoccini::error::CmdError> {
    let w = c
        .execute(
            &format!("return document.querySelector('{css}').getBoundingClientRect().width"),
            vec![],
        )
        .await?;
    Ok(w.as_f64().unwrap_or(0.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    if !ready_or_skip() {
        return;
    }
    let env = env();
    env.password(Role::ItOperations);
    let addr = crate::socket::spawn(env.state.clone()).await;
    let base = format!("http://{addr}");
    let (_driver, c) = browser().await;
    let dir = shots();
    let run = async {
        // sign in
        c.goto(&format!("{base}/tickets")).await?;
        assert!(
            c.current_url().await?.path().ends_with("/login"),
            "sent to sign in"
        );
        sign_in(&c, &base, "it_operations").await?;
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

        // incidents are for roles that read alerts: no link, and refused when typed in
        assert!(c.find_all(Locator::LinkText("Incidents")).await?.is_empty());
        c.goto(&format!("{base}/incidents")).await?;
        wait_url(&c, "/incidents").await?;
        let msg = c.find(Locator::Css("#forbidden")).await?.text().await?;
        assert!(msg.contains("may not read_alerts"), "{msg}");
        std::fs::write(dir.join("incidents-refused.png"), c.screenshot().await?).expect("png");
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let out = run.await;
    let _ = c.close().await;
    out.expect("browser steps");
    let t = env.store().ticket(1).unwrap().unwrap();
    assert_eq!(t.state.as_str(), "in_progress");
}

/// The measure and validate pages: the KPI trend renders, an incident's state changes through
/// its form, the attack-path graph renders with its choke points, an exercise task is
/// acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_and_validate_pages_in_headless_chromium() {
    if !ready_or_skip() {
        return;
    }
    let env = env();
    env.password(Role::IncidentResponder);
    let addr = crate::socket::spawn(env.state.clone()).await;
    let base = format!("http://{addr}");
    let (_driver, c) = browser().await;
    let dir = shots();
    let run = async {
        c.goto(&format!("{base}/kpis")).await?;
        sign_in(&c, &base, "incident_responder").await?;

        // the KPI trend: drawn lines with a visible size
        c.find(Locator::LinkText("KPIs")).await?.click().await?;
        wait_url(&c, "/kpis").await?;
        let line = c.find(Locator::Css("#trend-mttd-hours polyline")).await?;
        assert!(line.attr("points").await?.is_some_and(|p| p.contains(',')));
        let w = width(&c, "#trend-mttd-hours").await?;
        assert!(w > 200.0, "chart width {w}");
        let dots = c.find_all(Locator::Css("#trend-mttd-hours circle")).await?;
        assert_eq!(dots.len(), 4);
        std::fs::write(dir.join("kpis.png"), c.screenshot().await?).expect("png");

        // an incident's state changes through its form (CSRF token included)
        c.find(Locator::LinkText("Incidents"))
            .await?
            .click()
            .await?;
        wait_url(&c, "/incidents").await?;
        c.find(Locator::Css("#i1 a")).await?.click().await?;
        wait_url(&c, "/incidents/1").await?;
        c.find(Locator::Css("#incident-state"))
            .await?
            .select_by_value("contained")
            .await?;
        c.find(Locator::Css("#incident-set")).await?.click().await?;
        // the form posts and the server sends the browser back to the same page
        let mut now = String::new();
        for _ in 0..200 {
            if let Ok(e) = c.find(Locator::Css("#incident-state-now")).await
                && let Ok(t) = e.text().await
            {
                now = t;
                if now == "contained" {
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(now, "contained");
        std::fs::write(dir.join("incident-contained.png"), c.screenshot().await?).expect("png");

        // the attack-path graph renders, with a choke point drawn
        c.find(Locator::LinkText("Attack paths"))
            .await?
            .click()
            .await?;
        wait_url(&c, "/paths").await?;
        let w = width(&c, "#path-graph").await?;
        assert!(w > 300.0, "graph width {w}");
        let nodes = c.find_all(Locator::Css("#path-graph g.node rect")).await?;
        assert!(nodes.len() >= 2, "{} nodes", nodes.len());
        assert!(
            !c.find_all(Locator::Css("#path-graph path.choke"))
                .await?
                .is_empty()
        );
        std::fs::write(dir.join("paths.png"), c.screenshot().await?).expect("png");

        // an exercise task is acknowledged with its button
        c.find(Locator::LinkText("Scenarios"))
            .await?
            .click()
            .await?;
        wait_url(&c, "/scenarios").await?;
        c.find(Locator::Css("#ack-1-1")).await?.click().await?;
        wait_url(&c, "#exercise-1").await?;
        let acked = c
            .find(Locator::Css("#task-1-1 td.acked"))
            .await?
            .text()
            .await?;
        assert!(acked.contains("min)"), "{acked}");
        assert!(c.find_all(Locator::Css("#ack-1-1")).await?.is_empty());
        std::fs::write(dir.join("exercise-acked.png"), c.screenshot().await?).expect("png");
        Ok::<_, fantoccini::error::CmdError>(())
    };
    let out = run.await;
    let _ = c.close().await;
    out.expect("browser steps");
    let inc = env.store().incident(1).unwrap().unwrap();
    assert_eq!(inc.state.as_str(), "contained");
    assert!(
        env.store().exercise(1).unwrap().unwrap().tasks[0]
            .acked_at
            .is_some()
    );
}
