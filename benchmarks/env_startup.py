"""Seconds a fresh process pays before its first step of the default env: what every vector-env or
Ray worker pays once.

Prints one JSON line. Each run is a fresh Python process that imports ``ptod_env`` (``import_s``),
then times ``gym.make("ProactiveSales-v0")`` + ``reset`` + one step with a sentence no cache has
seen, for a first env (``first_env_s``: the shipped models load, the pack's topic reader is built),
a second env of the same domain (``second_env_s``: all shared) and a first env of the other shipped
domain (``other_domain_env_s``: its topic reader). Medians over ``--runs`` processes.

    python benchmarks/env_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

import ptod_env

# One fresh process: the import, then three envs, each made, reset and stepped once with a new line.
RUN = """
import json, time
start = time.perf_counter()
import gymnasium as gym
import ptod_env
figures = {"import_s": time.perf_counter() - start}
for name, domain, line in [
    ("first_env_s", "merchant_recruitment", "Would the fee you pay on each order eat into what you keep?"),
    ("second_env_s", "merchant_recruitment", "Does handing over part of every sale worry you at all?"),
    ("other_domain_env_s", "courier_recruitment", "Is riding in heavy traffic at night something you fear?"),
]:
    start = time.perf_counter()
    env = gym.make("ProactiveSales-v0", domain=domain)
    env.reset(seed=0)
    env.step(line)
    figures[name] = time.perf_counter() - start
print(json.dumps(figures))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes timed")
    args = parser.parse_args()
    runs = [
        json.loads(subprocess.run([sys.executable, "-c", RUN], check=True, capture_output=True, text=True).stdout)
        for _ in range(args.runs)
    ]
    medians = {name: round(statistics.median(run[name] for run in runs), 3) for name in runs[0]}
    print(
        json.dumps(
            {
                "benchmark": "env_startup",
                "env": "ProactiveSales-v0",
                "runs": args.runs,
                **medians,
                "ptod_env_version": ptod_env.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
