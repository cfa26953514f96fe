"""The offline learners: SFT and Learn-to-Ask, both from recorded dialogues (no simulator).

SFT imitates each logged agent turn in the view it is told to use. With no data it builds the
*conservative base policy* the paper starts from: passive dialogues in the student view plus
oracle dialogues in the teacher view, so the model learns to use concerns when its prompt lists
them and stays passive when it does not.

Learn-to-Ask (Wei et al.) turns every logged agent turn into a single-turn problem with its
observed future: the policy samples ``group_size`` utterances for the turn's context and each is
graded, by the simulator's understanding backend, against what the log shows happened next.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ptod_agents.config import LearnToAskConfig, SFTConfig
from ptod_agents.losses import group_normalized, nll_loss
from ptod_agents.onpolicy import frozen_copy, make_optimizer, optimize
from ptod_agents.policy import Policy, token_logprobs
from ptod_agents.scoring import TurnSample
from ptod_env.acts import ADDRESS, CLOSE, PROBE, UNINTELLIGIBLE
from ptod_env.evaluation import evaluate
from ptod_env.records import read_episodes
from ptod_env.scenario import load_scenario
from ptod_env.understanding import DEFAULT_UNDERSTANDING, make_understanding

# The user acts that reveal a concern the user holds (docs/learners.md): naming a concern in a
# denial, an acknowledgement, a follow-up or a "that is settled" reveals nothing new.
REVEALING = frozenset({"hint", "voice", "object"})


def record_dialogues(agent: str, episodes: int, path: Path, domain: str, seed: int) -> Path:
    """Record ``episodes`` train-split dialogues of a reference agent to ``path`` (kept if already
    complete, so a resumed run reuses it)."""
    if path.exists() and len(read_episodes(path)) == episodes:
        return path
    evaluate(agent, domain=domain, split="train", episodes=episodes, seed=seed, record=str(path), progress=False)
    return path


def imitation_pairs(
    policy: Policy, records: Sequence[dict[str, Any]], view: str, history_turns: int
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids) for every logged agent turn, the prompt in ``view``."""
    pairs = []
    for record in records:
        for turn in record["turns"]:
            prompt = policy.context(turn["observation"], None, view, record["concerns"], history_turns)
            pairs.append((prompt, policy.completion_ids(turn["action"])))
    return pairs


def act_imitation_pairs(policy, config: SFTConfig) -> list[tuple[Any, list[int]]]:
    """Imitation pairs for the act policy: for every ``AGENT:VIEW`` of ``config.demonstrators``,
    ``base_episodes`` calls of that reference agent played live through ``DialogueActs``
    (:meth:`ptod_agents.acts.ActPolicy.demonstrate`), each turn's context in ``VIEW``."""
    if config.data:
        raise ValueError("the act policy imitates live demonstrations; 'data' (recorded text dialogues) is for LMs")
    pairs = []
    for index, entry in enumerate(config.demonstrators):
        agent, _, view = entry.partition(":")
        for demo in policy.demonstrate(agent, config.base_episodes, "train", index * 10**6):
            pairs += [(context, [action]) for context, action in zip(demo.contexts[view], demo.actions, strict=True)]
    return pairs


class SFTLearner:
    """Supervised fine-tuning; see :class:`ptod_agents.config.SFTConfig`.

    Args:
        policy: the policy to train.
        config: the SFT settings.
        rng: its first draw seeds the minibatch order (epoch ``e`` uses permutation ``e``).
        workdir: where the base recipe records its dialogues.
    """

    def __init__(self, policy: Policy, config: SFTConfig, rng: np.random.Generator, workdir: Path):
        self.policy = policy
        self.config = config
        self.seed = int(rng.integers(2**31))
        self.optimizer = make_optimizer(policy, config)
        if policy.kind == "acts":
            self.pairs = act_imitation_pairs(policy, config)
            return
        data = list(config.data)
        if not data:
            workdir.mkdir(parents=True, exist_ok=True)
            for index, entry in enumerate(config.demonstrators):
                agent, _, view = entry.partition(":")
                path = workdir / f"{agent}.jsonl"
                data.append(
                    f"{record_dialogues(agent, config.base_episodes, path, config.domain, index * 10**6)}:{view}"
                )
        self.pairs = []
        for entry in data:
            path, _, view = entry.rpartition(":")
            self.pairs += imitation_pairs(policy, read_episodes(path), view, config.history_turns)
        if not self.pairs:
            raise ValueError(f"no agent turns in {data}; record dialogues with 'ptod rollout --record FILE'")

    def step(self, update: int) -> dict[str, float]:
        size = self.config.batch_size
        epoch, offset = divmod(update * size, len(self.pairs))
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.pairs))
        chunk = [self.pairs[i] for i in order[offset : offset + size]]
        tick = time.perf_counter()
        self.policy.model.train()
        scores = self.policy.score([p for p, _ in chunk], [c for _, c in chunk])
        loss = nll_loss(token_logprobs(scores.logits, scores.targets), scores.mask)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        seconds = time.perf_counter() - tick
        return {
            "losses/nll": loss.item(),
            "losses/grad_norm": float(grad_norm),
            "charts/epoch": epoch + offset / len(self.pairs),
            "perf/forward_backward_s": seconds,
            "perf/update_s": seconds,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.seed = state["seed"]


@dataclass(frozen=True)
class AskContext:
    """One logged agent turn with its observed future.

    Attributes:
        observation: what the logged agent saw (student view).
        history: the agent's earlier utterances (the grader's repeat detection reads them).
        closed: whether the logged agent tried to close on this turn.
        revealed: concern ids the user revealed on this turn's reply or later.
    """

    observation: str
    history: tuple[str, ...]
    closed: bool
    revealed: frozenset[str]


def ask_contexts(records: Sequence[dict[str, Any]]) -> list[AskContext]:
    """Every agent turn of ``records`` as an :class:`AskContext`."""
    contexts = []
    for record in records:
        turns = record["turns"]
        for k, turn in enumerate(turns):
            revealed = frozenset(
                t["user_act"]["concern"]
                for t in turns[k:]
                if t["user_act"].get("concern") and t["user_act"]["act"] in REVEALING
            )
            closed = any(a["act"] == CLOSE for a in turn["agent_acts"])
            history = tuple(t["action"] for t in turns[:k])
            contexts.append(AskContext(turn["observation"], history, closed, revealed))
    return contexts


def ask_reward(
    acts: Sequence[tuple[str, str | None]],
    finished: bool,
    context: AskContext,
    micro_weight: float,
    format_weight: float,
) -> float:
    """Learn-to-Ask reward of one utterance: macro × (1 + micro_weight·micro) + format_weight·format.

    Args:
        acts: (act, topic) pairs the grader read in the utterance.
        finished: whether the utterance ended with the end-of-turn token.
        context: the logged turn and its observed future.
    """
    names = {act for act, _ in acts}
    macro = float((CLOSE in names) == context.closed)
    micro = float(any(act in (PROBE, ADDRESS) and topic in context.revealed for act, topic in acts))
    well_formed = float(finished and bool(names) and UNINTELLIGIBLE not in names)
    return macro * (1.0 + micro_weight * micro) + format_weight * well_formed


class LearnToAskLearner:
    """Learn-to-Ask; see :class:`ptod_agents.config.LearnToAskConfig`."""

    def __init__(self, policy: Policy, config: LearnToAskConfig, rng: np.random.Generator, workdir: Path):
        self.policy = policy
        self.config = config
        self.rng = rng
        self.optimizer = make_optimizer(policy, config)
        if policy.kind == "acts":
            if config.data:
                raise ValueError("the act policy's log is played live through DialogueActs; leave 'data' empty")
            demos = policy.demonstrate(config.log_agent, config.log_episodes, "train", 0)
            self.contexts = ask_contexts([d.record for d in demos])
            self.prompts = [context for d in demos for context in d.contexts["student"]]
        else:
            path = Path(config.data) if config.data else None
            if path is None:
                workdir.mkdir(parents=True, exist_ok=True)
                path = record_dialogues(
                    config.log_agent, config.log_episodes, workdir / f"{config.log_agent}.jsonl", config.domain, 0
                )
            self.contexts = ask_contexts(read_episodes(path))
            self.prompts = [
                policy.context(c.observation, None, "student", None, config.history_turns) for c in self.contexts
            ]
        if not self.contexts:
            raise ValueError("the log holds no agent turns")
        self.grader = make_understanding(DEFAULT_UNDERSTANDING, load_scenario(config.domain))
        self.reference = frozen_copy(policy.model) if config.kl_coef > 0 else None

    def step(self, update: int) -> dict[str, float]:
        config = self.config
        tick = time.perf_counter()
        sample_before = self.policy.sample_seconds
        picks = self.rng.choice(len(self.contexts), size=config.contexts_per_update, replace=False)
        contexts = [self.contexts[int(i)] for i in picks]
        prompts = [self.prompts[int(i)] for i in picks]
        repeated = [p for p in prompts for _ in range(config.group_size)]
        drawn = self.policy.sample(repeated, config.max_new_tokens, config.temperature)
        samples, rewards = [], []
        for i, context in enumerate(contexts):
            group = drawn[i * config.group_size : (i + 1) * config.group_size]
            scores = []
            for sample in group:
                acts, finished = self.graded_acts(sample, context)
                scores.append(ask_reward(acts, finished, context, config.micro_weight, config.format_weight))
            rewards += scores
            advantages = group_normalized(torch.tensor(scores), config.advantage_eps).tolist()
            samples += [
                TurnSample(prompts[i], s.tokens, s.logprobs, a)
                for s, a in zip(group, advantages, strict=True)
                if a != 0.0
            ]
        rollout_seconds = time.perf_counter() - tick
        metrics = optimize(self.policy, self.optimizer, samples, config, self.rng, reference=self.reference)
        metrics.update(
            {
                "charts/ask_reward": float(np.mean(rewards)),
                "charts/trained_turns": len(samples),
                "perf/rollout_s": rollout_seconds,
                "perf/generation_s": self.policy.sample_seconds - sample_before,
                "perf/update_s": time.perf_counter() - tick,
            }
        )
        return metrics

    def graded_acts(self, sample, context: AskContext) -> tuple[list[tuple[str, str | None]], bool]:
        """What the grader reads in a sampled utterance and whether it ended properly. An act is
        exactly what it names and always complete; an utterance goes through the simulator's
        understanding and must end with the end-of-turn token."""
        if self.policy.kind == "acts":
            return self.policy.spoken_acts(self.policy.action(sample)), True
        text = self.policy.decode(sample.tokens)
        acts = [(a.act, a.topic) for a in self.grader.understand(text, context.history)]
        return acts, bool(sample.tokens) and sample.tokens[-1] in self.policy.end_ids

    def state_dict(self) -> dict[str, Any]:
        reference = self.reference.state_dict() if self.reference is not None else {}
        return {"optimizer": self.optimizer.state_dict(), "rng": self.rng.bit_generator.state, "reference": reference}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        if self.reference is not None:
            self.reference.load_state_dict(state["reference"])
