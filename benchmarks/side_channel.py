"""How much one targeted probe reveals about a concern the user holds but has not disclosed.

For each test user i (env seed i) and each concern of the bank: greet, then ask the concern's
first probe. The probe's reply either discloses the concern (a hint or voice naming it: the
designed way concerns surface) or it does not. Over the replies that do not disclose, the two
classes are "held" (the user holds the concern, still latent before the probe) and "unheld".
The figure is the balanced accuracy of the best possible classifier of held vs unheld from the
reply, computed exactly: 0.5 * sum over reply values v of max(P(v | held), P(v | unheld)). It is
0.5 when the reply carries no information and 1.0 when it reads the hidden state exactly. Two
features: the user act, and the reply text as spoken.

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


def probe_replies(domain: str, users: int) -> dict:
    env = gym.make(env_id_for(domain), split="test")
    pack = env.unwrapped.pack
    greeting = pack.agent_lines["greet"][0]
    acts: dict[str, Counter] = {"held": Counter(), "unheld": Counter()}
    texts: dict[str, Counter] = {"held": Counter(), "unheld": Counter()}
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
            texts[label][obs.rsplit("\nUser: ", 1)[1]] += 1
    return {
        "domain": domain,
        "users": users,
        "held_hidden_replies": sum(acts["held"].values()),
        "unheld_replies": sum(acts["unheld"].values()),
        "disclosed": disclosed,
        "balanced_accuracy_act": round(balanced_accuracy(acts["held"], acts["unheld"]), 4),
        "balanced_accuracy_text": round(balanced_accuracy(texts["held"], texts["unheld"]), 4),
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
