"""Asking a chat model for schema-checked JSON, with retries and counted failures.

:class:`StructuredQuery` is what both LLM backends use: it sends the messages, extracts the JSON
object from the reply, hands it to the backend's validator and, when anything goes wrong, asks
again with a correction appended (deterministic, unlike re-sampling). Every outcome is counted;
after the last failed attempt it returns ``None`` and counts a fallback, and the backend uses
its default (lexical or template) result. Nothing a model returns can raise out of here.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from ptod_env.backends.clients import ChatClient, ClientError, ClientTimeout, Conversation, JsonSchema

T = TypeVar("T")
# Replies that decline the task instead of doing it.
_REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry, (?:but )?i|i can(?:no|')t|i cannot|i'?m (?:not able|unable)|"
    r"i am (?:not able|unable)|as an ai|as a language model)",
    re.IGNORECASE,
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class InvalidReply(ValueError):
    """The reply parsed as JSON but breaks the schema or the story's constraints."""


@dataclass
class QueryStats:
    """Counters of one backend (``info["backends"][...]`` shows them).

    ``calls``: requests sent, retries included; ``retries``: requests after the first of a turn;
    ``timeouts``, ``errors``: client failures; ``refusals``: replies that declined the task;
    ``malformed``: no JSON object in the reply; ``invalid``: JSON that failed validation;
    ``fallbacks``: turns answered by the default backend; ``model_seconds``: time spent waiting.
    """

    calls: int = 0
    retries: int = 0
    timeouts: int = 0
    errors: int = 0
    refusals: int = 0
    malformed: int = 0
    invalid: int = 0
    fallbacks: int = 0
    model_seconds: float = 0.0


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model reply (code fences and text around it are tolerated).

    Raises:
        ValueError: there is no JSON object.
    """
    text = _FENCE.sub("", text.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the reply")
    value = json.loads(text[start : end + 1])
    if not isinstance(value, dict):
        raise ValueError("the reply's JSON is not an object")
    return value


class StructuredQuery(Generic[T]):
    """Ask ``client`` and validate the JSON reply, with ``retries`` corrective retries.

    Args:
        client: the chat client.
        schema: the JSON schema sent to servers that can enforce it.
        retries: extra attempts after a failed one (0 = ask once).
        max_tokens, temperature: generation settings.
    """

    def __init__(
        self,
        client: ChatClient,
        schema: JsonSchema,
        *,
        retries: int = 1,
        max_tokens: int = 96,
        temperature: float = 0.0,
    ):
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        self.client = client
        self.schema = schema
        self.retries = retries
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.stats = QueryStats()

    def ask(self, messages: Conversation, validate: Callable[[dict[str, Any]], T]) -> T | None:
        """The validated reply, or ``None`` (a counted fallback) when every attempt failed."""
        conversation = [dict(m) for m in messages]
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            self.stats.calls += 1
            start = time.perf_counter()
            try:
                reply = self.client.complete(
                    conversation, max_tokens=self.max_tokens, temperature=self.temperature, json_schema=self.schema
                )
            except ClientTimeout:
                self.stats.timeouts += 1
                continue
            except ClientError:
                self.stats.errors += 1
                continue
            finally:
                self.stats.model_seconds += time.perf_counter() - start
            try:
                return validate(parse_json_object(reply))
            except InvalidReply as exc:
                self.stats.invalid += 1
                problem = str(exc)
            except ValueError:
                if _REFUSAL.match(reply):
                    self.stats.refusals += 1
                else:
                    self.stats.malformed += 1
                problem = "the reply was not the JSON object asked for"
            conversation += [
                {"role": "assistant", "content": reply},
                {"role": "user", "content": f"That is not valid: {problem}. Reply again, with the JSON object only."},
            ]
        self.stats.fallbacks += 1
        return None

    def counters(self) -> dict[str, Any]:
        """A fresh dict of the counters."""
        return {**asdict(self.stats), "model_seconds": round(self.stats.model_seconds, 4)}
