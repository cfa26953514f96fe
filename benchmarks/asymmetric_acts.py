"""The asymmetric-view claims tested at act level, with statistics.

    python benchmarks/asymmetric_acts.py --seeds 5 --json --plots docs   # the full experiment (docs/RESULTS.md)
    python benchmarks/asymmetric_acts.py --quick --json                   # a smaller budget, 2 seeds

Every method starts from the same conservative base (behaviour cloning on passive calls in the
student view and oracle calls in the teacher view, one network) and is evaluated on the same test
users with the same env seeds (:mod:`ptod_agents.experiment`). Prints one JSON line per method
(success, 95% interval over users and seeds, users, seeds, the paired difference to the base),
the base's pass@1..16 in each view, the teacher view after training, paired comparisons between
methods and STPR's turn-index diagnostics; ``--plots DIR`` saves the learning curves and the
pass@k plateau as PNGs. Seeds run in ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import time
from pathlib import Path

from ptod_agents.experiment import (
    FULL,
    METHODS,
    QUICK,
    budget_dict,
    draw_curves,
    draw_pass_at,
    report,
    run_experiment,
    save_figure,
)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seeds", type=int, help="independent replicates (base, training, sampling); default 5, or 2 with --quick"
    )
    parser.add_argument("--quick", action="store_true", help="the smaller budget (ptod_agents.experiment.QUICK)")
    parser.add_argument("--workers", type=int, default=2, help="processes running seeds in parallel")
    parser.add_argument("--methods", help="comma-separated method names (default: all)")
    parser.add_argument("--updates", type=int, help="updates of every learner (default: the budget's)")
    parser.add_argument("--plots", metavar="DIR", help="write the learning-curve and pass@k PNGs here")
    parser.add_argument(
        "--validation", action="store_true", help="evaluate on held-out training-split users (to choose settings)"
    )
    parser.add_argument("--json", action="store_true", help="JSON lines only (the default prints them too)")
    args = parser.parse_args()
    budget = QUICK if args.quick else FULL
    if args.updates:
        budget = dataclasses.replace(budget, updates=args.updates)
    seeds = args.seeds or (2 if args.quick else 5)
    names = args.methods.split(",") if args.methods else [m.name for m in METHODS]
    methods = [m for m in METHODS if m.name in names]
    if len(methods) != len(names):
        raise SystemExit(f"--methods must name methods of {[m.name for m in METHODS]}")
    split = "validation" if args.validation else "test"
    started = time.perf_counter()
    replicates = run_experiment(seeds, budget, methods, args.workers, split)
    rows = report(replicates, methods, budget)
    header = {"benchmark": "asymmetric_acts", "commit": _commit(), "users": split, "seeds": seeds}
    print(json.dumps({**header, "budget": budget_dict(budget), "wall_s": round(time.perf_counter() - started, 1)}))
    for row in rows:
        print(json.dumps(row))
    if args.plots:
        out = Path(args.plots)
        out.mkdir(parents=True, exist_ok=True)
        means = {r["method"]: r["success"] for r in rows if "success" in r and "view" not in r}
        base = {"base (student view)": means["base"], "base, teacher view": means.get("base (teacher view)", 0.0)}
        tag = f"{seeds} seeds x {budget.curve_users} test users each, 95% bands"
        learners = [n for n in ("GRPO", "STPR", "AOPD", "SI-AVPO", "SI-AVPO (shuffled concerns)") if n in names]
        aopd = [n for n in ("AOPD", "AOPD (EMA teacher)", "AOPD (live teacher)") if n in names]
        plateau = [r for r in rows if "pass@k" in r]
        panels = {
            "asymmetric_acts_curves.png": (
                f"Act level: learners from the base ({tag})",
                lambda ax: draw_curves(ax, replicates, learners, base),
            ),
            "asymmetric_acts_aopd_teachers.png": (
                f"AOPD teachers ({tag})",
                lambda ax: draw_curves(ax, replicates, aopd, base),
            ),
            "asymmetric_acts_pass_at_k.png": (
                f"The base's pass@k ({seeds} seeds)",
                lambda ax: draw_pass_at(ax, plateau),
            ),
        }
        for name, panel in panels.items():
            save_figure(out / name, [panel])


if __name__ == "__main__":
    main()
