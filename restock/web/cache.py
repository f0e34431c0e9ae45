"""The response cache of the JSON API's reads: a repeated GET answers with the stored bytes.

A response is stored under method + path + query (its parameters in a fixed order) + the
**data version** (`restock.data_version`: the database bumps it, by triggers, on every committed
change to the data these responses read, from any process) + what the response depends on about
the caller: the request's language and the principal's role. The endpoints marked `@cacheable`
read nothing of the principal (the route refuses one that takes it), so the user id is not part
of the key. Settings (time zone, margin floor, ...) are fixed for the process, and so for its
cache.

Order of work on a cacheable GET, all in the request's one unit of work:

1. `security.authorize` authenticates and authorizes (401 / 403 as for any route); in the same
   database round trip it reads the data version, BEFORE any data of the response, so the data
   a miss reads is at least as new as the version it is stored under (reads see committed data
   only: a writer's uncommitted bump, or a rolled-back one, is never seen);
2. a hit raises `CacheHit`, which the route answers with the stored body and headers;
3. a miss runs the route as before; a 200 whose unit of work committed is stored. Other requests
   for the same key that arrive meanwhile wait for it instead of building it again.

Each worker process has its own cache, bounded in entries and bytes (least recently used goes
first); `[web] response_cache_entries = 0` turns it off.
"""

from __future__ import annotations

import asyncio
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from restock.accounts import Principal
from restock.web import i18n

CACHEABLE = "_restock_response_cacheable"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
# Fixed cost counted per entry besides its body and headers (the key, the entry, the dict slot).
ENTRY_OVERHEAD_BYTES = 512


def cacheable(endpoint: Endpoint) -> Endpoint:
    """Mark a GET endpoint's responses as cacheable (apply below the router's decorator). It must
    read only the database and its parameters: nothing of the principal, no clock, no files."""
    setattr(endpoint, CACHEABLE, True)
    return endpoint


@dataclass(frozen=True)
class CachedEntry:
    """A stored 200 response: its body and its headers as sent."""

    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + ENTRY_OVERHEAD_BYTES


class CacheHit(Exception):  # noqa: N818 - control flow, not an error
    """Raised by `authorize` when the response is stored: the route answers with it."""

    def __init__(self, entry: CachedEntry) -> None:
        super().__init__()
        self.entry = entry


class CachedResponse(Response):
    """The stored bytes and headers, sent as they were."""

    def __init__(self, entry: CachedEntry) -> None:
        self.status_code = 200
        self.background = None
        self.body = entry.body
        self.raw_headers = list(entry.headers)


class ResponseCache:
    """A bounded least-recently-used map from keys to stored responses (per process)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], CachedEntry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # responses being built, by key: requests for the same key wait for the first one
        self.in_flight: dict[tuple[Any, ...], asyncio.Future[CachedEntry | None]] = {}
        self.hits = self.misses = self.shared = self.stores = self.evictions = self.too_large = 0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def get(self, key: tuple[Any, ...]) -> CachedEntry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple[Any, ...], entry: CachedEntry) -> None:
        """Store `entry`, evicting the least recently used until both bounds hold (an entry
        larger than a quarter of the byte bound is not stored: it would flush the others)."""
        size = entry.size
        if size > self.max_bytes // 4:
            self.too_large += 1
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += size
            self.stores += 1
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        """Counters since start, and the current entries and bytes."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "shared": self.shared,
                "stores": self.stores,
                "evictions": self.evictions,
                "too_large": self.too_large,
                "entries": len(self._entries),
                "bytes": self._bytes,
            }


def cache_for(request: Request) -> ResponseCache | None:
    """The app's response cache when this request's route is cacheable and the cache is on."""
    route = request.scope.get("route")
    if not getattr(route, "cacheable", False) or request.method != "GET":
        return None
    cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
    return cache if cache is not None and cache.enabled else None


async def look_up(
    request: Request, session: Session, cache: ResponseCache, principal: Principal, version: int
) -> None:
    """Raise `CacheHit` with the stored response, or remember the key for storing the miss.
    Call only after the principal is authorized, with the version read before any data.

    When the same key is being built by another request of this process (right after a change,
    every client misses at once), wait for that response instead of building it again: it is the
    same response, keyed by the same version. If that request fails, build it here. A waiting
    request gives its pooled connection back first (it has only read the principal and the
    version), so waiters never starve the request they wait for."""
    query = tuple(sorted(request.query_params.multi_items(), key=lambda item: item[0]))
    key = ("GET", request.url.path, query, version, i18n.current_language.get(), principal.role)
    entry = cache.get(key)
    if entry is not None:
        raise CacheHit(entry)
    building = cache.in_flight.get(key)
    if building is not None:
        await run_in_threadpool(session.commit)
        entry = await asyncio.shield(building)
        if entry is not None:
            cache.shared += 1
            raise CacheHit(entry)
    else:
        cache.in_flight[key] = asyncio.get_running_loop().create_future()
        request.state.response_cache_builds = True
    request.state.response_cache_key = key


def _takes_principal(endpoint: Callable[..., Any]) -> bool:
    hints = typing.get_type_hints(endpoint, include_extras=True)
    for name, hint in hints.items():
        if name == "return":
            continue
        base = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
        if base is Principal:
            return True
    return False


class CachingRoute(APIRoute):
    """An API route that answers a `CacheHit` with the stored response and stores its own 200s
    (only routes whose endpoint is marked `@cacheable`; any other route runs as APIRoute)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in (kwargs.get("methods") or ["GET"])}
        self.cacheable = bool(getattr(endpoint, CACHEABLE, False))
        if self.cacheable and (methods != {"GET"} or _takes_principal(endpoint)):
            raise TypeError(f"{path}: only a GET endpoint that does not read the principal can be cached")
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.cacheable:
            return handler

        async def cached_handler(request: Request) -> Response:
            entry: CachedEntry | None = None
            try:
                response = await handler(request)
            except CacheHit as hit:
                return CachedResponse(hit.entry)
            else:
                key = getattr(request.state, "response_cache_key", None)
                cache: ResponseCache | None = getattr(request.app.state, "response_cache", None)
                if (
                    key is not None
                    and cache is not None
                    and response.status_code == 200
                    and response.background is None
                    and isinstance(getattr(response, "body", None), bytes)
                    and not any(name == b"set-cookie" for name, _ in response.raw_headers)
                ):
                    # the route's unit of work has committed by now (DbSession ends with the
                    # function), so what was read is committed data
                    entry = CachedEntry(bytes(response.body), tuple(response.raw_headers))
                    cache.put(key, entry)
                return response
            finally:
                if getattr(request.state, "response_cache_builds", False):
                    # wake the requests waiting for this key (None: they build it themselves)
                    waiting = request.app.state.response_cache.in_flight.pop(
                        request.state.response_cache_key, None
                    )
                    if waiting is not None and not waiting.done():
                        waiting.set_result(entry)

        return cached_handler
