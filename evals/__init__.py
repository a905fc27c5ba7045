"""The eval suite: scenarios with planted problems, agents, deterministic scoring."""
