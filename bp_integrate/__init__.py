"""bp-integrate: set up, tear down and replay BigPanda outbound integrations."""

__version__ = "0.1.0"
