"""Train SI-AVPO from a conservative base policy and compare it with the base, from Python.

    python examples/train_siavpo.py            # ~ a few minutes on 2 CPU cores

The same as ``ptod train --algo sft --out runs/example/base`` followed by
``ptod train --algo siavpo --init runs/example/base --out runs/example/siavpo``.
"""

from ptod_agents.config import SFTConfig, SIAVPOConfig
from ptod_agents.evaluate import evaluate_policy
from ptod_agents.train import load_policy, train
from ptod_env.cli import format_table

train("sft", "runs/example/base", config=SFTConfig(eval_episodes=0), resume=True)
config = SIAVPOConfig(updates=8, lam=0.5, divergence="reverse_kl", teacher="frozen", eval_episodes=0)
train("siavpo", "runs/example/siavpo", config=config, init="runs/example/base", resume=True)

rows = []
for name in ("base", "siavpo"):
    policy, meta = load_policy(f"runs/example/{name}")
    rows.append(evaluate_policy(policy, episodes=32, history_turns=meta["history_turns"], name=name))
print(format_table(rows))
