"""One ProactiveSales call through the SkyRL-Gym interface, as SkyRL's generator drives it.

    pip install -e ".[skyrl]"
    python examples/skyrl_episode.py --domain courier_recruitment --seed 3 --turn-rewards

The reference ``proactive`` agent stands in for the model: it reads only what the model would
read (the chat), and each reply goes through ``env.step``. Prints the chat as the model sees it,
each turn's reward, and the privileged ``metadata`` of the end (never shown to the model).
"""

import argparse

import skyrl_gym

from ptod_env.agents import make_agent
from ptod_env.integrations.skyrl import skyrl_dataset
from ptod_env.scenario import load_scenario, shipped_scenarios
from ptod_env.views import AGENT, USER, render_observation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", choices=shipped_scenarios(), default="merchant_recruitment")
    parser.add_argument("--seed", type=int, default=0, help="the dataset row (held-out user) to play")
    parser.add_argument("--turn-rewards", action="store_true", help="add the state-transition shaping per turn")
    args = parser.parse_args()

    row = skyrl_dataset(args.domain, split="test", users=args.seed + 1)[args.seed]
    env = skyrl_gym.make(row["env_class"], env_config={"turn_rewards": args.turn_rewards}, extras=row)
    history, _ = env.init(row["prompt"])
    for message in history:
        print(f"[{message['role']}]\n{message['content']}\n")
    # The stand-in agent reads the transcript text the chat spells out.
    brief = history[0]["content"].split("\n\n", 1)[1]
    turns = [(USER, history[1]["content"])]
    agent = make_agent("proactive", load_scenario(args.domain), args.seed)
    agent.reset(render_observation(brief, turns), {})
    done = False
    while not done:
        line = agent.act(render_observation(brief, turns), {})
        out = env.step(line)
        # SkyRL's generator stops at done, so the last turn returns no user message.
        reply = out["observations"][0]["content"] if out["observations"] else "(the call ends)"
        print(f"[assistant] {line}\n[user] {reply}\n    reward {out['reward']:+.3f}  done {out['done']}")
        turns += [(AGENT, line), (USER, reply)]
        done = out["done"]
    end = out["metadata"]
    print(f"\noutcome: {end['outcome']}; hidden concerns (metadata only):")
    for concern in end["concerns"]:
        print(f"  - {concern['id']}: {concern['status']}")
    print(f"metrics: {env.get_metrics()}")


if __name__ == "__main__":
    main()
