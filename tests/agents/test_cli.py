import json
import subprocess
import sys

import pytest

from ptod_agents.cli import parse_overrides
from ptod_agents.config import SFTConfig, SIAVPOConfig
from ptod_env.cli import main


def test_ptod_help_does_not_import_torch():
    code = "import sys, ptod_env.cli as c; c.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_parse_overrides_types_values():
    values = parse_overrides(SIAVPOConfig, ["lam=1.5", "teacher=ema", "group_size=3"])
    assert values == {"lam": 1.5, "teacher": "ema", "group_size": 3}
    assert parse_overrides(SFTConfig, ["data=a.jsonl:student,b.jsonl:teacher"]) == {
        "data": ("a.jsonl:student", "b.jsonl:teacher")
    }
    with pytest.raises(SystemExit, match="FIELD=VALUE"):
        parse_overrides(SIAVPOConfig, ["nope=1"])


def test_train_then_eval_from_the_command_line(model_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--algo", "grpo", "--out", str(out), "--init", str(model_dir), "--updates", "1", "--quiet"]
    args += ["--set", "users_per_update=1", "--set", "group_size=2", "--set", "max_new_tokens=4"]
    args += ["--set", "eval_episodes=2"]
    assert main(args) == 0
    assert (out / "eval.json").exists() and (out / "metrics.jsonl").exists()
    capsys.readouterr()
    eval_args = ["eval", "--policy", str(out), "--episodes", "2", "--samples", "2", "--json", "--view", "teacher"]
    assert main([*eval_args, "--teacher-concerns", "shuffled", "--understanding", "lexical"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["episodes"] == 4 and figures["view"] == "teacher" and set(figures) >= {"pass@1", "pass@2"}
    # Any Hugging Face chat-model directory works too (here the bare test model, full transcript).
    assert main(["eval", "--policy", str(model_dir), "--episodes", "1", "--max-new-tokens", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["agent"] == "policy"
