"""Batched simulation: many envs, one language model, one ``generate`` per round of requests.

An LLM backend asks its client for one reply per env step. When several envs share one local
model, :class:`BatchingClient` collects the requests that arrive together and sends them to the
wrapped client's ``complete_batch`` as one batch. Requests arrive together when the envs are
stepped concurrently; :func:`play_concurrently` does that for whole episodes (one thread per
env, the model's work in the batching thread), and any other threaded stepping works the same::

    client = BatchingClient(TransformersChatClient(model_dir), max_batch=8)
    make_env = lambda: gym.make("ProactiveSales-v0", speech="llm", speech_kwargs={"client": client})
    agent = lambda pack, seed: make_agent("proactive", pack, seed)
    records = play_concurrently(make_env, agent, episodes=64, parallel=8)

An OpenAI-compatible server batches on its own side: share an :class:`OpenAIChatClient` between
threads instead and skip the wrapper.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ptod_env.backends.clients import ChatClient, Conversation, JsonSchema

if TYPE_CHECKING:
    import gymnasium as gym

    from ptod_env.agents import Agent
    from ptod_env.scenario import ScenarioPack


class BatchingClient:
    """Wraps a :class:`ChatClient`; concurrent ``complete`` calls become one ``complete_batch``.

    A batch is sent when ``max_batch`` requests wait or ``max_wait_s`` has passed since the
    first of them. Requests with different generation settings go in different batches. A
    failed batch raises the same :class:`~ptod_env.backends.clients.ClientError` in each of its
    callers, who count and fall back as for a single request.

    Args:
        client: the wrapped client (a local model: transformers or vLLM).
        max_batch: the most requests per batch; set it to the number of envs stepped together.
        max_wait_s: how long the first request of a batch waits for company.
    """

    def __init__(self, client: ChatClient, *, max_batch: int = 16, max_wait_s: float = 0.05):
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a positive int, got {max_batch!r}")
        if isinstance(max_wait_s, bool) or not isinstance(max_wait_s, int | float) or max_wait_s < 0:
            raise ValueError(f"max_wait_s must be a number of seconds >= 0, got {max_wait_s!r}")
        self.client = client
        self.max_batch = max_batch
        self.max_wait_s = float(max_wait_s)
        self.batch_sizes: list[int] = []
        self._pending: list[tuple[tuple[Any, ...], Conversation, Future[str]]] = []
        self._wake = threading.Condition()
        self._worker = threading.Thread(target=self._serve, name="ptod-batching-client", daemon=True)
        self._worker.start()

    def complete(
        self,
        messages: Conversation,
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> str:
        settings = (max_tokens, temperature, json.dumps(json_schema, sort_keys=True) if json_schema else None)
        future: Future[str] = Future()
        with self._wake:
            self._pending.append((settings, messages, future))
            self._wake.notify()
        return future.result()

    def complete_batch(
        self,
        conversations: Sequence[Conversation],
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> list[str]:
        return self.client.complete_batch(
            conversations, max_tokens=max_tokens, temperature=temperature, json_schema=json_schema
        )

    def _serve(self) -> None:
        while True:
            with self._wake:
                while not self._pending:
                    self._wake.wait()
                deadline = time.monotonic() + self.max_wait_s
                while len(self._pending) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._wake.wait(left)
                settings = self._pending[0][0]
                batch = [p for p in self._pending if p[0] == settings][: self.max_batch]
                self._pending = [p for p in self._pending if all(p is not b for b in batch)]
            self.batch_sizes.append(len(batch))
            max_tokens, temperature, schema = settings
            try:
                replies = self.client.complete_batch(
                    [messages for _, messages, _ in batch],
                    max_tokens=max_tokens,
                    temperature=temperature,
                    json_schema=json.loads(schema) if schema else None,
                )
            except Exception as exc:  # handed to every waiting caller, who decides what it means
                for _, _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, _, future), reply in zip(batch, replies, strict=True):
                future.set_result(reply)


def play_concurrently(
    make_env: Callable[[], gym.Env],
    make_agent: Callable[[ScenarioPack, int], Agent],
    *,
    episodes: int,
    parallel: int,
    seed: int = 0,
    split: str = "test",
    domain: str = "",
    agent_name: str | None = None,
) -> list[dict[str, Any]]:
    """Play ``episodes`` episodes on ``parallel`` envs at once, each env in its own thread, so
    requests to a shared :class:`BatchingClient` arrive together and are batched.

    Episode ``i`` uses env seed ``seed + i``, a fresh agent ``make_agent(pack, seed + i)`` and
    the same persona as ``ptod rollout`` would (:func:`ptod_env.evaluation.episode_options`),
    whichever thread plays it, so what is played does not depend on ``parallel``. Records come
    back in episode order, each with its wall-clock ``seconds``.
    """
    from ptod_env.evaluation import episode_options, run_episode

    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        raise ValueError(f"parallel must be a positive int, got {parallel!r}")
    records: list[dict[str, Any] | None] = [None] * episodes
    next_episode = iter(range(episodes))
    claim = threading.Lock()

    def worker() -> None:
        env = make_env()
        try:
            while True:
                with claim:
                    i = next(next_episode, None)
                if i is None:
                    return
                start = time.perf_counter()
                record = run_episode(
                    env,
                    make_agent(env.unwrapped.pack, seed + i),
                    seed=seed + i,
                    options=episode_options(split, i),
                    domain=domain,
                    agent_name=agent_name,
                )
                records[i] = {**record, "seconds": time.perf_counter() - start}
        finally:
            env.close()

    with ThreadPoolExecutor(min(parallel, max(episodes, 1))) as pool:
        for future in [pool.submit(worker) for _ in range(min(parallel, max(episodes, 1)))]:
            future.result()
    return [r for r in records if r is not None]
