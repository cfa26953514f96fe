"""Running agents against the env and summarising what happened.

``evaluate`` is what ``ptod rollout`` calls; learners reuse :func:`episode_metrics` so every
table in the project reports the same figures the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import gymnasium as gym
from tqdm.auto import tqdm

from ptod_env import ENV_IDS
from ptod_env.agents import Agent, make_agent
from ptod_env.persona import split_range
from ptod_env.records import EpisodeBuilder, EpisodeWriter

OUTCOMES = ("accepted", "rejected", "hung_up", "timeout")
_DISCOVERED = frozenset({"hinted", "voiced", "addressed", "resolved"})


def env_id_for(domain: str) -> str:
    """The registered id that plays ``domain``."""
    for env_id, name in ENV_IDS.items():
        if name == domain and env_id != "ProactiveSales-v0":
            return env_id
    raise ValueError(f"unknown domain {domain!r}; shipped: {sorted(set(ENV_IDS.values()))}")


def episode_options(split: str, episode: int) -> dict[str, int] | None:
    """Test-split evaluation walks through the held-out users in order; training draws at random."""
    if split != "test":
        return None
    low, high = split_range("test")
    return {"persona_index": low + episode % (high - low)}


def run_episode(
    env: gym.Env,
    agent: Agent,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    domain: str = "",
    agent_name: str | None = None,
) -> dict[str, Any]:
    """Play one episode and return its record (see :mod:`ptod_env.records`)."""
    obs, info = env.reset(seed=seed, options=options)
    agent.reset(obs, info)
    builder = EpisodeBuilder(obs, info, domain=domain, seed=seed, agent=agent_name)
    done = False
    while not done:
        action = agent.act(obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        builder.add(action, obs, float(reward), info)
        done = terminated or truncated
    return builder.record


def episode_metrics(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The standard figures over episode records.

    ``success_rate``: accepted / episodes. ``mean_turns``: agent turns per episode.
    ``concern_discovery_rate``: concerns that reached at least ``hinted`` / concerns held.
    ``resolution_rate``: concerns resolved / concerns held. ``outcomes``: counts per outcome.
    """
    records = list(records)
    outcomes = Counter(r["outcome"] for r in records)
    held = sum(len(r["concerns"]) for r in records)
    discovered = sum(c["status"] in _DISCOVERED for r in records for c in r["concerns"])
    resolved = sum(c["status"] == "resolved" for r in records for c in r["concerns"])
    n = max(len(records), 1)
    return {
        "episodes": len(records),
        "success_rate": outcomes.get("accepted", 0) / n,
        "mean_turns": sum(len(r["turns"]) for r in records) / n,
        "concern_discovery_rate": discovered / max(held, 1),
        "resolution_rate": resolved / max(held, 1),
        "outcomes": {o: outcomes.get(o, 0) for o in OUTCOMES},
    }


def evaluate(
    agent: str | Callable[[], Agent],
    *,
    domain: str = "merchant_recruitment",
    split: str = "test",
    episodes: int = 100,
    seed: int = 0,
    record: str | None = None,
    progress: bool = True,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` episodes of an agent (a reference agent's name or a factory) and return
    :func:`episode_metrics` plus the run's settings. Episode ``i`` uses env seed ``seed + i``."""
    env = gym.make(env_id_for(domain), split=split, **(env_kwargs or {}))
    pack = env.unwrapped.pack
    name = agent if isinstance(agent, str) else getattr(agent, "__name__", type(agent).__name__)
    make = (lambda: make_agent(agent, pack, seed)) if isinstance(agent, str) else agent
    policy = make()
    writer = EpisodeWriter(record, mode="w") if record else None
    records = []
    try:
        for i in tqdm(range(episodes), desc=f"{name} on {domain}/{split}", disable=not progress, unit="ep"):
            rec = run_episode(
                env, policy, seed=seed + i, options=episode_options(split, i), domain=domain, agent_name=name
            )
            records.append(rec)
            if writer:
                writer.write(rec)
    finally:
        if writer:
            writer.close()
        env.close()
    return {"agent": name, "domain": domain, "split": split, "seed": seed, **episode_metrics(records)}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% by default); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
