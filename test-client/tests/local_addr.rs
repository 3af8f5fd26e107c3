//! `ClientBuilder::local_addr`: the connection comes from the address asked for.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::{SinkExt, StreamExt};
use socketio_test_client::Client;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn connects_from_the_local_address() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        let (tcp, peer) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("websocket");
        ws.send(Message::text(
            r#"0{"sid":"e","pingInterval":25000,"pingTimeout":20000}"#,
        ))
        .await
        .expect("open");
        let connect = ws.next().await.expect("a frame").expect("readable");
        assert_eq!(connect.to_text().expect("text"), "40");
        ws.send(Message::text(r#"40{"sid":"s"}"#)).await.expect("connect");
        while ws.next().await.is_some() {}
        peer.ip()
    });
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let client = Client::builder(&url)
        .local_addr(source)
        .connect()
        .await
        .expect("connects");
    assert_eq!(client.sid(), "s");
    client.disconnect().await.expect("disconnects");
    assert_eq!(server.await.expect("server"), source);
}
