//! Authentication and authorisation rules.

use crate::access::{fill, operations, request, scopes};
use crate::both;
use crate::harness::{authed, Cred, TestApp, PASSWORD};
use serde_json::{json, Value};

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut rb = app.client.post(app.at(path)).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.expect("send")
}

async fn code_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap_or_default();
    (status, v["code"].as_str().unwrap_or("").to_owned())
}

async fn wrong_password_throttling(app: &TestApp) {
    let t = app.tenant("Throttle Studio").await;
    for _ in 0..5 {
        let res = post(app, "/api/v1/auth/token", None, json!({"email": t.email, "password": "wrong password!"})).await;
        assert_eq!(code_of(res).await, (401, "invalid_credentials".into()));
    }
    // Now even the right password is refused for a while, with Retry-After.
    let res = post(app, "/api/v1/auth/token", None, json!({"email": t.email, "password": PASSWORD})).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(retry > 0 && retry <= 15 * 60);
    // Another account is not affected by this one's throttling.
    let other = app.tenant("Other Studio").await;
    let res = post(app, "/api/v1/auth/token", None, json!({"email": other.email, "password": PASSWORD})).await;
    assert_eq!(res.status(), 200);
}
both!(throttling, wrong_password_throttling);

async fn per_ip_login_throttling(app: &TestApp) {
    let mut limited = false;
    for i in 0..40 {
        let res = post(
            app,
            "/api/v1/auth/token",
            None,
            json!({"email": format!("nobody{i}@example.com"), "password": "whatever-it-is"}),
        )
        .await;
        if res.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "log-in attempts from one address are limited");
}
both!(ip_throttling, per_ip_login_throttling);

async fn two_factor(app: &TestApp) {
    let t = app.tenant("2FA Studio").await;
    let setup: Value =
        post(app, "/api/v1/me/two-factor/setup", Some(&t.access_token), json!({})).await.json().await.expect("json");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    assert!(setup["otpauth_uri"].as_str().unwrap_or("").starts_with("otpauth://totp/"));
    let now = frontdesk_kernel::time::now_ms() / 1000;
    let res = post(app, "/api/v1/me/two-factor/confirm", Some(&t.access_token), json!({"code": "000000"})).await;
    assert_eq!(res.status(), 422);
    // Confirm with the code of the previous step so the current one stays usable for log-in.
    let confirm_code = frontdesk_identity::totp::code_at(&secret, now - 30).expect("code");
    let res = post(app, "/api/v1/me/two-factor/confirm", Some(&t.access_token), json!({"code": confirm_code})).await;
    assert_eq!(res.status(), 200);
    let codes: Value = res.json().await.expect("json");
    let recovery: Vec<String> = codes["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);

    let res = post(app, "/api/v1/auth/token", None, json!({"email": t.email, "password": PASSWORD})).await;
    assert_eq!(code_of(res).await, (401, "mfa_required".into()));
    let code = frontdesk_identity::totp::code_at(&secret, now).expect("code");
    let res =
        post(app, "/api/v1/auth/token", None, json!({"email": t.email, "password": PASSWORD, "totp_code": code})).await;
    assert_eq!(res.status(), 200, "password + current code signs in");
    let res =
        post(app, "/api/v1/auth/token", None, json!({"email": t.email, "password": PASSWORD, "totp_code": code})).await;
    assert_eq!(code_of(res).await, (401, "mfa_invalid".into()), "a code works once");
    let res = post(
        app,
        "/api/v1/auth/token",
        None,
        json!({"email": t.email, "password": PASSWORD, "recovery_code": recovery[0]}),
    )
    .await;
    assert_eq!(res.status(), 200, "a recovery code signs in");
    let res = post(
        app,
        "/api/v1/auth/token",
        None,
        json!({"email": t.email, "password": PASSWORD, "recovery_code": recovery[0]}),
    )
    .await;
    assert_eq!(res.status(), 401, "a recovery code works once");
    let me: Value = app.get_json("/api/v1/me", &t.access_token).await;
    assert_eq!(me["two_factor"], true);
}
both!(two_factor_required, two_factor);

async fn refresh_reuse(app: &TestApp) {
    let t = app.tenant("Refresh Studio").await;
    let res = post(app, "/api/v1/auth/refresh", None, json!({"refresh_token": t.refresh_token})).await;
    assert_eq!(res.status(), 200);
    let pair: Value = res.json().await.expect("json");
    let (access2, refresh2) =
        (pair["access_token"].as_str().expect("a").to_owned(), pair["refresh_token"].as_str().expect("r").to_owned());
    assert_ne!(refresh2, t.refresh_token);
    let res = app.client.get(app.at("/api/v1/tenant")).bearer_auth(&access2).send().await.expect("send");
    assert_eq!(res.status(), 200);
    // The spent token comes back: the whole family is revoked.
    let res = post(app, "/api/v1/auth/refresh", None, json!({"refresh_token": t.refresh_token})).await;
    assert_eq!(code_of(res).await, (401, "refresh_token_reused".into()));
    let res = post(app, "/api/v1/auth/refresh", None, json!({"refresh_token": refresh2})).await;
    assert_eq!(res.status(), 401, "the newest refresh token of the family is dead too");
    for access in [&t.access_token, &access2] {
        let res = app.client.get(app.at("/api/v1/tenant")).bearer_auth(access).send().await.expect("send");
        assert_eq!(code_of(res).await, (401, "token_revoked".into()));
    }
    // Other sign-ins of the same account are untouched.
    let fresh = app.token(&t.email, PASSWORD, None).await;
    let res = app.client.get(app.at("/api/v1/tenant")).bearer_auth(&fresh).send().await.expect("send");
    assert_eq!(res.status(), 200);
    // Logout ends one sign-in; revoke-all ends every one.
    let res = post(app, "/api/v1/auth/logout", Some(&fresh), json!({})).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.client.get(app.at("/api/v1/me")).bearer_auth(&fresh).send().await.expect("send").status(), 401);
    let (s1, s2) = (app.token(&t.email, PASSWORD, None).await, app.token(&t.email, PASSWORD, None).await);
    assert_eq!(post(app, "/api/v1/auth/revoke-all", Some(&s1), json!({})).await.status(), 204);
    assert_eq!(app.client.get(app.at("/api/v1/me")).bearer_auth(&s2).send().await.expect("send").status(), 401);
    let session = Cred::Session(t.session.0.clone(), t.session.1.clone());
    assert_eq!(authed(app.client.get(app.at("/api/v1/me")), &session).send().await.expect("send").status(), 401);
}
both!(refresh_token_reuse, refresh_reuse);

async fn api_keys(app: &TestApp) {
    let t = app.tenant("Key Studio").await;
    let res = post(
        app,
        "/api/v1/api-keys",
        Some(&t.access_token),
        json!({"name": "reader", "permissions": ["members:read"]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.expect("json");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let key_id = created["id"].as_str().expect("id").to_owned();
    assert!(secret.starts_with(created["prefix"].as_str().expect("prefix")));
    // Listed without the secret.
    let list = app
        .client
        .get(app.at("/api/v1/api-keys"))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(list.contains(&key_id) && !list.contains(&secret));
    // Scoped: may read members, may not manage keys.
    assert_eq!(
        app.client.get(app.at("/api/v1/members")).bearer_auth(&secret).send().await.expect("send").status(),
        200
    );
    assert_eq!(
        app.client.get(app.at("/api/v1/api-keys")).bearer_auth(&secret).send().await.expect("send").status(),
        403
    );
    // A key cannot grant more than its creator has.
    let (_, viewer) = app.member(&t, "ADMIN").await;
    let res =
        post(app, "/api/v1/api-keys", Some(&viewer), json!({"name": "escalate", "permissions": ["tenant:own"]})).await;
    assert_eq!(res.status(), 422);
    // Revoked: refused on the very next request.
    let res = app
        .client
        .delete(app.at(&format!("/api/v1/api-keys/{key_id}")))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 204);
    let res = app.client.get(app.at("/api/v1/members")).bearer_auth(&secret).send().await.expect("send");
    assert_eq!(code_of(res).await, (401, "api_key_revoked".into()));
    // A tampered secret is refused.
    let mut tampered = t.api_key.clone();
    tampered.pop();
    tampered.push(if t.api_key.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(
        app.client.get(app.at("/api/v1/tenant")).bearer_auth(&tampered).send().await.expect("send").status(),
        401
    );
}
both!(api_key_lifecycle, api_keys);

async fn viewer_cannot_change_anything(app: &TestApp) {
    let t = app.tenant("Viewer Studio").await;
    let (_, viewer) = app.member(&t, "VIEWER").await;
    let mut refused = 0;
    for (method, path, op) in operations(app) {
        let Some(scopes) = scopes(&op) else { continue };
        // Reads are open to viewers, also when sent as POST (a search with a body).
        let reads_only = scopes.iter().all(|s| s.ends_with(":read"));
        if method == "GET" || scopes.is_empty() || scopes[0] == "platform:operate" || reads_only {
            continue;
        }
        let res = request(app, &method, &app.at(&fill(&path, "key_01JD3Q9ZK6Y2V8T4N1M5R7B3XW")))
            .bearer_auth(&viewer)
            .json(&json!({"name": "x", "role": "OWNER", "email": "v@example.com"}))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 403, "a viewer may not {method} {path}");
        refused += 1;
    }
    assert!(refused >= 10);
    assert_eq!(
        app.client.get(app.at("/api/v1/members")).bearer_auth(&viewer).send().await.expect("send").status(),
        200
    );
}
both!(viewer_read_only, viewer_cannot_change_anything);

async fn owners_are_protected(app: &TestApp) {
    let t = app.tenant("Owner Studio").await;
    let (_, admin) = app.member(&t, "ADMIN").await;
    let members: Value = app.get_json("/api/v1/members", &t.access_token).await;
    let owner = members["items"].as_array().expect("items").iter().find(|m| m["role"] == "OWNER").expect("owner")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let url = app.at(&format!("/api/v1/members/{owner}"));
    // An admin can neither remove nor demote the owner.
    assert_eq!(app.client.delete(&url).bearer_auth(&admin).send().await.expect("send").status(), 403);
    assert_eq!(
        app.client.patch(&url).bearer_auth(&admin).json(&json!({"role": "ADMIN"})).send().await.expect("send").status(),
        403
    );
    // The owner cannot leave the tenant without an owner.
    let res = app.client.delete(&url).bearer_auth(&t.access_token).send().await.expect("send");
    assert_eq!(code_of(res).await, (409, "last_owner".into()));
    let res = app
        .client
        .patch(&url)
        .bearer_auth(&t.access_token)
        .json(&json!({"role": "MEMBER"}))
        .send()
        .await
        .expect("send");
    assert_eq!(code_of(res).await, (409, "last_owner".into()));
    // Every change is in the audit log, with who and from where.
    let log: Value = app.get_json("/api/v1/audit-log?action=member.", &t.access_token).await;
    assert!(log["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|e| e["action"].as_str().unwrap_or("").starts_with("member.")));
}
both!(last_owner, owners_are_protected);

async fn csrf_and_suspension(app: &TestApp) {
    let t = app.tenant("Csrf Studio").await;
    // A session without the CSRF token cannot change anything.
    let res = app
        .client
        .post(app.at("/api/v1/workspaces"))
        .header("cookie", format!("fd_session={}", t.session.0))
        .json(&json!({"name": "Forged"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 403);
    let res =
        authed(app.client.post(app.at("/api/v1/workspaces")), &Cred::Session(t.session.0.clone(), t.session.1.clone()))
            .json(&json!({"name": "Real"}))
            .send()
            .await
            .expect("send");
    assert_eq!(res.status(), 201);
    // A suspended tenant's credentials are refused; reactivated, they work again.
    let tid = frontdesk_kernel::TenantId::parse(&t.tenant_id).expect("id");
    let actor = frontdesk_store::audit::Actor::cli();
    app.identity
        .set_tenant_status(&tid, frontdesk_identity::model::TenantStatus::Suspended, &actor)
        .await
        .expect("suspend");
    for (name, cred) in t.creds() {
        let res = authed(app.client.get(app.at("/api/v1/tenant")), &cred).send().await.expect("send");
        assert!(res.status() == 403 || res.status() == 401, "{name} of a suspended tenant: {}", res.status());
    }
    app.identity
        .set_tenant_status(&tid, frontdesk_identity::model::TenantStatus::Active, &actor)
        .await
        .expect("reactivate");
    assert_eq!(
        app.client.get(app.at("/api/v1/tenant")).bearer_auth(&t.api_key).send().await.expect("send").status(),
        200
    );
}
both!(csrf_suspension, csrf_and_suspension);

async fn invitations(app: &TestApp) {
    let t = app.tenant("Invite Studio").await;
    let res = post(
        app,
        "/api/v1/invitations",
        Some(&t.access_token),
        json!({"email": "new.coach@example.com", "role": "MEMBER"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    // The e-mail is in the outbox with the link; the worker holds it (no mail server).
    let mut link = None;
    for _ in 0..50 {
        let outbox: Value = app.get_json("/api/v1/outbox", &t.access_token).await;
        let email = &outbox["items"][0];
        if email["status"] == "held" {
            let body = email["body"].as_str().unwrap_or("");
            link = body.split_whitespace().find(|w| w.contains("/invite/")).map(str::to_owned);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let link = link.expect("invitation e-mail held in the outbox with its link");
    let token = link.rsplit('/').next().expect("token").to_owned();
    let res = post(
        app,
        "/api/v1/invitations/accept",
        None,
        json!({"token": token, "name": "New Coach", "password": "another good password"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let res = post(
        app,
        "/api/v1/invitations/accept",
        None,
        json!({"token": token, "name": "Again", "password": "another good password"}),
    )
    .await;
    assert_eq!(res.status(), 404, "an invitation is used once");
    let coach = app.token("new.coach@example.com", "another good password", Some(&t.tenant_id)).await;
    let me: Value = app.get_json("/api/v1/me", &coach).await;
    assert_eq!(me["role"], "MEMBER");
}
both!(invitation_flow, invitations);

/// A minimal SMTP server (RFC 5321 happy path) that keeps what it receives.
async fn smtp_stand_in() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 stand-in ESMTP\r\n").await;
                let mut data: Option<String> = None;
                for _ in 0..1000 {
                    let Ok(Some(line)) = lines.next_line().await else { break };
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            store.lock().expect("lock").push(std::mem::take(body));
                            data = None;
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 stand-in\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 end with <CRLF>.<CRLF>\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 OK\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, received)
}

/// With a mail server configured, the invitation is sent over SMTP and marked sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_sent_over_smtp() {
    let (port, received) = smtp_stand_in().await;
    let app = crate::harness::TestApp::spawn_with(crate::harness::Backend::Sqlite, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    })
    .await;
    let t = app.tenant("Smtp Studio").await;
    let res = post(
        &app,
        "/api/v1/invitations",
        Some(&t.access_token),
        json!({"email": "coach@smtp.example", "role": "MEMBER"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let mut status = String::new();
    for _ in 0..100 {
        let outbox: Value = app.get_json("/api/v1/outbox", &t.access_token).await;
        status = outbox["items"][0]["status"].as_str().unwrap_or("").to_owned();
        if status == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "sent");
    let mail = received.lock().expect("lock").first().cloned().expect("the server received the e-mail");
    assert!(mail.contains("To: coach@smtp.example") && mail.contains("/invite/inv_"), "{mail}");
    app.stop().await;
}
