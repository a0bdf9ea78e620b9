"""Subcommands of the ``wtal`` command line: each module adds a parser and runs it."""
