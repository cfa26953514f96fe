"""The training entry point: seeding, the update loop, checkpoints, metrics and the final eval.

A run directory holds::

    config.json         algo, seed, init and every config field
    metrics.jsonl       one line per update: {"update": i, "charts/...": ..., "losses/...": ..., "perf/...": ...}
    checkpoints/        update-NNNNNN/ (policy files + trainer.pt) and LATEST naming the newest
    data/               dialogues the offline learners recorded
    policy/             the final policy (a Hugging Face model directory) and ptod.json
    eval.json           test-split figures of the final policy (student view)

Checkpoints are written to a fresh directory, then ``LATEST`` is replaced atomically, so a kill
at any moment leaves a complete checkpoint. ``resume=True`` restores the policy, the optimizer,
the learner's RNG and torch's RNG, drops metric lines written after that checkpoint, and goes on
from the next update: the resumed run takes the same path as one that was never interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ptod_agents.acts import ActPolicy
from ptod_agents.config import CONFIGS, LearnToAskConfig, OnPolicyConfig, SFTConfig, TrainConfig
from ptod_agents.evaluate import evaluate_policy
from ptod_agents.offline import LearnToAskLearner, SFTLearner
from ptod_agents.onpolicy import OnPolicyLearner
from ptod_agents.policy import Policy
from ptod_agents.presets import preset_dir
from ptod_env.evaluation import progress_bar

POLICY_META = "ptod.json"


class RunExistsError(FileExistsError):
    """The output directory already holds a run; pass ``resume=True`` or choose another directory."""


def seed_everything(seed: int) -> np.random.Generator:
    """The one seeding call: seeds torch's global RNG (sampling, init) and returns the learner's
    numpy generator (users, minibatch order)."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def make_learner(policy: Policy, config: TrainConfig, rng: np.random.Generator, workdir: Path):
    """The learner for ``config``'s class."""
    if isinstance(config, OnPolicyConfig):
        return OnPolicyLearner(policy, config, rng)
    if isinstance(config, SFTConfig):
        return SFTLearner(policy, config, rng, workdir)
    if isinstance(config, LearnToAskConfig):
        return LearnToAskLearner(policy, config, rng, workdir)
    raise TypeError(f"no learner for {type(config).__name__}")


POLICY_KINDS = ("lm", "acts")
"""``lm``: a transformers causal LM on the text env; ``acts``: :class:`ptod_agents.acts.ActPolicy`."""


def load_policy(path: str | os.PathLike[str]) -> tuple[Policy | ActPolicy, dict[str, Any]]:
    """A policy from a run directory (its ``policy/``), an act-policy directory or any Hugging Face
    chat-model directory, with the settings it was trained with (``{}`` for a plain model)."""
    path = Path(path)
    if (path / "policy").is_dir():
        path = path / "policy"
    meta_file = path / POLICY_META
    meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
    if ActPolicy.saved_in(path):
        return ActPolicy.load(path), meta
    return Policy.load(path), meta


def new_policy(kind: str, preset: str, domain: str, cache_dir: str | os.PathLike[str] | None, seed: int):
    """A fresh policy of ``kind``: the preset's model, or an act policy for ``domain``."""
    if kind == "acts":
        return ActPolicy(domain, seed=seed)
    if kind == "lm":
        return Policy.load(preset_dir(preset, cache_dir))
    raise ValueError(f"policy kind must be one of {POLICY_KINDS}, got {kind!r}")


def save_policy(policy: Policy | ActPolicy, path: Path, config: TrainConfig, algo: str) -> None:
    policy.save(path)
    meta = {"algo": algo, "history_turns": config.history_turns, "max_new_tokens": config.max_new_tokens}
    (path / POLICY_META).write_text(json.dumps(meta, indent=1))


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def _restore_config(algo: str, saved: dict[str, Any]) -> TrainConfig:
    from ptod_env.shaping import PotentialWeights

    values = dict(saved)
    if "potential" in values:
        values["potential"] = PotentialWeights(**values["potential"])
    if "data" in values and isinstance(values["data"], list):
        values["data"] = tuple(values["data"])
    return CONFIGS[algo](**values)


def _latest_checkpoint(out: Path) -> Path | None:
    pointer = out / "checkpoints" / "LATEST"
    return out / "checkpoints" / pointer.read_text().strip() if pointer.exists() else None


def _save_checkpoint(out: Path, update: int, policy: Policy | ActPolicy, learner) -> None:
    root = out / "checkpoints"
    name = f"update-{update:06d}"
    target = root / name
    if target.exists():
        shutil.rmtree(target)
    policy.save(target)
    torch.save(
        {"update": update, "learner": learner.state_dict(), "torch_rng": torch.get_rng_state()}, target / "trainer.pt"
    )
    pointer = root / "LATEST.tmp"
    pointer.write_text(name)
    os.replace(pointer, root / "LATEST")
    for old in root.glob("update-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def _append_metrics(out: Path, row: dict[str, Any]) -> None:
    with (out / "metrics.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _truncate_metrics(out: Path, last_update: int) -> None:
    path = out / "metrics.jsonl"
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from the kill
        if row.get("update", -1) <= last_update:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def train(
    algo: str,
    out: str | os.PathLike[str],
    *,
    config: TrainConfig | None = None,
    init: str | os.PathLike[str] | None = None,
    preset: str = "tiny-cpu",
    policy_kind: str = "lm",
    seed: int = 0,
    resume: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``algo`` into run directory ``out`` and return the final test-split figures.

    Args:
        algo: a key of :data:`ptod_agents.config.CONFIGS`.
        out: the run directory (see the module docstring).
        config: the learner's settings (default: the algo's defaults).
        init: starting policy (a run directory or a model directory); default: ``preset``'s
            fresh model.
        preset: the preset built when ``init`` is not given (``policy_kind="lm"``).
        policy_kind: ``lm`` or ``acts`` (an :class:`ptod_agents.acts.ActPolicy` over
            ``DialogueActs``), the fresh policy built when ``init`` is not given.
        seed: the run's seed.
        resume: continue from ``out``'s latest checkpoint (starts fresh if there is none).
        cache_dir: where presets are cached.
        progress: show a progress bar.
    Raises:
        RunExistsError: ``out`` already holds a run and ``resume`` is False.
    """
    if algo not in CONFIGS:
        raise ValueError(f"unknown algo {algo!r}; choose from {sorted(CONFIGS)}")
    out = Path(out)
    checkpoint = _latest_checkpoint(out) if resume else None
    if not resume and (out / "config.json").exists():
        raise RunExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if checkpoint is not None:
        saved = json.loads((out / "config.json").read_text())
        algo, seed, config = saved["algo"], saved["seed"], _restore_config(saved["algo"], saved["config"])
    config = config or CONFIGS[algo]()
    if not isinstance(config, CONFIGS[algo]):
        raise TypeError(f"algo {algo!r} needs a {CONFIGS[algo].__name__}, got {type(config).__name__}")
    out.mkdir(parents=True, exist_ok=True)
    rng = seed_everything(seed)
    if checkpoint is None:
        (out / "config.json").write_text(
            json.dumps(
                {
                    "algo": algo,
                    "seed": seed,
                    "init": str(init) if init else None,
                    "preset": preset,
                    "policy_kind": policy_kind,
                    "config": _config_dict(config),
                },
                indent=1,
                default=dataclasses.asdict,
            )
        )
        (out / "metrics.jsonl").unlink(missing_ok=True)
        policy = load_policy(init)[0] if init else new_policy(policy_kind, preset, config.domain, cache_dir, seed)
        first = 0
    else:
        policy = load_policy(checkpoint)[0]
        state = torch.load(checkpoint / "trainer.pt", weights_only=False)
        first = state["update"] + 1
        _truncate_metrics(out, state["update"])
    learner = make_learner(policy, config, rng, out / "data")
    if checkpoint is not None:
        learner.load_state_dict(state["learner"])
        torch.set_rng_state(state["torch_rng"])
    for update in progress_bar(
        range(first, config.updates),
        enabled=progress,
        desc=f"{algo} {out.name}",
        initial=first,
        total=config.updates,
        unit="update",
    ):
        metrics = learner.step(update)
        _append_metrics(out, {"update": update, **metrics})
        if (update + 1) % config.save_every == 0 or update + 1 == config.updates:
            _save_checkpoint(out, update, policy, learner)
    save_policy(policy, out / "policy", config, algo)
    figures = {}
    if config.eval_episodes:
        figures = evaluate_policy(
            policy,
            domain=config.domain,
            episodes=config.eval_episodes,
            history_turns=config.history_turns,
            max_new_tokens=config.max_new_tokens,
            progress=progress,
            name=algo,
        )
        (out / "eval.json").write_text(json.dumps(figures, indent=1))
    return figures
