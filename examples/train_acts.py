"""Train the act-level policy: a behaviour-cloned base, then SI-AVPO, evaluated in both views.

    python examples/train_acts.py            # about a minute on 2 idle CPU cores

The act-level policy (``ptod_agents.acts.ActPolicy``) is a small network over
``wrappers.DialogueActs``; the same learners that train language models train it, and a call
costs milliseconds, so it is where the project tests its claims (docs/RESULTS.md).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ptod_agents.config import SFTConfig, SIAVPOConfig
from ptod_agents.evaluate import evaluate_policy
from ptod_agents.train import load_policy, train

with tempfile.TemporaryDirectory() as tmp:
    base, run = Path(tmp) / "base", Path(tmp) / "siavpo"
    # Passive calls in the student view, oracle calls in the teacher view: the conservative base.
    train("sft", base, config=SFTConfig(updates=800, batch_size=64, lr=3e-3, eval_episodes=0), policy_kind="acts")
    config = SIAVPOConfig(updates=30, users_per_update=8, group_size=6, lr=1e-3, eval_episodes=0)
    train("siavpo", run, config=config, init=base)
    for name, path in (("base", base), ("SI-AVPO", run)):
        policy, _ = load_policy(path)
        for view in ("student", "teacher"):
            figures = evaluate_policy(policy, episodes=300, view=view, progress=False)
            print(f"{name:8} {view:8} success {figures['success_rate']:.3f}  turns {figures['mean_turns']:.1f}")
