"""The adversarial suite next to the reference agents: success per policy and domain.

Prints one JSON line per (policy, domain): ``policy``, ``domain``, ``success``, ``ci95`` (Wilson),
``n``, ``listens`` (false for the policies that never listen, which must stay at or below 0.15).
Episode i plays test user i with env seed i, as ``ptod rollout --split test`` does, so every
policy meets the same users.

    python benchmarks/adversarial.py [--episodes 300] [--domain all] [--policy NAME ...]
"""

from __future__ import annotations

import argparse
import json

import gymnasium as gym

from ptod_env.adversaries import ADVERSARIES, DEAF, make_adversary
from ptod_env.agents import make_agent
from ptod_env.evaluation import env_id_for, episode_options, run_episode, wilson_interval
from ptod_env.scenario import shipped_scenarios

REFERENCE = ("passive", "proactive", "oracle")


def success_rate(policy: str, domain: str, episodes: int) -> dict:
    env = gym.make(env_id_for(domain), split="test")
    pack = env.unwrapped.pack
    agent = make_agent(policy, pack, 0) if policy in REFERENCE else make_adversary(policy, pack, 0)
    wins = sum(
        run_episode(env, agent, seed=i, options=episode_options("test", i))["outcome"] == "accepted"
        for i in range(episodes)
    )
    low, high = wilson_interval(wins, episodes)
    return {
        "policy": policy,
        "domain": domain,
        "success": round(wins / episodes, 4),
        "ci95": [round(low, 4), round(high, 4)],
        "n": episodes,
        "listens": policy not in DEAF,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--domain", default="all", choices=[*shipped_scenarios(), "all"])
    parser.add_argument("--policy", nargs="*", default=[*REFERENCE, *ADVERSARIES])
    args = parser.parse_args()
    domains = shipped_scenarios() if args.domain == "all" else [args.domain]
    for domain in domains:
        for policy in args.policy:
            print(json.dumps(success_rate(policy, domain, args.episodes)), flush=True)


if __name__ == "__main__":
    main()
