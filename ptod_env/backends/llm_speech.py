"""LLM speech: a chat model words the user's decided act in the persona's voice.

The cognitive state machine has already decided the user's act; this backend only chooses the
words. It first renders the template line (the default backend's answer, drawing from ``rng``
exactly as :class:`~ptod_env.speech.TemplateSpeech` does, so the episode's randomness does not
depend on the model), then asks the model to rephrase that line as the persona and validates the
reply (:func:`LLMSpeech.check`). A reply that fails validation after the retries is replaced by
the template line and counted as a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ptod_env.acts import UserAct
from ptod_env.agents import UserLineReader
from ptod_env.backends import prompts
from ptod_env.backends.clients import ChatClient, make_client
from ptod_env.backends.structured import InvalidReply, StructuredQuery
from ptod_env.speech import TemplateSpeech, persona_fields
from ptod_env.views import AGENT

if TYPE_CHECKING:
    import numpy as np

    from ptod_env.dynamics import UserState
    from ptod_env.persona import Persona
    from ptod_env.scenario import ScenarioPack

SPEECH_SCHEMA = {
    "type": "object",
    "properties": {"utterance": {"type": "string", "minLength": 1, "maxLength": 300}},
    "required": ["utterance"],
}
# Acts whose words must name the concern: the dynamics moved that concern, the user must say so.
MUST_MENTION_CONCERN = frozenset({"hint", "voice", "object"})
# A chat model slipping out of the persona into assistant talk.
_ASSISTANT_TALK = re.compile(
    r"\b(?:as an ai|language model|assist(?:ant|ance)?|how to respond|i can(?:no|')t help|i am not able to help)\b",
    re.IGNORECASE,
)


class LLMSpeech:
    """Speech through a chat model, validated, with a counted fallback to the template.

    Args:
        pack: the scenario pack.
        client: a :class:`~ptod_env.backends.clients.ChatClient` or a spec dict for
            :func:`~ptod_env.backends.clients.make_client`.
        retries: corrective retries per turn before falling back.
        max_tokens, temperature: generation settings (``temperature=0``: greedy, reproducible).
        max_chars: the longest utterance accepted.
    """

    def __init__(
        self,
        pack: ScenarioPack,
        client: ChatClient | Mapping[str, Any],
        *,
        retries: int = 1,
        max_tokens: int = 64,
        temperature: float = 0.0,
        max_chars: int = 300,
    ):
        self.pack = pack
        self.template = TemplateSpeech(pack)
        self.reader = UserLineReader(pack)
        self.query: StructuredQuery[str] = StructuredQuery(
            make_client(client), SPEECH_SCHEMA, retries=retries, max_tokens=max_tokens, temperature=temperature
        )
        self.max_chars = max_chars
        self.system = prompts.pack_prompt(pack, "speech_system", prompts.SPEECH_SYSTEM)
        self.user = prompts.pack_prompt(pack, "speech_user", prompts.SPEECH_USER)

    def render(
        self,
        user_act: UserAct,
        persona: Persona,
        state: UserState,
        rng: np.random.Generator,
        transcript: Sequence[tuple[str, str]] = (),
    ) -> str:
        line = self.template.render(user_act, persona, state, rng, transcript)
        rephrased = self.query.ask(
            self.messages(user_act, persona, line, transcript), lambda reply: self.check(reply, user_act, line)
        )
        return line if rephrased is None else rephrased

    def messages(
        self, user_act: UserAct, persona: Persona, line: str, transcript: Sequence[tuple[str, str]]
    ) -> list[dict[str, str]]:
        values = {
            **persona_fields(self.pack, persona),
            "user_role": self.pack.user_role,
            "talk_style": persona.traits.get("talk_style", "plain"),
            "mood": persona.traits.get("mood", "neutral"),
        }
        concern = self.pack.concern(user_act.concern).label if user_act.concern else "none"
        agent_line = next((text for speaker, text in reversed(transcript) if speaker == AGENT), "")
        example_user, example_reply = prompts.SPEECH_EXAMPLE
        return [
            {"role": "system", "content": self.system.format(**values)},
            {"role": "user", "content": example_user},
            {"role": "assistant", "content": example_reply},
            {
                "role": "user",
                "content": self.user.format(
                    line=line,
                    act=user_act.act,
                    act_meaning=prompts.USER_ACT_MEANINGS[user_act.act].format(concern=concern),
                    concern=concern,
                    agent_line=agent_line,
                ),
            },
        ]

    def check(self, reply: dict[str, Any], user_act: UserAct, line: str) -> str:
        """The utterance in ``reply`` if it may stand for ``line``, else :class:`InvalidReply`.

        It must be a short non-empty string in the persona's voice (no assistant talk), mention
        no concern that neither ``line`` nor the decided act mentions (the user never voices a
        concern it was not decided to voice), and for hint, voice and object it must mention the
        decided concern.
        """
        utterance = reply.get("utterance")
        if not isinstance(utterance, str) or not utterance.strip():
            raise InvalidReply("'utterance' must be a non-empty string")
        utterance = " ".join(utterance.split())
        if len(utterance) > self.max_chars:
            raise InvalidReply(f"the utterance is longer than {self.max_chars} characters")
        if _ASSISTANT_TALK.search(utterance):
            raise InvalidReply(f"the line must be what {self.pack.user_role} says, not an assistant")
        allowed = set(self.reader.read(line)[1]) | ({user_act.concern} if user_act.concern else set())
        mentioned = self.reader.read(utterance)[1]
        extra = [c for c in mentioned if c not in allowed]
        if extra:
            raise InvalidReply(f"the line must not bring up {', '.join(self.pack.concern(c).label for c in extra)}")
        if user_act.act in MUST_MENTION_CONCERN and user_act.concern not in mentioned:
            raise InvalidReply(f"the line must be about {self.pack.concern(user_act.concern).label}")
        return utterance

    def stats(self) -> dict[str, Any]:
        return self.query.counters()
