"""The end-to-end demo: ``python -m ptod_agents.demo [--out DIR]``.

Shows, on CPU and from nothing, what the project measures (docs/RESULTS.md):

1. The reactive plateau at act level: a conservative base (behaviour cloning on passive calls in
   the student view and oracle calls in the teacher view, one network) and its pass@k in both
   views on the same test users.
2. GRPO against SI-AVPO from that base, with learning curves and 95% intervals over seeds and
   users, and the paired difference: the demo says whether it is resolved.
3. A short language-model run (the tiny preset: SFT base, one GRPO update, a few test users) as a
   smoke test of the same learners on text; its numbers are not a result.

Everything goes to ``DIR`` (``demo.json``, ``demo.png``: one figure with the plateau and the
learning curves).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ptod_agents.experiment import Budget, Method, draw_curves, draw_pass_at, report, run_experiment, save_figure

DEMO_BUDGET = Budget(
    base_episodes=150,
    base_updates=800,
    updates=80,
    users_per_seed=334,
    pass_users=60,
    curve_users=100,
    curve_points=5,
    ppo_timesteps=0,
)
LM_SFT_STEPS = 10
DEMO_METHODS = (
    Method("base", None),
    Method("base (teacher view)", None, view="teacher"),
    Method("GRPO", "grpo"),
    Method("SI-AVPO", "siavpo"),
)


def _plot(replicates: list[dict], rows: list[dict], path: Path) -> None:
    teacher = next(r["success"] for r in rows if r.get("method") == "base (teacher view)" and "view" not in r)
    save_figure(
        path,
        [
            (
                "The reactive plateau: the base's pass@k",
                lambda ax: draw_pass_at(ax, [r for r in rows if "pass@k" in r]),
            ),
            (
                "GRPO vs SI-AVPO from the base (95% bands)",
                lambda ax: draw_curves(ax, replicates, ["GRPO", "SI-AVPO"], {"base, teacher view": teacher}),
            ),
        ],
    )


def _verdict(rows: list[dict]) -> str:
    row = next(r for r in rows if r.get("comparison") == "SI-AVPO - GRPO")
    low, high = row["ci95"]
    if not row["resolved"]:
        return f"SI-AVPO - GRPO = {row['difference']:+.3f} [{low:+.3f}, {high:+.3f}]: NOT resolved at this budget."
    better = "SI-AVPO beats GRPO" if row["difference"] > 0 else "GRPO beats SI-AVPO"
    return f"SI-AVPO - GRPO = {row['difference']:+.3f} [{low:+.3f}, {high:+.3f}]: {better} (resolved)."


def _language_model_smoke_test(out: Path, progress: bool) -> dict:
    from ptod_agents.config import GRPOConfig, SFTConfig
    from ptod_agents.train import train

    base, run = out / "lm-base", out / "lm-grpo"
    sft = SFTConfig(updates=LM_SFT_STEPS, batch_size=16, base_episodes=10, eval_episodes=0, save_every=LM_SFT_STEPS)
    train("sft", base, config=sft, resume=True, progress=progress)
    config = GRPOConfig(updates=1, users_per_update=2, group_size=2, max_new_tokens=16, eval_episodes=4)
    return train("grpo", run, config=config, init=base, resume=True, progress=progress)


def run_demo(out: Path, seeds: int, workers: int, progress: bool) -> list[dict]:
    """The act-level experiment (small budget), the plot, the LM smoke test; returns the rows."""
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    replicates = run_experiment(seeds, DEMO_BUDGET, DEMO_METHODS, workers)
    rows = report(replicates, DEMO_METHODS, DEMO_BUDGET)
    _plot(replicates, rows, out / "demo.png")
    users = seeds * DEMO_BUDGET.users_per_seed
    print(f"\nAct level ({seeds} seeds, {users} test users, the same users and env seeds for every policy):")
    print(f"| {'policy':<22} | success | 95% CI         | vs base, paired (95% CI)   |")
    print(f"|{'-' * 24}|---------|----------------|----------------------------|")
    for row in (r for r in rows if "success" in r and "view" not in r):
        interval = f"[{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}]"
        diff = row.get("vs_base")
        paired = f"{diff['difference']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}]" if diff else "-"
        print(f"| {row['method']:<22} | {row['success']:7.3f} | {interval:<14} | {paired:<26} |")
    for row in (r for r in rows if "pass@k" in r):
        print(f"base pass@k, {row['view']} view: " + "  ".join(f"{k} {v:.3f}" for k, v in row["pass@k"].items()))
    print(_verdict(rows))
    lm = _language_model_smoke_test(out, progress)
    print(
        f"LM smoke test (tiny preset, SFT {LM_SFT_STEPS} steps + 1 GRPO update, {lm['episodes']} users): ran end to"
        f" end; success {lm['success_rate']:.2f} is not a result at this size."
    )
    (out / "demo.json").write_text(json.dumps({"act_level": rows, "lm_smoke_test": lm}, indent=1))
    print(f"\n{time.perf_counter() - started:.0f} s; plot: {out / 'demo.png'}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptod_agents.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/demo", help="output directory")
    parser.add_argument("--seeds", type=int, default=3, help="independent replicates of the act-level experiment")
    parser.add_argument("--workers", type=int, default=2, help="processes running seeds in parallel")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    run_demo(Path(args.out), args.seeds, args.workers, not args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
