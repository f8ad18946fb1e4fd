"""Load and fault runs of the lab service (issue 15): ``python -m benchmarks.service_load``.

Starts ``her2kit serve`` on 127.0.0.1 (SQLite, and PostgreSQL in a throwaway cluster when
its binaries are installed), drives it with a bounded number of concurrent clients (httpx,
async) for a fixed time, and prints requests/s, p50/p95/p99 latency and errors:

1. classify only (the guideline engine behind auth: the cheap path);
2. a mix: classify, case creation, small uploads, report downloads.

Then it checks that every acknowledged write (201/202) is in the database. The fault run
SIGKILLs the server during uploads and during analysis jobs, restarts it, and checks: no
acknowledged data lost, no orphan or partial files, every job re-queued then done, or
failed with a reason (none left running), the audit chain intact.
``tests/api/test_faults.py`` runs a shorter fault run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLASSIFY_CASES = ({"ihc": {"score": "2+"}, "ish": {"probe": "dual", "her2_mean": 4.6,
                                                   "cep17_mean": 2.1, "cells_counted": 20}},
                  {"ihc": {"score": "1+"}, "er": {"percent": 80, "intensity": "strong"}},
                  {"ihc": {"score": "3+"}})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]))


class PgTemp:
    """A throwaway PostgreSQL cluster (as user postgres when run as root)."""

    def __init__(self) -> None:
        import glob

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = shutil.which("initdb") or (bins[-1] if bins else None)
        if initdb is None:
            raise RuntimeError("PostgreSQL is not installed (scripts/setup_postgres.sh)")
        self.bin = Path(initdb).parent
        self.dir = Path(tempfile.mkdtemp(prefix="her2kit-bench-pg-"))
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "her2kit", "--auth=trust",
                  "--no-sync")
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=300", "start")
        self.url = f"postgresql+psycopg://her2kit@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def drop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """``her2kit serve`` in its own process group (SIGKILL takes its job workers too)."""

    def __init__(self, data_dir: Path, database_url: str | None, http_workers: int = 1):
        self.data_dir, self.database_url = data_dir, database_url
        self.http_workers = http_workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def args(self) -> list[str]:
        return ["--data-dir", str(self.data_dir)] + (
            ["--database-url", self.database_url] if self.database_url else [])

    def start(self, timeout_s: float = 90) -> None:
        log = open(self.data_dir.parent / "serve.log", "ab")  # noqa: SIM115 (child holds it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "her2kit", "serve", "--port", str(self.port),
             "--http-workers", str(self.http_workers), *self.args()], env=_env(),
            stdout=log, stderr=log, start_new_session=True)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("her2kit serve exited; see serve.log")
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("her2kit serve did not start")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the server's process group."""
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if self.proc is not None and int(fields[2]) == self.proc.pid:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


# -- set-up: users, tokens, a signed-out case with a report ------------------------------
def _db(server: Server):
    sys.path.insert(0, str(REPO / "src"))
    from her2kit.store.db import Database, make_engine, migrate, sqlite_url

    db = Database(make_engine(server.database_url or sqlite_url(server.data_dir)))
    migrate(db.engine)
    return db


def make_users(server: Server) -> dict[str, dict[str, str]]:
    """A technologist and a pathologist with API tokens (written before the server starts)."""
    from her2kit.store.people import add_user, new_api_token

    server.data_dir.mkdir(parents=True, exist_ok=True)
    db = _db(server)
    headers = {}
    with db.write() as session:
        for name, role in (("tech", "technologist"), ("path", "pathologist")):
            p = add_user(session, username=name, password=f"{name}-benchmark", role=role)
            tok = new_api_token(session, p, name="bench", ttl_s=86400)[1]
            headers[name] = {"Authorization": f"Bearer {tok}"}
    db.engine.dispose()
    return headers


def _ok(r: httpx.Response) -> dict:
    r.raise_for_status()
    return r.json()


def seed_report(client: httpx.Client, h: dict) -> str:
    """A signed-out ER case and its report: the URL of its lab HTML (for downloads)."""
    c = _ok(client.post("/api/cases", headers=h["tech"], json={"accession": "SEED-1"}))
    c = _ok(client.post(f"/api/cases/{c['id']}/tests", headers=h["tech"], json={
        "kind": "er", "entered": {"percent": 80, "intensity": "strong"},
        "version": c["version"]}))
    c = _ok(client.post(f"/api/cases/{c['id']}/tests/{c['tests'][0]['id']}/review",
                        headers=h["path"], json={"decision": "agree", "version": c["version"]}))
    c = _ok(client.post(f"/api/cases/{c['id']}/sign-out", headers=h["path"],
                        json={"version": c["version"]}))
    rep = _ok(client.post(f"/api/cases/{c['id']}/reports", headers=h["tech"]))
    return next(f["url"] for f in rep["files"] if f["name"].endswith("lab.html"))


def small_png(i: int) -> bytes:
    """A distinct 16 x 16 RGB PNG per i (content-addressed: distinct files)."""
    from her2kit.io.export import png_bytes

    rng = np.random.default_rng(i)
    return png_bytes(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))


# -- load ---------------------------------------------------------------------------------
@dataclass
class Tally:
    latencies_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    acked_cases: list[str] = field(default_factory=list)
    acked_uploads: list[tuple[int, str]] = field(default_factory=list)


async def _one(client, kind: str, h, tally: Tally, report_url: str, case_id: int, n: int):
    t0 = time.perf_counter()
    try:
        if kind == "classify":
            r = await client.post("/api/classify", headers=h["tech"],
                                  json=CLASSIFY_CASES[n % len(CLASSIFY_CASES)])
        elif kind == "create_case":
            acc = f"L-{os.getpid()}-{n}-{random.getrandbits(32)}"
            r = await client.post("/api/cases", headers=h["tech"], json={"accession": acc})
            if r.status_code == 201:
                tally.acked_cases.append(acc)
        elif kind == "upload":
            data = small_png(n)
            r = await client.post(f"/api/cases/{case_id}/uploads", content=data,
                                  headers=h["tech"] | {"Content-Type": "image/png"})
            if r.status_code == 201:
                tally.acked_uploads.append((r.json()["id"], hashlib.sha256(data).hexdigest()))
        else:
            r = await client.get(report_url, headers=h["tech"])
        ok = r.status_code < 400
    except httpx.HTTPError:
        ok = False
    tally.latencies_s[kind].append(time.perf_counter() - t0)
    if not ok:
        tally.errors[kind] += 1


async def drive(url: str, h, *, kinds: tuple[str, ...], clients: int, duration_s: float,
                report_url: str = "", case_id: int = 0) -> tuple[Tally, float]:
    """``clients`` concurrent loops for ``duration_s``; returns the tally and elapsed s."""
    tally = Tally()
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        end = time.perf_counter() + duration_s

        async def loop(i: int) -> None:
            while time.perf_counter() < end:
                n = next(counter)
                await _one(client, kinds[n % len(kinds)], h, tally, report_url, case_id, n)

        t0 = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(clients)))
        return tally, time.perf_counter() - t0


def _request(method: str, path: str, auth: str, body: bytes = b"",
             content_type: str = "application/json") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
    if method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


class RawRequests:
    """Pre-built requests of each kind (unique accessions and upload bodies per request)."""

    def __init__(self, h, *, report_url: str = "", case_id: int = 0) -> None:
        import json

        self.auth = h["tech"]["Authorization"]
        self.classify = [_request("POST", "/api/classify", self.auth, json.dumps(c).encode())
                         for c in CLASSIFY_CASES]
        self.report = _request("GET", report_url, self.auth) if report_url else b""
        self.case_id = case_id
        self.pngs = [small_png(i) for i in range(64)]
        self.tag = f"{os.getpid()}-{random.getrandbits(32)}"

    def build(self, kind: str, n: int) -> tuple[bytes, object]:
        """(request bytes, what an acknowledgement records)."""
        if kind == "classify":
            return self.classify[n % len(self.classify)], None
        if kind == "report":
            return self.report, None
        if kind == "create_case":
            acc = f"L-{self.tag}-{n}"
            return _request("POST", "/api/cases", self.auth,
                            f'{{"accession": "{acc}"}}'.encode()), acc
        data = self.pngs[n % len(self.pngs)] + n.to_bytes(8, "big")  # distinct content
        return _request("POST", f"/api/cases/{self.case_id}/uploads", self.auth, data,
                        "image/png"), hashlib.sha256(data).hexdigest()


def _acknowledge(tally: Tally, kind: str, status: int, body: bytes, note) -> None:
    import json

    if kind == "create_case" and status == 201:
        tally.acked_cases.append(note)
    elif kind == "upload" and status == 201:
        tally.acked_uploads.append((json.loads(body)["id"], note))


async def drive_raw(port: int, requests: RawRequests, *, kinds: tuple[str, ...],
                    clients: int, duration_s: float) -> tuple[Tally, float]:
    """Keep-alive sockets with pre-built requests: a load generator that costs far less CPU
    per request than httpx (measured: ~0.04 against ~4 ms), so that on a small machine the
    server, not the client, is what is measured. Each response's status is checked."""
    tally = Tally()
    end = time.perf_counter() + duration_s
    counter = iter(range(10**9))

    async def loop(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < end:
                n = next(counter)
                kind = kinds[n % len(kinds)]
                data, note = requests.build(kind, n)
                t0 = time.perf_counter()
                writer.write(data)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                tally.latencies_s[kind].append(time.perf_counter() - t0)
                status = int(head[9:12])
                if status >= 400:
                    tally.errors[kind] += 1
                _acknowledge(tally, kind, status, body, note)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(clients)))
    return tally, time.perf_counter() - t0


def rows(tally: Tally, elapsed_s: float) -> list[tuple]:
    """(kind, requests, req/s, p50 ms, p95 ms, p99 ms, errors) per request kind."""
    out = []
    for kind, lat in sorted(tally.latencies_s.items()):
        q = np.percentile(np.array(lat) * 1000, [50, 95, 99])
        out.append((kind, len(lat), len(lat) / elapsed_s, *q, tally.errors[kind]))
    return out


def check_acknowledged(server: Server, tally: Tally) -> str:
    """Every acknowledged case and upload is in the database (and its file on disk)."""
    from sqlalchemy import select

    from her2kit.store.schema import cases, uploads

    db = _db(server)
    with db.read() as s:
        have_cases = set(s.execute(select(cases.c.accession)).scalars())
        have_uploads = {r.id: r.sha256 for r in s.execute(select(uploads)).all()}
    db.engine.dispose()
    lost_c = [a for a in tally.acked_cases if a not in have_cases]
    lost_u = [i for i, sha in tally.acked_uploads if have_uploads.get(i) != sha]
    missing_files = [i for i, sha in tally.acked_uploads
                     if not (server.data_dir / "blobs" / sha[:2] / f"{sha}.png").exists()]
    return (f"acknowledged writes: {len(tally.acked_cases)} cases, {len(tally.acked_uploads)} "
            f"uploads; lost: {len(lost_c)} cases, {len(lost_u)} uploads, "
            f"{len(missing_files)} files")


# -- faults -------------------------------------------------------------------------------
def _files_state(server: Server) -> tuple[int, int]:
    """(orphan files: stored but named by no upload row, partial files in .incoming)."""
    from sqlalchemy import select

    from her2kit.store.schema import uploads

    db = _db(server)
    with db.read() as s:
        known = set(s.execute(select(uploads.c.sha256)).scalars())
    db.engine.dispose()
    root = server.data_dir / "blobs"
    stored = [p for p in root.glob("??/*") if p.is_file()]
    incoming = list((root / ".incoming").glob("*")) if (root / ".incoming").exists() else []
    return sum(p.name.split(".")[0] not in known for p in stored), len(incoming)


def audit_intact(server: Server) -> bool:
    r = subprocess.run([sys.executable, "-m", "her2kit", "audit", "verify", *server.args()],
                       env=_env(), capture_output=True, text=True, timeout=120)
    return r.returncode == 0


def fault_uploads(server: Server, h, *, threads: int = 6, kill_after_s: float = 1.5) -> dict:
    """SIGKILL during concurrent uploads; restart; check nothing acknowledged is lost."""
    with httpx.Client(base_url=server.url, timeout=30) as c:
        case = _ok(c.post("/api/cases", headers=h["tech"], json={"accession": "FAULT-UP"}))
    tally, stop = Tally(), threading.Event()

    def worker(k: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            n = 0
            while not stop.is_set():
                data = small_png(100_000 * (k + 1) + n) + os.urandom(64 * 1024)
                n += 1
                try:
                    r = c.post(f"/api/cases/{case['id']}/uploads", content=data,
                               headers=h["tech"] | {"Content-Type": "image/png"})
                except httpx.HTTPError:
                    continue
                if r.status_code == 201:
                    tally.acked_uploads.append((r.json()["id"],
                                                hashlib.sha256(data).hexdigest()))

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    time.sleep(kill_after_s)
    server.kill()
    stop.set()
    for t in pool:
        t.join()
    server.start()
    orphans, partial = _files_state(server)
    return {"acknowledged": len(tally.acked_uploads),
            "lost": check_acknowledged(server, tally), "orphan_files": orphans,
            "partial_files": partial, "audit_intact": audit_intact(server)}


def _wait_jobs(server: Server, h, ids: list[int], timeout_s: float) -> dict[int, dict]:
    end = time.monotonic() + timeout_s
    with httpx.Client(base_url=server.url, timeout=30) as c:
        while True:
            jobs = {i: _ok(c.get(f"/api/jobs/{i}", headers=h["tech"])) for i in ids}
            if all(j["status"] in ("done", "failed") for j in jobs.values()) or (
                    time.monotonic() > end):
                return jobs
            time.sleep(0.5)


def fault_jobs(server: Server, h, image: bytes, *, jobs: int = 3,
               timeout_s: float = 300) -> dict:
    """SIGKILL while analysis jobs run; restart; every job ends done or failed."""
    with httpx.Client(base_url=server.url, timeout=60) as c:
        case = _ok(c.post("/api/cases", headers=h["tech"], json={"accession": "FAULT-JOB"}))
        case = _ok(c.post(f"/api/cases/{case['id']}/tests", headers=h["tech"],
                          json={"kind": "ihc", "version": case["version"]}))
        up = _ok(c.post(f"/api/cases/{case['id']}/uploads", content=image,
                        headers=h["tech"] | {"Content-Type": "image/png"}))
        ids = [_ok(c.post(f"/api/cases/{case['id']}/jobs", headers=h["tech"], json={
            "test_id": case["tests"][0]["id"], "kind": "score-ihc", "upload_ids": [up["id"]],
            "params": {"mpp": 0.5}}))["id"] for _ in range(jobs)]
        end = time.monotonic() + 60
        while time.monotonic() < end and _ok(c.get(f"/api/jobs/{ids[0]}", headers=h["tech"])
                                             )["status"] != "running":
            time.sleep(0.05)
    time.sleep(0.3)
    server.kill()
    server.start()
    final = _wait_jobs(server, h, ids, timeout_s)
    statuses = [j["status"] for j in final.values()]
    return {"jobs": len(ids), "done": statuses.count("done"),
            "failed_with_reason": sum(j["status"] == "failed" and bool(j["error"])
                                      for j in final.values()),
            "stuck": sum(s not in ("done", "failed") for s in statuses),
            "requeued": sum("queued again" in (j["error"] or "") or j["attempts"] > 1
                            for j in final.values()),
            "results_for_done": all(j["result_id"] is not None for j in final.values()
                                    if j["status"] == "done"),
            "audit_intact": audit_intact(server)}


# -- runs -------------------------------------------------------------------------------
def _print_table(title: str, table: list[tuple], cpu: tuple[float, float] = ()) -> None:
    print(f"\n{title}")
    if cpu:
        n = sum(r[1] for r in table)
        print(f"server CPU {cpu[0]:.1f} s ({1000 * cpu[0] / max(n, 1):.2f} ms per request), "
              f"load generator CPU {cpu[1]:.1f} s; load average {os.getloadavg()[0]:.2f}")
    print("| request | n | req/s | p50 ms | p95 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, n, rps, p50, p95, p99, err in table:
        print(f"| {kind} | {n} | {rps:.0f} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {err} |")


def load_run(backend: str, url: str | None, root: Path, args) -> None:
    server = Server(root / "data", url, http_workers=args.http_workers)
    h = make_users(server)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            report_url = seed_report(c, h)
            case_id = _ok(c.post("/api/cases", headers=h["tech"],
                                 json={"accession": "LOAD-UPLOADS"}))["id"]
        cpu = (server.cpu_s(), time.process_time())
        raw = RawRequests(h, report_url=report_url, case_id=case_id)
        tally, elapsed = asyncio.run(drive_raw(server.port, raw, kinds=("classify",),
                                               clients=args.clients,
                                               duration_s=args.duration_s))
        _print_table(f"{backend}: classify only, {args.clients} clients, {elapsed:.1f} s, "
                     f"{args.http_workers} HTTP workers", rows(tally, elapsed),
                     (server.cpu_s() - cpu[0], time.process_time() - cpu[1]))
        mix = ("classify", "classify", "create_case", "upload", "report")
        cpu = (server.cpu_s(), time.process_time())
        if args.client == "httpx":
            tally, elapsed = asyncio.run(drive(server.url, h, kinds=mix, clients=args.clients,
                                               duration_s=args.duration_s,
                                               report_url=report_url, case_id=case_id))
        else:
            tally, elapsed = asyncio.run(drive_raw(server.port, raw, kinds=mix,
                                                   clients=args.clients,
                                                   duration_s=args.duration_s))
        _print_table(f"{backend}: mix (classify 2 : case 1 : upload 1 : report 1), "
                     f"{args.clients} clients, {elapsed:.1f} s, {args.client} client",
                     rows(tally, elapsed),
                     (server.cpu_s() - cpu[0], time.process_time() - cpu[1]))
    finally:
        server.stop()
    print(check_acknowledged(server, tally))


def fault_run(backend: str, url: str | None, root: Path, image: bytes) -> dict:
    """Kill during uploads, then during jobs; the checks of each (one HTTP worker)."""
    server = Server(root / "fault-data", url, http_workers=1)
    h = make_users(server)
    server.start()
    try:
        uploads = fault_uploads(server, h)
        jobs = fault_jobs(server, h, image)
    finally:
        server.stop()
    return {"uploads": uploads, "jobs": jobs}


def _ihc_image() -> bytes:
    from her2kit.io.export import png_bytes
    from her2kit.synthetic.ihc import generate_ihc_region

    return png_bytes(generate_ihc_region(shape_px=(320, 320), pixel_size_um=0.5,
                                         target_score="3+", seed=0).image)


def _backend(name: str):
    """(database URL or None, cleanup)."""
    if name == "sqlite":
        return None, lambda: None
    pg = PgTemp()
    return pg.url, pg.drop


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.service_load", description=__doc__
                                .splitlines()[0])
    p.add_argument("--duration-s", type=float, default=20.0)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--http-workers", type=int, default=2)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="load generator of the mixed run (classify always uses raw)")
    p.add_argument("--no-faults", action="store_true")
    p.add_argument("--faults-only", action="store_true")
    args = p.parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; "
          f"python {platform.python_version()}")
    for backend in args.backends.split(","):
        root = Path(tempfile.mkdtemp(prefix=f"her2kit-bench-{backend}-"))
        try:
            url, cleanup = _backend(backend)
        except RuntimeError as exc:
            print(f"\n{backend}: skipped ({exc})")
            continue
        try:
            if not args.faults_only:
                load_run(backend, url, root, args)
            if not args.no_faults:
                fault_url = None if url is None else _new_pg_database(url, "faults")
                print(f"\n{backend}: fault run {fault_run(backend, fault_url, root, _ihc_image())}")
        finally:
            cleanup()
            shutil.rmtree(root, ignore_errors=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


def _new_pg_database(url: str, name: str) -> str:
    import psycopg

    base = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


if __name__ == "__main__":
    main()
