"""The ``ptod`` command line.

``ptod play`` puts you in the salesperson's seat; ``ptod rollout`` runs a reference agent over
many users and prints the standard figures. Learner commands (``train``, ``eval``) and backend
commands (``simcheck``, ``prepare-model``) are added by their packages, which import torch or
model libraries only when those commands run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from ptod_env import ENV_IDS
from ptod_env.agents import AGENTS
from ptod_env.persona import SPLITS
from ptod_env.scenario import shipped_scenarios

# Modules that add subcommands: each defines add_commands(subparsers).
COMMAND_MODULES = ("ptod_agents.cli", "ptod_env.backends.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ptod", description="Proactive sales dialogue: simulator, agents, learners.")
    sub = parser.add_subparsers(dest="command", required=True)

    play = sub.add_parser("play", help="be the salesperson in the terminal")
    add_env_arguments(play)
    play.add_argument("--seed", type=int, default=None, help="env seed (default: random)")
    play.add_argument("--reveal", action="store_true", help="show the hidden state after each turn")
    play.set_defaults(run=run_play)

    rollout = sub.add_parser("rollout", help="run a reference agent over many users")
    rollout.add_argument("--agent", choices=[*AGENTS, "all"], required=True, help="'all': every reference agent")
    rollout.add_argument("--episodes", type=positive_int, default=100)
    add_env_arguments(rollout, allow_all=True)
    rollout.add_argument("--seed", type=int, default=0, help="episode i uses env seed SEED+i")
    rollout.add_argument("--json", action="store_true", help="print one JSON object per run instead of a table")
    rollout.add_argument("--record", metavar="FILE.jsonl", help="write every episode, with privileged info")
    add_workers_argument(rollout)
    rollout.set_defaults(run=run_rollout)

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return parser


def add_env_arguments(parser: argparse.ArgumentParser, allow_all: bool = False) -> None:
    """The env selection flags shared by every command that runs episodes: ``--domain NAME``
    (a shipped pack) or ``--scenario PATH`` (any pack file, which then plays as its name)."""
    domains = [*shipped_domains(), "all"] if allow_all else shipped_domains()
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--domain", choices=domains, default="merchant_recruitment")
    where.add_argument(
        "--scenario", metavar="PATH", action=ScenarioAction, help="a scenario pack file (.yaml/.json), any domain"
    )
    parser.add_argument("--split", choices=SPLITS, default="test")


class ScenarioAction(argparse.Action):
    """``--scenario PATH``: load and register the pack, and play it as ``--domain <its name>``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any, option=None) -> None:
        from ptod_env import register_scenario
        from ptod_env.scenario import ScenarioError, load_scenario

        try:
            register_scenario(value)
        except ScenarioError as exc:
            raise argparse.ArgumentError(self, str(exc)) from exc
        setattr(namespace, self.dest, value)
        namespace.domain = load_scenario(value).name


def shipped_domains() -> list[str]:
    """The packs in ``ptod_env/scenarios/`` that registered (a broken one is skipped, with a
    warning at import)."""
    registered = set(ENV_IDS.values())
    return [name for name in shipped_scenarios() if name in registered]


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    """``--workers N``: spread users over N Ray actors (same results as 1, which needs no Ray)."""
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="Ray actors to spread users over (default 1: this process, no Ray); joins $RAY_ADDRESS if set",
    )


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def run_rollout(args: argparse.Namespace) -> int:
    from ptod_env.evaluation import evaluate

    agents = list(AGENTS) if args.agent == "all" else [args.agent]
    domains = shipped_domains() if args.domain == "all" else [args.domain]
    if args.record and len(agents) * len(domains) > 1:
        raise SystemExit("ptod rollout: --record needs a single --agent and --domain")
    rows = [
        evaluate(
            agent,
            domain=domain,
            split=args.split,
            episodes=args.episodes,
            seed=args.seed,
            record=args.record,
            workers=args.workers,
        )
        for domain in domains
        for agent in agents
    ]
    if args.json:
        print("\n".join(json.dumps(row) for row in rows))
    else:
        print(format_table(rows))
    return 0


def format_table(rows: Sequence[dict]) -> str:
    """A plain-text table of evaluation figures, one row per run."""
    columns = (("agent", "<14"), ("domain", "<24"), ("split", "<7"), ("episodes", ">9"), ("success", ">9"))
    columns += (("turns", ">7"), ("discover", ">10"), ("resolve", ">9"))
    header = "".join(f"{name:{spec}}" for name, spec in columns)
    lines = [header, "-" * len(header)]
    for m in rows:
        lines.append(
            f"{m['agent']:<14}{m['domain']:<24}{m['split']:<7}{m['episodes']:>9}{m['success_rate']:>9.3f}"
            f"{m['mean_turns']:>7.2f}{m['concern_discovery_rate']:>10.3f}{m['resolution_rate']:>9.3f}"
        )
    return "\n".join(lines)


def run_play(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from ptod_env.evaluation import env_id_for
    from ptod_env.views import render_concern_block

    env = gym.make(env_id_for(args.domain), split=args.split)
    obs, info = env.reset(seed=args.seed)
    print(obs)
    print("\n(type your line and press Enter; an empty line is silence; Ctrl-D quits)\n")
    done = False
    while not done:
        try:
            line = input("Agent> ")
        except EOFError:
            print()
            return 0
        obs, reward, terminated, truncated, info = env.step(line)
        print(f"User: {obs.rsplit('User: ', 1)[-1]}")
        if args.reveal:
            state = info["state"]
            print(f"  [understood: {info['agent_acts']}; user act: {info['user_act']}]")
            print(f"  [stage {state['stage']}, trust {state['trust']:.2f}, patience {state['patience']}]")
            print("  " + render_concern_block(info["concerns"], state["concerns"]).replace("\n", "\n  "))
        done = terminated or truncated
    print(f"\nCall over: {info['outcome']} (reward {reward})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
