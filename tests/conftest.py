from pathlib import Path

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


EXAMPLE_PACK = Path(__file__).parents[1] / "examples" / "scenarios" / "home_solar.yaml"


@pytest.fixture(scope="session")
def example_pack(tmp_path_factory):
    """examples/scenarios/home_solar.yaml under a name and id of its own, so the tests that
    register it also pass with the example dropped into ptod_env/scenarios/."""
    text = EXAMPLE_PACK.read_text(encoding="utf-8")
    text = text.replace("name: home_solar", "name: example_solar").replace("-HomeSolar-v0", "-ExampleSolar-v0")
    path = tmp_path_factory.mktemp("packs") / "example_solar.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)
