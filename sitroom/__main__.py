"""`python -m sitroom` is the `sitroom` command."""

from sitroom.cli import main

raise SystemExit(main())
