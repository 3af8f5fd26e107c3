"""Resume for python-socketio's ``AsyncClient``: nothing missed across a reconnect.

The client side of fast-app's resume protocol (docs/guide/5-serving.md,
"Resume"), with the behaviour of ``clients/js/resume.js``. ``Resumable(sio)``
adds ``fa_resume`` to the auth of each CONNECT (the session's token, and each
room joined through ``join`` with its last position seen), so that after a
reconnect the server puts the client back in its rooms and sends what it
missed. Handlers registered with ``on`` get each event once, without its
``fa_offsets`` argument, and during a resume only after the missed events.
``on_resumed`` gets ``fa_resumed``: refetch a room not ``recovered``; a room
with an ``error``, or every room after a top-level ``error``, was not joined
again (join it again).

Example::

    def resumed(result):
        if result.get("error") or not all(room["recovered"] for room in result["rooms"]):
            refetch()

    sio = socketio.AsyncClient()
    chat = Resumable(sio, on_resumed=resumed)
    chat.on("message_sent", show)
    await sio.connect(url, auth=chat.auth({"token": token}))
    await chat.join("chat", {"chat_id": 5})  # {"room": "chat|5", "epoch", "offset"}

Register the events of rooms with history through ``on``, not ``sio.on``: the
latter's handlers get ``fa_offsets`` as one more argument (a handler taking fewer
raises ``TypeError``) and duplicates. Requires only python-socketio (5.x).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypedDict

import socketio

__all__ = ["Followed", "Position", "Resumable"]

OFFSETS = "fa_offsets"

Handler = Callable[..., Any]  # plain or async
AppAuth = dict[str, Any] | Callable[[], Any] | None


class Position(TypedDict):
    """A position in a room's history: every event up to ``offset`` of ``epoch`` was seen."""

    epoch: str
    offset: int


Offsets = dict[str, Position]


class Followed(TypedDict, total=False):
    """A room followed: how it was joined, the last position seen in it; ``stale``:
    not recovered at the last resume, the next event of the room sets the position."""

    key: str
    payload: Any
    epoch: str
    offset: int
    stale: bool


async def _settle(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


class Resumable:
    """Makes an ``AsyncClient`` resumable; pass ``auth(...)`` to ``sio.connect``."""

    def __init__(self, sio: socketio.AsyncClient, on_resumed: Callable[[dict[str, Any]], Any] | None = None,
                 namespace: str = "/") -> None:
        """``on_resumed`` (plain or async) gets each ``fa_resumed``, once the missed
        events were delivered, with every entry naming its room."""
        self.sio = sio
        #: The rooms followed, by name (``chat|5``), with the last position seen in each.
        self.rooms: dict[str, Followed] = {}
        #: The session's latest ``fa_session`` token, ``None`` before the first.
        self.token: str | None = None
        self._on_resumed = on_resumed
        self._namespace = namespace
        # By event; `fa_session` and `fa_resumed` are received here, then handed on.
        self._handlers: dict[str, list[Handler]] = {"fa_session": [], "fa_resumed": []}
        # Events with positions that arrived during a resume, until `fa_resumed`;
        # None when no resume is under way.
        self._held: list[tuple[str, tuple[Any, ...], Offsets]] | None = None
        # The rooms the last resume request asked for, in order.
        self._asked: list[str] = []
        sio.on("fa_session", self._session, namespace=namespace)
        sio.on("fa_resumed", self._resumed, namespace=namespace)

    def auth(self, app_auth: AppAuth = None) -> Callable[[], Any]:
        """The ``auth`` for ``sio.connect``: the application's (a dict, or a function,
        plain or async, returning one), plus ``fa_resume``, computed on each CONNECT."""
        if inspect.iscoroutinefunction(app_auth):

            async def with_resume_async() -> dict[str, Any]:
                return {**(await app_auth() or {}), "fa_resume": self._request()}

            return with_resume_async

        def with_resume() -> dict[str, Any]:
            data = app_auth() if callable(app_auth) else app_auth
            return {**(data or {}), "fa_resume": self._request()}

        return with_resume

    def _request(self) -> dict[str, Any]:
        # Computed now: positions only move while connected. Events held back by a
        # resume that did not finish were not counted as seen: asked for again.
        self._asked = [] if self.token is None else list(self.rooms)
        self._held = [] if self._asked else None
        if self.token is None:
            return {}
        rooms = [self.rooms[room] for room in self._asked]
        return {"token": self.token, "rooms": [
            {"key": f["key"], "payload": f["payload"], "epoch": f["epoch"], "offset": f["offset"]} for f in rooms
        ]}

    async def join(self, key: str, payload: Any = None, timeout: float = 60) -> Any:
        """Joins through ``join_<key>``, and follows the room when the reply gives its
        position. Returns the reply."""
        payload = {} if payload is None else payload
        reply = await self.sio.call(f"join_{key}", payload, namespace=self._namespace, timeout=timeout)
        if isinstance(reply, dict) and isinstance(reply.get("room"), str) and isinstance(reply.get("epoch"), str) \
                and isinstance(reply.get("offset"), int):
            self.rooms[reply["room"]] = Followed(key=key, payload=payload, epoch=reply["epoch"],
                                                 offset=reply["offset"])
        return reply

    async def leave(self, key: str, payload: Any = None, timeout: float = 60) -> Any:
        """Leaves through ``leave_<key>``, and stops following the room. Returns the reply."""
        reply = await self.sio.call(f"leave_{key}", {} if payload is None else payload,
                                    namespace=self._namespace, timeout=timeout)
        if isinstance(reply, dict) and isinstance(reply.get("room"), str) and "type" not in reply:
            self.rooms.pop(reply["room"], None)
        return reply

    def on(self, event: str, handler: Handler) -> Resumable:
        """Calls ``handler`` (plain or async) with each ``event``'s arguments but
        ``fa_offsets``, once; also ``fa_session`` (after the token is kept) and
        ``fa_resumed`` (after ``on_resumed``)."""
        if event not in self._handlers:
            self._handlers[event] = []

            async def receive(*args: Any) -> None:
                await self._receive(event, args)

            self.sio.on(event, receive, namespace=self._namespace)
        self._handlers[event].append(handler)
        return self

    def off(self, event: str, handler: Handler | None = None) -> Resumable:
        """Removes ``handler``, or every handler of ``event``."""
        if handler is None:
            self._handlers.get(event, []).clear()
        elif handler in self._handlers.get(event, []):
            self._handlers[event].remove(handler)
        return self

    def _seen(self, offsets: Offsets) -> bool:
        """Whether the event was seen: it has a position in a room followed, none past it."""
        known = False
        for room, at in offsets.items():
            mine = self.rooms.get(room)
            if mine is None or mine.get("stale") or mine["epoch"] != at["epoch"]:
                continue
            if at["offset"] > mine["offset"]:
                return False
            known = True
        return known

    async def _deliver(self, event: str, args: tuple[Any, ...], offsets: Offsets | None) -> None:
        if offsets is not None:
            if self._seen(offsets):
                return
            for room, at in offsets.items():
                mine = self.rooms.get(room)
                if mine is not None and mine.get("stale"):
                    mine["epoch"], mine["offset"], mine["stale"] = at["epoch"], at["offset"], False
                elif mine is not None and mine["epoch"] == at["epoch"] and at["offset"] > mine["offset"]:
                    mine["offset"] = at["offset"]
        for handler in list(self._handlers.get(event, [])):
            await _settle(handler(*args))

    async def _receive(self, event: str, args: tuple[Any, ...]) -> None:
        last = args[-1] if args else None
        offsets = last[OFFSETS] if isinstance(last, dict) and OFFSETS in last else None
        payload = args[:-1] if offsets is not None else args
        if offsets is not None and self._held is not None:
            self._held.append((event, payload, offsets))
        else:
            await self._deliver(event, payload, offsets)

    async def _session(self, data: Any = None) -> None:
        if isinstance(data, dict) and isinstance(data.get("token"), str):
            self.token = data["token"]
        await self._deliver("fa_session", (data,), None)

    async def _resumed(self, result: Any = None) -> None:
        result = result if isinstance(result, dict) else {}
        # One entry per room asked for, in order; a refused one does not name its
        # room (it may have none): the request does.
        entries = [{**entry, "room": entry.get("room", self._asked[i] if i < len(self._asked) else None)}
                   for i, entry in enumerate(result.get("rooms") or [])]
        for i, room in enumerate(self._asked):
            entry = entries[i] if i < len(entries) else None
            if result.get("error") or entry is None or entry.get("error"):
                self.rooms.pop(room, None)
            elif room in self.rooms and not entry.get("recovered"):
                self.rooms[room]["stale"] = True
        # The missed events came first, then the live ones held back (more may
        # arrive while handlers run): in arrival order, without what was seen twice.
        queue = self._held if self._held is not None else []
        while queue:
            await self._deliver(*queue.pop(0))
        if self._held is queue:
            self._held = None
        resumed = {**result, "rooms": entries}
        if self._on_resumed is not None:
            await _settle(self._on_resumed(resumed))
        await self._deliver("fa_resumed", (resumed,), None)
