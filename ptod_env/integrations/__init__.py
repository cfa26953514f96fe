"""Adapters to other RL and serving stacks. Each module imports its framework, so import the one
you use (``ptod_env.integrations.skyrl``) after installing its extra."""
