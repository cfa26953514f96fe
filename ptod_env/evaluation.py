"""Running agents against the env and summarising what happened.

``evaluate`` is what ``ptod rollout`` calls; learners reuse :func:`episode_metrics` so every
table in the project reports the same figures the same way.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from tqdm.auto import tqdm

from ptod_env import ENV_IDS
from ptod_env.agents import AGENTS, Agent, make_agent
from ptod_env.persona import split_user
from ptod_env.records import EpisodeBuilder, EpisodeWriter

OUTCOMES = ("accepted", "rejected", "hung_up", "timeout")
_DISCOVERED = frozenset({"hinted", "voiced", "addressed", "resolved"})
LOG_REFRESH_SECONDS = 60.0
"""Refresh interval of a progress bar written to a file or pipe rather than a terminal."""


def progress_bar(iterable: Iterable[Any] | None = None, *, enabled: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr that suits where stderr goes.

    In a terminal it redraws in place as usual. In a log file every redraw is a new ``\r``
    chunk, so a bar refreshed ten times a second leaves hundreds of copies: there it refreshes
    at most every :data:`LOG_REFRESH_SECONDS`, which keeps a line of progress per minute for a
    long run and only the first and last state for a short one.
    """
    if not sys.stderr.isatty():
        kwargs.setdefault("mininterval", LOG_REFRESH_SECONDS)
        kwargs.setdefault("maxinterval", max(LOG_REFRESH_SECONDS, kwargs["mininterval"]))
    return tqdm(iterable, disable=not enabled, file=sys.stderr, **kwargs)


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
    return {"persona_index": split_user("test", episode)}


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


@dataclass
class ReferenceRollout:
    """A picklable job (see :mod:`ptod_env.distributed`) playing users of one agent: user ``i``
    gets a fresh agent seeded ``seed + i`` (a reference agent's name or a factory taking that
    seed) and the env seed ``seed + i``, so each episode depends on its own seed only."""

    agent: str | Callable[[int], Agent]
    domain: str
    split: str
    seed: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = "agent"

    def __call__(self, users: list[int]) -> list[dict[str, Any]]:
        if "_env" not in self.__dict__:  # built once per process, reused for every chunk
            self._env = gym.make(env_id_for(self.domain), split=self.split, **self.env_kwargs)
        pack = self._env.unwrapped.pack
        return [
            run_episode(
                self._env,
                make_agent(self.agent, pack, self.seed + i)
                if isinstance(self.agent, str)
                else self.agent(self.seed + i),
                seed=self.seed + i,
                options=episode_options(self.split, i),
                domain=self.domain,
                agent_name=self.name,
            )
            for i in users
        ]

    def close(self) -> None:
        env = self.__dict__.pop("_env", None)
        if env is not None:
            env.close()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_env"}


def evaluate(
    agent: str | Callable[[int], Agent],
    *,
    domain: str = "merchant_recruitment",
    split: str = "test",
    episodes: int = 100,
    seed: int = 0,
    record: str | None = None,
    progress: bool = True,
    env_kwargs: dict[str, Any] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run ``episodes`` episodes of an agent (a reference agent's name, or a factory called with
    each episode's seed) and return :func:`episode_metrics` plus the run's settings. Episode ``i``
    uses env seed ``seed + i`` and a fresh agent seeded ``seed + i``; ``workers > 1`` spreads the
    episodes over Ray actors (:mod:`ptod_env.distributed`) with the same results."""
    from ptod_env.distributed import balanced_chunk_size, check_workers, map_chunks, user_chunks

    name = agent if isinstance(agent, str) else getattr(agent, "__name__", type(agent).__name__)
    if isinstance(agent, str) and agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose from {list(AGENTS)}")
    job = ReferenceRollout(agent, domain, split, seed, dict(env_kwargs or {}), name)
    chunks = user_chunks(episodes, balanced_chunk_size(episodes, check_workers(workers)))
    writer = EpisodeWriter(record, mode="w") if record else None
    records = []
    try:
        with progress_bar(total=episodes, enabled=progress, desc=f"{name} on {domain}/{split}", unit="ep") as bar:
            for chunk in map_chunks(job, chunks, workers):
                records += chunk
                for rec in chunk if writer else ():
                    writer.write(rec)
                bar.update(len(chunk))
    finally:
        job.close()
        if writer:
            writer.close()
    return {"agent": name, "domain": domain, "split": split, "seed": seed, **episode_metrics(records)}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% by default); (0, 1) when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
