"""Microseconds per step that the quality judge (ptod_env.quality) costs, cached and cold.

Prints one JSON line. Records the judge's inputs (acts, text, conversation) of reference and
adversarial episodes on test users of the default domain, then times ``judge`` alone over them in
rounds: ``cached`` with every per-text cache warm, ``cold`` with the judge's bounded caches
emptied before each episode (outside the timer), as a learner writing new lines sees it. With
``--against FILE`` (another version of ``quality.py``, e.g. ``git show REV:ptod_env/quality.py``)
both are timed in alternating rounds on the same inputs and the medians compared, so machine load
hits both alike.

    python benchmarks/judge_speed.py [--rounds 8] [--users 150] [--against OLD_QUALITY_PY]
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import statistics
import time
from types import ModuleType

import gymnasium as gym

from ptod_env import quality
from ptod_env.adversaries import ADVERSARIES, make_adversary
from ptod_env.agents import make_agent
from ptod_env.evaluation import episode_options

POLICIES = ("oracle", "proactive", "natural_proactive", "rotating_paying_words")
Step = tuple[list, str, list[tuple[str, str]]]


def record(policy: str, users: int) -> tuple[list[list[Step]], object]:
    """The judge's inputs, step by step, of ``policy`` on the first ``users`` test users."""
    env = gym.make("ProactiveSales-v0", split="test")
    sim = env.unwrapped
    agent = make_adversary(policy, sim.pack, 0) if policy in ADVERSARIES else make_agent(policy, sim.pack, 0)
    episodes = []
    for i in range(users):
        obs, info = env.reset(seed=i, options=episode_options("test", i))
        agent.reset(obs, info)
        steps, done = [], False
        while not done:
            action = agent.act(obs, info)
            steps.append((sim.understanding.understand(action, sim._agent_history), action, list(sim._turns)))
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        episodes.append(steps)
    return episodes, sim.pack


def clear(module: ModuleType) -> None:
    for obj in vars(module).values():
        if callable(getattr(obj, "cache_clear", None)) and obj.cache_parameters()["maxsize"] is not None:
            obj.cache_clear()
    for _, judge in module._JUDGES.values():
        judge._topic_hits.clear()


def time_judge(module: ModuleType, episodes: list[list[Step]], pack: object, cold: bool) -> float:
    spent, steps = 0.0, 0
    for episode in episodes:
        if cold:
            clear(module)
        for acts, text, turns in episode:
            start = time.perf_counter()
            module.judge(acts, text, turns, pack)
            spent += time.perf_counter() - start
            steps += 1
    return spent / steps * 1e6


def load(path: str) -> ModuleType:
    # An explicit source loader: the path may have no ".py" suffix (e.g. a shell's <(git show ...)).
    loader = importlib.machinery.SourceFileLoader("quality_against", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--users", type=int, default=150, help="test users per recorded policy")
    parser.add_argument("--against", help="another quality.py to time in alternating rounds")
    args = parser.parse_args()
    episodes, pack = [], None
    for policy in POLICIES:
        recorded, pack = record(policy, args.users)
        episodes += recorded
    modules = {"now": quality} | ({"against": load(args.against)} if args.against else {})
    for module in modules.values():
        time_judge(module, episodes, pack, cold=False)  # warm-up
    times: dict[str, list[float]] = {}
    for r in range(args.rounds):
        order = list(modules.items()) if r % 2 == 0 else list(reversed(modules.items()))
        for name, module in order:
            times.setdefault(f"{name}_cached_us", []).append(time_judge(module, episodes, pack, cold=False))
            times.setdefault(f"{name}_cold_us", []).append(time_judge(module, episodes, pack, cold=True))
    figures = {key: round(statistics.median(values), 2) for key, values in times.items()}
    print(
        json.dumps(
            {
                "benchmark": "judge_speed",
                "policies": list(POLICIES),
                "steps": sum(map(len, episodes)),
                "rounds": args.rounds,
                **figures,
            }
        )
    )


if __name__ == "__main__":
    main()
