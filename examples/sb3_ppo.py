"""Train stable-baselines3 PPO on ``DialogueActs``, deployable and privileged, and compare on held-out users.

    python examples/sb3_ppo.py                 # both views, about 3 minutes on 2 CPU cores
    python examples/sb3_ppo.py --timesteps 20000 --episodes 100

PPO picks one of the pack's canonical acts per turn (``wrappers.DialogueActs``). The deployable
policy sees only features of the conversation; the privileged one also sees the user's hidden
concerns and their statuses (the asymmetric view a teacher has). Training rewards are the env's
(1.0 on acceptance) plus potential-based shaping from the state transitions
(``wrappers.StateTransitionReward``, scale 3). Shaping is kept through the end of the call
(``terminal_zero=False``): with ``terminal_zero=True`` (``--terminal-zero``) a failed call takes
back all the progress it made, and PPO barely learns within this budget (docs/wrappers.md). Evaluation
uses the unshaped env on the test split's users, walked in order
(``ptod_env.evaluation.episode_options``), the same users the reference agents meet in
``ptod_env.evaluation.evaluate``, and reports the same figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import ptod_env  # noqa: F401 - registers the ids
from ptod_env.evaluation import env_id_for, episode_metrics, episode_options, evaluate
from wrappers import DialogueActs, RecordEpisodes, StateTransitionReward, read_episodes

REFERENCE_AGENTS = ("random", "passive", "proactive", "oracle")
GAMMA = 0.95
SHAPING_SCALE = 3.0


def train(domain: str, privileged: bool, timesteps: int, seed: int, terminal_zero: bool = False) -> PPO:
    """PPO on the shaped ``DialogueActs`` env of ``domain``'s training users."""

    def shaped() -> gym.Env:
        env = gym.make(env_id_for(domain), split="train")
        env = StateTransitionReward(env, scale=SHAPING_SCALE, gamma=GAMMA, terminal_zero=terminal_zero)
        return DialogueActs(env, privileged=privileged)

    envs = make_vec_env(shaped, n_envs=8, seed=seed)
    # Short rollouts and many small updates: calls last about 7 turns, and the budget is minutes.
    model = PPO(
        "MlpPolicy",
        envs,
        learning_rate=1e-3,
        n_steps=64,
        batch_size=128,
        n_epochs=10,
        gamma=GAMMA,
        ent_coef=0.02,
        seed=seed,
        device="cpu",
    )
    return model.learn(total_timesteps=timesteps)


def evaluate_policy(model: PPO, domain: str, privileged: bool, episodes: int, seed: int) -> dict:
    """Greedy rollouts on the test split, recorded with ``RecordEpisodes`` and summarised by
    :func:`ptod_env.evaluation.episode_metrics`, as the reference agents are."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "episodes.jsonl"
        env = DialogueActs(RecordEpisodes(gym.make(env_id_for(domain), split="test"), path), privileged=privileged)
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i, options=episode_options("test", i))
            done = False
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
        env.close()
        return episode_metrics(read_episodes(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", default="merchant_recruitment")
    parser.add_argument("--timesteps", type=int, default=60_000, help="PPO steps per view")
    parser.add_argument("--episodes", type=int, default=300, help="held-out users per agent")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--terminal-zero", action="store_true", help="shape with Φ(ended call) = 0")
    args = parser.parse_args()
    torch.set_num_threads(1)  # the MLP is tiny: more threads only compete with the envs for 2 cores
    started = time.perf_counter()

    rows = []
    for name in REFERENCE_AGENTS:
        figures = evaluate(
            name, domain=args.domain, split="test", episodes=args.episodes, seed=args.seed, progress=False
        )
        rows.append((f"reference: {name}", figures, None))
    for privileged in (False, True):
        start = time.perf_counter()
        model = train(args.domain, privileged, args.timesteps, args.seed, args.terminal_zero)
        figures = evaluate_policy(model, args.domain, privileged, args.episodes, args.seed)
        view = "privileged" if privileged else "deployable"
        rows.append((f"PPO DialogueActs ({view})", figures, round(time.perf_counter() - start)))

    ppo = f"PPO: {args.timesteps} steps per view, shaping x{SHAPING_SCALE}, terminal_zero={args.terminal_zero}"
    print(f"\n{args.domain}, test split, {args.episodes} held-out users; {ppo}")
    header = f"| {'agent':<32} | success | discovery | resolution | turns | train+eval s |"
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for name, m, seconds in rows:
        print(
            f"| {name:<32} | {m['success_rate']:7.3f} | {m['concern_discovery_rate']:9.3f} |"
            f" {m['resolution_rate']:10.3f} | {m['mean_turns']:5.1f} | {seconds or '-':>12} |"
        )
    print(f"total wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
