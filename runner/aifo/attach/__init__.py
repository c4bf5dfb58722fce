"""Attaching to a running session: finding the container (and the index that finds it
quickly), exec's command-line words, signals forwarded into the container."""
