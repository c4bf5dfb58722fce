"""The Swarm adapter (issue 25): a spec's containers as one-replica services on a Docker Swarm.

The manager is reached over the Engine API (DOCKER_HOST); a task's own node over that node's
engine (`nodes`), since Swarm has no service exec. docs/engine.md, "Swarm", has the mapping.
"""
