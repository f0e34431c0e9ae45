"""Web benchmark: server-side render time of a 2,000-line proposal, and API latency under load.

`python -m bench.web [--quick]` (or `make bench-web`). On SQLite and on PostgreSQL (schema of
its own in database `test`, dropped afterwards) it seeds the web tests' small shop with a
proposal of 2,000 lines, then:

- renders the proposal pages in-process (this week, the line grid sorted by margin, a line's
  detail) and reports p50/p95 wall time per page;
- serves the app with uvicorn in a child process on a loopback port and sends a bounded load
  from 20 concurrent clients (asyncio + httpx; 25 requests each, then it stops) over the JSON
  API, reporting p50/p95/p99 latency and throughput; `/healthz` under the same load is the
  baseline (the framework's floor on this machine), and `ratios` divide by it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench._common import RssSampler, write_results

PG_URL = os.environ.get("RESTOCK_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CLIENTS = 20
REQUESTS_PER_CLIENT = 25


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(_percentile(values, 0.5) * 1000, 1),
        "p95_ms": round(_percentile(values, 0.95) * 1000, 1),
        "p99_ms": round(_percentile(values, 0.99) * 1000, 1),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare(kind: str, lines: int, workdir: Path) -> tuple[str, str | None]:
    """A migrated, seeded database; returns (url, PostgreSQL schema or None)."""
    from restock.db import make_engine, upgrade
    from tests.web.shop import seed_shop

    schema = None
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'web-bench.db'}"
        engine = make_engine(url)
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = PG_URL
        engine = make_engine(url, schema=schema)
    upgrade(engine)
    seed_shop(engine, extra_lines=lines - 3)
    engine.dispose()
    return url, schema


def _drop(schema: str | None) -> None:
    if schema:
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _app(url: str, schema: str | None):  # type: ignore[no-untyped-def]
    from restock.db import make_engine
    from restock.settings import load_settings
    from restock.web.app import create_app

    return create_app(engine=make_engine(url, schema=schema), settings=load_settings())


def _render_times(url: str, schema: str | None, repeats: int) -> dict[str, dict[str, float]]:
    from fastapi.testclient import TestClient

    from tests.web.conftest import log_in

    client = log_in(TestClient(_app(url, schema)), "mei")
    line_id = client.get("/api/v1/proposals/1/lines", params={"size": 1}).json()["rows"][0]["id"]
    pages = {
        "this_week": "/proposals/1",
        "grid_sorted_by_margin": "/proposals/1/lines?sort=margin&order=asc",
        "grid_filtered_search": "/proposals/1/lines?category=filler&q=FIL-01",
        "line_detail": f"/proposals/1/lines/{line_id}",
    }
    out: dict[str, dict[str, float]] = {}
    for name, path in pages.items():
        assert client.get(path).status_code == 200, path  # warm up, and check it renders
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
        out[name] = _ms(times)
    return out


def _serve(url: str, schema: str | None, port: int) -> subprocess.Popen[bytes]:
    code = (
        "import uvicorn; from bench.web import _app; "
        f"uvicorn.run(_app({url!r}, {schema!r}), host='127.0.0.1', port={port}, log_level='warning')"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("uvicorn did not start within 180 s")


async def _load(base: str, paths: list[str], token: str) -> tuple[list[float], float, int]:
    import httpx

    latencies: list[float] = []
    errors = 0

    async def client_loop(n: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=120) as client:
            for i in range(REQUESTS_PER_CLIENT):
                path = paths[(n + i) % len(paths)]
                start = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

    start = time.perf_counter()
    await asyncio.gather(*(client_loop(n) for n in range(CLIENTS)))
    return latencies, time.perf_counter() - start, errors


def _api_latency(url: str, schema: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    from kernel.clock import now
    from kernel.orm import unit_of_work
    from restock.accounts import create_api_token
    from restock.db import make_engine
    from restock.settings import load_settings

    engine = make_engine(url, schema=schema)
    with unit_of_work(engine) as session:
        token = create_api_token(
            session, user_name="mei", token_name="bench", now=now(load_settings().tz), actor="mei"
        )
        line_id = session.execute(text("SELECT min(id) FROM proposal_lines")).scalar_one()
    engine.dispose()
    port = _free_port()
    process = _serve(url, schema, port)
    try:
        base = f"http://127.0.0.1:{port}"
        api_paths = [
            "/api/v1/proposals/1",
            "/api/v1/proposals/1/lines?size=50",
            "/api/v1/proposals/1/lines?sort=margin&order=asc&size=50&page=3",
            "/api/v1/proposals/1/lines?category=filler&q=FIL-01",
            f"/api/v1/proposals/1/lines/{line_id}",
            "/api/v1/proposals",
        ]
        asyncio.run(_load(base, ["/healthz"], token))  # warm up connections and caches
        floor, floor_wall, floor_errors = asyncio.run(_load(base, ["/healthz"], token))
        api, api_wall, api_errors = asyncio.run(_load(base, api_paths, token))
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    api_figures = {**_ms(api), "requests": len(api), "errors": api_errors,
                   "requests_per_s": round(len(api) / api_wall, 1)}
    floor_figures = {**_ms(floor), "requests": len(floor), "errors": floor_errors,
                     "requests_per_s": round(len(floor) / floor_wall, 1)}
    return api_figures, floor_figures


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small smoke run (CI), results not meaningful")
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    lines, repeats = (60, 2) if args.quick else (args.lines, args.repeats)
    global REQUESTS_PER_CLIENT
    if args.quick:
        REQUESTS_PER_CLIENT = 2
    import tempfile

    figures: dict[str, Any] = {}
    baselines: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    with RssSampler() as rss, tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases:
            url, schema = _prepare(kind, lines, Path(tmp))
            try:
                for page, values in _render_times(url, schema, repeats).items():
                    figures[f"{kind}_render_{page}_p95_ms"] = values["p95_ms"]
                    figures[f"{kind}_render_{page}_p50_ms"] = values["p50_ms"]
                api, floor = _api_latency(url, schema)
            finally:
                _drop(schema)
            for key, value in api.items():
                figures[f"{kind}_api_{key}"] = value
            baselines[f"{kind}_healthz_same_load"] = floor
            ratios[f"{kind}_api_p95_vs_healthz_p95"] = round(api["p95_ms"] / max(floor["p95_ms"], 0.1), 2)
        figures["peak_rss_gib"] = rss.peak_gib
    load = os.getloadavg()
    return write_results(
        "web" if not args.quick else "web-quick",
        params={"lines": lines, "repeats": repeats, "clients": CLIENTS,
                "requests_per_client": REQUESTS_PER_CLIENT, "databases": args.databases,
                "load_average_1m_at_end": round(load[0], 2), "quick": args.quick},
        figures=figures,
        baselines=baselines,
        ratios=ratios,
        libraries=["fastapi", "starlette", "uvicorn", "jinja2", "sqlalchemy", "psycopg"],
        notes=[
            "render: in-process TestClient, server-side time per page; targets: < 500 ms per page",
            "api: uvicorn (1 process) in a child process, 20 concurrent httpx clients on loopback; "
            "target p95 < 100 ms",
        ],
        out_dir=args.out,
    )


if __name__ == "__main__":
    main()
