"""The sitroom runner: command line, process supervision and embedded servers."""
