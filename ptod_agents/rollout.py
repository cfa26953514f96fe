"""Lockstep rollouts: N envs advance together, one batched policy call per turn.

Each env plays one episode; every turn the still-running envs' contexts go through the policy as
one batch. Any policy with the learners' interface plays (the language model on the text env,
the act-level policy on ``DialogueActs``). A turn keeps what the learners need (the observation
it answered, the context and, when asked, the teacher-view context, the completion, the sampling
log-probs, the reward and the env's ``info["transition"]``), and each episode keeps its
:mod:`ptod_env.records` record, so the project's standard metrics
(:func:`ptod_env.evaluation.episode_metrics`) apply unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from ptod_agents.prompts import TEACHER_CONCERNS, random_concerns
from ptod_env.records import EpisodeBuilder


@dataclass
class Turn:
    """One agent turn.

    Attributes:
        observation: the text observation the agent answered (student view, full length).
        prompt: the policy's context (LM: prompt token ids; act policy: features).
        tokens: completion token ids (end-of-turn token included when produced; one act index
            for the act policy).
        logprobs: the behaviour log-probability of each completion token when sampled.
        utterance: the text sent to the env (for the act policy: the sentence its act was spoken as).
        reward: the env reward of the step.
        transition: ``info["transition"]`` of the step (``before``, ``after``, ``events``).
        teacher_prompt: the teacher-view context of the same turn (when the rollout was asked for it).
    """

    observation: str
    prompt: Any
    tokens: list[int]
    logprobs: list[float]
    utterance: str
    reward: float
    transition: dict[str, Any]
    teacher_prompt: Any = None


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


def make_envs(policy, count: int, domain: str, split: str, env_kwargs: dict[str, Any] | None = None) -> list[gym.Env]:
    """``count`` independent envs of ``domain`` on ``split``, of the kind ``policy`` plays."""
    return [policy.make_env(domain, split, env_kwargs) for _ in range(count)]


def shown_concerns(shown: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The concerns a teacher view lists now: ``shown`` (fixed at reset), each with the current
    status of the true concern it stands for (position by position)."""
    return [{**dict(s), "status": c["status"]} for s, c in zip(shown, current, strict=True)]


def _text(env: gym.Env, observation: Any) -> str:
    return observation if isinstance(observation, str) else env.unwrapped.observation()


def take_turn(
    policy,
    env: gym.Env,
    sample,
    context: Any,
    episode: Episode,
    builder: EpisodeBuilder,
    teacher: Any = None,
) -> tuple[Any, dict[str, Any], bool]:
    """Say ``sample``'s action in ``env`` and record the turn in ``episode`` and ``builder``
    (``teacher``: the turn's teacher-view context, if wanted). Returns the next observation, its
    info and whether the call ended."""
    text = builder.last_observation
    action = policy.action(sample)
    observation, reward, terminated, truncated, info = env.step(action)
    utterance = info.get("utterance", action)
    turn = Turn(text, context, sample.tokens, sample.logprobs, utterance, float(reward), info["transition"], teacher)
    episode.turns.append(turn)
    builder.add(utterance, _text(env, observation), float(reward), info)
    return observation, info, terminated or truncated


def play(
    policy,
    envs: Sequence[gym.Env],
    starts: Sequence[Start],
    *,
    view: str = "student",
    teacher_concerns: str = "true",
    with_teacher: bool = False,
    history_turns: int = 3,
    max_new_tokens: int = 40,
    temperature: float = 1.0,
    rng: np.random.Generator | None = None,
    agent_name: str = "policy",
) -> list[Episode]:
    """Play one episode per ``starts`` entry on ``envs`` (one env each) in lockstep.

    ``view`` is what the policy acts on; ``teacher_concerns`` ("true" or "shuffled") picks the
    concerns any teacher-view context lists (``rng`` draws the shuffled ones); ``with_teacher``
    also stores each turn's teacher-view context (for distillation).
    """
    if len(starts) > len(envs):
        raise ValueError(f"{len(starts)} starts but only {len(envs)} envs")
    if teacher_concerns not in TEACHER_CONCERNS:
        raise ValueError(f"teacher_concerns must be one of {TEACHER_CONCERNS}, got {teacher_concerns!r}")
    if teacher_concerns == "shuffled" and rng is None:
        raise ValueError("teacher_concerns='shuffled' needs an rng")
    episodes, observations, infos, builders = [], [], [], []
    for env, start in zip(envs, starts, strict=False):
        observation, info = env.reset(seed=start.seed, options=start.options)
        shown = info["concerns"]
        if teacher_concerns == "shuffled":
            shown = random_concerns(env.unwrapped.pack, info["concerns"], rng)
        episodes.append(Episode(start.group, info["concerns"], shown, record={}))
        observations.append(observation)
        infos.append(info)
        builders.append(
            EpisodeBuilder(
                _text(env, observation), info, domain=env.unwrapped.pack.name, seed=start.seed, agent=agent_name
            )
        )
    active = list(range(len(starts)))
    while active:
        shown_now = {i: shown_concerns(episodes[i].teacher_concerns, infos[i]["concerns"]) for i in active}
        contexts = [policy.context(observations[i], infos[i], view, shown_now[i], history_turns) for i in active]
        samples = policy.sample(contexts, max_new_tokens, temperature)
        still = []
        for i, context, sample in zip(active, contexts, samples, strict=True):
            teacher = None
            if with_teacher:
                teacher = policy.context(observations[i], infos[i], "teacher", shown_now[i], history_turns)
            observations[i], infos[i], done = take_turn(
                policy, envs[i], sample, context, episodes[i], builders[i], teacher
            )
            if not done:
                still.append(i)
        active = still
    for episode, builder in zip(episodes, builders, strict=True):
        episode.record = builder.record
    return episodes
