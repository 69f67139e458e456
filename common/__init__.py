"""Helper package for the Keras/TensorFlow lab course.

Notebooks start with ``import common`` and ``cfg = common.setup()``; then they use
``common.data`` (datasets), ``common.plots`` (figures) and ``common.checks`` (check cells).
"""

from . import checks, data, plots
from .env import Config, Profile, is_colab, profile, seed_everything, setup, strategy

__all__ = [
    "Config",
    "Profile",
    "checks",
    "data",
    "is_colab",
    "plots",
    "profile",
    "seed_everything",
    "setup",
    "strategy",
]
__version__ = "0.1.0"
