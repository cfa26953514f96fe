"""Gymnasium wrappers for the ProactiveSales envs, one concern each.

* :class:`PrivilegedView` - the teacher view: the observation plus the hidden-concern block
* :class:`ChatMessages` - the observation as Hugging Face chat messages
* :class:`DialogueActs` - discrete canonical acts and a feature-vector observation (classic RL)
* :class:`StateTransitionReward` - potential-based shaping from the state transitions
* :class:`RecordEpisodes` - one durable JSON line per finished episode (:func:`read_episodes` reads them)
"""

from wrappers.dialogue_acts import DialogueActs
from wrappers.recording import RecordEpisodes, read_episodes
from wrappers.shaping import StateTransitionReward
from wrappers.views import ChatMessages, PrivilegedView

__all__ = [
    "ChatMessages",
    "DialogueActs",
    "PrivilegedView",
    "RecordEpisodes",
    "StateTransitionReward",
    "read_episodes",
]
