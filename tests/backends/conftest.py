"""Fixtures for the backend tests: a tiny random chat model built on the fly (no downloads). The
scripted OpenAI-compatible server (``chat_server``) lives in ``tests/conftest.py``."""

from __future__ import annotations

import pytest


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
