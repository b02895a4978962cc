import sys

from gan_cli.cli import main

sys.exit(main())
