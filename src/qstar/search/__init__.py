"""Search: domain-free. Imports only qstar.core."""

from qstar.search.mcts import MCTSConfig, run_mcts, add_root_noise, choose_action, policy_from_visits
from qstar.search.minimax import Solver, negamax, action_values
from qstar.search.players import AlphaBetaPlayer, MCTSPlayer, Player, PolicyPlayer, RandomPlayer
from qstar.search.tree import Forest, Tree

__all__ = ["MCTSConfig", "run_mcts", "add_root_noise", "choose_action", "policy_from_visits", "Tree", "Forest",
           "Solver", "negamax", "action_values",
           "Player", "RandomPlayer", "AlphaBetaPlayer", "PolicyPlayer", "MCTSPlayer"]
