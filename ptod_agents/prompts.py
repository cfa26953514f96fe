"""The prompts a policy reads: the student and teacher views, optionally shortened.

Both views come from :mod:`ptod_env.views` (the student prompt *is* the observation, the teacher
prompt is :func:`ptod_env.views.teacher_view` of it), then go through the same
:func:`shorten_history`, so the two prompts still differ only in the concern block. Shortening
keeps the call brief (and the concern block) and the last few exchanges: a small model on CPU
learns from ~200-token prompts in minutes, while the full transcript grows past 600 tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ptod_env.scenario import ScenarioPack
from ptod_env.views import CONVERSATION_HEADER, teacher_view

VIEWS = ("student", "teacher")
TEACHER_CONCERNS = ("true", "shuffled")
EARLIER_TURNS = "[earlier turns omitted]"


def shorten_history(view: str, history_turns: int) -> str:
    """Keep everything up to the conversation header, then only the last ``history_turns``
    agent/user exchanges (plus the user's latest line). ``history_turns=0`` keeps the whole view."""
    if history_turns < 0:
        raise ValueError(f"history_turns must be >= 0, got {history_turns}")
    head, sep, conversation = view.partition(f"{CONVERSATION_HEADER}\n")
    if not sep:
        raise ValueError(f"view has no {CONVERSATION_HEADER!r} section; pass an observation or a teacher view")
    if history_turns == 0:
        return view
    lines = conversation.split("\n")
    keep = 2 * history_turns + 1
    if len(lines) <= keep:
        return view
    return head + sep + "\n".join([EARLIER_TURNS, *lines[-keep:]])


def random_concerns(
    pack: ScenarioPack, concerns: Sequence[Mapping[str, Any]], rng: np.random.Generator
) -> list[dict[str, Any]]:
    """As many concerns as ``concerns``, drawn from the pack's bank without replacement and
    irrespective of the true ones, each keeping the severity and disclosure of the entry it
    replaces: the teacher-view ablation with uninformative privileged text."""
    picks = rng.choice(len(pack.concerns), size=len(concerns), replace=False)
    return [
        {**dict(true), "id": spec.id, "label": spec.label, "description": spec.description}
        for true, spec in zip(concerns, (pack.concerns[int(i)] for i in picks), strict=True)
    ]


def render_prompt(observation: str, view: str, concerns: Sequence[Mapping[str, Any]] | None, history_turns: int) -> str:
    """The text a policy reads in ``view`` ("student" or "teacher"; the teacher needs ``concerns``)."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if view == "teacher":
        if concerns is None:
            raise ValueError("the teacher view needs the concerns (info['concerns'])")
        observation = teacher_view(observation, concerns)
    return shorten_history(observation, history_turns)
