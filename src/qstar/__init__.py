"""qstar: search + learning with a ground-truth signal.

AlphaZero for board games, Q* for step-by-step reasoning, and RLHF beside them as the
contrast that shows why a real signal matters. See docs/architecture.md.
"""

__version__ = "0.1.0"
