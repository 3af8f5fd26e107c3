"""Resume (docs/guide/5-serving.md, "Resume: nothing missed across a reconnect"):
the chat example against python-socketio's AsyncClient wrapped by
clients/python/fast_app_resume.py."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import socketio

from test_chat import EXAMPLES, ROOT, chat_url, connect, free_port  # noqa: F401 (`chat_url` is the fixture)

sys.path.insert(0, str(ROOT / "clients" / "python"))
from fast_app_resume import Resumable  # noqa: E402


class Log:
    """What a client's handlers received, in order, and a way to wait for more."""

    def __init__(self):
        self.entries = []
        self._changed = asyncio.Event()

    def push(self, *entry):
        self.entries.append(entry)
        self._changed.set()

    async def until(self, done, what, timeout=5):
        """Returns once `done(entries)` holds; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done(self.entries):
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())
            except TimeoutError:
                raise AssertionError(f"not within {timeout} s: {what}; received {self.entries}") from None
        return self.entries


def texts(entries):
    return [entry[1]["text"] for entry in entries if entry[0] == "message"]


class ResumableClient:
    """`name`'s resumable client: the helper (`chat`), `log` (each `message_sent` and
    `fa_resumed`, in order), `away()` and `back()`."""

    def __init__(self, url, name):
        self.url, self.name = url, name
        self.sio = socketio.AsyncClient(reconnection_delay=0.05, reconnection_delay_max=0.1, randomization_factor=0)
        self.log = Log()
        self.chat = Resumable(self.sio, on_resumed=lambda result: self.log.push("resumed", result))
        self.chat.on("message_sent", lambda message, *rest: self.log.push("message", message, *rest))
        self.session = asyncio.Event()
        self.chat.on("fa_session", lambda _: self.session.set())
        self.gate = asyncio.Event()
        self.gate.set()
        self.knocking = asyncio.Event()  # set while a CONNECT waits on the gate

    async def start(self):
        async def auth():
            # python-socketio awaits this before each CONNECT: `away()` holds it.
            self.knocking.set()
            await self.gate.wait()
            self.knocking.clear()
            return {"token": self.name}

        await self.sio.connect(self.url, auth=self.chat.auth(auth), transports=["websocket"], wait_timeout=5)
        await asyncio.wait_for(self.session.wait(), 5)
        return self

    async def away(self):
        """Closes the websocket from the client's side, as a network drop would:
        python-socketio sees a transport error and reconnects by itself (its
        `disconnect()` would not), and its CONNECT waits until `back()`."""
        self.gate.clear()
        gone = asyncio.Event()
        self.sio.on("disconnect", lambda reason: gone.set())
        await self.sio.eio.ws.close()
        await asyncio.wait_for(gone.wait(), 5)

    async def back(self):
        """Lets it reconnect; returns the `fa_resumed` that follows."""
        start = len(self.log.entries)
        self.session.clear()
        self.gate.set()
        entries = await self.log.until(lambda e: any(x[0] == "resumed" for x in e[start:]), f"{self.name}'s fa_resumed")
        await asyncio.wait_for(self.session.wait(), 5)  # the new token follows fa_resumed
        return next(x[1] for x in entries[start:] if x[0] == "resumed")


async def member(url, name, chat_id):
    """A plain client of `name`, in chat `chat_id`, and its events."""
    client, events = await connect(url, name)
    assert (await client.call("join_chat", {"chat_id": chat_id}, timeout=5))["room"] == f"chat|{chat_id}"
    return client, events


async def send(client, chat_id, text):
    assert await client.call("send_message", {"chat_id": chat_id, "text": text}, timeout=5) == {"sent": True}


async def round_trip(client):
    """Returns once everything the server sent `client` before now has arrived."""
    assert len((await client.call("socket_id", timeout=5))["id"]) == 32


def words(n, prefix):
    return [f"{prefix} {i + 1}" for i in range(n)]


def test_a_client_that_comes_back_gets_what_it_missed_once_in_order_then_fa_resumed(chat_url):
    async def run():
        alice = await ResumableClient(chat_url, "alice").start()
        joined = await alice.chat.join("chat", {"chat_id": 20})
        assert joined["room"] == "chat|20" and len(joined["epoch"]) == 16 and isinstance(joined["offset"], int)
        bob, _ = await member(chat_url, "bob", 20)

        for text in words(3, "before"):
            await send(bob, 20, text)
        await alice.log.until(lambda e: len(texts(e)) == 3, "3 messages")
        assert alice.chat.rooms["chat|20"] == {
            "key": "chat", "payload": {"chat_id": 20}, "epoch": joined["epoch"], "offset": joined["offset"] + 3,
        }

        await alice.away()
        start = len(alice.log.entries)
        for text in words(20, "away"):
            await send(bob, 20, text)
        resumed = await alice.back()

        assert resumed == {"rooms": [{"room": "chat|20", "key": "chat", "recovered": True}]}
        missed = alice.log.entries[start:]
        assert [x[1]["text"] if x[0] == "message" else x[0] for x in missed] == [*words(20, "away"), "resumed"]
        assert all(len(x) == 2 for x in missed[:20]), "the handler gets the payload only"
        assert alice.chat.rooms["chat|20"]["offset"] == joined["offset"] + 23

        # Back in chat 20 without joining again.
        await send(bob, 20, "welcome back")
        await alice.log.until(lambda e: texts(e)[-1:] == ["welcome back"], "the next message")
        assert len(texts(alice.log.entries)) == 24
        await alice.sio.disconnect()
        await bob.disconnect()

    asyncio.run(run())


def test_messages_sent_while_a_client_resumes_reach_it_once_and_in_order(chat_url):
    async def run():
        alice = await ResumableClient(chat_url, "alice").start()
        joined = await alice.chat.join("chat", {"chat_id": 23})
        bob, _ = await member(chat_url, "bob", 23)
        sent = 0

        async def send_next():
            nonlocal sent
            sent += 1
            await send(bob, 23, f"m {sent}")

        # Each round: some messages while she is away; then bob keeps sending while
        # she resumes (some are replayed, some arrive live meanwhile, some after
        # fa_resumed). Several rounds: the interleaving varies.
        for round in range(1, 21):
            await alice.away()
            for _ in range(5):
                await send_next()
            await asyncio.wait_for(alice.knocking.wait(), 5)  # her CONNECT waits on the gate
            resumed = asyncio.ensure_future(alice.back())
            after = 0
            while after < 3 and sent < 2000:
                await send_next()
                after += resumed.done()
            await resumed
            await round_trip(alice.sio)
            assert texts(alice.log.entries) == words(sent, "m"), f"round {round}"
        assert alice.chat.rooms["chat|23"]["offset"] == joined["offset"] + sent
        await alice.sio.disconnect()
        await bob.disconnect()

    asyncio.run(run())


def test_another_users_token_restores_nothing(chat_url):
    async def run():
        alice = await ResumableClient(chat_url, "alice").start()
        await alice.chat.join("chat", {"chat_id": 21})
        carol, carol_events = await member(chat_url, "carol", 21)
        bob = await ResumableClient(chat_url, "bob").start()
        # Bob presents Alice's token and her position in chat 21, a chat he never joined.
        bob.chat.token = alice.chat.token
        bob.chat.rooms["chat|21"] = dict(alice.chat.rooms["chat|21"])
        await alice.sio.disconnect()

        await bob.away()
        for text in words(3, "for alice"):
            await send(carol, 21, text)
        resumed = await bob.back()

        assert isinstance(resumed.get("error"), str), f"a top-level error: {resumed}"
        assert all(room["recovered"] is False and room["room"] == "chat|21" for room in resumed["rooms"]), resumed
        assert bob.chat.rooms == {}, "the helper forgets every room"

        # Not in chat 21: carol gets the next message, bob nothing at all.
        await send(carol, 21, "after")
        while (event := await asyncio.wait_for(carol_events.get(), 5))[0] != "message_sent" or \
                event[1][0]["text"] != "after":
            pass
        await round_trip(bob.sio)
        assert texts(bob.log.entries) == []
        await bob.sio.disconnect()
        await carol.disconnect()

    asyncio.run(run())


def test_a_plain_client_gets_message_sent_with_one_argument(chat_url):
    async def run():
        carol, carol_events = await member(chat_url, "carol", 22)
        # A client that opts in, without the helper: its handlers get the position too.
        raw = socketio.AsyncClient(reconnection=False)
        raw_events = asyncio.Queue()
        raw.on("*", lambda event, *args: raw_events.put_nowait((event, list(args))))
        await raw.connect(chat_url, auth={"token": "dave", "fa_resume": {}}, transports=["websocket"], wait_timeout=5)
        joined = await raw.call("join_chat", {"chat_id": 22}, timeout=5)

        await send(carol, 22, "hi")
        message = {"chat_id": 22, "user": "carol", "text": "hi"}

        async def next_message(events):
            while True:
                event, args = await asyncio.wait_for(events.get(), 5)
                if event == "message_sent":
                    return args

        assert await next_message(carol_events) == [message]
        assert await next_message(raw_events) == [
            message, {"fa_offsets": {"chat|22": {"epoch": joined["epoch"], "offset": joined["offset"] + 1}}},
        ]
        await carol.disconnect()
        await raw.disconnect()

    asyncio.run(run())


def wait_for_port(port, process, what):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{what} did not listen on {port}")


class RedisPair:
    """A private redis-server and two chat servers on it (A and B); A can be
    killed with SIGKILL and started again on its port."""

    def __init__(self):
        self.redis_port = free_port()
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.redis_port, self.redis, "redis-server")
        self.env = {
            **os.environ, "RUST_LOG": "warn",
            "REDIS_SOCKETIO_URL": f"redis://127.0.0.1:{self.redis_port}/14", "REDIS_SOCKETIO_PREFIX": "interop-py-resume",
        }
        self.a_port, self.b_port = free_port(), free_port()
        self.a = self.start(self.a_port)
        self.b = self.start(self.b_port)

    def start(self, port):
        server = subprocess.Popen([EXAMPLES / "chat"], env={**self.env, "PORT": str(port)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, server, "the chat example")
        return server

    def url(self, port):
        return f"http://127.0.0.1:{port}"

    def kill_a(self):
        self.a.send_signal(signal.SIGKILL)
        self.a.wait()

    def restart_a(self):
        self.a = self.start(self.a_port)

    def stop(self):
        for process in (self.a, self.b, self.redis):
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def redis_pair():
    pair = RedisPair()
    yield pair
    pair.stop()


def test_on_redis_a_client_whose_server_was_killed_resumes_on_its_new_process_with_what_another_sent(redis_pair):
    async def run():
        pair = redis_pair
        alice = await ResumableClient(pair.url(pair.a_port), "alice").start()
        await alice.chat.join("chat", {"chat_id": 30})
        bob, _ = await member(pair.url(pair.b_port), "bob", 30)
        await send(bob, 30, "before")
        await alice.log.until(lambda e: len(texts(e)) == 1, "the first message")

        # Her server is killed; her reconnects wait until its new process is up.
        alice.gate.clear()
        gone = asyncio.Event()
        alice.sio.on("disconnect", lambda *args: gone.set())
        pair.kill_a()
        await asyncio.wait_for(gone.wait(), 5)
        start = len(alice.log.entries)
        for text in words(10, "while A was down"):
            await send(bob, 30, text)
        pair.restart_a()
        resumed = await alice.back()

        assert resumed == {"rooms": [{"room": "chat|30", "key": "chat", "recovered": True}]}
        missed = alice.log.entries[start:]
        assert [x[1]["text"] if x[0] == "message" else x[0] for x in missed] == [*words(10, "while A was down"), "resumed"]
        await send(bob, 30, "live")
        await alice.log.until(lambda e: texts(e)[-1:] == ["live"], "a live message")
        assert len(texts(alice.log.entries)) == 12, "each once"
        await alice.sio.disconnect()
        await bob.disconnect()

    asyncio.run(run())
