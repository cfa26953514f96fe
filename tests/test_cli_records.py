"""The ptod CLI (play, rollout) and episode records."""

import io
import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from ptod_env.cli import build_parser, main
from ptod_env.records import EpisodeWriter, read_episodes


def test_rollout_json_has_the_contract_figures(capsys):
    assert main(["rollout", "--agent", "oracle", "--episodes", "5", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    for key in ("success_rate", "mean_turns", "concern_discovery_rate", "resolution_rate", "outcomes"):
        assert key in metrics
    assert set(metrics["outcomes"]) == {"accepted", "rejected", "hung_up", "timeout"}
    assert metrics["episodes"] == 5 and metrics["split"] == "test"


def test_rollout_all_prints_a_table(capsys):
    assert main(["rollout", "--agent", "all", "--domain", "all", "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("merchant_recruitment") == 4 and out.count("courier_recruitment") == 4


def test_rollout_records_transcripts_with_privileged_info(tmp_path, capsys):
    path = tmp_path / "runs" / "oracle.jsonl"
    main(
        ["rollout", "--agent", "proactive", "--episodes", "4", "--domain", "courier_recruitment", "--record", str(path)]
    )
    records = read_episodes(path)
    assert len(records) == 4
    first = records[0]
    assert first["domain"] == "courier_recruitment" and first["agent"] == "proactive"
    assert first["concerns"] and "description" in first["concerns"][0]
    assert first["turns"][0]["transition"]["before"]["stage"] == "guarded"
    assert first["outcome"] in ("accepted", "rejected", "hung_up", "timeout")


@pytest.mark.parametrize(
    "argv",
    [
        ["rollout", "--agent", "genius"],
        ["rollout", "--agent", "oracle", "--episodes", "0"],
        ["rollout", "--agent", "oracle", "--domain", "space"],
        ["rollout", "--agent", "oracle", "--split", "dev"],
        ["rollout", "--agent", "all", "--record", "x.jsonl"],
    ],
)
def test_rollout_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code != 0


def test_play_reveals_the_hidden_state(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello, this is Alex from FeastFleet. What is holding you back?\n"))
    assert main(["play", "--seed", "3", "--reveal"]) == 0
    out = capsys.readouterr().out
    assert "### Call brief" in out and "[stage " in out and "### Hidden concerns (privileged)" in out


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "episodes.jsonl"
    with EpisodeWriter(path, mode="w") as writer:
        writer.write({"turns": [], "outcome": "accepted"})
        writer.write({"turns": [], "outcome": "rejected"})
    with path.open("a") as f:
        f.write('{"turns": [], "outc')
    with pytest.warns(RuntimeWarning, match="torn last line"):
        records = read_episodes(path)
    assert [r["outcome"] for r in records] == ["accepted", "rejected"]


def test_corruption_before_the_last_line_is_an_error(tmp_path):
    path = tmp_path / "episodes.jsonl"
    path.write_text('{"turns": []}\nnot json\n{"turns": []}\n')
    with pytest.raises(ValueError, match=r"episodes.jsonl:2"):
        read_episodes(path)
    path.write_text('["a list"]\n')
    with pytest.raises(ValueError, match="not an episode record"):
        read_episodes(path)


def test_a_killed_rollout_keeps_every_finished_episode(tmp_path):
    path = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "ptod_env.cli", "rollout", "--agent", "oracle", "--episodes", "100000"]
    proc = subprocess.Popen([*command, "--record", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (path.exists() and path.read_bytes().count(b"\n") >= 3):
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the kill may tear the last line
        records = read_episodes(path)
    assert len(records) >= 3 and all(r["outcome"] for r in records)


def test_rollout_plays_a_pack_file(example_pack, capsys):
    assert main(["rollout", "--agent", "all", "--scenario", example_pack, "--episodes", "30", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["domain"] for r in rows] == ["example_solar"] * 4
    rates = {r["agent"]: r["success_rate"] for r in rows}
    assert rates["oracle"] > rates["passive"] and rates["proactive"] > rates["passive"]


def test_play_and_every_episode_command_take_a_pack_file(example_pack, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hi, this is Sam from BrightRoof Solar.\n"))
    assert main(["play", "--scenario", example_pack, "--seed", "1"]) == 0
    assert "BrightRoof" in capsys.readouterr().out
    parser = build_parser()
    for command in (["eval", "--policy", "some/dir"], ["simcheck"], ["rollout", "--agent", "oracle"]):
        args = parser.parse_args([*command, "--scenario", example_pack])
        assert args.domain == "example_solar" and args.scenario == example_pack


def test_simcheck_runs_a_pack_file(example_pack, capsys):
    assert main(["simcheck", "--scenario", example_pack, "--episodes", "3", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["domain"] == "example_solar" and row["unheld_concern_rate"] == 0.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "/no/such/pack.yaml"], "no such scenario file"),
        (["--domain", "courier_recruitment", "--scenario", "pack.yaml"], "not allowed with argument"),
    ],
)
def test_bad_pack_arguments_exit_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["rollout", "--agent", "oracle", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_broken_pack_file_names_field_and_fix(example_pack, tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text(
        Path(example_pack)
        .read_text(encoding="utf-8")
        .replace("patience:\n    range: [9, 15]", "patience:\n    range: [0, 0]")
    )
    with pytest.raises(SystemExit):
        main(["rollout", "--agent", "oracle", "--scenario", str(path)])
    assert "field 'traits.patience'" in capsys.readouterr().err


def test_progress_bars_in_a_log_file_do_not_repeat(monkeypatch):
    import itertools

    import tqdm.std

    from ptod_env.evaluation import evaluate

    # A clock that advances one second per reading: every update is "due" for a terminal bar
    # (10 redraws a second), which is what a long run looks like to tqdm.
    ticks = itertools.count()
    monkeypatch.setattr(tqdm.std, "time", lambda: float(next(ticks)))
    log = io.StringIO()  # not a terminal, like `ptod rollout ... 2> run.log`
    monkeypatch.setattr(sys, "stderr", log)
    evaluate("proactive", episodes=60, progress=True)
    draws = [chunk for chunk in log.getvalue().split("\r") if chunk.strip()]
    assert "60/60" in draws[-1]
    assert len(draws) <= 5, draws  # once a (fake) minute, not once per episode
