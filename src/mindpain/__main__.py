import sys

from mindpain.cli import main

sys.exit(main())
