"""How much one targeted probe reveals about a concern the user holds but has not disclosed.

For each test user i (env seed i) and each concern of the bank: greet, then ask the concern's
first probe. The probe's reply either discloses the concern (a hint or voice naming it: the
designed way concerns surface) or it does not. Over the replies that do not disclose, the two
classes are "held" (the user holds the concern, still latent before the probe) and "unheld".
The figure is the balanced accuracy of the best possible classifier of held vs unheld from the
reply, computed exactly: 0.5 * sum over reply values v of max(P(v | held), P(v | unheld)). It is
0.5 when the reply carries no information and 1.0 when it reads the hidden state exactly. Two
features: the user act (few values: computed on all replies), and the reply text as spoken (many
values, so an in-sample figure would reward noise: fitted on the even users, measured on the odd
ones and the other way round, unseen texts classified by their act).

``--move`` picks what is asked after the greeting: ``probe`` (the concern's first probe, the
default), ``answer`` (the concern's first pack answer, said unasked: an answer used as a probe),
``probe_twice`` (its first two probes, one after the other: the feature is the pair of replies),
``warm_probe`` (an open question with sympathy first, so trust is higher when the probe comes) or
``probe_then_open`` (the probe, then sympathy and an open question: the second reply shows some of
the trust the first moved). A reply discloses the concern when its user act names it (a hint, a
voice, or for an answer a follow-up, acknowledgement or resolution); ``disclosed_share`` gives,
per disclosure level, the share of held, latent concerns the move disclosed (1.0 for a level: the
move reads it with certainty, since a user without the concern never names it).

Prints one JSON line per domain and move.

    python benchmarks/side_channel.py [--users 300] [--move probe answer probe_twice warm_probe probe_then_open]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import gymnasium as gym

from ptod_env.evaluation import env_id_for, episode_options
from ptod_env.scenario import ConcernSpec, ScenarioPack, shipped_scenarios

MOVES = ("probe", "answer", "probe_twice", "warm_probe", "probe_then_open")


def move_lines(pack: ScenarioPack, spec: ConcernSpec, move: str) -> list[str]:
    """The lines that ask about ``spec`` (after the greeting and any warm-up)."""
    if move == "answer":
        return [spec.answers[0]]
    if move == "probe_twice":
        return spec.probes[:2]
    if move == "probe_then_open":
        return [spec.probes[0], f"{pack.agent_lines['empathize'][1]} {pack.agent_lines['probe_open'][1]}"]
    return [spec.probes[0]]


def balanced_accuracy(held: Counter, unheld: Counter) -> float:
    """Balanced accuracy of the Bayes classifier on one discrete feature (0.5 = no information)."""
    n_held, n_unheld = sum(held.values()), sum(unheld.values())
    if not n_held or not n_unheld:
        return float("nan")
    return 0.5 * sum(max(held[v] / n_held, unheld[v] / n_unheld) for v in set(held) | set(unheld))


def bayes_predictions(held: Counter, unheld: Counter) -> dict[str, str]:
    """The balanced Bayes decision per feature value."""
    n_held, n_unheld = max(sum(held.values()), 1), max(sum(unheld.values()), 1)
    return {v: "held" if held[v] / n_held > unheld[v] / n_unheld else "unheld" for v in set(held) | set(unheld)}


def cross_validated_accuracy(replies: list[tuple[int, str, str, str]]) -> float:
    """Balanced accuracy of the text classifier fitted on one half of the users, measured on the
    other half (both ways, averaged). ``replies``: ``(user, label, act, text)``."""
    scores = []
    for fold in (0, 1):
        fit = [r for r in replies if r[0] % 2 == fold]
        test = [r for r in replies if r[0] % 2 != fold]
        by_text = bayes_predictions(*(Counter(t for _, lab, _, t in fit if lab == c) for c in ("held", "unheld")))
        by_act = bayes_predictions(*(Counter(a for _, lab, a, _ in fit if lab == c) for c in ("held", "unheld")))
        recall = []
        for label in ("held", "unheld"):
            mine = [r for r in test if r[1] == label]
            hits = sum(by_text.get(t, by_act.get(a, "unheld")) == label for _, _, a, t in mine)
            recall.append(hits / max(len(mine), 1))
        scores.append(sum(recall) / 2)
    return sum(scores) / 2


def probe_replies(domain: str, users: int, move: str = "probe") -> dict:
    env = gym.make(env_id_for(domain), split="test")
    pack = env.unwrapped.pack
    fields = {"name": "there", "first_name": "there", "company": pack.company}
    prelude = [pack.agent_lines["greet"][0].format(**fields)]
    if move == "warm_probe":
        prelude.append(f"{pack.agent_lines['empathize'][0]} {pack.agent_lines['probe_open'][0]}")
    acts: dict[str, Counter] = {"held": Counter(), "unheld": Counter()}
    replies: list[tuple[int, str, str, str]] = []
    disclosed = 0
    # Per disclosure level of a held, latent concern: [disclosed by the move, asked].
    by_level: dict[str, list[int]] = {}
    for i in range(users):
        for spec in pack.concerns:
            _, info = env.reset(seed=i, options=episode_options("test", i))
            done = False
            for line in prelude:
                obs, _, done, _, info = env.step(line)
                if done:
                    break
            status = info["state"]["concerns"].get(spec.id)
            if done or status not in (None, "latent"):
                continue
            said, heard = [], []
            for line in move_lines(pack, spec, move):
                obs, _, done, truncated, info = env.step(line)
                said.append(info["user_act"])
                heard.append(obs.rsplit("\nUser: ", 1)[1])
                if done or truncated:
                    break
            if status is not None:
                level = next(c["disclosure"] for c in info["concerns"] if c["id"] == spec.id)
                counts = by_level.setdefault(level, [0, 0])
                counts[1] += 1
                if any(act["concern"] == spec.id for act in said):
                    counts[0] += 1
                    disclosed += 1
                    continue
            label = "unheld" if status is None else "held"
            feature = "+".join(act["act"] for act in said)
            acts[label][feature] += 1
            replies.append((i, label, feature, " | ".join(heard)))
    return {
        "domain": domain,
        "move": move,
        "users": users,
        "held_hidden_replies": sum(acts["held"].values()),
        "unheld_replies": sum(acts["unheld"].values()),
        "disclosed": disclosed,
        "balanced_accuracy_act": round(balanced_accuracy(acts["held"], acts["unheld"]), 4),
        "disclosed_share": {level: round(d / n, 4) for level, (d, n) in sorted(by_level.items())},
        "balanced_accuracy_text_cv": round(cross_validated_accuracy(replies), 4),
        "held_acts": dict(acts["held"]),
        "unheld_acts": dict(acts["unheld"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--move", nargs="+", choices=MOVES, default=["probe"])
    args = parser.parse_args()
    for domain in shipped_scenarios():
        for move in args.move:
            print(json.dumps(probe_replies(domain, args.users, move)), flush=True)


if __name__ == "__main__":
    main()
