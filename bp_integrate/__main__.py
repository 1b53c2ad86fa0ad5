"""`python -m bp_integrate` runs the CLI."""

from bp_integrate.cli import main

main()
