"""Adapters that plug ProactiveSales and the ptod learners into other RL-for-LLM frameworks."""
