"""``python -m casehunt.generate ...``: the generator without the framework's command line."""

import sys

from casehunt.generate import _standalone

sys.exit(_standalone())
