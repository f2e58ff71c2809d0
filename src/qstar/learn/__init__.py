"""Learning: replay, training, the self-improvement loop, arena, checkpoints, executors. Never imports a domain."""
