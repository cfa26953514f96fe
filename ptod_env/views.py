"""Prompt views shared by the env, the wrappers and the learners.

The **student** (deployable) view is the env's observation: the call brief and the conversation.
The **teacher** (privileged) view is the same text with one block inserted, listing the user's
hidden concerns. Both views come from these functions only, so the two prompts differ in that
block and nothing else.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ptod_env.dynamics import CONCERN_STATUSES
from ptod_env.scenario import DISCLOSURES

if TYPE_CHECKING:
    from ptod_env.persona import Persona
    from ptod_env.scenario import ScenarioPack

BRIEF_HEADER = "### Call brief"
CONVERSATION_HEADER = "### Conversation"
CONCERNS_HEADER = "### Hidden concerns (privileged)"
AGENT = "Agent"
USER = "User"
# Printable ASCII, newline, printable Latin-1 and common typography: wide enough for real
# sentences, narrow enough that gymnasium's Text.sample() stays meaningful.
CHARSET = "".join(
    sorted({chr(c) for c in range(32, 127)} | {"\n"} | {chr(c) for c in range(0xA1, 0x100)} | set("‘’“”–—…€"))
)
_OUTSIDE_CHARSET = re.compile(f"[^{re.escape(CHARSET)}]")
MAX_AGENT_CHARS_SHOWN = 600


def sanitize(text: str, limit: int = MAX_AGENT_CHARS_SHOWN) -> str:
    """Map an utterance into :data:`CHARSET` for display: NFKC-normalise, replace other characters
    with ``?``, collapse line breaks and cut it at ``limit`` characters."""
    # Printable ASCII lies inside the charset and has no line breaks: nothing to map (the common case).
    if not (text.isascii() and text.isprintable()):
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        text = _OUTSIDE_CHARSET.sub("?", text.replace("\r", " ").replace("\n", " "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _patience_word(patience: Any) -> str:
    if not isinstance(patience, int):
        return str(patience)
    return "short" if patience <= 10 else "average" if patience <= 12 else "long"


def render_brief(pack: ScenarioPack, persona: Persona) -> str:
    """The call brief: the pack's template filled with public facts, plus the observable traits."""
    values = {**persona.background, **persona.traits, "company": pack.company, "product": pack.product}
    traits = "; ".join(
        f"{key.replace('_', ' ')}: {_patience_word(value) if key == 'patience' else value}"
        for key, value in persona.traits.items()
    )
    return f"{BRIEF_HEADER}\n{' '.join(pack.brief.format(**values).split())}\nObserved traits: {traits}."


def render_observation(brief: str, turns: Sequence[tuple[str, str]]) -> str:
    """The student view: the brief and the transcript as ``Speaker: text`` lines."""
    return observation_head(brief) + render_transcript(turns)


def observation_head(brief: str) -> str:
    """What precedes the transcript in the student view (the env adds each turn's line to it)."""
    return f"{brief}\n\n{CONVERSATION_HEADER}\n"


def transcript_line(speaker: str, text: str) -> str:
    """One turn as the transcript shows it."""
    return f"{speaker}: {text}"


def render_transcript(turns: Sequence[tuple[str, str]]) -> str:
    """``Speaker: text`` lines (what ``render()`` shows)."""
    return "\n".join(transcript_line(speaker, text) for speaker, text in turns)


def split_observation(observation: str) -> tuple[str, list[tuple[str, str]]]:
    """Split an observation into its head (the call brief, and the concern block in a teacher
    view) and the ``(speaker, text)`` turns; the inverse of :func:`render_observation`."""
    head, sep, tail = observation.partition(f"\n\n{CONVERSATION_HEADER}\n")
    if not sep:
        raise ValueError(f"observation has no {CONVERSATION_HEADER!r} section; pass the env's observation text")
    turns = []
    for line in tail.split("\n"):
        speaker, _, text = line.partition(": ")
        if speaker not in (AGENT, USER):
            raise ValueError(f"conversation line {line!r:.80} does not start with {AGENT!r} or {USER!r}")
        turns.append((speaker, text))
    return head, turns


def concern_block_max_chars(pack: ScenarioPack) -> int:
    """Characters the concern block can take: every concern of the pack at its longest wording
    (bounds the ``Text`` space of a teacher view)."""
    severity = max((str(v) for spec in pack.concerns for v in spec.severity.choices), key=len)
    disclosure = max(DISCLOSURES, key=len)
    widest = [
        {"id": s.id, "label": s.label, "severity": severity, "disclosure": disclosure, "description": s.description}
        for s in pack.concerns
    ]
    return len(render_concern_block(widest, {s.id: max(CONCERN_STATUSES, key=len) for s in pack.concerns})) + 2


def render_concern_block(concerns: Iterable[Mapping[str, Any]], statuses: Mapping[str, str] | None = None) -> str:
    """The privileged block listing hidden concerns (``info["concerns"]`` entries).

    With ``statuses`` (concern id → status, as in ``info["state"]["concerns"]``) each line also
    says how far the concern has come.
    """
    lines = [CONCERNS_HEADER]
    for c in concerns:
        status = f" [status: {statuses[c['id']]}]" if statuses is not None else ""
        lines.append(f"- {c['label']} (severity {c['severity']}, {c['disclosure']}){status}: {c['description']}")
    return "\n".join(lines)


def teacher_view(
    observation: str, concerns: Iterable[Mapping[str, Any]], statuses: Mapping[str, str] | None = None
) -> str:
    """The teacher view: ``observation`` with the concern block inserted before the conversation."""
    block = render_concern_block(concerns, statuses)
    head, sep, tail = observation.partition(f"\n\n{CONVERSATION_HEADER}")
    if not sep:
        raise ValueError(f"observation has no {CONVERSATION_HEADER!r} section; pass the env's observation text")
    return f"{head}\n\n{block}{sep}{tail}"


def parse_brief(pack: ScenarioPack, observation: str) -> dict[str, str]:
    """Recover the public persona facts from an observation's call brief (deployable: it reads
    only the observation). Returns ``{}`` when the brief does not match the pack's template."""
    lines = observation.split("\n")
    if len(lines) < 2 or lines[0] != BRIEF_HEADER:
        return {}
    facts = _brief_pattern(pack).fullmatch(lines[1])
    values = dict(facts.groupdict()) if facts else {}
    traits = lines[2].removeprefix("Observed traits: ").rstrip(".") if len(lines) > 2 else ""
    for part in traits.split("; "):
        key, _, value = part.partition(": ")
        if value:
            values[key.replace(" ", "_")] = value
    return values


def last_user_line(observation: str) -> str:
    """The user's most recent utterance in an observation."""
    prefix = f"{USER}: "
    for line in reversed(observation.split("\n")):
        if line.startswith(prefix):
            return line[len(prefix) :]
    return ""


def _brief_pattern(pack: ScenarioPack) -> re.Pattern[str]:
    cached = _BRIEF_PATTERNS.get(pack.source)
    if cached is None:
        parts, seen = [], set()
        for literal, name, _, _ in _FORMATTER.parse(" ".join(pack.brief.split())):
            parts.append(re.escape(literal))
            if name in ("company", "product"):
                parts.append(re.escape(pack.company if name == "company" else pack.product))
            elif name is not None:
                parts.append(f"(?P<{name}>.+?)" if name not in seen else f"(?P={name})")
                seen.add(name)
        cached = _BRIEF_PATTERNS[pack.source] = re.compile("".join(parts))
    return cached


_BRIEF_PATTERNS: dict[str, re.Pattern[str]] = {}
_FORMATTER = string.Formatter()
