import doctest

import pytest

from wrappers import dialogue_acts, recording, shaping, views


@pytest.mark.parametrize("module", [views, dialogue_acts, shaping, recording], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module, raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0
