"""Model presets: small causal LMs built from a config, with a tokenizer trained on the packs' text.

``tiny-cpu`` is a ~2M-parameter Llama-style model whose byte-level BPE tokenizer is trained on
every shipped scenario pack's sentences (:meth:`ScenarioPack.corpus`) plus the view headers, so a
pack line is a handful of tokens and a whole prompt fits in a few hundred. Nothing is downloaded:
the tokenizer is trained in about a second and the weights are a seeded random init. Both are
cached on disk under a key that hashes the corpus and the settings, so a changed pack makes a new
tokenizer rather than silently reusing a stale one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from ptod_env.scenario import load_scenario, shipped_scenarios
from ptod_env.views import AGENT, BRIEF_HEADER, CONCERNS_HEADER, CONVERSATION_HEADER, USER

END_OF_TURN = "<|im_end|>"
START_OF_TURN = "<|im_start|>"
PAD = "<|pad|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    + START_OF_TURN
    + "{{ message['role'] }}\n{{ message['content'] }}"
    + END_OF_TURN
    # The newline after the end-of-turn token is a separate token, so a completion is exactly the
    # utterance plus END_OF_TURN and generation can stop on it.
    + "\n{% endfor %}{% if add_generation_prompt %}"
    + START_OF_TURN
    + "assistant\n{% endif %}"
)


@dataclass(frozen=True)
class Preset:
    """A model built from a config, with a tokenizer trained on the scenario packs.

    Attributes:
        vocab_size: BPE vocabulary size, special tokens included.
        hidden_size: model width.
        layers: transformer blocks.
        heads: attention heads (``hidden_size`` must divide evenly).
        intermediate_size: MLP width.
        max_positions: longest sequence the model accepts (prompt plus completion).
    """

    vocab_size: int = 2048
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 384
    max_positions: int = 1024

    def __post_init__(self) -> None:
        for name in ("vocab_size", "hidden_size", "layers", "heads", "intermediate_size", "max_positions"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Preset.{name} must be a positive int, got {value!r}")
        if self.hidden_size % self.heads:
            raise ValueError(f"Preset.hidden_size ({self.hidden_size}) must be a multiple of heads ({self.heads})")
        if self.vocab_size < 300:
            raise ValueError(f"Preset.vocab_size must be >= 300 (256 bytes + specials + merges), got {self.vocab_size}")


PRESETS = {"tiny-cpu": Preset()}
"""Named presets for ``--preset``."""


def default_cache_dir() -> Path:
    """``$PTOD_CACHE`` or ``~/.cache/ptod``."""
    return Path(os.environ.get("PTOD_CACHE", Path.home() / ".cache" / "ptod"))


def tokenizer_corpus() -> list[str]:
    """Every shipped pack's sentences plus the fixed words of the views."""
    texts = [BRIEF_HEADER, CONVERSATION_HEADER, CONCERNS_HEADER, f"{AGENT}:", f"{USER}:", "Observed traits:"]
    for name in shipped_scenarios():
        texts += load_scenario(name).corpus()
    return texts


def build_tokenizer(preset: Preset, corpus: list[str]):
    """Train a byte-level BPE tokenizer on ``corpus`` and wrap it with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=preset.vocab_size,
        special_tokens=[PAD, START_OF_TURN, END_OF_TURN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token=PAD,
        eos_token=END_OF_TURN,
        bos_token=START_OF_TURN,
        chat_template=CHAT_TEMPLATE,
    )


def build_model(preset: Preset, tokenizer, seed: int = 0):
    """A randomly initialised Llama-style causal LM sized by ``preset`` (seeded, so reproducible)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.layers,
        num_attention_heads=preset.heads,
        num_key_value_heads=preset.heads,
        max_position_embeddings=preset.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    # A private RNG stream: building the preset must not shift the caller's seeded sampling.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def preset_dir(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Build (once) and return the directory holding preset ``name``'s tokenizer and initial model.

    The directory is a Hugging Face model directory (``config.json``, ``model.safetensors``,
    tokenizer files), so :meth:`ptod_agents.policy.Policy.load` and any transformers tool read it.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    preset = PRESETS[name]
    corpus = tokenizer_corpus()
    key = hashlib.sha256(json.dumps([asdict(preset), corpus, CHAT_TEMPLATE]).encode()).hexdigest()[:12]
    path = Path(cache_dir or default_cache_dir()) / f"{name}-{key}"
    if (path / "model.safetensors").exists():
        return path
    tokenizer = build_tokenizer(preset, corpus)
    model = build_model(preset, tokenizer)
    # Write to a temporary sibling and rename, so a killed build never leaves a half-written cache.
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if path.exists():  # another process finished first; its copy is identical
        shutil.rmtree(tmp)
    else:
        tmp.replace(path)
    return path
