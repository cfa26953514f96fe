"""Fixtures for the backend tests: a scripted OpenAI-compatible server on loopback and a tiny
random chat model built on the fly (no downloads)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeChatServer:
    """A chat-completions server on 127.0.0.1 that answers from a script.

    Each request takes the next step of ``script`` (the last one repeats): ``("reply", text)``
    answers with ``text`` as the assistant's content, ``("status", code)`` fails with that HTTP
    status, ``("sleep", seconds)`` answers only after a delay, ``("raw", body)`` sends a body that
    is not a chat completion.
    """

    def __init__(self):
        self.script: deque[tuple[str, object]] = deque([("reply", "{}")])
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                kind, value = server.script.popleft() if len(server.script) > 1 else server.script[0]
                if kind == "status":
                    self.send_response(value)
                    self.end_headers()
                    self.wfile.write(b"internal error")
                    return
                if kind == "sleep":
                    time.sleep(value)
                    value = "{}"
                payload = value if kind == "raw" else json.dumps({"choices": [{"message": {"content": value}}]})
                data = payload.encode() if isinstance(payload, str) else payload
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that timed out has closed its socket: nothing to report

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def play(self, *steps: tuple[str, object]) -> None:
        self.script = deque(steps)
        self.requests.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    server = FakeChatServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory):
    """A randomly initialised two-layer Llama with a word-level tokenizer and a chat template."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = [
        "hello",
        "yes",
        "no",
        "the",
        "commission",
        "kitchen",
        "is",
        "fine",
        "okay",
        "sign",
        "me",
        "up",
        "{",
        "}",
        ":",
        "utterance",
        "acts",
        "act",
        "topic",
    ]
    special = ["<unk>", "<pad>", "<|im_start|>", "<|im_end|>"]
    vocab = {token: i for i, token in enumerate(special + words)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>"
    )
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    fast.chat_template = (
        "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> {% endfor %}"
        "{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
    )
    config = transformers.LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["<|im_end|>"],
        bos_token_id=vocab["<|im_start|>"],
    )
    path = tmp_path_factory.mktemp("tiny-chat-model")
    transformers.LlamaForCausalLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path
