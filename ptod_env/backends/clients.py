"""Chat-completion clients: one small interface, three implementations.

A :class:`ChatClient` turns chat messages (``{"role": ..., "content": ...}`` dicts) into the
model's reply text, one conversation at a time (:meth:`~ChatClient.complete`) or many at once
(:meth:`~ChatClient.complete_batch`). Every failure a caller should survive (transport, HTTP
status, timeout, a response without a reply) raises :class:`ClientError`, so the LLM backends
can count it and fall back; anything else is a programmer error and propagates.

- :class:`OpenAIChatClient`: any OpenAI-compatible ``/chat/completions`` server, over stdlib HTTP.
- :class:`TransformersChatClient`: a local transformers causal LM directory, batched ``generate``.
- :class:`VLLMChatClient`: a vLLM engine in-process (optional extra ``ptod[vllm]``), batched.

:func:`make_client` builds one from a plain dict, which is what ``speech_kwargs`` and
``understanding_kwargs`` carry.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

Message = Mapping[str, str]
Conversation = Sequence[Message]
JsonSchema = Mapping[str, Any]


class ClientError(RuntimeError):
    """A request to a language model failed; the caller may retry or fall back."""


class ClientTimeout(ClientError):
    """The model did not answer within the client's ``timeout``."""


@runtime_checkable
class ChatClient(Protocol):
    """Chat completions: messages in, the assistant's reply text out.

    ``json_schema``, when given, asks the server to constrain the reply to that JSON schema where
    it can (OpenAI ``response_format``, vLLM structured outputs); callers still validate the reply,
    because not every server honours it. Both methods raise :class:`ClientError` on failure.
    """

    def complete(
        self,
        messages: Conversation,
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> str: ...

    def complete_batch(
        self,
        conversations: Sequence[Conversation],
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> list[str]: ...


def _check_generation(max_tokens: int, temperature: float) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")


def _check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class OpenAIChatClient:
    """An OpenAI-compatible chat-completions server (OpenAI, vLLM ``serve``, llama.cpp, TGI...).

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``; ``/chat/completions`` is appended.
        model: the model name the server expects.
        api_key_env: the environment variable holding the API key; unset means no key is sent
            (local servers need none). The key itself is never an argument, so it never lands
            in a config file or a record.
        timeout: seconds to wait for one response.
        response_format: send ``json_schema`` as ``response_format`` (turn off for servers that
            reject the field).
        max_workers: concurrent requests in :meth:`complete_batch`; the server does the batching.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 30.0,
        response_format: bool = True,
        max_workers: int = 8,
    ):
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', got {base_url!r}")
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be the server's model name, got {model!r}")
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive int, got {max_workers!r}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = _check_timeout(timeout)
        self.response_format = response_format
        self.max_workers = max_workers

    def complete(
        self,
        messages: Conversation,
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> str:
        _check_generation(max_tokens, temperature)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if json_schema is not None and self.response_format:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": dict(json_schema)},
            }
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode("utf-8", "replace")
            raise ClientError(f"{self.url}: HTTP {exc.code}: {detail}") from exc
        except TimeoutError as exc:
            raise ClientTimeout(f"{self.url}: no response within {self.timeout}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise ClientTimeout(f"{self.url}: no response within {self.timeout}s") from exc
            raise ClientError(f"{self.url}: {exc.reason}") from exc
        except OSError as exc:
            raise ClientError(f"{self.url}: {exc}") from exc
        try:
            content = json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ClientError(f"{self.url}: not a chat-completions response: {raw[:200]!r}") from exc
        if not isinstance(content, str):
            raise ClientError(f"{self.url}: the reply has no text content (got {content!r:.80})")
        return content

    def complete_batch(
        self,
        conversations: Sequence[Conversation],
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> list[str]:
        with ThreadPoolExecutor(min(self.max_workers, max(len(conversations), 1))) as pool:
            futures = [
                pool.submit(self.complete, c, max_tokens=max_tokens, temperature=temperature, json_schema=json_schema)
                for c in conversations
            ]
            return [f.result() for f in futures]


class _LocalBatchClient:
    """A client whose model runs in this process: one conversation is a batch of one."""

    def complete(
        self,
        messages: Conversation,
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> str:
        return self.complete_batch([messages], max_tokens=max_tokens, temperature=temperature, json_schema=json_schema)[
            0
        ]

    def complete_batch(
        self,
        conversations: Sequence[Conversation],
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> list[str]:
        raise NotImplementedError


class TransformersChatClient(_LocalBatchClient):
    """A local transformers causal LM with a chat template (a directory from ``save_pretrained``,
    such as the one ``ptod prepare-model smollm2`` writes). Nothing is downloaded.

    Batches are left-padded and generated together. ``json_schema`` is not enforced (transformers
    has no constrained decoding); the backends validate the reply instead. ``timeout`` is passed
    to ``generate`` as ``max_time``: a generation that hits it is cut and reported as
    :class:`ClientTimeout`.

    Args:
        path: the model directory.
        device: a torch device string.
        timeout: seconds one batch may take.
        threads: torch CPU threads (``None`` keeps torch's default).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, device: str = "cpu", timeout: float = 60.0, threads: int | None = None
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not os.path.isdir(path):
            raise FileNotFoundError(f"{path}: no model directory; run 'ptod prepare-model smollm2' or pass a local dir")
        self.timeout = _check_timeout(timeout)
        if threads is not None:
            torch.set_num_threads(int(threads))
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.chat_template is None:
            raise ValueError(f"{path}: the tokenizer has no chat template; a chat model is needed")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(path).to(device).eval()
        self.device = device
        self._torch = torch
        # One generate at a time: the model is shared by every env that holds this client.
        self._lock = threading.Lock()

    def complete_batch(
        self,
        conversations: Sequence[Conversation],
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> list[str]:
        _check_generation(max_tokens, temperature)
        if not conversations:
            return []
        prompts = [
            self.tokenizer.apply_chat_template([dict(m) for m in c], add_generation_prompt=True, tokenize=False)
            for c in conversations
        ]
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        sampling = {"do_sample": True, "temperature": float(temperature)} if temperature > 0 else {"do_sample": False}
        with self._lock, self._torch.inference_mode():
            start = time.perf_counter()
            out = self.model.generate(
                **batch,
                max_new_tokens=max_tokens,
                max_time=self.timeout,
                pad_token_id=self.tokenizer.pad_token_id,
                **sampling,
            )
            elapsed = time.perf_counter() - start
        if elapsed >= self.timeout:
            raise ClientTimeout(f"generation took {elapsed:.1f}s, over the {self.timeout}s timeout")
        new_tokens = out[:, batch["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]


class VLLMChatClient(_LocalBatchClient):
    """A vLLM engine in this process (``pip install 'ptod[vllm]'``, a GPU). Every batch goes to
    ``LLM.chat`` in one call, so vLLM schedules it; ``json_schema`` becomes vLLM structured
    outputs, so replies are valid JSON by construction.

    Args:
        model: a model name or local directory vLLM can load.
        **engine_kwargs: passed to ``vllm.LLM`` (``gpu_memory_utilization``, ``max_model_len``...).
    """

    def __init__(self, model: str, **engine_kwargs: Any):
        from vllm import LLM

        self.llm = LLM(model=model, **engine_kwargs)

    def complete_batch(
        self,
        conversations: Sequence[Conversation],
        *,
        max_tokens: int = 128,
        temperature: float = 0.0,
        json_schema: JsonSchema | None = None,
    ) -> list[str]:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        _check_generation(max_tokens, temperature)
        structured = StructuredOutputsParams(json=dict(json_schema)) if json_schema is not None else None
        params = SamplingParams(max_tokens=max_tokens, temperature=temperature, structured_outputs=structured)
        try:
            outputs = self.llm.chat([[dict(m) for m in c] for c in conversations], params, use_tqdm=False)
        except (RuntimeError, ValueError) as exc:
            raise ClientError(f"vLLM generation failed: {exc}") from exc
        return [o.outputs[0].text.strip() for o in outputs]


CLIENTS = {"openai": OpenAIChatClient, "transformers": TransformersChatClient, "vllm": VLLMChatClient}
"""Client kinds by name, as ``make_client({"kind": ...})`` accepts them."""


def make_client(spec: ChatClient | Mapping[str, Any]) -> ChatClient:
    """A client from a spec dict or an existing client (returned as is).

    The dict names the kind and its arguments, e.g. ``{"kind": "openai", "base_url":
    "http://127.0.0.1:8000/v1", "model": "m"}``, ``{"kind": "transformers", "path": DIR}`` or
    ``{"kind": "vllm", "model": NAME}``.
    """
    if isinstance(spec, ChatClient):
        return spec
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise TypeError(
            f"client must be a ChatClient or a dict with a 'kind' in {sorted(CLIENTS)}, got {type(spec).__name__}"
        )
    kwargs = dict(spec)
    kind = kwargs.pop("kind")
    if kind not in CLIENTS:
        raise ValueError(f"unknown client kind {kind!r}; choose from {sorted(CLIENTS)}")
    return CLIENTS[kind](**kwargs)
