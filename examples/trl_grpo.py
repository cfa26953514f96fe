"""Train the tiny-cpu preset with TRL's GRPOTrainer on whole ProactiveSales calls (CPU, no download).

    pip install -e ".[trl]"
    python examples/trl_grpo.py --steps 2
    python examples/trl_grpo.py --steps 10 --algo stpr      # or aopd, siavpo

Each step: ``--users`` training users × ``--generations`` calls each, played by the model through
``CallRollout`` (one token sequence per call, customer tokens masked), one optimizer step. Prints
the test-split success (and the other standard figures) before and after, on the same users
``ptod eval`` plays, and the seconds per step.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ptod_agents.config import AOPDConfig
from ptod_agents.integrations.trl import (
    TRAINERS,
    acceptance_reward,
    call_dataset,
    evaluate_calls,
    grpo_config,
    make_trainer,
    shaped_reward,
)
from ptod_agents.presets import preset_dir

FIGURES = ("success_rate", "concern_discovery_rate", "resolution_rate", "mean_turns")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps (one rollout batch each)")
    parser.add_argument("--algo", choices=sorted(TRAINERS), default="grpo")
    parser.add_argument("--users", type=int, default=4, help="training users per step")
    parser.add_argument("--generations", type=int, default=4, help="calls per user (the GRPO group)")
    parser.add_argument("--reward", choices=("acceptance", "shaped"), default="acceptance")
    parser.add_argument("--eval-episodes", type=int, default=48, help="test users before and after")
    parser.add_argument("--init", default=None, help="model directory (default: the tiny-cpu preset)")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--domain", default="merchant_recruitment")
    parser.add_argument("--json", action="store_true", help="print one JSON line of figures at the end")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    path = args.init or preset_dir("tiny-cpu")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)

    def evaluate(label: str) -> dict:
        figures = evaluate_calls(model, tokenizer, domain=args.domain, episodes=args.eval_episodes, seed=args.seed)
        print(f"{label}: " + "  ".join(f"{k} {figures[k]:.3f}" for k in FIGURES), flush=True)
        return figures

    before = evaluate("test before")
    dataset = call_dataset(args.domain, "train", users=max(64, args.users * args.steps), seed=args.seed)
    config = grpo_config(
        tempfile.mkdtemp(prefix="trl_grpo_"),
        steps=args.steps,
        users=args.users,
        calls_per_user=args.generations,
        lr=args.lr,
        seed=args.seed,
    )
    reward = acceptance_reward if args.reward == "acceptance" else shaped_reward()
    # As in the side-by-side with `ptod train` (docs/trl.md): a frozen AOPD teacher.
    trainer = make_trainer(
        args.algo,
        model,
        tokenizer,
        config,
        dataset,
        reward_funcs=[reward],
        aopd=AOPDConfig(teacher="frozen"),
        domain=args.domain,
    )
    rollout = trainer.rollout_func
    tick = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - tick
    print(
        f"trained {args.steps} steps ({args.algo}, {args.users}x{args.generations} calls/step): "
        f"{seconds / args.steps:.1f} s/step, of which playing calls {rollout.seconds / args.steps:.1f} s",
        flush=True,
    )
    after = evaluate("test after ")
    if args.json:
        row = {"example": "trl_grpo", "algo": args.algo, "steps": args.steps, "seconds_per_step": seconds / args.steps}
        row.update({f"before/{k}": before[k] for k in FIGURES} | {f"after/{k}": after[k] for k in FIGURES})
        print(json.dumps(row))


if __name__ == "__main__":
    main()
