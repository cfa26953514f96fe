"""Scoring: from played episodes to per-turn training samples with advantages.

Rollout (:mod:`ptod_agents.rollout`) produces episodes; this module turns their outcomes and
state transitions into advantages (:mod:`ptod_agents.losses` does the arithmetic) and packs each
agent turn as a :class:`TurnSample`; the learners' update consumes those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ptod_agents.config import PolicyGradientConfig, STPRConfig
from ptod_agents.losses import group_normalized, stpr_additive, stpr_sign
from ptod_agents.rollout import Episode
from ptod_env.shaping import transition_reward


@dataclass
class TurnSample:
    """One agent turn ready for the loss.

    Attributes:
        prompt: the student-view context the turn was sampled from (prompt ids or features).
        tokens: completion ids (the agent tokens; one act index for the act policy).
        logprobs: behaviour (sampling) log-probs of ``tokens``.
        advantage: the turn's advantage, broadcast over its tokens by the loss.
        teacher_prompt: the teacher-view context (distillation only, else None).
    """

    prompt: Any
    tokens: list[int]
    logprobs: list[float]
    advantage: float = 0.0
    teacher_prompt: Any = None


def groups_of(episodes: Sequence[Episode]) -> dict[int, list[Episode]]:
    """Episodes by group index, in order of first appearance."""
    groups: dict[int, list[Episode]] = defaultdict(list)
    for episode in episodes:
        groups[episode.group].append(episode)
    return groups


def turn_rewards(episodes: Sequence[Episode], config: STPRConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, K) turn rewards r_k = Φ(s_k) − Φ(s_{k−1}) of one group, and the (G, K) turn mask."""
    width = max(len(e.turns) for e in episodes)
    rewards = torch.zeros(len(episodes), width)
    mask = torch.zeros(len(episodes), width)
    for i, episode in enumerate(episodes):
        for k, turn in enumerate(episode.turns):
            rewards[i, k] = transition_reward(turn.transition, episode.concerns, config.potential)
            mask[i, k] = 1.0
    return rewards, mask


def turn_advantages(episodes: Sequence[Episode], config: PolicyGradientConfig) -> dict[int, list[float]]:
    """Advantage of every turn, keyed by ``id(episode)``: GRPO's outcome advantage on every turn,
    refined by state transitions when ``config`` is an :class:`STPRConfig`."""
    advantages: dict[int, list[float]] = {}
    for group in groups_of(episodes).values():
        outcome = group_normalized(torch.tensor([e.reward for e in group]), config.advantage_eps)
        if isinstance(config, STPRConfig):
            rewards, mask = turn_rewards(group, config)
            if config.variant == "additive":
                per_turn = stpr_additive(outcome, rewards, mask, config.lam, config.advantage_eps, config.credit)
            else:
                per_turn = stpr_sign(outcome, rewards, mask)
        else:
            per_turn = outcome[:, None].expand(len(group), max(len(e.turns) for e in group))
        for i, episode in enumerate(group):
            advantages[id(episode)] = per_turn[i, : len(episode.turns)].tolist()
    return advantages


def turn_samples(episodes: Sequence[Episode], advantages: dict[int, list[float]] | None) -> list[TurnSample]:
    """One :class:`TurnSample` per agent turn. ``advantages`` (from :func:`turn_advantages`) may be
    None for distillation-only learners; the teacher context is the one the rollout stored
    (``play(..., with_teacher=True)``)."""
    return [
        TurnSample(
            turn.prompt,
            turn.tokens,
            turn.logprobs,
            advantages[id(episode)][k] if advantages is not None else 0.0,
            turn.teacher_prompt,
        )
        for episode in episodes
        for k, turn in enumerate(episode.turns)
    ]
