"""What every model-based understanding backend does before and after its model.

Before: the lexical backend screens the utterance. Silence, rambling, manipulation, repetition,
keyword stuffing and topic dumps are rules of the story, decided the same way whatever backend
reads the rest, so a model can neither excuse nor invent them. ``unintelligible`` is different:
the lexical backend says it of any sentence whose words it does not know, paraphrases included,
so a model backend reads such text itself and keeps the lexical verdict only when it finds no
act either. After: acts naming too many topics at once are a topic dump, exactly as when the
keywords show it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ptod_env import acts as A
from ptod_env.acts import AgentAct
from ptod_env.understanding import LexicalUnderstanding

RULED_FAULTS = A.FAULT_ACTS - {A.UNINTELLIGIBLE}
"""Fault acts the lexical screen decides for every backend."""


def screen(lexical: LexicalUnderstanding, text: str, history: Sequence[str]) -> tuple[list[AgentAct], bool]:
    """``(acts, decided)``: the lexical reading, and whether it is a ruled fault that stands."""
    acts = lexical.understand(text, history)
    return acts, all(a.act in RULED_FAULTS for a in acts)


def limit_topics(acts: list[AgentAct], threshold: int) -> list[AgentAct]:
    """``acts``, or ``[topic_dump]`` when they name ``threshold`` or more distinct topics."""
    if len({a.topic for a in acts if a.topic is not None}) >= threshold:
        return [AgentAct(A.TOPIC_DUMP)]
    return acts
