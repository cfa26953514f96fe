"""Time per update through TRL against ``ptod train``'s learner, interleaved in one process.

    python benchmarks/trl_speed.py [--updates 3] [--algos grpo,stpr,aopd] [--init DIR]

For each algorithm, a TRL trainer (``ptod_agents.integrations.trl``) and ptod's
``OnPolicyLearner`` train two copies of the same model on the same budget: ``--users`` users ×
``--calls`` calls per update, one rollout batch per update. The ptod update runs right after each
TRL step (from a ``TrainerCallback``), so both see the same machine load, and the figure to read is
the ratio. Prints one JSON line: per algorithm, the mean seconds per update of each (after one
warm-up update) and the share spent playing calls.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from ptod_agents.config import CONFIGS, AOPDConfig, STPRConfig
from ptod_agents.integrations.trl import call_dataset, grpo_config, make_trainer
from ptod_agents.onpolicy import OnPolicyLearner
from ptod_agents.policy import Policy
from ptod_agents.presets import preset_dir


class Interleave(TrainerCallback):
    """Times each TRL step, then runs and times one ptod update."""

    def __init__(self, learner: OnPolicyLearner, rollout):
        self.learner = learner
        self.rollout = rollout
        self.rows: list[dict[str, float]] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.tick = time.perf_counter()
        self.played = self.rollout.seconds

    def on_step_end(self, args, state, control, **kwargs):
        trl_seconds = time.perf_counter() - self.tick
        ptod = self.learner.step(state.global_step)
        self.rows.append(
            {
                "trl_s": trl_seconds,
                "trl_rollout_s": self.rollout.seconds - self.played,
                "ptod_s": ptod["perf/update_s"],
                "ptod_rollout_s": ptod["perf/rollout_s"],
            }
        )


def measure(algo: str, init: Path, updates: int, users: int, calls: int, workdir: Path) -> dict[str, float]:
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(init)
    model = AutoModelForCausalLM.from_pretrained(init, dtype=torch.float32)
    dataset = call_dataset("merchant_recruitment", "train", users=64)
    args = grpo_config(str(workdir / algo), steps=updates + 1, users=users, calls_per_user=calls)
    config = CONFIGS[algo](users_per_update=users, group_size=calls, eval_episodes=0)
    stpr = config if isinstance(config, STPRConfig) else None
    aopd = config if isinstance(config, AOPDConfig) else None
    trainer = make_trainer(algo, model, tokenizer, args, dataset, stpr=stpr, aopd=aopd)
    learner = OnPolicyLearner(Policy.load(init), config, np.random.default_rng(0))
    timing = Interleave(learner, trainer.rollout_func)
    trainer.add_callback(timing)
    trainer.train()
    rows = timing.rows[1:]  # the first update warms up both
    mean = {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]}
    return {
        "trl_seconds_per_update": round(mean["trl_s"], 3),
        "ptod_seconds_per_update": round(mean["ptod_s"], 3),
        "trl_over_ptod": round(mean["trl_s"] / mean["ptod_s"], 2),
        "trl_rollout_share": round(mean["trl_rollout_s"] / mean["trl_s"], 3),
        "ptod_rollout_share": round(mean["ptod_rollout_s"] / mean["ptod_s"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=3, help="timed updates per algorithm (after one warm-up)")
    parser.add_argument("--algos", default="grpo,stpr,aopd", help="comma-separated: grpo, stpr, aopd, siavpo")
    parser.add_argument("--users", type=int, default=4, help="users per update")
    parser.add_argument("--calls", type=int, default=4, help="calls per user (the group)")
    parser.add_argument("--init", type=Path, help="model directory (default: the fresh tiny-cpu preset)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    init = args.init or preset_dir("tiny-cpu")
    with tempfile.TemporaryDirectory() as tmp:
        figures = {
            algo: measure(algo, init, args.updates, args.users, args.calls, Path(tmp)) for algo in args.algos.split(",")
        }
    print(
        json.dumps(
            {
                "benchmark": "trl_speed",
                "init": str(init),
                "calls_per_update": args.users * args.calls,
                "updates": args.updates,
                "algos": figures,
            }
        )
    )


if __name__ == "__main__":
    main()
