"""ptod_agents: learners (SI-AVPO, GRPO, Learn-to-Ask, SFT) on transformers policies."""
