"""Reference agents, usable by name: ``random``, ``passive``, ``proactive`` and ``oracle``.

They set the scale every learner is measured on. ``passive`` behaves like a conservative
post-trained LLM (greets, pitches, answers what it is asked, tries to close). ``proactive`` is
deployable: it reads only the observation, and uses the scenario pack's public text (templates,
keywords, correlations) the way a trained salesperson uses experience. ``oracle`` also reads the
privileged ``info`` (concerns, statuses, trust) and sets the ceiling.

All speak in the pack's agent lines, so their utterances are real sentences a model can imitate.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ptod_env.dynamics import EMPATHY_CUES
from ptod_env.scenario import ConcernSpec, ScenarioPack
from ptod_env.speech import line_fields
from ptod_env.understanding import tokens, topic_index
from ptod_env.views import last_user_line, parse_brief

_FORMATTER = string.Formatter()
_TEMPLATE_WILDCARDS = {"hint", "voice", "label"}


class Agent(Protocol):
    """A salesperson policy: one utterance per turn."""

    def reset(self, observation: str, info: dict[str, Any]) -> None: ...

    def act(self, observation: str, info: dict[str, Any]) -> str: ...


class UserLineReader:
    """Guesses the user act behind an utterance by matching the pack's templates, and the topics it
    mentions by the concerns' keywords. Works on template speech; an LLM speech backend may say
    things no template covers, which then read as ``unknown``."""

    def __init__(self, pack: ScenarioPack):
        patterns = []
        for act, by_style in pack.templates.items():
            for templates in by_style.values():
                for template in templates:
                    regex, literal = [], 0
                    for text, name, _, _ in _FORMATTER.parse(template):
                        regex.append(re.escape(text))
                        literal += len(text.strip())
                        if name is not None:
                            regex.append(".+?" if name in _TEMPLATE_WILDCARDS else r"\S.*?")
                    patterns.append((literal, act, re.compile("".join(regex), re.S)))
        # Most specific templates first; a bare "{hint}" matches anything and comes last.
        self._patterns = sorted(patterns, key=lambda p: -p[0])
        self._topics = topic_index(pack.concerns)

    def read(self, line: str) -> tuple[str, list[str]]:
        topics = list(dict.fromkeys(cid for _, cid in self._topics.find_longest(tokens(line))))
        for _, act, pattern in self._patterns:
            if pattern.fullmatch(line):
                return act, topics
        return "unknown", topics


class _PackAgent:
    """Shared plumbing: the pack, a seeded generator and line formatting."""

    def __init__(self, pack: ScenarioPack, seed: int | None = None):
        self.pack = pack
        self.rng = np.random.default_rng(seed)
        self.facts: dict[str, str] = {}
        self.turn = 0

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self.facts = parse_brief(self.pack, observation)
        self.turn = 0
        self.said: set[str] = set()

    def line(self, kind: str) -> str:
        """One of the pack's lines of this kind, preferring one not said yet in this call (the
        same formula twice sounds scripted)."""
        options = [o for o in self.pack.agent_lines[kind] if o not in self.said] or self.pack.agent_lines[kind]
        choice = options[int(self.rng.integers(len(options)))]
        self.said.add(choice)
        return self.say(choice)

    def say(self, template: str) -> str:
        return template.format(**line_fields(self.pack, self.facts.get("name", "there")))

    def answer(self, spec: ConcernSpec, times: int) -> str:
        return spec.answers[times % len(spec.answers)]

    def act(self, observation: str, info: dict[str, Any]) -> str:
        text = self.decide(observation, info)
        self.turn += 1
        return text

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        raise NotImplementedError


class RandomAgent(_PackAgent):
    """Says a random pack line, topic sentence or gibberish each turn."""

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        roll = self.rng.random()
        if roll < 0.2:
            letters = self.rng.choice(list("abcdefghijklmnopqrstuvwxyz  "), size=int(self.rng.integers(5, 60)))
            return "".join(letters)
        if roll < 0.5:
            spec = self.pack.concerns[int(self.rng.integers(len(self.pack.concerns)))]
            pool = spec.probes + spec.answers
            return pool[int(self.rng.integers(len(pool)))]
        kinds = list(self.pack.agent_lines)
        return self.line(kinds[int(self.rng.integers(len(kinds)))])


class PassiveAgent(_PackAgent):
    """Greets and pitches, answers what the user raises, and tries to close."""

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        self.reader = UserLineReader(self.pack)
        self.answered: dict[str, int] = {}
        self.pitched = 0

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            self.pitched = 1
            return f"{self.line('greet')} {self.line('pitch')}"
        act, topics = self.reader.read(last_user_line(observation))
        if topics and act not in ("resolved", "deny_topic"):
            topic = topics[0]
            self.answered[topic] = self.answered.get(topic, 0) + 1
            return self.answer(self.pack.concern(topic), self.answered[topic] - 1)
        if self.pitched < 2:
            self.pitched += 1
            return self.line("pitch")
        return self.line("close")


class ProactiveAgent(_PackAgent):
    """Deployable and proactive: probes, listens for hinted and voiced concerns, addresses them,
    builds trust when the user is guarded, and closes once the user says nothing else holds them
    back."""

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        self.reader = UserLineReader(self.pack)
        self.answered: dict[str, int] = {}
        self.resolved: set[str] = set()
        self.probed: set[str] = set()
        self.prior = concern_prior(self.pack, self.facts)

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        if self.turn == 0:
            return f"{self.line('greet')} {self.line('probe_open')}"
        act, topics = self.reader.read(last_user_line(observation))
        if act == "resolved":
            self.resolved.update(topics)
        open_topics = [t for t in topics if t not in self.resolved]
        if act in ("hint", "voice", "object", "follow_up", "acknowledge", "unknown") and open_topics:
            topic = open_topics[0]
            self.answered[topic] = self.answered.get(topic, 0) + 1
            return self.answer(self.pack.concern(topic), self.answered[topic] - 1)
        if act == "no_more_concerns":
            return self.line("close")
        if act == "think_about_it":
            return f"{self.line('empathize')} {self.line('close')}"
        if act in ("guarded_reply", "vague_objection"):
            # The user holds something back: make them feel heard, then ask about the likeliest
            # concern not discussed yet, given what the brief shows.
            untried = [c for c in self.prior if c not in self.probed and c not in self.answered]
            if untried and act == "guarded_reply" and len(self.probed) < 2:
                self.probed.add(untried[0])
                spec = self.pack.concern(untried[0])
                return f"{self.line('empathize')} {spec.probes[0]}"
            return f"{self.line('empathize')} {self.line('probe_open')}"
        return self.line("probe_open")


class OracleAgent(_PackAgent):
    """Reads the hidden concerns and their statuses from ``info`` and works through them."""

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        super().reset(observation, info)
        self.answered: dict[str, int] = {}
        self.asked: dict[str, int] = {}
        self.empathized = 0

    def decide(self, observation: str, info: dict[str, Any]) -> str:
        rules = self.pack.rules
        trust = info["state"]["trust"]
        greeting = f"{self.line('greet')} " if self.turn == 0 else ""
        pending = [c for c in info["concerns"] if c["status"] != "resolved"]
        pending.sort(key=lambda c: ("open", "guarded", "deep").index(c["disclosure"]))
        if not pending:
            if trust >= rules.accept_trust:
                return greeting + self.line("close")
            return greeting + self.warm_up(info)
        concern = pending[0]
        spec = self.pack.concern(concern["id"])
        if concern["status"] == "latent":
            ready = concern["disclosure"] != "deep" or trust + rules.probe_hit_trust >= rules.deep_hint_trust
            if not ready:
                # A deep concern is denied to a stranger: earn trust first, then let it surface.
                return greeting + self.warm_up(info)
            # A probe may be denied while trust is low: ask again in other words, or warm up.
            asked = self.asked.get(spec.id, 0)
            self.asked[spec.id] = asked + 1
            return greeting + (spec.probes[asked] if asked < len(spec.probes) else self.warm_up(info))
        self.answered[spec.id] = self.answered.get(spec.id, 0) + 1
        return greeting + self.answer(spec, self.answered[spec.id] - 1)

    def warm_up(self, info: dict[str, Any]) -> str:
        """An open question, with empathy while the user's last words call for it and it still
        builds trust."""
        if info["user_act"]["act"] in EMPATHY_CUES and self.empathized < self.pack.rules.paid_empathies:
            self.empathized += 1
            return f"{self.line('empathize')} {self.line('probe_open')}"
        return self.line("probe_open")


AGENTS: dict[str, Callable[[ScenarioPack, int | None], Agent]] = {
    "random": RandomAgent,
    "passive": PassiveAgent,
    "proactive": ProactiveAgent,
    "oracle": OracleAgent,
}


def make_agent(name: str, pack: ScenarioPack, seed: int | None = None) -> Agent:
    """A reference agent by name (see :data:`AGENTS`)."""
    if name not in AGENTS:
        raise ValueError(f"unknown agent {name!r}; choose from {list(AGENTS)}")
    return AGENTS[name](pack, seed)


def concern_prior(pack: ScenarioPack, facts: dict[str, str]) -> list[str]:
    """Concern ids ordered by how likely the brief's public facts make them (the pack's
    correlations applied to its base weights), most likely first."""
    weights = {spec.id: spec.base_weight for spec in pack.concerns}
    for corr in pack.correlations:
        raw = facts.get(corr.field.split(".", 1)[1])
        if raw is None:
            continue
        value: Any = int(raw) if raw.isdigit() else raw
        try:
            if corr.matches(value):
                weights[corr.concern] *= corr.factor
        except TypeError:
            continue
    return sorted(weights, key=lambda cid: -weights[cid])
