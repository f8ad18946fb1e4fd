"""Shared test fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL = REPO.parent / "shared" / "data" / "real"
#: Set to 1 (``.ci/run`` does) to make a missing real-data folder a failure, not a skip.
REQUIRE_REAL_DATA_ENV = "HER2KIT_REQUIRE_REAL_DATA"


@pytest.fixture
def real_data() -> Callable[[str], Path]:
    """Return a function giving a real data folder in ../shared/data/real.

    A missing folder skips the test with the folder's name, or fails it when the
    environment variable ``HER2KIT_REQUIRE_REAL_DATA`` is ``1`` (CI), so that a CI run
    without the images cannot pass by skipping every real-image test.
    """

    def _folder(name: str) -> Path:
        path = SHARED_REAL / name
        if not path.is_dir():
            msg = f"real data folder ../shared/data/real/{name} is not present"
            if os.environ.get(REQUIRE_REAL_DATA_ENV) == "1":
                pytest.fail(f"{msg} ({REQUIRE_REAL_DATA_ENV}=1)")
            pytest.skip(msg)
        return path

    return _folder


# --------------------------------------------------------------------------- IHC slides
#: One real HER2 IHC core per score (../shared/data/real/her2_ihc_gea_tma_bozeklab,
#: LABELS.csv): the first usable core of each score (gastro-oesophageal, GEA criteria).
IHC_CORES = {
    "0": "0_9b0f64d1-6785-49d9-b279-004b2deb8478.jpg",
    "1+": "1_154ae963-bd2a-4a12-8fa9-815ba13922ae.jpg",
    "2+": "2_0123a214-85b7-4804-86db-474b05a4ae57.jpg",
    "3+": "3_a1f1510c-b91e-4995-ba59-596ca7ebb019.jpg",
}
#: µm/px of the cores: SOURCE.md's estimate (~1.2-1.5 mm cores over 5468 px, about 40x);
#: the repository does not document it.
IHC_CORE_PIXEL_SIZE_UM = 0.25


@pytest.fixture(scope="session")
def _core_slide_cache(tmp_path_factory) -> tuple[Path, dict]:
    return tmp_path_factory.mktemp("core-slides"), {}


@pytest.fixture
def ihc_core_slide(real_data, _core_slide_cache) -> Callable[..., Path]:
    """Return a function writing a real HER2 IHC core as a JPEG-tiled slide file.

    ``ihc_core_slide(score="3+", *, flavour="svs", crop_px=None, tile_px=256)`` writes the
    core of :data:`IHC_CORES` for ``score`` (or a core file name) with
    :func:`her2kit.io.slide_writer.write_slide` (flavour ``svs``, ``tiff`` or ``ome``; the
    central ``crop_px`` x ``crop_px`` px only, when given) at
    :data:`IHC_CORE_PIXEL_SIZE_UM`, and returns its path. Files are written once per
    session and argument set, and must not be modified.
    """
    from PIL import Image

    from her2kit.io.slide_writer import write_slide

    folder, cache = _core_slide_cache

    def _make(score: str = "3+", *, flavour: str = "svs", crop_px: int | None = None,
              tile_px: int = 256) -> Path:
        name = IHC_CORES.get(score, score)
        key = (name, flavour, crop_px, tile_px)
        if key not in cache:
            with Image.open(real_data("her2_ihc_gea_tma_bozeklab") / name) as im:
                rgb = np.asarray(im.convert("RGB"))
            if crop_px is not None:
                r0, c0 = (rgb.shape[0] - crop_px) // 2, (rgb.shape[1] - crop_px) // 2
                rgb = np.ascontiguousarray(rgb[r0:r0 + crop_px, c0:c0 + crop_px])
            suffix = {"svs": ".svs", "tiff": ".tif", "ome": ".ome.tif"}[flavour]
            path = folder / f"core-{len(cache)}{suffix}"
            write_slide(path, rgb, pixel_size_um=IHC_CORE_PIXEL_SIZE_UM, flavour=flavour,
                        tile_px=tile_px)
            cache[key] = path
        return cache[key]

    return _make


@pytest.fixture(scope="session")
def synthetic_ihc_slide(tmp_path_factory) -> Callable[..., Path]:
    """Return a function writing a generated HER2 IHC slide (generic tiled TIFF).

    ``synthetic_ihc_slide(scores=("2+",), *, region_px=3000, margin_px=400, seed=0)``:
    regions of :func:`her2kit.synthetic.ihc.generate_ihc_region` (``region_px`` square at
    0.25 µm/px, one per score, side by side) on glass (RGB 244) with ``margin_px`` of
    glass around; written once per session and argument set; must not be modified.
    """
    from her2kit.io.slide_writer import write_slide
    from her2kit.synthetic.ihc import generate_ihc_region

    folder = tmp_path_factory.mktemp("synthetic-slides")
    cache: dict = {}

    def _make(scores=("2+",), *, region_px: int = 3000, margin_px: int = 400,
              seed: int = 0, flavour: str = "tiff") -> Path:
        key = (tuple(scores), region_px, margin_px, seed, flavour)
        if key not in cache:
            h, w = region_px + 2 * margin_px, len(scores) * region_px + 2 * margin_px
            img = np.full((h, w, 3), 244, np.uint8)
            for i, score in enumerate(scores):
                r = generate_ihc_region(shape_px=(region_px, region_px), pixel_size_um=0.25,
                                        target_score=score, seed=seed + i)
                x0 = margin_px + i * region_px
                img[margin_px:margin_px + region_px, x0:x0 + region_px] = r.image
            path = folder / f"slide-{len(cache)}.{'svs' if flavour == 'svs' else 'tif'}"
            write_slide(path, img, pixel_size_um=0.25, flavour=flavour)
            cache[key] = path
        return cache[key]

    return _make


# -- PostgreSQL for the service tests ---------------------------------------------------
#: Set to 1 (``make test`` does) to make a missing PostgreSQL a failure, not a skip.
REQUIRE_POSTGRES_ENV = "HER2KIT_REQUIRE_POSTGRES"


def _pg_bin(name: str) -> str | None:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class PgCluster:
    """A throwaway PostgreSQL cluster in a temporary folder, on a free 127.0.0.1 port, run
    as a non-root user (``postgres`` through runuser when the tests run as root)."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        import tempfile

        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.sweep_stale(Path(tempfile.gettempdir()))
        self.dir = Path(tempfile.mkdtemp(prefix=self.PREFIX))
        # Who owns the cluster: a later session removes it once this process is gone
        # (a killed test run cannot drop its own cluster).
        (self.dir / "owner.pid").write_text(str(os.getpid()))
        self.data = self.dir / "data"
        self.port = _free_port()
        self._n = 0

    PREFIX = "her2kit-pg-"
    #: A cluster folder without an owner file this old (s) is left over, not starting;
    #: long, because test runs from before owner files existed may still be going.
    STALE_WITHOUT_OWNER_S = 6 * 3600.0

    def sweep_stale(self, tmp: Path) -> list[Path]:
        """Stop and remove clusters left by test runs whose process is gone."""
        import contextlib
        import shutil
        import time

        removed = []
        for d in sorted(tmp.glob(self.PREFIX + "*")):
            owner = d / "owner.pid"
            try:
                pid = int(owner.read_text())
            except (OSError, ValueError):
                with contextlib.suppress(OSError):
                    if time.time() - d.stat().st_mtime < self.STALE_WITHOUT_OWNER_S:
                        continue
                pid = None
            if pid is not None and _pid_alive(pid):
                continue
            if (d / "data" / "postmaster.pid").exists():
                with contextlib.suppress(Exception):
                    self._run(self.pg_ctl, "-D", str(d / "data"), "-m", "immediate", "-w",
                              "stop")
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
        return removed

    def _run(self, *args: str) -> None:
        import subprocess

        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        import shutil

        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(self.initdb, "-D", str(self.data), "-U", "her2kit", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        self.start()

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", opts, "-l",
                  str(self.dir / "log"), "-w", "start")

    def stop(self) -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://her2kit@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        self._n += 1
        name = f"t{os.getpid()}_{self._n}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=her2kit dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop(self) -> None:
        import contextlib
        import shutil
        import time

        with contextlib.suppress(Exception):
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        # The server's last processes may still be writing as they exit: retry.
        for _ in range(20):
            shutil.rmtree(self.dir, ignore_errors=True)
            if not self.dir.exists():
                return
            time.sleep(0.25)


@pytest.fixture
def pg_cluster_type() -> type[PgCluster]:
    """The cluster class itself (its stale-folder sweep is tested without a server)."""
    return PgCluster


@pytest.fixture(scope="session")
def pg_cluster():
    """The session's PostgreSQL cluster; skips (fails with HER2KIT_REQUIRE_POSTGRES=1)
    when PostgreSQL is not installed (scripts/setup_postgres.sh installs it)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        msg = "PostgreSQL (initdb, pg_ctl) is not installed: run scripts/setup_postgres.sh"
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{msg} ({REQUIRE_POSTGRES_ENV}=1)")
        pytest.skip(msg)
    cluster = PgCluster(initdb, pg_ctl)
    try:
        cluster.init()
    except Exception as exc:
        cluster.drop()
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"cannot start PostgreSQL: {exc}")
        pytest.skip(f"cannot start PostgreSQL: {exc}")
    yield cluster
    cluster.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh database on each backend: SQLite in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'her2kit.sqlite3'}"
    return request.getfixturevalue("pg_cluster").new_database()
