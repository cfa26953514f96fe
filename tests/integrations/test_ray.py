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


@pytest.mark.slow  # starts Ray and its actors: ~15-40 s on 2 shared cores
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


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    pytest.importorskip("transformers")
    from ptod_agents.policy import Policy
    from ptod_agents.presets import Preset, build_model, build_tokenizer, tokenizer_corpus

    preset = Preset(vocab_size=512, hidden_size=32, layers=1, heads=2, intermediate_size=64)
    tokenizer = build_tokenizer(preset, tokenizer_corpus())
    return Policy(build_model(preset, tokenizer, seed=0), tokenizer)


def policy_job(policy):
    from ptod_agents.evaluate import PolicyRollout

    return PolicyRollout(policy, "merchant_recruitment", "test", 2, "student", "true", 5, 1, 8, 1.0)


def test_a_policy_chunk_replays_alone_whatever_ran_before(tiny_policy):
    import torch

    first = policy_job(tiny_policy)([1])["episodes"]
    torch.manual_seed(1234)  # whatever the caller's RNG holds
    job = policy_job(tiny_policy)
    job([0])  # and whatever this job played before
    assert job([1])["episodes"] == first
    assert [user for user, _ in first] == [1, 1]
    assert first[0][1]["turns"] != first[1][1]["turns"]  # two independent samples of the user


@pytest.mark.slow
def test_eval_on_ray_workers_matches_the_local_run(tiny_policy):
    pytest.importorskip("ray")
    from ptod_agents.evaluate import evaluate_policy

    runs = [
        evaluate_policy(tiny_policy, episodes=6, samples=2, batch_size=4, max_new_tokens=8, progress=False, workers=w)
        for w in (1, 2)
    ]
    assert runs[0] == runs[1]
