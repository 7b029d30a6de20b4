//! Staff take over, answer and hand back.

use super::*;
use crate::both;
use frontdesk_agent::testing::{Reply, StandIn};

async fn staff_post(app: &TestApp, token: &str, path: &str, body: Option<Value>) -> Value {
    let mut request = app.client.post(app.at(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let res = request.send().await.expect("send");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.expect("json")
}

/// While handed off the assistant never answers (the model gets no request); staff replies reach
/// the customer live and in the history; after the hand-back the next message is answered with
/// the whole conversation, staff's part included.
async fn handoff_and_handback(app: &TestApp) {
    let model = StandIn::start().await;
    model.always(Reply::Text("Happy to help with that.".into()));
    let t = app.tenant("Staffed Studio").await;
    use_model(app, &t, &model, json!({})).await;
    let first = say(app, &t.slug, None, "Can I book a pilates class for Friday?").await;
    let token = first["visitor_token"].as_str().expect("token").to_owned();
    let conversation = first["conversation_id"].as_str().expect("id").to_owned();
    let last_seen = first["replies"][0]["id"].as_str().expect("reply id").to_owned();
    assert_eq!(model.received().len(), 1);

    let base = format!("/api/v1/conversations/{conversation}");
    let taken = staff_post(app, &t.access_token, &format!("{base}/takeover"), None).await;
    assert_eq!(taken["status"], "handed_off");

    // The visitor's live stream, from the last message it has.
    let res = app
        .client
        .get(app.at("/api/v1/public/events"))
        .query(&[("tenant", t.slug.as_str()), ("after", last_seen.as_str())])
        .header("x-visitor-token", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let mut live = Live::new(res);
    let deadline = Instant::now() + Duration::from_secs(10);
    let joined = live.until(deadline, |e| e.name == "message").await;
    assert!(joined.data["text"].as_str().is_some_and(|t| t.contains("joined the conversation")), "{:?}", joined);

    let waiting = say(app, &t.slug, Some(&token), "Are you still there?").await;
    assert_eq!(waiting["status"], "handed_off");
    assert_eq!(waiting["replies"], json!([]));
    let events = stream(app, &t.slug, json!({"message": "Hello?", "visitor_token": token})).await;
    assert!(named(&events, "delta").is_empty() && named(&events, "message").is_empty(), "{events:?}");
    assert_eq!(named(&events, "status")[0]["status"], "handed_off");

    // Staff start writing: the visitor sees someone typing (another tenant's staff cannot).
    let typing_at =
        |token: &str| app.client.post(app.at(&format!("{base}/typing"))).bearer_auth(token.to_owned()).send();
    assert_eq!(typing_at(&t.access_token).await.expect("send").status(), 204);
    let typing = live.until(deadline, |e| e.name == "typing").await;
    assert_eq!(typing.data["author"], "staff", "{typing:?}");
    let other = app.tenant("Other Staffed Studio").await;
    assert_eq!(typing_at(&other.access_token).await.expect("send").status(), 404);

    let staff_text = "Hi, this is the front desk. Friday 18:00 has two places left.";
    let reply = staff_post(app, &t.access_token, &format!("{base}/messages"), Some(json!({"text": staff_text}))).await;
    assert_eq!(reply["author"], "staff");
    let live_reply = live.until(deadline, |e| e.name == "message" && e.data["author"] == "staff").await;
    assert_eq!(live_reply.data["text"], staff_text);
    assert_eq!(live_reply.data["id"], reply["id"]);
    assert!(live_reply.data.get("author_id").is_none(), "staff ids stay private: {:?}", live_reply.data);
    let seen = history(app, &t.slug, &token).await;
    assert!(seen["messages"].as_array().into_iter().flatten().any(|m| m["text"] == staff_text), "{seen}");
    assert_eq!(model.received().len(), 1, "the model was never asked while staff had the conversation");

    let back = staff_post(app, &t.access_token, &format!("{base}/handback"), None).await;
    assert_eq!(back["status"], "open");
    let answer = say(app, &t.slug, Some(&token), "Great, please book me in. Is there a towel service?").await;
    assert_eq!(answer["status"], "open");
    assert_eq!(answer["replies"][0]["text"], "Happy to help with that.");
    assert_eq!(model.received().len(), 2);
    let prompt = prompt_of(&model, 1);
    let turns: Vec<(&str, &str)> =
        prompt.iter().filter(|(role, _)| role != "system").map(|(r, c)| (r.as_str(), c.as_str())).collect();
    assert_eq!(
        turns,
        [
            ("user", "Can I book a pilates class for Friday?"),
            ("assistant", "Happy to help with that."),
            ("user", "Are you still there?"),
            ("user", "Hello?"),
            ("assistant", format!("(a team member wrote) {staff_text}").as_str()),
            ("user", "Great, please book me in. Is there a towel service?"),
        ],
        "the whole history after the hand-back"
    );
}
both!(handoff, handoff_and_handback, |c: &mut frontdesk::config::Config| super::fast(c));
