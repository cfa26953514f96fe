"""Lockstep rollouts: N envs advance together, one batched generation per turn.

Each env plays one episode; every turn the still-running envs' prompts go through the policy as
one batch. A turn keeps what the learners need (the observation it answered, prompt and
completion token ids, the sampling log-probs, the reward and the env's ``info["transition"]``),
and each episode keeps its :mod:`ptod_env.records` record, so the project's standard metrics
(:func:`ptod_env.evaluation.episode_metrics`) apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from ptod_agents.policy import Policy, Sample
from ptod_agents.prompts import TEACHER_CONCERNS, random_concerns, render_prompt
from ptod_env.evaluation import env_id_for
from ptod_env.records import EpisodeBuilder


@dataclass
class Turn:
    """One agent turn.

    Attributes:
        observation: the env observation the agent answered (student view, full length).
        prompt: token ids of the prompt the policy acted on.
        tokens: completion token ids (end-of-turn token included when produced).
        logprobs: the policy's log-probability of each completion token when sampled.
        utterance: the decoded text sent to the env.
        reward: the env reward of the step.
        transition: ``info["transition"]`` of the step (``before``, ``after``, ``events``).
    """

    observation: str
    prompt: list[int]
    tokens: list[int]
    logprobs: list[float]
    utterance: str
    reward: float
    transition: dict[str, Any]


@dataclass
class Episode:
    """One finished call.

    Attributes:
        group: index of the group (same user, same start) the episode belongs to.
        concerns: the user's concerns (``info["concerns"]`` at reset).
        teacher_concerns: the concerns a teacher-view prompt lists (the true ones, or random ones
            for the shuffled-concerns ablation).
        record: the :mod:`ptod_env.records` episode record.
        turns: the agent turns, in order.
    """

    group: int
    concerns: list[dict[str, Any]]
    teacher_concerns: list[dict[str, Any]]
    record: dict[str, Any]
    turns: list[Turn] = field(default_factory=list)

    @property
    def reward(self) -> float:
        return float(self.record["return"])


@dataclass(frozen=True)
class Start:
    """How one env starts: reset seed, reset options and the group it belongs to."""

    seed: int
    options: dict[str, Any] | None
    group: int


def make_envs(count: int, domain: str, split: str, env_kwargs: dict[str, Any] | None = None) -> list[gym.Env]:
    """``count`` independent envs of ``domain`` on ``split``."""
    return [gym.make(env_id_for(domain), split=split, **(env_kwargs or {})) for _ in range(count)]


def take_turn(
    policy: Policy,
    env: gym.Env,
    sample: Sample,
    observation: str,
    prompt: list[int],
    episode: Episode,
    builder: EpisodeBuilder,
) -> tuple[str, bool]:
    """Say ``sample``'s utterance in ``env`` and record the turn in ``episode`` and ``builder``.
    Returns the next observation and whether the call ended."""
    utterance = policy.decode(sample.tokens)
    after, reward, terminated, truncated, info = env.step(utterance)
    episode.turns.append(
        Turn(observation, prompt, sample.tokens, sample.logprobs, utterance, float(reward), info["transition"])
    )
    builder.add(utterance, after, float(reward), info)
    return after, terminated or truncated


def play(
    policy: Policy,
    envs: Sequence[gym.Env],
    starts: Sequence[Start],
    *,
    view: str = "student",
    teacher_concerns: str = "true",
    history_turns: int = 3,
    max_new_tokens: int = 40,
    temperature: float = 1.0,
    rng: np.random.Generator | None = None,
    agent_name: str = "policy",
) -> list[Episode]:
    """Play one episode per ``starts`` entry on ``envs`` (one env each) in lockstep.

    ``view`` is what the policy acts on; ``teacher_concerns`` ("true" or "shuffled") picks the
    concerns any teacher-view prompt lists (``rng`` draws the shuffled ones).
    """
    if len(starts) > len(envs):
        raise ValueError(f"{len(starts)} starts but only {len(envs)} envs")
    if teacher_concerns not in TEACHER_CONCERNS:
        raise ValueError(f"teacher_concerns must be one of {TEACHER_CONCERNS}, got {teacher_concerns!r}")
    if teacher_concerns == "shuffled" and rng is None:
        raise ValueError("teacher_concerns='shuffled' needs an rng")
    episodes, observations, builders = [], [], []
    for env, start in zip(envs, starts, strict=False):
        observation, info = env.reset(seed=start.seed, options=start.options)
        shown = info["concerns"]
        if teacher_concerns == "shuffled":
            shown = random_concerns(env.unwrapped.pack, info["concerns"], rng)
        episodes.append(Episode(start.group, info["concerns"], shown, record={}))
        observations.append(observation)
        builders.append(
            EpisodeBuilder(observation, info, domain=env.unwrapped.pack.name, seed=start.seed, agent=agent_name)
        )
    active = list(range(len(starts)))
    while active:
        prompts = [
            policy.prompt_ids(render_prompt(observations[i], view, episodes[i].teacher_concerns, history_turns))
            for i in active
        ]
        samples = policy.sample(prompts, max_new_tokens, temperature)
        still = []
        for i, prompt, sample in zip(active, prompts, samples, strict=True):
            observation, done = take_turn(policy, envs[i], sample, observations[i], prompt, episodes[i], builders[i])
            observations[i] = observation
            if not done:
                still.append(i)
        active = still
    for episode, builder in zip(episodes, builders, strict=True):
        episode.record = builder.record
    return episodes
