"""Evaluating a policy on held-out users: the standard figures plus pass@k.

User ``i`` of the test split is :func:`ptod_env.evaluation.episode_options` ``("test", i)`` with env
seed ``seed + i``, exactly as ``ptod rollout`` plays it; each user is attempted ``samples``
times (same user, same env seed, independent policy samples), which pass@k needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ptod_agents.rollout import Start, make_envs, play
from ptod_env.evaluation import episode_metrics, episode_options, progress_bar
from ptod_env.records import EpisodeWriter

if TYPE_CHECKING:
    from ptod_agents.acts import ActPolicy
    from ptod_agents.policy import Policy
    from ptod_agents.served import ServedPolicy

PASS_AT = (1, 2, 4, 8, 16)


def pass_at_k(attempts: int, successes: int, k: int) -> float:
    """Unbiased pass@k (Chen et al., 2021): 1 − C(n − c, k) / C(n, k), for n attempts, c successes."""
    if not 0 <= successes <= attempts or not 1 <= k <= attempts:
        raise ValueError(
            f"need 0 <= successes <= attempts and 1 <= k <= attempts, got n={attempts} c={successes} k={k}"
        )
    if attempts - successes < k:
        return 1.0
    return 1.0 - math.comb(attempts - successes, k) / math.comb(attempts, k)


def pass_at(successes: Sequence[int], attempts: int, ks: Sequence[int] = PASS_AT) -> dict[str, float]:
    """Mean pass@k over users (``successes[u]`` of ``attempts``) for every k ≤ ``attempts``."""
    return {
        f"pass@{k}": sum(pass_at_k(attempts, c, k) for c in successes) / max(len(successes), 1)
        for k in ks
        if k <= attempts
    }


@dataclass
class PolicyRollout:
    """A picklable job (see :mod:`ptod_env.distributed`) playing users with a policy: each user
    ``i`` is attempted ``samples`` times from env seed ``seed + i``. A chunk of users is one
    lockstep batch whose sampling is seeded from ``(seed, first user)``, so its episodes do not
    depend on which process plays it. Returns the chunk's ``(user, record)`` pairs and, for a
    policy that keeps them (:class:`ptod_agents.served.ServedPolicy`), its request counters."""

    policy: Policy | ActPolicy | ServedPolicy
    domain: str
    split: str
    samples: int
    view: str
    teacher_concerns: str
    seed: int
    history_turns: int
    max_new_tokens: int
    temperature: float
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = "policy"

    def __call__(self, users: list[int]) -> dict[str, Any]:
        import numpy as np
        import torch

        starts = [
            Start(self.seed + i, episode_options(self.split, i), group=i) for i in users for _ in range(self.samples)
        ]
        envs = self.__dict__.setdefault("_envs", [])
        envs += make_envs(self.policy, max(0, len(starts) - len(envs)), self.domain, self.split, self.env_kwargs)
        if hasattr(self.policy, "reset_stats"):
            self.policy.reset_stats()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1_000_003 + users[0])
            played = play(
                self.policy,
                envs,
                starts,
                view=self.view,
                teacher_concerns=self.teacher_concerns,
                history_turns=self.history_turns,
                max_new_tokens=self.max_new_tokens,
                temperature=self.temperature,
                rng=np.random.default_rng([self.seed, users[0]]),
                agent_name=self.name,
            )
        stats = self.policy.stats() if hasattr(self.policy, "stats") else None
        return {"episodes": [(e.group, e.record) for e in played], "stats": stats}

    def close(self) -> None:
        for env in self.__dict__.pop("_envs", []):
            env.close()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_envs"}


def evaluate_policy(
    policy: Policy | ActPolicy | ServedPolicy,
    *,
    domain: str = "merchant_recruitment",
    split: str = "test",
    episodes: int = 48,
    samples: int = 1,
    view: str = "student",
    teacher_concerns: str = "true",
    seed: int = 0,
    history_turns: int = 2,
    max_new_tokens: int = 40,
    temperature: float = 1.0,
    batch_size: int = 48,
    env_kwargs: dict[str, Any] | None = None,
    record: str | None = None,
    progress: bool = True,
    name: str = "policy",
    workers: int = 1,
) -> dict[str, Any]:
    """Play ``episodes`` users × ``samples`` attempts and return
    :func:`ptod_env.evaluation.episode_metrics` over all attempts, pass@k over users, and the
    settings. ``teacher_concerns="shuffled"`` lists random concerns in the teacher view (the
    ablation); those are drawn from a generator seeded by ``seed`` and the chunk. Users are played
    in chunks of ``batch_size // samples`` (:class:`PolicyRollout`); ``workers > 1`` spreads the
    chunks over Ray actors with the same results. A served policy
    (:class:`ptod_agents.served.ServedPolicy`) adds its request figures under ``served``."""
    from ptod_env.distributed import map_chunks, user_chunks

    job = PolicyRollout(
        policy,
        domain,
        split,
        samples,
        view,
        teacher_concerns,
        seed,
        history_turns,
        max_new_tokens,
        temperature,
        dict(env_kwargs or {}),
        name,
    )
    played, stats = [], []
    writer = EpisodeWriter(record, mode="w") if record else None
    try:
        with progress_bar(total=episodes * samples, enabled=progress, desc=f"{name} {view} view", unit="ep") as bar:
            for chunk in map_chunks(job, user_chunks(episodes, max(1, batch_size // samples)), workers):
                played += chunk["episodes"]
                stats += [chunk["stats"]] if chunk["stats"] is not None else []
                for _, episode in chunk["episodes"] if writer else ():
                    writer.write(episode)
                bar.update(len(chunk["episodes"]))
    finally:
        job.close()
        if writer:
            writer.close()
    successes = [0] * episodes
    for user, episode in played:
        successes[user] += episode["outcome"] == "accepted"
    figures = {
        "agent": name,
        "domain": domain,
        "split": split,
        "seed": seed,
        "view": view,
        "teacher_concerns": teacher_concerns,
        "samples": samples,
        "temperature": temperature,
        **episode_metrics(episode for _, episode in played),
        **pass_at(successes, samples),
    }
    if stats:
        from ptod_agents.served import served_figures

        figures["served"] = served_figures(stats)
    return figures
