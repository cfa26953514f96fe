"""LLM understanding: a chat model labels the agent's utterance with acts and topics.

The default reader (``natural``, whose fault screen is the lexical backend's) screens the utterance
first (:mod:`ptod_env.backends.screening`); the model reads only what passes. Its reply must be
``{"acts": [{"act": ..., "topic": ...}, ...]}`` with act names from :data:`MODEL_ACTS` and topics
from the pack's concern ids (:meth:`LLMUnderstanding.check`). When it is not, after the retries,
the default reader's reading stands and a fallback is counted. A client given as a spec dict is
built once per process and shared (a local model is loaded once, quietly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from ptod_env import acts as A
from ptod_env.acts import AgentAct
from ptod_env.backends import prompts
from ptod_env.backends.clients import ChatClient, make_client
from ptod_env.backends.screening import limit_topics, screen
from ptod_env.backends.structured import InvalidReply, StructuredQuery
from ptod_env.reading import NaturalUnderstanding

if TYPE_CHECKING:
    from ptod_env.scenario import ScenarioPack

MAX_ACTS = 6
MODEL_ACTS = A.PRODUCTIVE_ACTS | {A.UNINTELLIGIBLE}
"""The acts the model may name; the other faults are ruled by the lexical screen."""


def understanding_schema(pack: ScenarioPack) -> dict[str, Any]:
    """The JSON schema of a reply, with the pack's concern ids as the topic enum."""
    return {
        "type": "object",
        "properties": {
            "acts": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ACTS,
                "items": {
                    "type": "object",
                    "properties": {
                        "act": {"enum": sorted(MODEL_ACTS)},
                        "topic": {"enum": [*pack.concern_ids, None]},
                    },
                    "required": ["act"],
                },
            }
        },
        "required": ["acts"],
    }


@cache
def _shared_client(spec: tuple[tuple[str, Any], ...]) -> ChatClient:
    if dict(spec).get("kind") == "transformers":
        from transformers.utils import logging

        logging.disable_progress_bar()
        logging.set_verbosity_error()
    return make_client(dict(spec))


def shared_client(client: ChatClient | Mapping[str, Any]) -> ChatClient:
    """``client``, or the one process-wide client for an equal spec dict (built on first use)."""
    if isinstance(client, Mapping):
        try:
            return _shared_client(tuple(sorted(client.items())))
        except TypeError:  # an unhashable argument: build this one alone
            return make_client(client)
    return make_client(client)


class LLMUnderstanding:
    """Understanding through a chat model, validated, with a counted fallback to the default
    reader.

    Args:
        pack: the scenario pack.
        client: a :class:`~ptod_env.backends.clients.ChatClient` or a spec dict for
            :func:`~ptod_env.backends.clients.make_client`.
        retries: corrective retries per utterance before falling back.
        max_tokens, temperature: generation settings (``temperature=0``: greedy, reproducible).
    """

    def __init__(
        self,
        pack: ScenarioPack,
        client: ChatClient | Mapping[str, Any],
        *,
        retries: int = 1,
        max_tokens: int = 96,
        temperature: float = 0.0,
    ):
        self.pack = pack
        self.fallback = NaturalUnderstanding(pack)
        self.query: StructuredQuery[list[AgentAct]] = StructuredQuery(
            shared_client(client),
            understanding_schema(pack),
            retries=retries,
            max_tokens=max_tokens,
            temperature=temperature,
        )
        self.user = prompts.pack_prompt(pack, "understanding_user", prompts.UNDERSTANDING_USER)
        self._preamble = [{"role": "system", "content": prompts.understanding_system(pack)}]
        for message, reply in prompts.understanding_examples(pack):
            self._preamble += [
                {"role": "user", "content": self.user.format(text=message)},
                {"role": "assistant", "content": reply},
            ]

    def understand(self, text: str, history: Sequence[str] = ()) -> list[AgentAct]:
        default, decided = screen(self.fallback, text, history)
        if decided:
            return default
        messages = [*self._preamble, {"role": "user", "content": self.user.format(text=" ".join(text.split()))}]
        acts = self.query.ask(messages, self.check)
        return default if acts is None else limit_topics(acts, self.pack.rules.topic_dump_threshold)

    def check(self, reply: dict[str, Any]) -> list[AgentAct]:
        """The acts in ``reply``, or :class:`InvalidReply` naming the first problem."""
        items = reply.get("acts")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_ACTS:
            raise InvalidReply(f"'acts' must be a list of 1 to {MAX_ACTS} entries")
        acts = []
        for item in items:
            if not isinstance(item, dict):
                raise InvalidReply("each entry of 'acts' must be an object")
            act, topic = item.get("act"), item.get("topic")
            if act not in MODEL_ACTS:
                raise InvalidReply(f"unknown act {act!r}; use one of {sorted(MODEL_ACTS)}")
            if topic is not None and topic not in self.pack.concern_ids:
                raise InvalidReply(f"unknown topic {topic!r}; use one of {list(self.pack.concern_ids)} or null")
            if topic is not None and act not in A.TOPICAL_ACTS:
                raise InvalidReply(f"act {act!r} takes no topic")
            acts.append(AgentAct(A.PROBE_OPEN) if act == A.PROBE and topic is None else AgentAct(act, topic))
        return list(dict.fromkeys(acts))

    def stats(self) -> dict[str, Any]:
        return self.query.counters()
