"""The test PostgreSQL clusters: one left by a killed run is removed by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def test_stale_cluster_folders_are_swept_and_live_ones_kept(tmp_path, pg_cluster_type):
    PgCluster = pg_cluster_type
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dirs = {name: tmp_path / f"{PgCluster.PREFIX}{name}" for name in
            ("dead_owner", "live_owner", "no_owner_old", "no_owner_new", "bad_owner_old")}
    for d in dirs.values():
        (d / "data").mkdir(parents=True)
    (dirs["dead_owner"] / "owner.pid").write_text(gone)
    (dirs["live_owner"] / "owner.pid").write_text(str(os.getpid()))
    (dirs["bad_owner_old"] / "owner.pid").write_text("not a pid")
    old = time.time() - PgCluster.STALE_WITHOUT_OWNER_S - 60
    for name in ("no_owner_old", "bad_owner_old"):
        os.utime(dirs[name], (old, old))
    (tmp_path / "unrelated").mkdir()

    sweeper = PgCluster.__new__(PgCluster)  # no initdb: only the sweep is exercised
    removed = sweeper.sweep_stale(tmp_path)

    assert sorted(p.name for p in removed) == sorted(
        dirs[n].name for n in ("dead_owner", "no_owner_old", "bad_owner_old"))
    assert dirs["live_owner"].is_dir() and dirs["no_owner_new"].is_dir()
    assert (tmp_path / "unrelated").is_dir()
    assert not dirs["dead_owner"].exists()
