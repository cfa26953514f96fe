"""Fidelity figures of a simulator configuration: does the user say what the state machine decided?

:func:`simcheck` plays a reference agent against the env with the chosen backends and reports,
from the episode records and the backends' counters:

- ``unheld_concern_rate``: replies that mention (by the pack's keywords) a concern the persona
  does not hold. The user must never voice a concern it does not have.
- ``concern_agreement``: hint, voice and object replies that mention the concern decided.
- ``reader_agreement``: replies the template reader (:class:`ptod_env.agents.UserLineReader`)
  reads as the decided act; ``readable_rate``: replies it can read at all (free text often not).
- ``judge_agreement`` (with an embedding judge): replies whose nearest pack template, in
  sentence-embedding space, belongs to the decided act; this one works on free text.
- ``distinct_1``, ``distinct_2``: distinct word uni-/bigrams over all replies / all of them.
- ``latency_per_turn_s``: wall-clock seconds per agent turn as one env sees it (env step plus
  agent, waiting for its batch included); ``turns_per_s``: turns per second over all envs.
- ``fallback_rate``, per LLM backend: turns answered by the default backend / turns asked.
"""

from __future__ import annotations

import re
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ptod_env.agents import UserLineReader, make_agent
from ptod_env.backends.batching import play_concurrently
from ptod_env.speech import line_fields
from ptod_env.understanding import DEFAULT_UNDERSTANDING

if TYPE_CHECKING:
    import gymnasium as gym

    from ptod_env.backends.embedding import SentenceEncoder
    from ptod_env.scenario import ScenarioPack

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_FORMATTER = string.Formatter()
_MUST_NAME_CONCERN = frozenset({"hint", "voice", "object"})


class UserActJudge:
    """Classifies a user utterance as the act of its nearest pack template (filled in with every
    concern phrasing), in sentence-embedding space."""

    def __init__(self, pack: ScenarioPack, encoder: SentenceEncoder):
        self.encoder = encoder
        examples = _filled_templates(pack)
        self.acts = [act for _, act in examples]
        self.vectors = encoder.encode([text for text, _ in examples])

    def classify(self, utterances: list[str]) -> list[str]:
        if not utterances:
            return []
        scores = self.encoder.encode(utterances) @ self.vectors.T
        return [self.acts[i] for i in scores.argmax(dim=1).tolist()]


def _filled_templates(pack: ScenarioPack) -> list[tuple[str, str]]:
    base = line_fields(pack, "Sam Lee")
    examples = []
    for act, by_style in pack.templates.items():
        for template in {t for lines in by_style.values() for t in lines}:
            names = {f for _, f, _, _ in _FORMATTER.parse(template) if f}
            if not names & {"hint", "voice", "label"}:
                examples.append((template.format(**base, label="", hint="", voice=""), act))
                continue
            for spec in pack.concerns:
                for phrase in {"hint": spec.hints, "voice": spec.voices}.get(act, (spec.label,)):
                    examples.append((template.format(**base, label=spec.label, hint=phrase, voice=phrase), act))
    return examples


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Distinct word n-grams / all word n-grams over ``texts`` (0.0 when there are none)."""
    grams: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        words = _WORD.findall(text.lower())
        grams.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else 0.0


def fidelity(
    records: list[dict[str, Any]], pack: ScenarioPack, judge: UserActJudge | None = None
) -> dict[str, float | int]:
    """The utterance-level figures of :mod:`this module <ptod_env.backends.simcheck>` over records."""
    reader = UserLineReader(pack)
    unheld = named = must_name = read_as = readable = 0
    replies, decided = [], []
    for record in records:
        held = {c["id"] for c in record["concerns"]}
        for turn in record["turns"]:
            reply, act = turn["reply"], turn["user_act"]
            read_act, topics = reader.read(reply)
            unheld += any(t not in held for t in topics)
            read_as += read_act == act["act"]
            readable += read_act != "unknown"
            if act["act"] in _MUST_NAME_CONCERN:
                must_name += 1
                named += act["concern"] in topics
            replies.append(reply)
            decided.append(act["act"])
    n = max(len(replies), 1)
    figures: dict[str, float | int] = {
        "turns": len(replies),
        "unheld_concern_rate": unheld / n,
        "concern_agreement": named / max(must_name, 1),
        "reader_agreement": read_as / n,
        "readable_rate": readable / n,
        "distinct_1": distinct_n(replies, 1),
        "distinct_2": distinct_n(replies, 2),
    }
    if judge is not None:
        judged = judge.classify(replies)
        figures["judge_agreement"] = sum(j == d for j, d in zip(judged, decided, strict=True)) / n
    return figures


def simcheck(
    *,
    understanding: str = DEFAULT_UNDERSTANDING,
    speech: str = "template",
    understanding_kwargs: Mapping[str, Any] | None = None,
    speech_kwargs: Mapping[str, Any] | None = None,
    agent: str = "proactive",
    domain: str = "merchant_recruitment",
    split: str = "test",
    episodes: int = 50,
    seed: int = 0,
    parallel: int = 1,
    judge: UserActJudge | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` episodes of a reference ``agent`` with the given backends and return the
    fidelity figures, the outcome rates and each backend's counters.

    The kwargs go to the backends as the env's ``understanding_kwargs`` and ``speech_kwargs``.
    Several envs play at once with ``parallel`` > 1, so a shared
    :class:`~ptod_env.backends.batching.BatchingClient` batches their requests.
    """
    import gymnasium as gym

    from ptod_env.evaluation import env_id_for, episode_metrics

    envs: list[gym.Env] = []

    def make_env() -> gym.Env:
        env = gym.make(
            env_id_for(domain),
            split=split,
            understanding=understanding,
            speech=speech,
            understanding_kwargs=dict(understanding_kwargs or {}),
            speech_kwargs=dict(speech_kwargs or {}),
        )
        envs.append(env)
        return env

    start = time.perf_counter()
    records = play_concurrently(
        make_env,
        lambda pack, agent_seed: make_agent(agent, pack, agent_seed),
        episodes=episodes,
        parallel=parallel,
        seed=seed,
        split=split,
        domain=domain,
        agent_name=agent,
    )
    wall = time.perf_counter() - start
    pack = envs[0].unwrapped.pack
    turns = sum(len(r["turns"]) for r in records)
    outcome = episode_metrics(records)
    return {
        "understanding": understanding,
        "speech": speech,
        "agent": agent,
        "domain": domain,
        "episodes": len(records),
        **fidelity(records, pack, judge),
        "latency_per_turn_s": sum(r["seconds"] for r in records) / max(turns, 1),
        "turns_per_s": turns / wall,
        "success_rate": outcome["success_rate"],
        "mean_turns": outcome["mean_turns"],
        "backends": {
            role: _summed_stats([getattr(env.unwrapped, role) for env in envs]) for role in ("understanding", "speech")
        },
    }


def _summed_stats(backends: list[Any]) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    for backend in backends:
        stats: Callable[[], dict[str, Any]] | None = getattr(backend, "stats", None)
        if callable(stats):
            totals.update(stats())
    summary: dict[str, Any] = {"name": type(backends[0]).__name__, **totals}
    if "fallbacks" in totals:
        asked = totals["calls"] - totals["retries"]
        summary["fallback_rate"] = totals["fallbacks"] / max(asked, 1)
    return summary
