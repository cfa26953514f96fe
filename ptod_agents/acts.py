"""The act-level policy: a small network over ``wrappers.DialogueActs``, behind the same interface
as the language-model :class:`ptod_agents.policy.Policy`, so every learner trains it unchanged.

A *context* is a feature vector; a *completion* is one token, the index of a canonical act. The
student view is the conversation features of ``DialogueActs``; the teacher view is the same
vector with the privileged block (:func:`wrappers.dialogue_acts.privileged_features` of the
concerns the teacher is shown) filled in, read by the same network with the same weights, exactly
as the language model reads a student prompt and a teacher prompt:

    input = [conversation features | privileged block (zeros in the student view) | view flag]

An episode costs about a millisecond of simulator time, so the asymmetric-view claims can be
tested on thousands of users on a CPU (``benchmarks/asymmetric_acts.py``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from ptod_agents.policy import Sample, Scores
from ptod_env.agents import make_agent
from ptod_env.evaluation import env_id_for, episode_options
from ptod_env.records import EpisodeBuilder
from ptod_env.scenario import load_scenario
from ptod_env.speech import line_fields
from ptod_env.views import parse_brief
from wrappers.dialogue_acts import DialogueActs, privileged_features

ACT_POLICY_META = "act_policy.json"
ACT_POLICY_WEIGHTS = "act_policy.pt"


class ActNetwork(nn.Module):
    """A two-hidden-layer tanh MLP: (B, inputs) → (B, actions) logits."""

    def __init__(self, inputs: int, actions: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, actions)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.body(features)


@dataclass
class Demonstration:
    """One call of a reference agent played through ``DialogueActs``: its record, and per turn the
    contexts in both views and the act the agent chose."""

    record: dict[str, Any] = field(default_factory=dict)
    contexts: dict[str, list[np.ndarray]] = field(default_factory=lambda: {"student": [], "teacher": []})
    actions: list[int] = field(default_factory=list)


class ActPolicy:
    """A policy over the canonical acts of ``domain`` (see the module docstring).

    Args:
        domain: the scenario pack whose acts and features the network reads.
        hidden: width of the hidden layers.
        seed: seeds the weight initialisation (its own generator: no global state is touched).
    """

    kind = "acts"

    def __init__(self, domain: str = "merchant_recruitment", hidden: int = 64, seed: int = 0):
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int, got {hidden!r}")
        self.domain = domain
        self.hidden = hidden
        self.pack = load_scenario(domain)
        probe = DialogueActs(gym.make(env_id_for(domain)))
        self.action_names: tuple[str, ...] = probe.action_names
        self.sentences = probe.sentences
        self.student_width = probe.observation_space.shape[0]
        self.privileged_width = len(privileged_features(self.pack, []))
        probe.close()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.model = ActNetwork(self.student_width + self.privileged_width + 1, len(self.action_names), hidden)
        self.sample_seconds = 0.0
        """Wall time spent in :meth:`sample` so far."""

    # The interface every learner uses (shared with ptod_agents.policy.Policy).

    def make_env(self, domain: str, split: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
        """A ``DialogueActs`` env of ``domain`` (which must be the policy's own) on ``split``."""
        if domain != self.domain:
            raise ValueError(f"this act policy reads {self.domain!r} features; it cannot play {domain!r}")
        return DialogueActs(gym.make(env_id_for(domain), split=split, **(env_kwargs or {})))

    def context(
        self,
        observation: np.ndarray,
        info: Mapping[str, Any] | None,
        view: str,
        concerns: Sequence[Mapping[str, Any]] | None,
        history_turns: int = 0,
    ) -> np.ndarray:
        """The network's input in ``view``: the ``DialogueActs`` observation, then the privileged
        block of ``concerns`` (teacher view) or zeros (student view), then the view flag.
        ``info`` and ``history_turns`` are not read (the features already summarise the call)."""
        if view == "teacher":
            if concerns is None:
                raise ValueError("the teacher view needs the concerns (info['concerns'])")
            block, flag = privileged_features(self.pack, list(concerns)), 1.0
        elif view == "student":
            block, flag = [0.0] * self.privileged_width, 0.0
        else:
            raise ValueError(f"view must be 'student' or 'teacher', got {view!r}")
        return np.concatenate([np.asarray(observation, dtype=np.float32), np.asarray([*block, flag], np.float32)])

    @torch.no_grad()
    def sample(self, contexts: Sequence[np.ndarray], max_new_tokens: int = 1, temperature: float = 1.0) -> list[Sample]:
        """One act per context, drawn from softmax(logits / temperature); the recorded
        log-probability is that of the sampling distribution (the behaviour policy)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        start = time.perf_counter()
        self.model.eval()
        logp = torch.log_softmax(self.model(torch.as_tensor(np.stack(contexts))) / temperature, dim=-1)
        acts = torch.multinomial(logp.exp(), 1)
        chosen = logp.gather(-1, acts)
        self.sample_seconds += time.perf_counter() - start
        return [Sample([int(a)], [float(lp)]) for a, lp in zip(acts[:, 0], chosen[:, 0], strict=True)]

    def action(self, sample: Sample) -> int:
        """The env action of a sampled completion: the act index."""
        return sample.tokens[0]

    def score(self, contexts: Sequence[np.ndarray], completions: Sequence[Sequence[int]], model=None) -> Scores:
        """(B, 1, A) logits of ``model`` (default: the policy's own) for each context, the chosen
        acts as (B, 1) targets and a (B, 1) mask of ones."""
        if any(len(c) != 1 for c in completions):
            raise ValueError("an act-level completion is exactly one act")
        logits = (model or self.model)(torch.as_tensor(np.stack(contexts)))[:, None, :]
        targets = torch.tensor([[c[0]] for c in completions], dtype=torch.long)
        return Scores(logits, targets, torch.ones(targets.shape))

    # Demonstrations of the reference agents (behaviour cloning and Learn-to-Ask's log).

    def action_for(self, utterance: str, observation_text: str) -> int:
        """The act a reference agent's utterance stands for: reference agents speak pack lines,
        sometimes two in a row ("greet + pitch", "empathize + probe"); the last one said is the act.
        Raises ValueError when the utterance holds no line of the pack."""
        fields = line_fields(self.pack, parse_brief(self.pack, observation_text).get("name", "there"))
        best, where = None, -1
        for index, lines in enumerate(self.sentences):
            for line in lines:
                found = utterance.rfind(line.format(**fields))
                if found > where:
                    best, where = index, found
        if best is None:
            raise ValueError(f"{utterance!r} is no line of the {self.domain} pack")
        return best

    def demonstrate(self, agent: str, episodes: int, split: str = "train", seed: int = 0) -> list[Demonstration]:
        """Play reference agent ``agent`` through ``DialogueActs`` for ``episodes`` users (env seed
        ``seed + i``; test users in order, train users drawn by the seed), the agent reading the
        text observation and its utterance spoken as the act :meth:`action_for` reads in it."""
        env = self.make_env(self.domain, split)
        speaker = make_agent(agent, self.pack, seed)
        played = []
        for i in range(episodes):
            observation, info = env.reset(seed=seed + i, options=episode_options(split, i))
            text = env.unwrapped.observation()
            speaker.reset(text, info)
            builder = EpisodeBuilder(text, info, domain=self.domain, seed=seed + i, agent=agent)
            demo = Demonstration()
            done = False
            while not done:
                action = self.action_for(speaker.act(text, info), text)
                for view in ("student", "teacher"):
                    demo.contexts[view].append(self.context(observation, info, view, info["concerns"]))
                demo.actions.append(action)
                observation, reward, terminated, truncated, info = env.step(action)
                text = env.unwrapped.observation()
                builder.add(info["utterance"], text, float(reward), info)
                done = terminated or truncated
            demo.record = builder.record
            played.append(demo)
        env.close()
        return played

    def spoken_acts(self, action: int) -> list[tuple[str, str | None]]:
        """The (act, topic) an act index stands for: ``probe:commission`` → ``("probe", "commission")``."""
        act, _, topic = self.action_names[action].partition(":")
        return [(act, topic or None)]

    # Persistence.

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the weights and the settings that rebuild the network."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), path / ACT_POLICY_WEIGHTS)
        meta = {"kind": self.kind, "domain": self.domain, "hidden": self.hidden}
        (path / ACT_POLICY_META).write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ActPolicy:
        """An act policy :meth:`save` wrote."""
        path = Path(path)
        meta = json.loads((path / ACT_POLICY_META).read_text())
        policy = cls(meta["domain"], meta["hidden"])
        policy.model.load_state_dict(torch.load(path / ACT_POLICY_WEIGHTS, weights_only=True))
        return policy

    @staticmethod
    def saved_in(path: str | os.PathLike[str]) -> bool:
        """Whether ``path`` holds an act policy."""
        return (Path(path) / ACT_POLICY_META).exists()
