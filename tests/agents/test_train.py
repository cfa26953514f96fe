import json

import pytest
import torch

from ptod_agents import train as train_module
from ptod_agents.config import SIAVPOConfig
from ptod_agents.evaluate import pass_at, pass_at_k
from ptod_agents.policy import Policy
from ptod_agents.train import RunExistsError, train

CONFIG = {"users_per_update": 1, "group_size": 2, "max_new_tokens": 5, "minibatch_turns": 8, "updates": 3}


def _metrics(path):
    rows = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if not k.startswith("perf/")} for row in rows]


def test_killed_run_resumes_with_nothing_lost(model_dir, tmp_path, monkeypatch):
    config = SIAVPOConfig(**CONFIG, eval_episodes=2, teacher="ema")
    straight = tmp_path / "straight"
    train("siavpo", straight, config=config, init=model_dir, seed=5, progress=False)

    killed = tmp_path / "killed"
    real_step = train_module.OnPolicyLearner.step

    def dies_at_update_2(self, update):
        if update == 2:
            raise KeyboardInterrupt  # stands in for a kill after update 1's checkpoint
        return real_step(self, update)

    monkeypatch.setattr(train_module.OnPolicyLearner, "step", dies_at_update_2)
    with pytest.raises(KeyboardInterrupt):
        train("siavpo", killed, config=config, init=model_dir, seed=5, progress=False)
    # A half-written metrics line from the kill must not survive the resume.
    with (killed / "metrics.jsonl").open("a") as f:
        f.write('{"update": 2, "charts/succ')
    monkeypatch.setattr(train_module.OnPolicyLearner, "step", real_step)
    with pytest.raises(RunExistsError):
        train("siavpo", killed, config=config, init=model_dir, seed=5, progress=False)
    train("siavpo", killed, init=model_dir, resume=True, progress=False)

    assert _metrics(killed) == _metrics(straight)
    a, b = Policy.load(straight / "policy"), Policy.load(killed / "policy")
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    figures = json.loads((killed / "eval.json").read_text())
    assert figures["split"] == "test" and "pass@1" in figures
    assert json.loads((straight / "eval.json").read_text()) == figures


def test_pass_at_k():
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 4, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 2, 3) == 1.0
    assert pass_at([0, 2], 4, (1, 2, 4, 8)) == pytest.approx({"pass@1": 0.25, "pass@2": 5 / 12, "pass@4": 0.5})
    with pytest.raises(ValueError):
        pass_at_k(2, 3, 1)
