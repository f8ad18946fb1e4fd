"""How long ``her2kit`` takes to start: ``her2kit --version`` and one ``classify``.

Run: ``python -m benchmarks.import_time [--repeat N]``. Prints a table of the
median and best wall-clock time over N fresh subprocesses (each pays the full
interpreter start and import cost, as a user does).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (interpreter only)": [sys.executable, "-c", "pass"],
    "her2kit --version": [sys.executable, "-m", "her2kit", "--version"],
    "her2kit classify --ihc 2+ --her2-mean 4.6 --cep17-mean 2.1 --cells 20 --json": [
        sys.executable, "-m", "her2kit", "classify", "--ihc", "2+", "--her2-mean", "4.6",
        "--cep17-mean", "2.1", "--cells", "20", "--json",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'command':<82} {'median ms':>10} {'best ms':>8}")
    for name, cmd in COMMANDS.items():
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:<82} {statistics.median(times):>10.0f} {min(times):>8.0f}")


if __name__ == "__main__":
    main()
