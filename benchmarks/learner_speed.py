"""Time per update of every learner, and how much of it is model compute.

    python benchmarks/learner_speed.py [--updates 3] [--init DIR]
    python benchmarks/learner_speed.py --policy acts          # the act-level policy on DialogueActs

Prints one JSON line: per learner, the mean seconds per update (after one warm-up update), the
share spent in model forward/backward passes of the loss, the share spent generating (batched
sampling with the KV cache, model calls included), and the rest (env steps, tokenization,
scoring, advantages, optimizer bookkeeping). The model is the ``tiny-cpu`` preset (or ``--init``),
or with ``--policy acts`` a fresh :class:`ptod_agents.acts.ActPolicy`, on 2 threads.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from ptod_agents.acts import ActPolicy
from ptod_agents.config import CONFIGS
from ptod_agents.presets import preset_dir
from ptod_agents.train import load_policy, make_learner

ROLLOUT = {"users_per_update": 2, "group_size": 4, "max_new_tokens": 24, "eval_episodes": 0}
SETTINGS = {
    "grpo": ROLLOUT,
    "stpr": ROLLOUT,
    "aopd": ROLLOUT,
    "siavpo": ROLLOUT,
    "sft": {"batch_size": 32, "base_episodes": 20, "eval_episodes": 0},
    "learn2ask": {"contexts_per_update": 4, "group_size": 4, "max_new_tokens": 24, "log_episodes": 20},
}


def measure(algo: str, init: Path | None, updates: int, workdir: Path) -> dict[str, float]:
    torch.manual_seed(0)
    policy = load_policy(init)[0] if init else ActPolicy()
    learner = make_learner(policy, CONFIGS[algo](**SETTINGS[algo]), np.random.default_rng(0), workdir / algo)
    learner.step(0)  # warm-up: allocator, first-call overheads
    rows = [learner.step(i) for i in range(1, updates + 1)]
    total = sum(r["perf/update_s"] for r in rows)
    forward_backward = sum(r["perf/forward_backward_s"] for r in rows)
    generation = sum(r.get("perf/generation_s", 0.0) for r in rows)
    return {
        "seconds_per_update": round(total / updates, 3),
        "forward_backward_share": round(forward_backward / total, 3),
        "generation_share": round(generation / total, 3),
        "other_share": round(1 - (forward_backward + generation) / total, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=3, help="timed updates per learner (after one warm-up)")
    parser.add_argument("--init", type=Path, help="policy to start from (default: the fresh tiny-cpu preset)")
    parser.add_argument("--learners", default=",".join(SETTINGS), help="comma-separated learners")
    parser.add_argument("--policy", choices=("lm", "acts"), default="lm", help="the policy kind (acts: no --init)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    init = None if args.policy == "acts" else args.init or preset_dir("tiny-cpu")
    with tempfile.TemporaryDirectory() as tmp:
        figures = {algo: measure(algo, init, args.updates, Path(tmp)) for algo in args.learners.split(",")}
    header = {"benchmark": "learner_speed", "policy": args.policy, "init": str(init), "threads": 2}
    print(json.dumps({**header, "learners": figures}))


if __name__ == "__main__":
    main()
