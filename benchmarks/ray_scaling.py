"""Throughput of ``ptod rollout --workers N`` (Ray actors) against the local run.

For each simulator backend and worker count, plays the same users with the ``proactive`` agent
and prints one JSON line: episodes per second, the speed-up over ``workers=1`` (the local path,
no Ray), and whether the episodes were identical to the local run. Ray's own start-up is paid once
before timing; building each actor's env (and model) is inside the timing, as in a real run.
Ray gives each actor one torch/OpenMP thread; the local run gets the same (``--threads 1``), so
the comparison is between processes, not thread settings.

    python benchmarks/ray_scaling.py [--workers 1,2,4] [--backends lexical,embedding] [--lexical-episodes 2000]
        [--embedding-episodes 48] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from ptod_env.evaluation import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--lexical-episodes", type=int, default=2000)
    parser.add_argument("--embedding-episodes", type=int, default=48, help="0 skips the embedding backend")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the local run")
    parser.add_argument("--backends", default="lexical,embedding")
    args = parser.parse_args()
    import ray
    import torch

    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    ray.init(include_dashboard=False, logging_level="WARNING")
    ray_start = time.perf_counter() - started
    episodes = {"lexical": args.lexical_episodes, "embedding": args.embedding_episodes}
    cases = [(name, episodes[name]) for name in args.backends.split(",")]
    for understanding, episodes in cases:
        baseline = None
        for workers in (int(w) for w in args.workers.split(",")):
            start = time.perf_counter()
            figures = evaluate(
                "proactive",
                episodes=episodes,
                progress=False,
                env_kwargs={"understanding": understanding},
                workers=workers,
            )
            seconds = time.perf_counter() - start
            baseline = baseline or (seconds, figures)
            print(
                json.dumps(
                    {
                        "benchmark": "ray_scaling",
                        "understanding": understanding,
                        "workers": workers,
                        "episodes": episodes,
                        "seconds": round(seconds, 2),
                        "episodes_per_s": round(episodes / seconds, 2),
                        "speedup_vs_local": round(baseline[0] / seconds, 2),
                        "identical_to_local": figures == baseline[1],
                        "success_rate": figures["success_rate"],
                        "cpus": os.cpu_count(),
                        "load_average_1min": round(os.getloadavg()[0], 1),
                        "ray_start_s": round(ray_start, 2),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
