"""Speech backends: the user's decided act → the user's words, in the persona's style.

The default, :class:`TemplateSpeech`, picks one of the scenario pack's templates for the act and
talk style and fills in the concern's own hint or voice phrasing. Other backends (LLM) follow the
:class:`Speech` protocol and are selected by name with :func:`make_speech`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ptod_env.acts import UserAct

if TYPE_CHECKING:
    from ptod_env.dynamics import UserState
    from ptod_env.persona import Persona
    from ptod_env.scenario import ScenarioPack


@runtime_checkable
class Speech(Protocol):
    """Renders what the user decided to do as the user's utterance.

    Must say nothing about a concern other than ``user_act.concern``, and must draw any
    randomness from ``rng`` only. ``transcript`` holds the conversation so far as
    ``(speaker, text)`` pairs (speaker ``"Agent"`` or ``"User"``), the agent's latest line last.
    """

    def render(
        self,
        user_act: UserAct,
        persona: Persona,
        state: UserState,
        rng: np.random.Generator,
        transcript: Sequence[tuple[str, str]] = (),
    ) -> str: ...


def pick(options: Sequence[str], rng: np.random.Generator) -> str:
    """A uniform choice; ``rng.random()`` is several times cheaper per call than ``rng.integers``."""
    return options[int(rng.random() * len(options))]


def line_fields(pack: ScenarioPack, name: str) -> dict[str, str]:
    """The placeholder values every template and agent line may use, for a user called ``name``."""
    return {"name": name, "first_name": name.split()[0], "company": pack.company, "product": pack.product}


def persona_fields(pack: ScenarioPack, persona: Persona) -> dict[str, str]:
    """:func:`line_fields` for a persona."""
    return line_fields(pack, str(persona.background.get("name", "there")))


class TemplateSpeech:
    """Template-based speech (the default backend)."""

    def __init__(self, pack: ScenarioPack):
        self.pack = pack
        self._specs = {spec.id: spec for spec in pack.concerns}
        self._persona: Persona | None = None
        self._style = ""
        self._fields: dict[str, str] = {}

    def _for(self, persona: Persona) -> tuple[str, dict[str, str]]:
        # One persona per episode: compute its style and placeholder values once, not every turn.
        if persona is not self._persona:
            self._persona = persona
            self._style = str(persona.traits.get("talk_style", "formal"))
            self._fields = {**persona_fields(self.pack, persona), "label": "that", "hint": "", "voice": ""}
        return self._style, self._fields

    def render(
        self,
        user_act: UserAct,
        persona: Persona,
        state: UserState,
        rng: np.random.Generator,
        transcript: Sequence[tuple[str, str]] = (),
    ) -> str:
        style, fields = self._for(persona)
        template = pick(self.pack.templates[user_act.act][style], rng)
        if user_act.concern is None:
            return template.format_map(fields)
        spec = self._specs.get(user_act.concern) or self.pack.concern(user_act.concern)
        return template.format_map(
            {**fields, "label": spec.label, "hint": pick(spec.hints, rng), "voice": pick(spec.voices, rng)}
        )


SpeechFactory = Callable[..., Speech]
_FACTORIES: dict[str, Callable[[], SpeechFactory]] = {
    "template": lambda: TemplateSpeech,
    # Optional backends live in ptod_env.backends and import their dependencies only when chosen.
    "llm": lambda: importlib.import_module("ptod_env.backends.llm_speech").LLMSpeech,
}


def register_speech(name: str, loader: Callable[[], SpeechFactory]) -> None:
    """Make a speech backend selectable by name; ``loader`` returns the factory lazily."""
    _FACTORIES[name] = loader


def speech_names() -> tuple[str, ...]:
    return tuple(_FACTORIES)


def make_speech(spec: str | Speech, pack: ScenarioPack, **kwargs: Any) -> Speech:
    """Build a speech backend from a name (``"template"``...) or pass an instance through."""
    if isinstance(spec, str):
        if spec not in _FACTORIES:
            raise ValueError(f"unknown speech backend {spec!r}; choose from {list(_FACTORIES)}")
        return _FACTORIES[spec]()(pack, **kwargs)
    if isinstance(spec, Speech):
        if kwargs:
            raise ValueError("speech_kwargs are only used with a backend name, not an instance")
        return spec
    raise TypeError(f"speech must be a backend name or a Speech instance, got {type(spec).__name__}")
