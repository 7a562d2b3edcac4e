"""python -m govstack_gen"""

import sys

from govstack_gen.cli import main

sys.exit(main())
