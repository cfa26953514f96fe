"""Every understanding backend on the labelled natural lines; prints one JSON line.

    python benchmarks/understanding_agreement.py [--backends natural,lexical,embedding] [--steps 300] [--threads 1]

Per backend: each held-out set (``understanding_heldout*.txt``: ``heldout``, ``heldout5``, ...)
and ``dev`` (per act family: ``accuracy``, the share of the lines holding the family whose reading
says exactly the same about it, topics included; ``false_positive``, the share of the other lines
whose reading claims it; ``exact``, the whole reading right), ``offtopic`` (per shipped pack, the
shares of off-topic lines read as a close or as answering a concern),
``pack_lines`` (per shipped pack, the share of its agent lines, probes, answers and the reference
agents' combinations of them read as their acts), ``utterances_per_s`` (``understand`` calls per
second over the held-out lines, after one warm-up line per pack: the first reading builds
what a backend fits on first use) and ``env_steps_per_s`` (full env steps per second with that
backend, proactive agent, template speech). The sets: ``ptod_env/backends/data/understanding_*.txt``
(docs/understanding.md). The ``llm`` backend is left out: SmolLM2 on CPU takes seconds per line.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym

from ptod_env.agents import make_agent
from ptod_env.reading.labelled import (
    DOMAINS,
    heldout_sets,
    offtopic_rates,
    pack_line_cases,
    read_lines,
    read_offtopic,
    same_reading,
    score,
)
from ptod_env.scenario import load_scenario
from ptod_env.understanding import make_understanding


def read_all(backends: dict, lines) -> list:
    return [backends[line.domain].understand(line.text, []) for line in lines]


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


def measure(name: str, steps: int) -> dict:
    packs = {domain: load_scenario(domain) for domain in DOMAINS.values()}
    backends = {domain: make_understanding(name, pack) for domain, pack in packs.items()}
    held_out = {stem: read_lines(stem) for stem in heldout_sets()}
    dev = read_lines("understanding_dev")
    for domain, pack in packs.items():  # outside the timer: what a backend builds on first use
        backends[domain].understand(pack.concerns[0].probes[0], [])
    start = time.perf_counter()
    readings = {stem: read_all(backends, lines) for stem, lines in held_out.items()}
    seconds = time.perf_counter() - start
    offtopic = read_offtopic()
    result = {
        **{stem.removeprefix("understanding_"): score(readings[stem], lines) for stem, lines in held_out.items()},
        "dev": score(read_all(backends, dev), dev),
        "offtopic": {d: offtopic_rates(lambda t, b=b: b.understand(t, []), offtopic) for d, b in backends.items()},
        "pack_lines": {},
        "utterances_per_s": round(sum(map(len, held_out.values())) / seconds, 1),
    }
    for domain, pack in packs.items():
        cases = pack_line_cases(pack)
        agree = sum(same_reading(backends[domain].understand(text, []), acts) for text, acts in cases)
        result["pack_lines"][domain] = {"lines": len(cases), "agreement": round(agree / len(cases), 4)}
    result["env_steps_per_s"] = round(env_steps_per_s(backends["merchant_recruitment"], steps), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="natural,lexical,embedding", help="comma-separated backend names")
    parser.add_argument("--steps", type=int, default=300, help="env steps timed per backend")
    parser.add_argument("--threads", type=int, help="torch CPU threads for the embedding backend")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    result = {"benchmark": "understanding_agreement", "threads": args.threads}
    result.update({name: measure(name, args.steps) for name in names})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
