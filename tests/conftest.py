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


class PgCluster:
    """A throwaway PostgreSQL cluster in a temporary folder, on a free 127.0.0.1 port, run
    as a non-root user (``postgres`` through runuser when the tests run as root)."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        import tempfile

        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="her2kit-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self._n = 0

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

        with contextlib.suppress(Exception):
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


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
