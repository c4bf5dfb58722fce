"""aifo: a declarative, transactional runner for coding-agent environments on Docker."""

__version__ = "0.1.0"
