"""Learn-to-Ask: learn proactive questions offline, from logged dialogues only (no simulator).

ptod rollout --agent proactive --split train --episodes 150 --record logs/proactive.jsonl
python examples/train_learn2ask.py logs/proactive.jsonl
"""

import sys

from ptod_agents.config import LearnToAskConfig
from ptod_agents.train import train

log = sys.argv[1] if len(sys.argv) > 1 else ""  # empty: record the proactive agent's dialogues first
config = LearnToAskConfig(data=log, updates=10, contexts_per_update=8, group_size=4)
figures = train("learn2ask", "runs/example/learn2ask", config=config, init="runs/example/base", resume=True)
print(figures["success_rate"], figures["concern_discovery_rate"])
