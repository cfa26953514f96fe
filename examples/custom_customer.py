"""Put your own customer in the simulator's place, in the PettingZoo env.

    python examples/custom_customer.py

The state machine still decides what the customer does each turn (voice a concern, object,
accept...); the customer agent only chooses the words. Here a scripted customer speaks in a
blunt style of its own, built from the decided act it finds in its observation; an LLM or a
learned model would take the same observation (its persona with hidden concerns, the
conversation, the decided act and the simulator's own words) as its prompt. The salesperson is
the deployable reference agent, which reads only its own observation.
"""

from __future__ import annotations

import re
from typing import Any

import ptod_env  # noqa: F401 - registers the ids
from ptod_env import multiagent
from ptod_env.agents import make_agent

BLUNT = {
    "answer_phone": "Yeah? Who is this?",
    "greet_back": "Fine. What do you want?",
    "accept": "Alright, fine. Sign me up.",
    "reject": "No. Not interested. Goodbye.",
    "hang_up": "I have no time for this. Bye.",
    "no_more_concerns": "That's all I worry about, honestly.",
}


class BluntCustomer:
    """A scripted customer: says a blunt line of its own for the common acts and falls back to the
    simulator's words where a concern has to be voiced, so the salesperson can still hear it."""

    def __call__(self, observation: dict[str, Any]) -> str:
        act = re.search(r"^Act: (\w+)", observation["text"], re.M)
        own_line = BLUNT.get(act.group(1)) if act else None
        return own_line or multiagent.simulator_words(observation["text"])


def call(env, customer, seed: int) -> dict[str, Any]:
    """One call of the deployable reference salesperson with ``customer``; returns the last info."""
    env.reset(seed=seed)
    salesperson = make_agent("proactive", env.unwrapped.pack, seed=seed)
    salesperson.reset(env.observe("salesperson")["text"], {})
    for agent in env.agent_iter():
        observation, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            env.step(None)
        elif agent == "salesperson":
            env.step(salesperson.act(observation["text"], info))
        else:
            env.step(customer(observation))
    return info


def main() -> None:
    env = multiagent.env(render_mode="ansi")
    info = call(env, BluntCustomer(), seed=1)
    print(f"--- a call with the blunt customer: {info['outcome']}")
    print(env.render(), end="\n\n")
    # Same users, same salesperson: only the customer's words differ. The reference salesperson
    # reads the simulator's phrasing, so a customer who words things its own way can confuse it.
    users = range(30)
    for name, customer in (("simulator", multiagent.SimulatorCustomer()), ("blunt", BluntCustomer())):
        outcomes = [call(env, customer, seed)["outcome"] for seed in users]
        print(f"{name:>9} customer: {outcomes.count('accepted')}/{len(users)} calls accepted")
    env.close()


if __name__ == "__main__":
    main()
