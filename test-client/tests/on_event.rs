//! `ClientBuilder::on_event` against a scripted Engine.IO server on loopback:
//! every event reaches the callback, in order, and none reaches the queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use socketio_test_client::{Client, ClientError, Event};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Accepts one websocket, opens the session, accepts namespace `/`, waits for
/// the client's `join_chat`, then sends a ping, two events and an ack.
async fn scripted_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("websocket");
        ws.send(Message::text(
            r#"0{"sid":"e","pingInterval":25000,"pingTimeout":20000}"#,
        ))
        .await
        .expect("open");
        assert_eq!(read_text(&mut ws).await, "40");
        ws.send(Message::text(r#"40{"sid":"s"}"#)).await.expect("connect");
        assert_eq!(read_text(&mut ws).await, r#"42["join_chat",{"chat_id":7}]"#);
        for frame in [
            "2",
            r#"42["joined",{"room":"chat|7"}]"#,
            r#"42["update_chat",{"seq":0}]"#,
            "439[1]",
        ] {
            ws.send(Message::text(frame)).await.expect("send");
        }
        // The pong proves the connection's task kept serving the protocol.
        assert_eq!(read_text(&mut ws).await, "3");
        // Keep the connection open until the client closes it.
        while ws.next().await.is_some() {}
    });
    format!("http://{addr}")
}

async fn read_text<S>(ws: &mut S) -> String
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn on_event_receives_every_event_in_order_and_the_queue_none() {
    let url = scripted_server().await;
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = seen.clone();
    let mut client = Client::builder(&url)
        .emit_on_connect("join_chat", json!({ "chat_id": 7 }))
        .on_event(move |event| sink.lock().unwrap().push(event))
        .connect()
        .await
        .expect("connects");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while seen.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "events never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let names: Vec<String> = seen.lock().unwrap().iter().map(|e| e.name.clone()).collect();
    assert_eq!(names, ["joined", "update_chat"]);
    assert_eq!(seen.lock().unwrap()[1].args, [json!({ "seq": 0 })]);
    assert!(matches!(
        client.next_event(Duration::from_millis(50)).await,
        Err(ClientError::Timeout(_))
    ));
    assert!(client.is_connected());
    client.disconnect().await.expect("disconnects");
}
