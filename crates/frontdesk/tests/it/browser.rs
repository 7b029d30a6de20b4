//! The dashboard in a real headless Chromium: sign in with two-factor authentication, invite a
//! member, create an API key, switch the language — as a person would.

use crate::harness::{Backend, TestApp, PASSWORD};
use crate::webdriver::Browser;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_signs_in_with_2fa_invites_and_creates_a_key() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let t = app.tenant("Browser Studio").await;
    // Two-factor on, through the API.
    let setup: Value = app
        .client
        .post(app.at("/api/v1/me/two-factor/setup"))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("setup")
        .json()
        .await
        .expect("json");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    let now = frontdesk_kernel::time::now_ms() / 1000;
    let code = frontdesk_identity::totp::code_at(&secret, now - 30).expect("code");
    let res = app
        .client
        .post(app.at("/api/v1/me/two-factor/confirm"))
        .bearer_auth(&t.access_token)
        .json(&json!({"code": code}))
        .send()
        .await
        .expect("confirm");
    assert_eq!(res.status(), 200);

    let browser = Browser::start().await;
    // A protected page sends the visitor to the log-in form, then back.
    browser.goto(&app.at("/app/team")).await;
    browser.find("#login-submit").await;
    assert!(browser.url().await.contains("/login?next="));
    browser.fill("#f-email", &t.email).await;
    browser.fill("#f-password", PASSWORD).await;
    browser.click("#login-submit").await;
    // Second step: the current code.
    browser.find("#login-2fa-submit").await;
    let code = frontdesk_identity::totp::code_at(&secret, frontdesk_kernel::time::now_ms() / 1000).expect("code");
    browser.fill("#f-code", &code).await;
    browser.click("#login-2fa-submit").await;
    browser.find("#invite-submit").await;
    assert!(browser.url().await.ends_with("/app/team"), "back where the visitor wanted to go");
    browser.wait_for_text("Browser Studio").await;

    // Invite a member as ADMIN.
    browser.fill("#f-email", "coach@browser.example").await;
    browser.click("#f-role option[value='ADMIN']").await;
    browser.click("#invite-submit").await;
    browser.wait_for_text("coach@browser.example").await;
    let invitations = browser.text("#invitations").await;
    assert!(invitations.contains("coach@browser.example"), "{invitations}");
    let listed: Value = app
        .client
        .get(app.at("/api/v1/invitations"))
        .bearer_auth(&t.access_token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"][0]["email"], "coach@browser.example");
    assert_eq!(listed["items"][0]["role"], "ADMIN");

    // Create an API key; its secret is shown once and works.
    browser.goto(&app.at("/app/api-keys")).await;
    browser.fill("#f-name", "Reporting export").await;
    browser.click("#create-key-submit").await;
    let key = browser.text("#new-key-secret").await;
    assert!(key.starts_with("fdk_"), "secret shown: {key}");
    let res = app.client.get(app.at("/api/v1/members")).bearer_auth(key.trim()).send().await.expect("use key");
    assert_eq!(res.status(), 200, "the new key works");
    browser.goto(&app.at("/app/api-keys")).await;
    let page = browser.page_text().await;
    assert!(page.contains("Reporting export") && !page.contains(key.trim()), "listed without its secret");

    // The audit log shows what the browser did; German on request.
    browser.goto(&app.at("/app/audit")).await;
    browser.wait_for_text("invitation.created").await;
    browser.wait_for_text("api_key.created").await;
    browser.click("a[href^='/lang/de']").await;
    browser.wait_for_text("Änderungsprotokoll").await;

    // Logging out ends the session.
    browser.goto(&app.at("/app/account")).await;
    browser.click("form[action='/logout'] button").await;
    browser.find("#login-submit").await;
    browser.goto(&app.at("/app/team")).await;
    browser.find("#login-submit").await;

    browser.quit().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_signs_up_and_operator_sees_the_tenant() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start().await;
    browser.goto(&app.at("/signup")).await;
    browser.fill("#f-tenant_name", "Salon Lina").await;
    browser.fill("#f-name", "Lina Berg").await;
    browser.fill("#f-email", "lina@salon.example").await;
    browser.fill("#f-password", "a long salon password").await;
    browser.click("#signup-submit").await;
    browser.wait_for_text("Salon Lina").await;
    assert!(browser.url().await.contains("/app"));
    // A validation error is shown next to the form, not as a crash.
    browser.goto(&app.at("/app/settings")).await;
    browser.find("#settings-submit").await;

    // The platform operator sees every tenant.
    let operator = app.identity.create_user("ops@frontdesk.example", "Ops", PASSWORD, true).await.expect("operator");
    let browser2 = Browser::start().await;
    browser2.goto(&app.at("/login")).await;
    browser2.fill("#f-email", &operator.email).await;
    browser2.fill("#f-password", PASSWORD).await;
    browser2.click("#login-submit").await;
    // The sign-in's own navigation must finish first: a new one would cancel it mid-flight.
    browser2.wait_for_text("Log out").await;
    browser2.goto(&app.at("/platform/tenants")).await;
    browser2.wait_for_text("Salon Lina").await;
    browser2.quit().await;
    browser.quit().await;
    app.stop().await;
}

/// The Channels page as an owner uses it: connect a Telegram bot, send a message, watch it go
/// out through (a stand-in of) the Bot API; the token is never shown again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_connects_telegram_and_sends_a_message() {
    use crate::channels::{bot_api, BOT_TOKEN};
    let (bot_url, sent, bot) = bot_api().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.telegram_api_url = Some(bot_url)).await;
    let t = app.tenant("Telegram Studio").await;
    let browser = Browser::start().await;
    browser.goto(&app.at("/login?next=/app/channels")).await;
    browser.fill("#f-email", &t.email).await;
    browser.fill("#f-password", PASSWORD).await;
    browser.click("#login-submit").await;
    browser.find("#channel-connect-submit").await;
    browser.wait_for_text("Not connected").await;

    browser.click("#f-channel option[value='telegram']").await;
    browser.click("#f-provider option[value='telegram']").await;
    browser.fill("#f-secret", BOT_TOKEN).await;
    browser.click("#channel-connect-submit").await;
    browser.wait_for_text("Channel connected.").await;
    let row = browser.text("#channel-telegram").await;
    assert!(row.contains("…Dsaw"), "{row}");
    assert!(!browser.page_text().await.contains(BOT_TOKEN), "the token is not shown again");

    browser.click("#f-send-channel option[value='telegram']").await;
    browser.fill("#f-to", "@studio_news").await;
    browser.fill("#f-text", "Open on Sunday").await;
    browser.click("#channel-send-submit").await;
    browser.wait_for_text("Message queued.").await;
    // The job sends it in the background; the outbox shows it sent after a reload.
    for _ in 0..100 {
        if !sent.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent.lock().expect("lock").len(), 1);
    let mut outbox = String::new();
    for _ in 0..50 {
        browser.goto(&app.at("/app/channels")).await;
        outbox = browser.text("#channel-outbox").await;
        if outbox.contains("sent") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(outbox.contains("@studio_news") && outbox.contains("sent"), "{outbox}");

    browser.quit().await;
    app.stop().await;
    bot.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_connects_stripe_and_stops_dunning() {
    use crate::payments::{deliver, failed_invoice_event, stripe_api, STRIPE_KEY, WEBHOOK_SECRET};
    let (stripe_url, _charged, stripe) = stripe_api().await;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.stripe_api_url = Some(stripe_url)).await;
    let t = app.tenant("Stripe Studio").await;
    let browser = Browser::start().await;
    browser.goto(&app.at("/login?next=/app/payments")).await;
    browser.fill("#f-email", &t.email).await;
    browser.fill("#f-password", PASSWORD).await;
    browser.click("#login-submit").await;
    browser.find("#stripe-connect-submit").await;
    browser.wait_for_text("Not connected").await;
    let webhook_url = browser.text("#stripe-webhook-url").await;
    assert!(webhook_url.ends_with(&format!("/api/v1/public/stripe/{}/webhook", t.tenant_id)), "{webhook_url}");

    // A publishable key is named at its field; the real one connects.
    browser.fill("#f-secret_key", "pk_test_51NvQkEXAMPLEpublishable").await;
    browser.fill("#f-webhook_secret", WEBHOOK_SECRET).await;
    browser.click("#stripe-connect-submit").await;
    browser.find("#f-secret_key-error").await;
    browser.fill("#f-secret_key", STRIPE_KEY).await;
    browser.fill("#f-webhook_secret", WEBHOOK_SECRET).await;
    browser.click("#stripe-connect-submit").await;
    browser.wait_for_text("Stripe connected.").await;
    assert_eq!(browser.text("#stripe-account-id").await, "acct_1Nv0FGQ9RKHgCVdK");
    let page = browser.page_text().await;
    assert!(page.contains("…abcd") && !page.contains(STRIPE_KEY) && !page.contains(WEBHOOK_SECRET), "{page}");

    // A failed payment arrives from Stripe and dunning starts for it (through the API).
    let event = failed_invoice_event("evt_1NvQbrowser000001", "in_1NvQbrowserA");
    assert_eq!(deliver(&app, &t.tenant_id, &event, WEBHOOK_SECRET).await.status(), 200);
    let res = app
        .client
        .post(app.at("/api/v1/commerce/dunning"))
        .bearer_auth(&t.api_key)
        .json(&json!({"invoice_id": "in_1NvQbrowserA"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let mut payments = String::new();
    for _ in 0..100 {
        browser.goto(&app.at("/app/payments")).await;
        payments = browser.text("#payments").await;
        if payments.contains("49.00 EUR") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(payments.contains("Failed") && payments.contains("ada@example.com"), "{payments}");
    let cases = browser.text("#dunning-cases").await;
    assert!(cases.contains("in_1NvQbrowserA") && cases.contains("Retrying") && cases.contains("0 / 3"), "{cases}");

    // Stopped from the page (after the confirmation).
    browser.execute("window.confirm = () => true; return true;", vec![]).await;
    browser.click("#dunning-cases button[type=submit]").await;
    browser.wait_for_text("Dunning stopped.").await;
    let cases = browser.text("#dunning-cases").await;
    assert!(cases.contains("Stopped") && cases.contains("Stopped by a team member."), "{cases}");

    browser.quit().await;
    app.stop().await;
    stripe.abort();
}
