import json

import gymnasium as gym
import numpy as np
import pytest

from ptod_env.acts import UserAct
from ptod_env.backends.clients import OpenAIChatClient
from ptod_env.backends.llm_speech import LLMSpeech
from ptod_env.dynamics import initial_state
from ptod_env.persona import sample_persona
from ptod_env.speech import TemplateSpeech


def said(text):
    return json.dumps({"utterance": text})


@pytest.fixture
def persona(merchant):
    return next(p for p in (sample_persona(merchant, i) for i in range(100)) if p.concerns[0].id == "commission")


@pytest.fixture
def backend(chat_server, merchant):
    return LLMSpeech(merchant, OpenAIChatClient(chat_server.base_url, "m", timeout=0.3), retries=1)


def render(backend, persona, act, seed=0):
    rng = np.random.default_rng(seed)
    state = initial_state(persona, backend.pack.rules)
    line = backend.render(act, persona, state, rng, [("User", "Hello?"), ("Agent", "Hi, any concerns?")])
    return line, rng


def template_line(merchant, persona, act, seed=0):
    rng = np.random.default_rng(seed)
    return TemplateSpeech(merchant).render(act, persona, initial_state(persona, merchant.rules), rng), rng


def test_valid_rephrasing_is_spoken(chat_server, backend, persona):
    chat_server.play(("reply", said("Honestly,   the commission scares me.")))
    line, _ = render(backend, persona, UserAct("voice", "commission"))
    assert line == "Honestly, the commission scares me."
    messages = chat_server.requests[0]["body"]["messages"]
    assert persona.background["name"] in messages[0]["content"]
    assert messages[-1]["content"].startswith('Line: "')


def test_randomness_is_drawn_as_the_template_backend_draws_it(chat_server, backend, merchant, persona):
    chat_server.play(("reply", said("Fine, sign me up.")))
    act = UserAct("accept")
    _, rng = render(backend, persona, act, seed=3)
    _, template_rng = template_line(merchant, persona, act, seed=3)
    assert rng.random() == template_rng.random()


@pytest.mark.parametrize(
    ("step", "counter"),
    [
        (("reply", "Sure, here you go: I worry about fees"), "malformed"),
        (("reply", "I'm sorry, I cannot role-play as this person."), "refusals"),
        (("reply", said("My kitchen is already swamped at lunch rush.")), "invalid"),  # a concern not decided
        (("reply", said("I have some worries.")), "invalid"),  # voice must name the concern
        (("reply", '{"utterance": 42}'), "invalid"),
        (("reply", said("x" * 400)), "invalid"),
        (("status", 500), "errors"),
        (("sleep", 1.0), "timeouts"),
    ],
    ids=[
        "malformed-json",
        "refusal",
        "unheld-concern",
        "concern-missing",
        "not-a-string",
        "too-long",
        "http-500",
        "timeout",
    ],
)
def test_every_failure_is_counted_and_falls_back_to_the_template(
    chat_server, backend, merchant, persona, step, counter
):
    chat_server.play(step)
    act = UserAct("voice", "commission")
    line, _ = render(backend, persona, act, seed=5)
    expected, _ = template_line(merchant, persona, act, seed=5)
    assert line == expected
    stats = backend.stats()
    assert stats[counter] == 2 and stats["fallbacks"] == 1 and stats["retries"] == 1


def test_a_concern_already_in_the_template_line_may_be_kept(backend, merchant, persona):
    line = "Oh hi there, Sam here, sorry, it is a bit loud in the kitchen!"
    reply = {"utterance": "Hi, Sam speaking, the kitchen is noisy today."}
    assert backend.check(reply, UserAct("answer_phone"), line) == reply["utterance"]


def test_env_episode_with_a_refusing_model_still_plays(chat_server):
    chat_server.play(("reply", "I'm sorry, I can't help with that."))
    env = gym.make(
        "ProactiveSales-v0",
        speech="llm",
        speech_kwargs={"client": {"kind": "openai", "base_url": chat_server.base_url, "model": "m"}, "retries": 0},
    )
    reference = gym.make("ProactiveSales-v0")
    obs, info = env.reset(seed=7)
    ref_obs, _ = reference.reset(seed=7)
    for action in ["Hello, this is Alex from FeastFleet.", "What is holding you back?", "Shall we get you started?"]:
        obs, _, terminated, truncated, info = env.step(action)
        ref_obs, *_ = reference.step(action)
        if terminated or truncated:
            break
    # Every line fell back to the template, drawn from the same randomness: the same episode.
    assert obs == ref_obs
    assert info["backends"]["speech"]["refusals"] == info["backends"]["speech"]["fallbacks"] >= 2
    env.close()
    reference.close()


def test_tiny_random_model_never_crashes_an_episode(tiny_chat_model):
    env = gym.make(
        "ProactiveSales-v0",
        speech="llm",
        speech_kwargs={"client": {"kind": "transformers", "path": str(tiny_chat_model)}, "max_tokens": 6},
    )
    env.reset(seed=1)
    _, _, _, _, info = env.step("Hi, this is Alex from FeastFleet. What is holding you back?")
    stats = info["backends"]["speech"]
    assert stats["calls"] == 4 and stats["fallbacks"] == 2  # reset and step, each tried twice
    env.close()
