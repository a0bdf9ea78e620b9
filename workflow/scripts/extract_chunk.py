"""One extraction job of the workflow's chunk rules (workflow/rules/extract.smk): the command
line of :mod:`extract.chunk`, where the job is."""

import sys

from extract.chunk import main

if __name__ == "__main__":
    sys.exit(main())
