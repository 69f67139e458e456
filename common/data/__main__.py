"""``python -m common.data [NAME …]`` (``make data``): pre-fetch the tfds datasets."""

import sys

from . import fetch

fetch(sys.argv[1:] or None)
