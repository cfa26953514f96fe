"""Steps per second of the default env driven by the oracle, against CartPole-v1 in the same run.

Prints one JSON line. Only time inside ``env.step`` counts for both envs (the oracle's decisions
and CartPole's random actions are made outside the timer), wrappers from ``gym.make`` included.
The two envs are timed in alternating rounds and the ratio is the median of the per-round
ratios, so load from other processes hits both sides alike.

Two figures for the text env. ``cached``: the recorded oracle episodes replayed every round, once
untimed and then timed, so the reader's and the quality judge's per-text caches already hold every
line (what a fixed-set evaluation sees; the untimed pass refills what the previous round's cold
pass emptied). ``cold``: every per-text cache emptied before each episode (outside the timer),
so every line is read as if never seen (what a learner writing new lines sees); the models stay
loaded. ``reset_us``: time inside ``env.reset`` (cached pass), which a training loop pays once
per episode on top of its steps.

    python benchmarks/env_speed.py [--rounds 10] [--steps 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import gymnasium as gym
import numpy as np

import ptod_env
from ptod_env import quality
from ptod_env.agents import make_agent


def record_oracle_episodes(steps: int) -> list[tuple[int, list[str]]]:
    """(seed, actions) of oracle episodes totalling at least ``steps`` steps."""
    env = gym.make("ProactiveSales-v0")
    oracle = make_agent("oracle", env.unwrapped.pack, seed=0)
    episodes, total, seed = [], 0, 0
    while total < steps:
        obs, info = env.reset(seed=seed)
        oracle.reset(obs, info)
        actions, done = [], False
        while not done:
            actions.append(oracle.act(obs, info))
            obs, _, terminated, truncated, info = env.step(actions[-1])
            done = terminated or truncated
        episodes.append((seed, actions))
        total += len(actions)
        seed += 1
    return episodes


def clear_text_caches(env: gym.Env) -> None:
    """Empty every per-text cache of ptod_env (bounded ``lru_cache``s in its modules and on the
    env's understanding backend, the quality judges' topic hits); what is built once per pack
    or process (the judges, the loaded models: unbounded caches) stays."""
    owners = [vars(m) for name, m in list(sys.modules.items()) if name.startswith("ptod_env")]
    understanding = env.unwrapped.understanding
    owners.append(vars(understanding))
    if hasattr(understanding, "topics"):  # the natural reader's topic reader (per-sentence caches)
        owners.append(vars(understanding.topics))
    for owner in owners:
        for obj in list(owner.values()):
            if callable(getattr(obj, "cache_clear", None)) and obj.cache_parameters()["maxsize"] is not None:
                obj.cache_clear()
    for _, judge in quality._JUDGES.values():
        judge._topic_hits.clear()


def time_ptod(env: gym.Env, episodes: list[tuple[int, list[str]]], cold: bool = False) -> tuple[float, float]:
    """Seconds per step and per reset."""
    spent, steps, resets = 0.0, 0, 0.0
    for seed, actions in episodes:
        if cold:
            clear_text_caches(env)
        start = time.perf_counter()
        env.reset(seed=seed)
        resets += time.perf_counter() - start
        for action in actions:
            start = time.perf_counter()
            env.step(action)
            spent += time.perf_counter() - start
        steps += len(actions)
    return spent / steps, resets / len(episodes)


def time_cached(env: gym.Env, episodes: list[tuple[int, list[str]]]) -> tuple[float, float]:
    time_ptod(env, episodes)  # untimed: refill the caches a cold pass emptied
    return time_ptod(env, episodes)


def time_cartpole(env: gym.Env, actions: np.ndarray) -> float:
    env.reset(seed=0)
    spent = 0.0
    for action in actions:
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(int(action))
        spent += time.perf_counter() - start
        if terminated or truncated:
            env.reset()
    return spent / len(actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=3000, help="steps per env per round")
    args = parser.parse_args()
    episodes = record_oracle_episodes(args.steps)
    ptod, cartpole = gym.make("ProactiveSales-v0"), gym.make("CartPole-v1")
    actions = np.random.default_rng(0).integers(0, 2, size=args.steps)
    time_ptod(ptod, episodes[:50])  # warm-up: caches, first-step env checker
    time_cartpole(cartpole, actions[:500])
    rounds = [
        (time_cached(ptod, episodes), time_ptod(ptod, episodes, cold=True)[0], time_cartpole(cartpole, actions))
        for _ in range(args.rounds)
    ]
    ptod_step = statistics.median(p for (p, _), _, _ in rounds)
    reset = statistics.median(r for (_, r), _, _ in rounds)
    cold_step = statistics.median(p for _, p, _ in rounds)
    cartpole_step = statistics.median(c for *_, c in rounds)
    print(
        json.dumps(
            {
                "benchmark": "env_speed",
                "env": "ProactiveSales-v0",
                "driver": "oracle",
                "rounds": args.rounds,
                "steps_per_round": sum(len(a) for _, a in episodes),
                "ptod_steps_per_s": round(1 / ptod_step, 1),
                "ptod_us_per_step": round(ptod_step * 1e6, 2),
                "cartpole_us_per_step": round(cartpole_step * 1e6, 2),
                "cost_ratio_vs_cartpole": round(statistics.median(p / c for (p, _), _, c in rounds), 2),
                "cold_us_per_step": round(cold_step * 1e6, 2),
                "cold_cost_ratio_vs_cartpole": round(statistics.median(p / c for _, p, c in rounds), 2),
                "reset_us": round(reset * 1e6, 2),
                "ptod_env_version": ptod_env.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
