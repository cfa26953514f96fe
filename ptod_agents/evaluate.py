"""Evaluating a policy on held-out users: the standard figures plus pass@k.

User ``i`` of the test split is :func:`ptod_env.evaluation.episode_options` ``("test", i)`` with env
seed ``seed + i``, exactly as ``ptod rollout`` plays it; each user is attempted ``samples``
times (same user, same env seed, independent policy samples), which pass@k needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from ptod_agents.rollout import Start, make_envs, play
from ptod_env.evaluation import episode_metrics, episode_options
from ptod_env.records import EpisodeWriter

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


def evaluate_policy(
    policy,
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
) -> dict[str, Any]:
    """Play ``episodes`` users × ``samples`` attempts and return
    :func:`ptod_env.evaluation.episode_metrics` over all attempts, pass@k over users, and the
    settings. ``teacher_concerns="shuffled"`` lists random concerns in the teacher view (the
    ablation); those are drawn from a generator seeded by ``seed``."""
    import numpy as np

    starts = [Start(seed + i, episode_options(split, i), group=i) for i in range(episodes) for _ in range(samples)]
    envs = make_envs(policy, min(batch_size, len(starts)), domain, split, env_kwargs)
    rng = np.random.default_rng(seed)
    played = []
    writer = EpisodeWriter(record, mode="w") if record else None
    try:
        with tqdm(total=len(starts), desc=f"{name} {view} view", disable=not progress, unit="ep") as bar:
            for first in range(0, len(starts), batch_size):
                chunk = starts[first : first + batch_size]
                batch = play(
                    policy,
                    envs,
                    chunk,
                    view=view,
                    teacher_concerns=teacher_concerns,
                    history_turns=history_turns,
                    max_new_tokens=max_new_tokens,
                    temperature=temperature,
                    rng=rng,
                    agent_name=name,
                )
                played += batch
                if writer:
                    for episode in batch:
                        writer.write(episode.record)
                bar.update(len(chunk))
    finally:
        if writer:
            writer.close()
        for env in envs:
            env.close()
    successes = [0] * episodes
    for episode in played:
        successes[episode.group] += episode.record["outcome"] == "accepted"
    return {
        "agent": name,
        "domain": domain,
        "split": split,
        "seed": seed,
        "view": view,
        "teacher_concerns": teacher_concerns,
        "samples": samples,
        "temperature": temperature,
        **episode_metrics(e.record for e in played),
        **pass_at(successes, samples),
    }
