"""Reading natural English: the default understanding backend (:class:`NaturalUnderstanding`).

``import ptod_env.reading`` loads nothing heavy; the shipped word vectors and act model are read
from ``ptod_env/reading/data`` the first time a reader is built, once per process.
"""

from ptod_env.reading.reader import NaturalUnderstanding

__all__ = ["NaturalUnderstanding"]
