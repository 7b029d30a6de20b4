//! The binary as operators use it: the README's run command with the demo, and the CLI's
//! commands on the same data directory.

use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

fn frontdesk(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("FRONTDESK_PASSWORD", "cli password 12345")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run frontdesk");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn operator_commands_share_the_data_directory() {
    let dir = std::env::temp_dir().join(crate::harness::unique("frontdesk-cli-"));
    let (ok, out, err) = frontdesk(&dir, &["migrate"]);
    assert!(ok, "{err}");
    assert!(out.contains("up to date"));
    let (ok, out, err) = frontdesk(
        &dir,
        &["tenant", "create", "--name", "Cli Studio", "--owner-email", "cli@example.com", "--industry", "fitness"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("created tenant cli-studio"), "{out}");
    let (ok, out, _) = frontdesk(
        &dir,
        &["apikey", "create", "--tenant", "cli-studio", "--name", "export", "--permission", "members:read"],
    );
    assert!(ok);
    assert!(out.contains("secret (shown once): fdk_"), "{out}");
    let key_id = out
        .split_whitespace()
        .find(|w| w.starts_with("(key_"))
        .expect("key id")
        .trim_matches(|c| c == '(' || c == ')')
        .to_owned();
    let (ok, out, _) = frontdesk(&dir, &["apikey", "list", "--tenant", "cli-studio"]);
    assert!(ok && out.contains("export") && out.contains("active"));
    let (ok, _, _) = frontdesk(&dir, &["apikey", "revoke", "--tenant", "cli-studio", &key_id]);
    assert!(ok);
    let (ok, out, _) = frontdesk(&dir, &["apikey", "list", "--tenant", "cli-studio"]);
    assert!(ok && out.contains("revoked"));
    let (ok, out, err) = frontdesk(
        &dir,
        &[
            "user",
            "create",
            "--email",
            "coach@example.com",
            "--name",
            "Coach",
            "--tenant",
            "cli-studio",
            "--role",
            "VIEWER",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("added to cli-studio as VIEWER"));
    let (ok, out, _) = frontdesk(&dir, &["tenant", "list", "--json"]);
    assert!(ok);
    let tenants: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(tenants[0]["slug"], "cli-studio");
    assert_eq!(tenants[0]["members"], 2);
    let (ok, out, _) = frontdesk(&dir, &["tenant", "suspend", "cli-studio"]);
    assert!(ok && out.contains("suspended"));
    // Bad input: a clear message and a failing exit code, nothing half-done.
    let (ok, _, err) =
        frontdesk(&dir, &["tenant", "create", "--name", "X", "--slug", "API", "--owner-email", "not-an-email"]);
    assert!(!ok);
    assert!(err.contains("error"), "{err}");
    let (ok, _, err) =
        frontdesk(&dir, &["user", "create", "--email", "x@example.com", "--name", "X", "--role", "KING"]);
    assert!(!ok && err.contains("role"), "{err}");
    let (ok, out, _) = frontdesk(&dir, &["jobs", "list"]);
    assert!(ok, "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_prints_where_to_log_in() {
    let dir = std::env::temp_dir().join(crate::harness::unique("frontdesk-serve-"));
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/health/ready")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "serve did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The demo login printed by serve works.
    let res = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/token"))
        .json(&json!({"email": frontdesk::demo::OWNER_EMAIL, "password": frontdesk::demo::DEMO_PASSWORD}))
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.expect("json");
    let tenant: Value = client
        .get(format!("http://127.0.0.1:{port}/api/v1/tenant"))
        .bearer_auth(tokens["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("tenant")
        .json()
        .await
        .expect("json");
    assert_eq!(tenant["slug"], "demo");
    assert_eq!(tenant["time_zone"], "Europe/Berlin");
    // The demo's metrics are scored in the background: yesterday's booking outage shows up.
    let token = tokens["access_token"].as_str().expect("token");
    let mut found = false;
    for _ in 0..100 {
        let anomalies: Value = client
            .get(format!("http://127.0.0.1:{port}/api/v1/anomalies?metric=bookings"))
            .bearer_auth(token)
            .send()
            .await
            .expect("anomalies")
            .json()
            .await
            .expect("json");
        if anomalies["items"].as_array().is_some_and(|a| a.iter().any(|x| x["direction"] == "down")) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the demo's booking outage is detected");
    let _ = child.kill().await;
    let output = child.wait_with_output().await.expect("output");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains(&format!("http://127.0.0.1:{port}/login")), "{printed}");
    assert!(
        printed.contains(frontdesk::demo::OWNER_EMAIL) && printed.contains(frontdesk::demo::DEMO_PASSWORD),
        "{printed}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
