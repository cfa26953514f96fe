"""The on-policy learners: GRPO, STPR, AOPD and SI-AVPO.

One update = rollout (:func:`ptod_agents.rollout.play` on ``users_per_update`` × ``group_size``
envs) → scoring (:mod:`ptod_agents.scoring`) → loss steps (:func:`optimize`). The config's class
decides the loss: a policy-gradient term for GRPO / STPR / SI-AVPO (STPR's advantages when the
config is an ``STPRConfig``), a distillation term for AOPD / SI-AVPO.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ptod_agents.config import AOPDConfig, OnPolicyConfig, PolicyGradientConfig, SamplingConfig, TrainConfig
from ptod_agents.losses import clipped_pg_loss, distillation_loss
from ptod_agents.policy import token_logprobs
from ptod_agents.rollout import Start, make_envs, play
from ptod_agents.scoring import TurnSample, turn_advantages, turn_samples
from ptod_env.evaluation import episode_metrics
from ptod_env.persona import split_range


def frozen_copy(model):
    """A gradient-free copy of ``model`` (frozen teacher, EMA teacher, KL reference)."""
    twin = copy.deepcopy(model)
    twin.requires_grad_(False)
    twin.eval()
    return twin


class Teacher:
    """Where the teacher's logits come from: the live network, a frozen copy of the initial
    weights, or an exponential moving average of the student's weights."""

    def __init__(self, model, mode: str, ema_decay: float):
        self.mode = mode
        self.ema_decay = ema_decay
        self.model = model if mode == "live" else frozen_copy(model)

    @torch.no_grad()
    def after_update(self, student) -> None:
        """θ_T ← d·θ_T + (1 − d)·θ_S for the EMA teacher; nothing for the others."""
        if self.mode != "ema":
            return
        for teacher_param, student_param in zip(self.model.parameters(), student.parameters(), strict=True):
            teacher_param.lerp_(student_param, 1.0 - self.ema_decay)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.mode == "live" else self.model.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.mode != "live":
            self.model.load_state_dict(state)


def _padded(rows: Sequence[Sequence[float]], width: int) -> torch.Tensor:
    return torch.tensor([list(r) + [0.0] * (width - len(r)) for r in rows])


def optimize(
    policy,
    optimizer: torch.optim.Optimizer,
    samples: Sequence[TurnSample],
    config: SamplingConfig,
    rng: np.random.Generator,
    teacher: Teacher | None = None,
    reference=None,
) -> dict[str, float]:
    """Loss steps over ``samples``: ``config.epochs`` passes in shuffled minibatches of
    ``config.minibatch_turns`` turns. The policy-gradient term runs when ``config`` is a
    :class:`PolicyGradientConfig`, the distillation term when it is an :class:`AOPDConfig` (then
    ``teacher`` is required); ``reference`` is the KL reference model when ``kl_coef > 0``.
    Returns the mean of each loss statistic and the seconds spent in forward/backward."""
    with_pg = isinstance(config, PolicyGradientConfig)
    with_distill = isinstance(config, AOPDConfig)
    if with_distill and teacher is None:
        raise ValueError("a distillation config needs a teacher")
    sums: dict[str, float] = defaultdict(float)
    steps = 0
    model_seconds = 0.0
    policy.model.train()
    for _ in range(config.epochs):
        order = rng.permutation(len(samples))
        for start in range(0, len(order), config.minibatch_turns):
            chunk = [samples[i] for i in order[start : start + config.minibatch_turns]]
            tick = time.perf_counter()
            contexts, completions = [s.prompt for s in chunk], [s.tokens for s in chunk]
            scores = policy.score(contexts, completions)
            loss = torch.zeros(())
            if with_pg:
                width = scores.targets.shape[1]
                ref_logprobs = None
                if config.kl_coef > 0:
                    with torch.no_grad():
                        reference_logits = policy.score(contexts, completions, reference).logits
                    ref_logprobs = token_logprobs(reference_logits / config.temperature, scores.targets)
                # The ratio compares the sampling distribution now and when sampled (same temperature).
                pg, stats = clipped_pg_loss(
                    token_logprobs(scores.logits / config.temperature, scores.targets),
                    _padded([s.logprobs for s in chunk], width),
                    torch.tensor([s.advantage for s in chunk])[:, None].expand(-1, width),
                    scores.mask,
                    config.clip,
                    ref_logprobs,
                    config.kl_coef,
                )
                loss = loss + pg
                sums["losses/policy_gradient"] += pg.item()
                for key, value in stats.items():
                    sums[f"losses/{key}"] += value.item()
            if with_distill:
                with torch.no_grad():
                    teacher_logits = policy.score([s.teacher_prompt for s in chunk], completions, teacher.model).logits
                distill = distillation_loss(
                    scores.logits, teacher_logits, scores.mask, config.divergence, config.jsd_alpha, scores.targets
                )
                loss = loss + config.distill_weight * distill
                sums["losses/distillation"] += distill.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            sums["losses/grad_norm"] += float(
                torch.nn.utils.clip_grad_norm_(policy.model.parameters(), config.max_grad_norm)
            )
            optimizer.step()
            model_seconds += time.perf_counter() - tick
            sums["losses/total"] += loss.item()
            steps += 1
    if teacher is not None:
        teacher.after_update(policy.model)
    metrics = {key: value / max(steps, 1) for key, value in sums.items()}
    metrics["perf/forward_backward_s"] = model_seconds
    metrics["charts/gradient_steps"] = steps
    return metrics


def make_optimizer(policy, config: TrainConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(policy.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


class OnPolicyLearner:
    """GRPO, STPR, AOPD or SI-AVPO, by the class of ``config``.

    Args:
        policy: the policy to train (its initial weights are the frozen teacher / KL reference).
        config: an :class:`OnPolicyConfig` subclass.
        rng: draws training users and minibatch orders; part of the checkpoint.
    """

    def __init__(self, policy, config: OnPolicyConfig, rng: np.random.Generator):
        self.policy = policy
        self.config = config
        self.rng = rng
        self.optimizer = make_optimizer(policy, config)
        self.envs = make_envs(policy, config.users_per_update * config.group_size, config.domain, config.split)
        self.teacher = (
            Teacher(policy.model, config.teacher, config.ema_decay) if isinstance(config, AOPDConfig) else None
        )
        self.reference = (
            frozen_copy(policy.model) if isinstance(config, PolicyGradientConfig) and config.kl_coef > 0 else None
        )

    def draw_starts(self) -> list[Start]:
        """``users_per_update`` random users of the split, each repeated ``group_size`` times with
        one env seed, so a group differs only in what the policy says."""
        low, high = split_range(self.config.split)
        starts = []
        for group in range(self.config.users_per_update):
            persona = int(self.rng.integers(low, high))
            seed = int(self.rng.integers(2**31))
            starts += [Start(seed, {"persona_index": persona}, group)] * self.config.group_size
        return starts

    def step(self, update: int) -> dict[str, float]:
        """One update: rollout, scoring, loss steps. Returns namespaced metrics."""
        config = self.config
        tick = time.perf_counter()
        sample_before = self.policy.sample_seconds
        with_distill = isinstance(config, AOPDConfig)
        episodes = play(
            self.policy,
            self.envs,
            self.draw_starts(),
            teacher_concerns=config.teacher_concerns if with_distill else "true",
            with_teacher=with_distill,
            history_turns=config.history_turns,
            max_new_tokens=config.max_new_tokens,
            temperature=config.temperature,
            rng=self.rng,
        )
        advantages = turn_advantages(episodes, config) if isinstance(config, PolicyGradientConfig) else None
        samples = turn_samples(episodes, advantages)
        if not with_distill and not (isinstance(config, PolicyGradientConfig) and config.kl_coef > 0):
            # A zero advantage contributes no gradient; skipping those turns saves their forward pass.
            samples = [s for s in samples if s.advantage != 0.0]
        rollout_seconds = time.perf_counter() - tick
        metrics = optimize(self.policy, self.optimizer, samples, config, self.rng, self.teacher, self.reference)
        train = episode_metrics(e.record for e in episodes)
        metrics.update(
            {
                "charts/success_rate": train["success_rate"],
                "charts/mean_turns": train["mean_turns"],
                "charts/concern_discovery_rate": train["concern_discovery_rate"],
                "charts/resolution_rate": train["resolution_rate"],
                "charts/trained_turns": len(samples),
                "charts/agent_tokens": sum(len(s.tokens) for s in samples),
                "perf/rollout_s": rollout_seconds,
                "perf/generation_s": self.policy.sample_seconds - sample_before,
                "perf/update_s": time.perf_counter() - tick,
            }
        )
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "teacher": self.teacher.state_dict() if self.teacher else {},
            "reference": self.reference.state_dict() if self.reference is not None else {},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        if self.teacher:
            self.teacher.load_state_dict(state["teacher"])
        if self.reference is not None:
            self.reference.load_state_dict(state["reference"])
