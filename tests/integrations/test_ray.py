"""``--workers N`` spreads users over Ray actors and gives exactly the local results."""

import json

import pytest

from ptod_env.cli import main
from ptod_env.distributed import map_chunks, user_chunks
from ptod_env.evaluation import ReferenceRollout


def test_local_default_needs_no_ray(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # importing ray now fails
    job = ReferenceRollout("proactive", "merchant_recruitment", "test", 0)
    assert [len(c) for c in map_chunks(job, user_chunks(5, 2), workers=1)] == [2, 2, 1]
    with pytest.raises(ImportError, match=r"pip install -e '.\[ray\]'"):
        next(map_chunks(job, user_chunks(5, 2), workers=2))


def test_episodes_do_not_depend_on_how_users_are_chunked():
    job = ReferenceRollout("passive", "courier_recruitment", "test", 3)
    whole = job(list(range(12)))
    pieces = [rec for chunk in map_chunks(job, user_chunks(12, 5)) for rec in chunk]
    assert pieces == whole
    assert job([7]) == [whole[7]]  # any user replays alone


def test_rollout_on_ray_workers_matches_the_local_run(tmp_path, capsys):
    pytest.importorskip("ray")
    results = {}
    for workers in (1, 3):
        record = tmp_path / f"w{workers}.jsonl"
        args = ["rollout", "--agent", "proactive", "--episodes", "30", "--json", "--record", str(record)]
        assert main([*args, "--workers", str(workers)]) == 0
        results[workers] = (json.loads(capsys.readouterr().out), record.read_text())
    assert results[3] == results[1]
    assert results[1][0]["episodes"] == 30
