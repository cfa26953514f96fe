"""A served chat model as the salesperson (``ptod eval --policy openai:MODEL --base-url URL``):
against a scripted fake server for the faults, and against a real ``transformers serve``."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("torch")

from ptod_agents.evaluate import evaluate_policy
from ptod_agents.served import ServedPolicy, utterance_of
from ptod_env.backends.clients import OpenAIChatClient
from ptod_env.cli import main
from ptod_env.records import read_episodes
from ptod_env.views import CONCERNS_HEADER

LINE = "Hi, this is Alex from FeastFleet. What would you need to see before joining a delivery platform?"


def served(server, retries=0, timeout=5.0, **kwargs):
    return ServedPolicy(OpenAIChatClient(server.base_url, "m", timeout=timeout), retries=retries, backoff=0, **kwargs)


def test_utterance_is_the_salespersons_line_only():
    assert utterance_of(f"Agent: {LINE}\nUser: Sure, sign me up.") == LINE
    assert utterance_of(f"  {LINE}  ") == LINE
    assert utterance_of("User: I accept.") == ""
    assert utterance_of("Salesperson: Hello.\nMore words.") == "Hello.\nMore words."


@pytest.mark.parametrize("view", ["student", "teacher"])
def test_served_policy_plays_calls_with_pass_at_k_and_records(chat_server, tmp_path, view):
    chat_server.play(("reply", f"Agent: {LINE}\nUser: (the model goes on as the user)"))
    record = tmp_path / "served.jsonl"
    figures = evaluate_policy(
        served(chat_server), episodes=3, samples=2, view=view, record=str(record), progress=False, name="served"
    )
    episodes = read_episodes(record)
    assert len(episodes) == figures["episodes"] == 6
    assert {t["action"] for e in episodes for t in e["turns"]} == {LINE}
    assert set(figures) >= {"success_rate", "pass@1", "pass@2", "served"}
    stats = figures["served"]
    assert stats["turns"] == stats["requests"] == sum(len(e["turns"]) for e in episodes) == len(chat_server.requests)
    assert stats["failed_turns"] == stats["retries"] == 0
    assert stats["latency_per_turn_s"]["mean"] > 0
    prompts = [r["body"]["messages"][-1]["content"] for r in chat_server.requests]
    assert all((CONCERNS_HEADER in p) == (view == "teacher") for p in prompts)
    assert chat_server.requests[0]["body"]["messages"][0]["role"] == "system"


@pytest.mark.parametrize(
    ("fault", "counter"),
    [(("status", 500), "errors"), (("raw", "<html>not json</html>"), "errors"), (("sleep", 1.0), "timeouts")],
)
def test_a_failed_request_is_retried_and_counted(chat_server, fault, counter):
    chat_server.play(fault, ("reply", LINE))
    policy = served(chat_server, retries=1, timeout=0.3)
    [sample] = policy.sample(["### Conversation\nUser: Hello?"], max_new_tokens=20)
    assert policy.action(sample) == LINE
    stats = policy.stats()
    assert stats[counter] == 1 and stats["retries"] == 1 and stats["requests"] == 2
    assert stats["failed_turns"] == 0


def test_a_turn_whose_requests_all_fail_is_silence_and_the_call_goes_on(chat_server):
    chat_server.play(("status", 500))
    figures = evaluate_policy(served(chat_server, retries=2), episodes=2, progress=False)
    stats = figures["served"]
    assert stats["failed_turns"] == stats["turns"] > 0
    assert stats["requests"] == 3 * stats["turns"] and stats["errors"] == stats["requests"]
    assert stats["failure_rate"] == 1.0
    assert figures["episodes"] == 2 and figures["success_rate"] == 0.0  # silence does not sell


def test_the_key_comes_from_the_environment_and_stays_out_of_results(chat_server, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("PTOD_TEST_KEY", "sk-secret")
    chat_server.play(("reply", LINE))
    record = tmp_path / "r.jsonl"
    args = ["eval", "--policy", "openai:m", "--base-url", chat_server.base_url, "--episodes", "2", "--json"]
    assert main([*args, "--api-key-env", "PTOD_TEST_KEY", "--retries", "0", "--record", str(record)]) == 0
    out = capsys.readouterr().out
    figures = json.loads(out)
    assert figures["agent"] == "openai:m" and figures["served"]["turns"] > 0
    assert chat_server.requests[0]["auth"] == "Bearer sk-secret"
    assert "sk-secret" not in out and "sk-secret" not in record.read_text()


def test_cli_explains_a_missing_base_url():
    with pytest.raises(SystemExit, match="needs --base-url"):
        main(["eval", "--policy", "openai:m", "--episodes", "1"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def transformers_server(tmp_path_factory):
    """``transformers serve`` on 127.0.0.1 serving the tiny preset (built on the fly; no download)."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from ptod_agents.presets import preset_dir

    model = preset_dir("tiny-cpu", tmp_path_factory.mktemp("preset-cache"))
    port = free_port()
    cli = os.path.join(os.path.dirname(sys.executable), "transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    args = [cli, "serve", str(model), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    log_path = tmp_path_factory.mktemp("server") / "serve.log"
    log = log_path.open("wb")  # a file, not a pipe: a full pipe would stall the server
    server = subprocess.Popen([*args, "--default-seed", "0"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1).read()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"transformers serve did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.5)
    yield f"{url}/v1", str(model)
    server.terminate()
    server.wait(timeout=30)
    log.close()


@pytest.mark.slow
def test_eval_against_a_real_transformers_server(transformers_server, tmp_path, capsys):
    base_url, model = transformers_server
    record = tmp_path / "real.jsonl"
    args = ["eval", "--policy", f"openai:{model}", "--base-url", base_url, "--episodes", "2", "--samples", "2"]
    args += ["--view", "teacher", "--max-new-tokens", "12", "--retries", "0", "--json", "--record", str(record)]
    assert main([*args, "--system-prompt", ""]) == 0
    figures = json.loads(capsys.readouterr().out)
    served_stats = figures["served"]
    assert served_stats["failed_turns"] == served_stats["errors"] == served_stats["timeouts"] == 0
    assert served_stats["turns"] == served_stats["requests"] > 0
    episodes = read_episodes(record)
    assert len(episodes) == 4 and all(e["outcome"] for e in episodes)
    assert sum(len(e["turns"]) for e in episodes) == served_stats["turns"]
    assert {"pass@1", "pass@2"} <= set(figures)
