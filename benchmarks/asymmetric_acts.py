"""The asymmetric-view claims tested at act level, with statistics.

    python benchmarks/asymmetric_acts.py --seeds 5 --json     # the full experiment (docs/RESULTS.md)
    python benchmarks/asymmetric_acts.py --quick --json       # a smaller budget, a few minutes

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
import json
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ptod_agents.experiment import FULL, METHODS, QUICK, budget_dict, plot_curves, plot_pass_at, report, run_replicate


def _replicate(args: tuple) -> dict:
    import torch

    torch.set_num_threads(1)
    seed, budget, names, split = args
    methods = [m for m in METHODS if m.name in names]
    return run_replicate(seed, budget, methods, lambda line: print(line, file=sys.stderr, flush=True), split)


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
    parser.add_argument("--plots", metavar="DIR", help="write the learning-curve and pass@k PNGs here")
    parser.add_argument(
        "--validation", action="store_true", help="evaluate on held-out training-split users (to choose settings)"
    )
    parser.add_argument("--json", action="store_true", help="JSON lines only (the default prints them too)")
    args = parser.parse_args()
    budget = QUICK if args.quick else FULL
    args.seeds = args.seeds or (2 if args.quick else 5)
    names = args.methods.split(",") if args.methods else [m.name for m in METHODS]
    methods = [m for m in METHODS if m.name in names]
    if "base" not in names or len(methods) != len(names):
        raise SystemExit(f"--methods must include 'base' and name methods of {[m.name for m in METHODS]}")
    started = time.perf_counter()
    split = "validation" if args.validation else "test"
    jobs = [(seed, budget, names, split) for seed in range(args.seeds)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        replicates = list(pool.map(_replicate, jobs))
    rows = report(replicates, methods, budget)
    wall = round(time.perf_counter() - started, 1)
    header = {
        "benchmark": "asymmetric_acts",
        "commit": _commit(),
        "users": split,
        "seeds": args.seeds,
        "budget": budget_dict(budget),
    }
    print(json.dumps({**header, "wall_s": wall}))
    for row in rows:
        print(json.dumps(row))
    if args.plots:
        out = Path(args.plots)
        out.mkdir(parents=True, exist_ok=True)
        means = {r["method"]: r["success"] for r in rows if "success" in r and "view" not in r}
        base = {"base (student view)": means["base"], "base, teacher view": means.get("base (teacher view)", 0.0)}
        learners = [n for n in ("GRPO", "STPR", "AOPD", "SI-AVPO", "SI-AVPO (shuffled concerns)") if n in names]
        tag = f"{args.seeds} seeds x {budget.curve_users} test users, 95% bands"
        title = f"Act level: learners from the base ({tag})"
        plot_curves(replicates, learners, out / "asymmetric_acts_curves.png", title, base)
        aopd = [n for n in ("AOPD", "AOPD (EMA teacher)", "AOPD (live teacher)") if n in names]
        plot_curves(replicates, aopd, out / "asymmetric_acts_aopd_teachers.png", f"AOPD teachers ({tag})", base)
        plateau = [r for r in rows if "pass@k" in r]
        plot_pass_at(plateau, out / "asymmetric_acts_pass_at_k.png", f"The base's pass@k ({args.seeds} seeds)")


if __name__ == "__main__":
    main()
