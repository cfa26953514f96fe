"""Lexical vs embedding understanding on the labelled agent utterances; prints one JSON line.

    python benchmarks/understanding_agreement.py [--steps 300] [--threads 1]

For each backend: ``exact`` (share of utterances whose set of (act, topic) pairs equals the
label), the same split by ``source`` (``lexicon``: phrased with the pack's own words;
``paraphrase``: avoiding them), ``pair_f1`` (micro F1 over (act, topic) pairs),
``utterances_per_s`` (``understand`` calls per second on the labelled set) and ``env_steps_per_s``
(full env steps per second with that backend and template speech, proactive agent).
The labelled set is ``ptod_env/backends/data/labelled_utterances.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym

import ptod_env
from ptod_env.agents import make_agent
from ptod_env.scenario import load_scenario
from ptod_env.understanding import make_understanding

LABELS = Path(ptod_env.__file__).parent / "backends" / "data" / "labelled_utterances.jsonl"


def agreement(backend, rows: list[dict]) -> dict:
    exact: dict[str, list[int]] = {}
    true_positive = predicted = gold_total = 0
    start = time.perf_counter()
    readings = [backend.understand(row["text"], []) for row in rows]
    seconds = time.perf_counter() - start
    for row, acts in zip(rows, readings, strict=True):
        got = {(a.act, a.topic) for a in acts}
        gold = {(act, topic) for act, topic in row["acts"]}
        exact.setdefault(row["source"], []).append(got == gold)
        true_positive += len(got & gold)
        predicted += len(got)
        gold_total += len(gold)
    hits = [h for values in exact.values() for h in values]
    precision, recall = true_positive / max(predicted, 1), true_positive / max(gold_total, 1)
    return {
        "exact": sum(hits) / len(hits),
        "exact_by_source": {source: sum(v) / len(v) for source, v in sorted(exact.items())},
        "pair_f1": 2 * precision * recall / max(precision + recall, 1e-9),
        "utterances_per_s": len(rows) / seconds,
    }


def env_steps_per_s(backend, steps: int) -> float:
    env = gym.make("ProactiveSales-v0", split="test", understanding=backend)
    pack = env.unwrapped.pack
    done, taken, episode = True, 0, 0
    start = time.perf_counter()
    while taken < steps:
        if done:
            obs, info = env.reset(seed=episode, options={"persona_index": episode})
            agent = make_agent("proactive", pack, episode)
            agent.reset(obs, info)
            episode += 1
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
        taken += 1
    return taken / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="env steps timed per backend")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 is fastest on a busy machine)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]
    pack = load_scenario("merchant_recruitment")
    result: dict = {"benchmark": "understanding_agreement", "utterances": len(rows), "threads": args.threads}
    for name in ("lexical", "embedding"):
        backend = make_understanding(name, pack)
        result[name] = {**agreement(backend, rows), "env_steps_per_s": env_steps_per_s(backend, args.steps)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
