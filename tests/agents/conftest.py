"""A very small model (one layer, width 32) with the packs' tokenizer, built once per session."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch

from ptod_agents.policy import Policy
from ptod_agents.presets import Preset, build_model, build_tokenizer, tokenizer_corpus

torch.set_num_threads(1)
TEST_PRESET = Preset(vocab_size=512, hidden_size=32, layers=1, heads=2, intermediate_size=64, max_positions=1024)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A saved Hugging Face model directory of the test preset."""
    path = tmp_path_factory.mktemp("tiny-model")
    tokenizer = build_tokenizer(TEST_PRESET, tokenizer_corpus())
    model = build_model(TEST_PRESET, tokenizer, seed=0)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def policy(model_dir):
    """A fresh policy loaded from :func:`model_dir` (tests may train it)."""
    torch.manual_seed(0)
    return Policy.load(model_dir)
