import gymnasium as gym
import pytest

import ptod_env  # noqa: F401  (registers the env ids)
from ptod_env.scenario import load_scenario


@pytest.fixture(scope="session")
def merchant():
    return load_scenario("merchant_recruitment")


@pytest.fixture
def env():
    env = gym.make("ProactiveSales-v0")
    yield env
    env.close()
