"""The end-to-end demo: ``python -m ptod_agents.demo [--out DIR]``.

From nothing, on CPU: build the tiny preset, SFT it into the conservative base policy (passive
dialogues in the student view, oracle dialogues in the teacher view), train GRPO and SI-AVPO from
that base for the same number of updates, evaluate the base in both views and both learners in
the student view on the same test-split users, print a table and save ``DIR/demo.png``.
Re-running with the same ``--out`` resumes whatever had not finished.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ptod_agents.config import GRPOConfig, SFTConfig, SIAVPOConfig


def _plot(rows: list[dict], runs: dict[str, Path], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (bars, curves) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [r["label"] for r in rows]
    x = range(len(rows))
    bars.bar([i - 0.2 for i in x], [r["success_rate"] for r in rows], width=0.4, label="success")
    bars.bar([i + 0.2 for i in x], [r["concern_discovery_rate"] for r in rows], width=0.4, label="concerns found")
    bars.set_xticks(list(x), labels, rotation=15)
    bars.set_ylim(0, 1)
    bars.set_title("test-split users")
    bars.legend()
    for name, run in runs.items():
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        curves.plot(
            [m["update"] for m in lines], [m["charts/concern_discovery_rate"] for m in lines], label=name, marker="o"
        )
    curves.set_xlabel("update")
    curves.set_ylabel("train concern discovery rate")
    curves.set_title("training")
    curves.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def run_demo(out: Path, base_updates: int, updates: int, episodes: int, seed: int, progress: bool) -> list[dict]:
    """Build the base, train both learners, evaluate, and return the table rows."""
    import torch

    from ptod_agents.evaluate import evaluate_policy
    from ptod_agents.train import load_policy, train
    from ptod_env.cli import format_table

    torch.set_num_threads(min(2, torch.get_num_threads()))
    started = time.perf_counter()
    base = out / "base"
    train(
        "sft", base, config=SFTConfig(updates=base_updates, eval_episodes=0), seed=seed, resume=True, progress=progress
    )
    learners = {"grpo": GRPOConfig, "siavpo": SIAVPOConfig}
    runs = {name: out / name for name in learners}
    for name, config_class in learners.items():
        config = config_class(updates=updates, eval_episodes=0)
        train(name, runs[name], config=config, init=base, seed=seed, resume=True, progress=progress)
    rows = []
    for label, run, view in [
        ("base student", base, "student"),
        ("base teacher", base, "teacher"),
        ("GRPO", runs["grpo"], "student"),
        ("SI-AVPO", runs["siavpo"], "student"),
    ]:
        policy, meta = load_policy(run)
        figures = evaluate_policy(
            policy,
            episodes=episodes,
            view=view,
            seed=seed,
            history_turns=meta["history_turns"],
            max_new_tokens=meta["max_new_tokens"],
            progress=progress,
            name=label,
        )
        rows.append({**figures, "label": label, "agent": label})
    (out / "demo.json").write_text(json.dumps(rows, indent=1))
    _plot(rows, runs, out / "demo.png")
    print(format_table(rows))
    print(f"\n{time.perf_counter() - started:.0f} s; plot: {out / 'demo.png'}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptod_agents.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/demo", help="output directory (re-running resumes it)")
    parser.add_argument("--base-updates", type=int, default=SFTConfig.updates, help="SFT updates for the base")
    parser.add_argument("--updates", type=int, default=8, help="updates for each learner (same budget)")
    parser.add_argument("--episodes", type=int, default=32, help="test-split users per evaluation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    run_demo(Path(args.out), args.base_updates, args.updates, args.episodes, args.seed, not args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
