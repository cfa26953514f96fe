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

Prints one JSON line per domain.

    python benchmarks/side_channel.py [--users 300]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import gymnasium as gym

from ptod_env.evaluation import env_id_for, episode_options
from ptod_env.scenario import shipped_scenarios

_DISCLOSING = frozenset({"hint", "voice"})


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


def probe_replies(domain: str, users: int) -> dict:
    env = gym.make(env_id_for(domain), split="test")
    pack = env.unwrapped.pack
    greeting = pack.agent_lines["greet"][0]
    acts: dict[str, Counter] = {"held": Counter(), "unheld": Counter()}
    replies: list[tuple[int, str, str, str]] = []
    disclosed = 0
    for i in range(users):
        for spec in pack.concerns:
            _, info = env.reset(seed=i, options=episode_options("test", i))
            obs, _, done, _, info = env.step(greeting.format(name="there", first_name="there", company=pack.company))
            if done:
                continue
            status = info["state"]["concerns"].get(spec.id)
            if status not in (None, "latent"):
                continue
            obs, _, _, _, info = env.step(spec.probes[0])
            user_act = info["user_act"]
            if status is not None and user_act["act"] in _DISCLOSING and user_act["concern"] == spec.id:
                disclosed += 1
                continue
            label = "unheld" if status is None else "held"
            acts[label][user_act["act"]] += 1
            replies.append((i, label, user_act["act"], obs.rsplit("\nUser: ", 1)[1]))
    return {
        "domain": domain,
        "users": users,
        "held_hidden_replies": sum(acts["held"].values()),
        "unheld_replies": sum(acts["unheld"].values()),
        "disclosed": disclosed,
        "balanced_accuracy_act": round(balanced_accuracy(acts["held"], acts["unheld"]), 4),
        "balanced_accuracy_text_cv": round(cross_validated_accuracy(replies), 4),
        "held_acts": dict(acts["held"]),
        "unheld_acts": dict(acts["unheld"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    args = parser.parse_args()
    for domain in shipped_scenarios():
        print(json.dumps(probe_replies(domain, args.users)), flush=True)


if __name__ == "__main__":
    main()
