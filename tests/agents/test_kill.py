"""A real SIGKILL in the middle of ``ptod train``, then ``--resume`` (slow: two subprocesses)."""

import json
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

ARGS = ["--algo", "grpo", "--updates", "6", "--quiet", "--set", "users_per_update=1", "--set", "group_size=2"]
ARGS += ["--set", "max_new_tokens=5", "--set", "eval_episodes=0", "--seed", "3"]


def _ptod(*args):
    return [sys.executable, "-m", "ptod_env.cli", *args]


def _rows(path):
    lines = (path / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if not k.startswith("perf/")} for line in lines]


def test_sigkill_then_resume_matches_an_uninterrupted_run(model_dir, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(_ptod("train", "--out", str(straight), "--init", str(model_dir), *ARGS), check=True)
    process = subprocess.Popen(_ptod("train", "--out", str(killed), "--init", str(model_dir), *ARGS))
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "checkpoints" / "LATEST").exists():
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    subprocess.run(_ptod("train", "--out", str(killed), "--init", str(model_dir), "--resume", *ARGS), check=True)
    assert _rows(killed) == _rows(straight)
