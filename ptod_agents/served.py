"""Any served chat model as the salesperson: ``ptod eval --policy openai:MODEL --base-url URL``.

:class:`ServedPolicy` speaks through an OpenAI-compatible ``/chat/completions`` endpoint (vLLM's
server, ``transformers serve``, llama.cpp, a hosted API) with
:class:`~ptod_env.backends.clients.OpenAIChatClient`. Each turn it sends the view the policy acts
on (student: the observation; teacher: with the hidden-concern block, see
:mod:`ptod_agents.prompts`) as the user message after a system message, all envs' requests of a
turn concurrently. It plays through the same lockstep loop as a local model
(:func:`ptod_agents.rollout.play`), so pass@k, records and figures are the ones ``ptod eval``
reports for any policy; it has no token ids, so it evaluates but cannot be trained.

A request that fails (HTTP error, connection refused, no answer within ``timeout``, a body that
is not a chat completion) is retried ``retries`` times with exponential backoff; a turn whose
requests all fail becomes silence (an empty utterance, a legal move the user reacts to) and is
counted, so one bad request never ends an evaluation. :meth:`ServedPolicy.stats` counts
requests, retries, timeouts, errors, failed turns and empty replies, and keeps each turn's latency.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ptod_agents.policy import Sample, TextPolicy
from ptod_env.backends.clients import ClientError, ClientTimeout, OpenAIChatClient
from ptod_env.views import AGENT, USER
from wrappers.views import DEFAULT_SYSTEM_PROMPT

SCHEME = "openai:"
"""``--policy`` prefix naming a served model."""
COUNTERS = ("requests", "retries", "timeouts", "errors", "failed_turns", "empty_replies")
_SPEAKER_LABEL = re.compile(rf"^\s*(?:{AGENT}|Salesperson|Assistant)\s*:\s*", re.IGNORECASE)
_CUSTOMER_LINE = re.compile(rf"^\s*{USER}\s*:", re.IGNORECASE | re.MULTILINE)


def is_served(policy: str) -> bool:
    """Whether a ``--policy`` value names a served model (``openai:MODEL``)."""
    return policy.startswith(SCHEME)


def utterance_of(reply: str) -> str:
    """The salesperson's line in a model reply: a leading ``Agent:`` label dropped, and anything
    from a line where the model starts speaking as the ``User:`` cut off."""
    text = _CUSTOMER_LINE.split(reply, maxsplit=1)[0]
    return _SPEAKER_LABEL.sub("", text.strip(), count=1).strip()


class ServedPolicy(TextPolicy):
    """A chat model behind an OpenAI-compatible server, as a dialogue policy.

    It offers what :func:`ptod_agents.rollout.play` calls on a policy: :meth:`make_env` (a text
    env), :meth:`context` (here the prompt stays text, :meth:`prompt_ids`), :meth:`sample` (one concurrent request per
    prompt; a sample's ``tokens`` holds the utterance as its one item, since a served model returns
    text) and :meth:`action`.

    Args:
        client: the server's client (its ``timeout`` is the per-request limit).
        retries: extra attempts after a failed request.
        backoff: seconds before the first retry, doubled for each further one.
        concurrency: requests in flight at once.
        system_prompt: the system message before each view; empty: none (a model trained by
            ``ptod train`` reads the view alone, as :meth:`ptod_agents.policy.Policy.context` renders it).
    """

    def __init__(
        self,
        client: OpenAIChatClient,
        *,
        retries: int = 2,
        backoff: float = 0.5,
        concurrency: int = 8,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
    ):
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}")
        if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
            raise ValueError(f"backoff must be a number of seconds >= 0, got {backoff!r}")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        self.client = client
        self.retries = retries
        self.backoff = float(backoff)
        self.concurrency = concurrency
        self.system_prompt = system_prompt
        self._lock = threading.Lock()
        self.reset_stats()

    @classmethod
    def from_spec(
        cls,
        spec: str,
        base_url: str | None,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        **kwargs: Any,
    ) -> ServedPolicy:
        """A policy from ``--policy openai:MODEL`` and ``--base-url``; the key, if the server
        needs one, is read from the environment variable ``api_key_env`` at each request."""
        model = spec.removeprefix(SCHEME)
        if not is_served(spec) or not model:
            raise ValueError(f"a served policy is named 'openai:MODEL', got {spec!r}")
        if base_url is None:
            raise ValueError(f"--policy {spec} needs --base-url, e.g. http://127.0.0.1:8000/v1")
        client = OpenAIChatClient(
            base_url, model, api_key_env=api_key_env, timeout=timeout, max_workers=kwargs.get("concurrency", 8)
        )
        return cls(client, **kwargs)

    def reset_stats(self) -> None:
        """Zero the counters and forget the latencies."""
        with self._lock:
            self._counts = dict.fromkeys(COUNTERS, 0)
            self._latencies: list[float] = []

    def stats(self) -> dict[str, Any]:
        """Counters (:data:`COUNTERS`), ``turns`` and ``latency_s`` (one entry per turn: seconds
        from the first attempt to the reply, retries and backoff included)."""
        with self._lock:
            return {**self._counts, "turns": len(self._latencies), "latency_s": list(self._latencies)}

    def prompt_ids(self, text: str) -> str:
        """The prompt as the server receives it: the view's text itself."""
        return text

    def action(self, sample: Sample) -> str:
        """The utterance the server returned."""
        return sample.tokens[0]

    def sample(self, prompts: Sequence[str], max_new_tokens: int, temperature: float = 1.0) -> list[Sample]:
        """One utterance per prompt, requested concurrently."""
        with ThreadPoolExecutor(min(self.concurrency, max(len(prompts), 1))) as pool:
            lines = list(pool.map(lambda p: self._turn(p, max_new_tokens, temperature), prompts))
        return [Sample(tokens=[line], logprobs=[]) for line in lines]

    def _turn(self, prompt: str, max_new_tokens: int, temperature: float) -> str:
        messages = [{"role": "user", "content": prompt}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        start = time.perf_counter()
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self._count("requests", retries=attempt > 0)
            try:
                reply = self.client.complete(messages, max_tokens=max_new_tokens, temperature=temperature)
            except ClientTimeout:
                self._count("timeouts")
                continue
            except ClientError:
                self._count("errors")
                continue
            line = utterance_of(reply)
            self._finish(start, empty=not line)
            return line
        self._finish(start, failed=True)
        return ""

    def _count(self, name: str, retries: bool = False) -> None:
        with self._lock:
            self._counts[name] += 1
            self._counts["retries"] += retries

    def _finish(self, start: float, *, empty: bool = False, failed: bool = False) -> None:
        with self._lock:
            self._latencies.append(time.perf_counter() - start)
            self._counts["empty_replies"] += empty
            self._counts["failed_turns"] += failed

    def __getstate__(self) -> dict[str, Any]:
        # Sent to Ray actors: each keeps its own lock and counters.
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_counts", "_latencies")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self.reset_stats()


def served_figures(stats: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The served policy's figures over one or more :meth:`ServedPolicy.stats` (one per worker):
    summed counters, ``failure_rate`` (failed turns / turns) and latency per turn (mean, p50, p95)."""
    counts = {name: sum(s[name] for s in stats) for name in COUNTERS}
    latencies = sorted(x for s in stats for x in s["latency_s"])
    turns = len(latencies)

    def quantile(q: float) -> float | None:
        return round(latencies[min(turns - 1, int(q * turns))], 4) if turns else None

    return {
        **counts,
        "turns": turns,
        "failure_rate": counts["failed_turns"] / turns if turns else 0.0,
        "latency_per_turn_s": {
            "mean": round(sum(latencies) / turns, 4) if turns else None,
            "p50": quantile(0.5),
            "p95": quantile(0.95),
        },
    }
