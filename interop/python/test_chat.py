"""The chat example against python-socketio's AsyncClient, the client FastApp's users run."""

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import socketio

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(os.environ.get("EXAMPLES_DIR", ROOT / "target" / "debug" / "examples"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chat_url():
    port = free_port()
    env = {**os.environ, "PORT": str(port), "RUST_LOG": "warn"}
    env.pop("REDIS_SOCKETIO_URL", None)
    server = subprocess.Popen([EXAMPLES / "chat"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        server.kill()
        raise RuntimeError("the chat example did not start")
    yield f"http://127.0.0.1:{port}"
    server.kill()
    server.wait()


async def connect(url, token):
    client = socketio.AsyncClient(reconnection=False)
    events = asyncio.Queue()
    client.on("*", lambda event, *args: events.put_nowait((event, list(args))))
    await client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    # The example's `connected` hook tells each client who it is, first.
    assert await next_event(events, "welcome") == {"user": token}
    return client, events


async def next_event(events, name):
    event, args = await asyncio.wait_for(events.get(), 5)
    assert event == name, (event, args)
    return args[0] if args else None


async def join_chat(client, events, chat_id):
    """Joins a chat: `joined`, then `presence_state`; returns the members."""
    room = f"chat|{chat_id}"
    assert await client.call("join_chat", {"chat_id": chat_id}, timeout=5) == {"room": room}
    assert await next_event(events, "joined") == {"room": room}
    state = await next_event(events, "presence_state")
    assert state["room"] == room
    return state["members"]


def member(name):
    return {"id": name, "info": {"name": name}}


def test_a_client_without_a_token_is_refused_with_the_message(chat_url):
    async def run():
        client = socketio.AsyncClient(reconnection=False)
        refusals = []
        client.on("connect_error", lambda data: refusals.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(chat_url, transports=["websocket"], wait_timeout=5)
        assert refusals == [{"message": "No access token provided"}]

    asyncio.run(run())


def test_join_and_forbidden(chat_url):
    async def run():
        alice, events = await connect(chat_url, "alice")
        assert await join_chat(alice, events, 4) == [member("alice")]
        await alice.emit("join_chat", {"chat_id": 404})
        assert await next_event(events, "error") == {"type": "forbidden", "room": "chat|404"}
        await alice.disconnect()

    asyncio.run(run())


def test_members_receive_a_broadcast_and_others_do_not(chat_url):
    async def run():
        alice, alice_events = await connect(chat_url, "alice")
        bob, bob_events = await connect(chat_url, "bob")
        await join_chat(alice, alice_events, 5)
        await join_chat(bob, bob_events, 6)
        assert await alice.call("send_message", {"chat_id": 5, "text": "hi"}, timeout=5) == {"sent": True}
        assert await next_event(alice_events, "message_sent") == {"chat_id": 5, "user": "alice", "text": "hi"}
        await asyncio.sleep(0.3)
        assert bob_events.empty()
        await alice.disconnect()
        await bob.disconnect()

    asyncio.run(run())


def test_a_request_with_the_clients_socket_id_reaches_the_others_only(chat_url):
    """`socket_id`, then a job or a request that carries it: FastApp's clients get "to others"."""

    async def post(url, headers):
        import aiohttp

        async with aiohttp.ClientSession() as session:
            body = {"user": "alice", "text": "to the others"}
            async with session.post(f"{url}/chats/7/messages", json=body, headers=headers) as response:
                return response.status

    async def run():
        alice, alice_events = await connect(chat_url, "alice")
        bob, bob_events = await connect(chat_url, "bob")
        await join_chat(alice, alice_events, 7)
        await join_chat(bob, bob_events, 7)
        assert await next_event(alice_events, "presence_join") == {"room": "chat|7", "member": member("bob")}
        reply = await alice.call("socket_id", timeout=5)
        assert await next_event(alice_events, "socket_id") == reply
        assert len(reply["id"]) == 32 and reply["id"] != alice.get_sid()

        assert await post(chat_url, {"X-Socket-ID": reply["id"]}) == 202
        assert await next_event(bob_events, "message_sent") == {"chat_id": 7, "user": "alice", "text": "to the others"}
        await asyncio.sleep(0.3)
        assert alice_events.empty()
        await alice.disconnect()
        await bob.disconnect()

    asyncio.run(run())


def test_a_chat_shows_who_is_in_it(chat_url):
    """Presence with python-socketio: the members on joining, then who comes and goes."""

    async def run():
        alice, alice_events = await connect(chat_url, "alice")
        assert await join_chat(alice, alice_events, 8) == [member("alice")]
        bob, bob_events = await connect(chat_url, "bob")
        assert await join_chat(bob, bob_events, 8) == [member("alice"), member("bob")]
        assert await next_event(alice_events, "presence_join") == {"room": "chat|8", "member": member("bob")}
        await bob.disconnect()
        assert await next_event(alice_events, "presence_leave") == {"room": "chat|8", "member": member("bob")}
        await alice.disconnect()

    asyncio.run(run())
